"""GraphQL over HTTP (graphql.github.io/graphql-over-http): media types and status codes.

strawberry's FastAPI router always answers ``application/json`` and refuses a mutation sent with
GET with 400. This router follows the spec:

- the response media type is negotiated from ``Accept``: ``application/graphql-response+json``
  when the client prefers it (or sends no ``Accept``, as the spec asks since 2025),
  ``application/json`` otherwise, 406 if it accepts neither;
- a request error (syntax, validation, a limit, variable coercion) has no ``data`` entry and,
  with ``application/graphql-response+json``, status 400; with ``application/json`` it stays 200;
- a response with ``data`` (even ``null``, even with field errors such as UNAUTHENTICATED) is
  200 with either media type: it is a partial response, not a request error;
- a mutation sent with GET is refused with 405 and ``Allow: POST`` before anything executes.

It also applies the protections that need the HTTP request rather than the document alone: the
per-caller rate limit (before the body is read), trusted documents sent by hash (``documentId`` or
``extensions.persistedQuery``, with POST or GET), and integrations restricted to those documents.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, overload

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import Request, Response, WebSocket
from starlette.responses import PlainTextResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from bmw.contracts.taxonomy import Role
from bmw.gateway.context import GatewayContext
from bmw.gateway.errors import ErrorCode, RequestRefused
from bmw.gateway.rate_limit import RateLimiter, caller_key
from bmw.gateway.trusted_documents import TrustedDocuments, requested_hash
from bmw.servicekit.auth import Principal

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"

#: The media type chosen for the response of the request being handled.
_response_media_type: ContextVar[str] = ContextVar("bmw_gateway_media_type", default=JSON)

_HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
}


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media_range, *parameters = (piece.strip() for piece in part.split(";"))
        if not media_range:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges.append((media_range.lower(), quality))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The response media type for an ``Accept`` header, or ``None`` if neither is acceptable.

    Per candidate the most specific matching range decides its quality (RFC 9110 §12.5.1). The
    higher quality wins, then the more specific match, then the one listed first; a bare
    wildcard (``*/*``, ``application/*``) gets ``application/json`` for older clients.
    """
    if accept is None or not accept.strip():
        return GRAPHQL_RESPONSE_JSON
    ranges = _media_ranges(accept)
    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for candidate in (JSON, GRAPHQL_RESPONSE_JSON):
        major = candidate.split("/")[0]
        matches = [
            (specificity, -position, quality)
            for position, (media_range, quality) in enumerate(ranges)
            for specificity, pattern in ((2, candidate), (1, f"{major}/*"), (0, "*/*"))
            if media_range == pattern
        ]
        if not matches:
            continue
        specificity, position, quality = max(matches)
        score = (quality, specificity, position)
        if quality > 0 and (best is None or score > best):
            best, chosen = score, candidate
    return chosen


def content_type(media_type: str) -> str:
    """The ``Content-Type`` header value of a response in ``media_type``."""
    return f"{media_type}; charset=utf-8" if media_type == GRAPHQL_RESPONSE_JSON else media_type


def _is_request_error(response: GraphQLHTTPResponse) -> bool:
    return "data" not in response


@dataclass(frozen=True)
class RequestGuards:
    """The protections the router applies per HTTP request (see the module docstring)."""

    #: The documents a request may name by hash.
    trusted_documents: TrustedDocuments = field(default_factory=TrustedDocuments)
    #: Whether a caller with the ``integration`` role may only run trusted documents.
    integrations_trusted_documents_only: bool = False
    #: ``None`` switches rate limiting off.
    rate_limiter: RateLimiter | None = None

    def require_trusted(self, principal: Principal | None, document: str | None) -> None:
        """Refuse free text from an integration restricted to trusted documents.

        The router calls it for every HTTP request; any other transport that executes documents
        (the subscriptions' WebSocket) must call it too.
        """
        if not self.integrations_trusted_documents_only or principal is None or document is None:
            return
        if principal.has_role(Role.INTEGRATION) and not self.trusted_documents.is_trusted(document):
            raise RequestRefused(
                ErrorCode.TRUSTED_DOCUMENT_REQUIRED,
                "integrations may only run trusted documents: send the document's hash as "
                '`documentId: "sha256:<hex>"` or `extensions.persistedQuery.sha256Hash`',
            )


