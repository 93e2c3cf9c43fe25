"""GraphQL errors with a stable ``extensions.code``, and how service errors become them.

A query fails with a GraphQL error whose ``extensions.code`` says what to do about it; a
mutation returns its expected failures as members of its result union instead. Any other
failure is internal: the caller sees a masked message with a request id, the log the cause.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from bmw.servicekit.context import current_flow
from bmw.servicekit.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)


class ErrorCode(StrEnum):
    """Values of ``extensions.code`` in the gateway's GraphQL errors."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # Refusals of a whole request (no ``data``), by the gateway's protections.
    BAD_REQUEST = "BAD_REQUEST"
    COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    TRUSTED_DOCUMENT_REQUIRED = "TRUSTED_DOCUMENT_REQUIRED"
    RATE_LIMITED = "RATE_LIMITED"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"


class GatewayError(GraphQLError):
    """A GraphQL error the caller can act on; never masked."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        fields: Iterable[FieldError] = (),
        request_id: str | None = None,
    ) -> None:
        extensions: dict[str, object] = {"code": code.value}
        field_list = [{"path": f.path, "message": f.message} for f in fields]
        if field_list:
            extensions["fields"] = field_list
        if request_id:
            extensions["requestId"] = request_id
        super().__init__(message, extensions=extensions)
        self.code = code


_CODES: list[tuple[type[DomainError], ErrorCode]] = [
    (Unauthorized, ErrorCode.UNAUTHENTICATED),
    (Forbidden, ErrorCode.FORBIDDEN),
    (InvalidInput, ErrorCode.BAD_USER_INPUT),
    (NotFound, ErrorCode.NOT_FOUND),
    (Conflict, ErrorCode.CONFLICT),
    (ServiceUnavailable, ErrorCode.SERVICE_UNAVAILABLE),
]


def graphql_error(error: DomainError, *, field_path: Callable[[str], str] = lambda path: path) -> GatewayError:
    """The GraphQL error for a refusal from a service; ``field_path`` maps its field paths."""
    code = next(
        (code for kind, code in _CODES if isinstance(error, kind)),
        ErrorCode.BAD_USER_INPUT,
    )
    request_id = error.details.get("request_id")
    return GatewayError(
        code,
        error.message,
        fields=[FieldError(path=field_path(f.path), message=f.message) for f in error.fields],
        request_id=request_id if isinstance(request_id, str) else None,
    )


class RequestRefused(Exception):
    """A whole request refused before it executes: answered with ``errors`` and no ``data``.

    ``status`` is the HTTP status when the refusal has its own (413, 429); ``None`` leaves it
    to the GraphQL-over-HTTP rule for request errors (400 with ``application/graphql-response+json``,
    200 with ``application/json``).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})

    def body(self) -> dict[str, object]:
        """The GraphQL response body: one error with ``extensions.code``, no ``data``."""
        return request_error_body(self.code, self.message, **self.extensions)


def request_error_body(code: ErrorCode, message: str, **extensions: object) -> dict[str, object]:
    """A GraphQL response body for a request refused as a whole (it has no ``data`` entry)."""
    return {"errors": [{"message": message, "extensions": {"code": code.value, **extensions}}]}


# -- field paths --------------------------------------------------------------------------------

_SNAKE = re.compile(r"_([a-z0-9])")


def camel_case(name: str) -> str:
    """``employee_consented`` → ``employeeConsented`` (as strawberry names fields)."""
    return _SNAKE.sub(lambda match: match.group(1).upper(), name)


def _map_path(path: str, location: str, root: str | None) -> str:
    parts = path.split(".")
    if parts[0] != location:
        return path
    mapped = [camel_case(part) for part in parts[1:]]
    if root is not None:
        mapped.insert(0, root)
    return ".".join(mapped) or path


def input_path(path: str, argument: str = "input") -> str:
    """A service's body field path as a GraphQL input path: ``body.employee.email`` →
    ``input.employee.email``, ``body.org_unit_id`` → ``input.orgUnitId``."""
    return _map_path(path, "body", argument)


def argument_path(path: str) -> str:
    """A service's query parameter path as a GraphQL argument name: ``query.tenant_id`` →
    ``tenantId``."""
    return _map_path(path, "query", None)


# -- masking ------------------------------------------------------------------------------------


def should_mask(error: GraphQLError) -> bool:
    """Mask what went wrong inside a resolver unless it carries a code.

    Errors without a path (syntax, validation, variable coercion, limits) describe the
    caller's document and stay readable.
    """
    if error.path is None:
        return False
    return not (error.extensions and "code" in error.extensions)


class MaskInternalErrors(MaskErrors):
    """Replaces internal errors by a message with the request id to quote."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = current_flow().request_id
        message = "internal error"
        extensions: dict[str, object] = {"code": ErrorCode.INTERNAL_SERVER_ERROR.value}
        if request_id:
            message = f"internal error; quote request id {request_id}"
            extensions["requestId"] = request_id
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )
