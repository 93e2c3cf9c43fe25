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
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import overload

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from fastapi import Request, Response, WebSocket
from starlette.responses import PlainTextResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from bmw.gateway.context import GatewayContext

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


def _content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8" if media_type == GRAPHQL_RESPONSE_JSON else media_type


def _is_request_error(response: GraphQLHTTPResponse) -> bool:
    return "data" not in response


class GraphQLHTTPRouter(GraphQLRouter[GatewayContext, None]):
    """strawberry's FastAPI router with GraphQL-over-HTTP media types and status codes."""

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
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as error:
            return self._error_response(error.status_code, error.reason, media_type)
        finally:
            _response_media_type.reset(token)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: GatewayContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
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
            media_type=_content_type(media_type),
            status_code=status,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.headers["vary"] = "Accept"
        return response

    def _error_response(self, status: int, reason: str, media_type: str) -> Response:
        code = _HTTP_ERROR_CODES.get(status, "BAD_REQUEST")
        body = {"errors": [{"message": reason, "extensions": {"code": code}}]}
        headers = {"vary": "Accept"}
        if status == 405:
            headers["allow"] = "POST"
        return Response(
            self.encode_json(body),
            status_code=status,
            media_type=_content_type(media_type),
            headers=headers,
        )