class GraphQLHTTPRouter(GraphQLRouter[GatewayContext, None]):
    """strawberry's FastAPI router with GraphQL-over-HTTP media types and status codes."""

    def __init__(self, schema: BaseSchema, *args: Any, guards: RequestGuards | None = None, **kwargs: Any) -> None:
        # Every other argument is strawberry's GraphQLRouter's, passed through unchanged.
        super().__init__(schema, *args, **kwargs)
        self.guards = guards or RequestGuards()

    @overload
    async def run(self, request: Request, context: GatewayContext = UNSET, root_value: None = UNSET) -> Response: ...

    @overload
    async def run(self, request: WebSocket, context: GatewayContext = UNSET, root_value: None = UNSET) -> WebSocket: ...

    async def run(
        self, request: Request | WebSocket, context: GatewayContext = UNSET, root_value: None = UNSET
    ) -> Response | WebSocket:
        if isinstance(request, WebSocket):
            return await super().run(request, context=context, root_value=root_value)
        if self.should_render_graphql_ide(self.request_adapter_class(request)):
            return await super().run(request, context=context, root_value=root_value)
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            return PlainTextResponse(
                f"not acceptable: this endpoint answers {GRAPHQL_RESPONSE_JSON} or {JSON}",
                status_code=406,
            )
        token = _response_media_type.set(media_type)
        try:
            if self.guards.rate_limiter is not None:
                # Before the body is read: a throttled caller costs as little as possible.
                client_host = request.client.host if request.client else None
                self.guards.rate_limiter.check(caller_key(context.principal, client_host))
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as error:
            return self._error_response(error.status_code, error.reason, media_type)
        except RequestRefused as refusal:
            return self._refusal_response(refusal, media_type)
        finally:
            _response_media_type.reset(token)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET naming a trusted document has no `query` either, but it is a request, not a page view.
        named = any(request.query_params.get(name) is not None for name in ("documentId", "extensions"))
        return not named and super().should_render_graphql_ide(request)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            # Batching is off (strawberry refuses a batch before this point).
            return data
        document_id: object = None
        if request.method == "GET":
            document_id = request.query_params.get("documentId")
        else:
            # strawberry keeps no `documentId`: read it from the body (already buffered), parsing it
            # again only when it can be there.
            raw = await request.get_body()
            if b'"documentId"' in raw:
                body = self.parse_json(raw)
                document_id = body.get("documentId") if isinstance(body, dict) else None
        sha256 = requested_hash(document_id, data.extensions)
        if sha256 is not None:
            data.query = self.guards.trusted_documents.resolve(sha256, data.query)
        return data

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: GatewayContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        self.guards.require_trusted(context.principal, request_data.query)
        try:
            return await super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as error:
            if request_adapter.method == "GET" and isinstance(error.__cause__, InvalidOperationTypeError):
                # GET is safe: a mutation is refused before it runs (spec: 405).
                reason = "only queries may use GET; send mutations with POST"
                raise HTTPException(405, reason) from error
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if result.data is None and result.errors and all(error.path is None for error in result.errors):
            # Refused before execution: per the GraphQL spec the response has no data entry.
            response.pop("data", None)
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = _response_media_type.get()
        status = sub_response.status_code or 200
        if media_type == GRAPHQL_RESPONSE_JSON and isinstance(response_data, dict) and _is_request_error(response_data):
            status = 400
        response = Response(
            self.encode_json(response_data),
            media_type=content_type(media_type),
            status_code=status,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.headers["vary"] = "Accept"
        return response

    def _refusal_response(self, refusal: RequestRefused, media_type: str) -> Response:
        status = refusal.status
        if status is None:
            # A request error: 400 with application/graphql-response+json, 200 with application/json.
            status = 400 if media_type == GRAPHQL_RESPONSE_JSON else 200
        return Response(
            self.encode_json(refusal.body()),
            status_code=status,
            media_type=content_type(media_type),
            headers={"vary": "Accept", **refusal.headers},
        )

    def _error_response(self, status: int, reason: str, media_type: str) -> Response:
        code = _HTTP_ERROR_CODES.get(status, "BAD_REQUEST")
        body = {"errors": [{"message": reason, "extensions": {"code": code}}]}
        headers = {"vary": "Accept"}
        if status == 405:
            headers["allow"] = "POST"
        return Response(
            self.encode_json(body),
            status_code=status,
            media_type=content_type(media_type),
            headers=headers,
        )
