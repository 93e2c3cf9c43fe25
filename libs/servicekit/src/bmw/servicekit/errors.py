"""Domain errors and one uniform error response for every service.

Body: ``{"error": {"code", "message", "request_id", "fields": [{"path", "message"}]}}``. A bad
request is answered with what is wrong and changes nothing; an internal error is masked behind a
request id (the stack trace goes to the log, never to the caller).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bmw.servicekit.context import current_flow

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal the caller can act on. Subclasses fix the HTTP status and the error code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: list[FieldError] | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or []
        self.details = details


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class InvalidInput(DomainError):
    status_code = 422
    code = "validation_failed"


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "unavailable"


class FieldError(BaseModel):
    path: str = Field(description="Dotted path of the offending field, e.g. body.category.")
    message: str = Field(description="What is wrong with it.")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code: validation_failed, not_found, forbidden, ...")
    message: str = Field(description="Human-readable explanation.")
    request_id: str | None = Field(default=None, description="Quote this id when reporting a problem.")
    fields: list[FieldError] = Field(default_factory=list, description="Per-field problems of a 422.")
    details: dict[str, Any] = Field(default_factory=dict, description="Extra facts, e.g. the current state of a 409.")


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


#: For route ``responses=``: documents the error body in OpenAPI.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        401: "Missing or invalid token.",
        403: "The caller's role or client organisation does not allow this.",
        404: "Not found (or not visible to the caller).",
        409: "Conflicts with the current state.",
        413: "The request body is larger than the service accepts (1 MiB).",
        422: "Invalid input; `fields` names each offending field.",
        503: "A dependency is unavailable; retry after the Retry-After seconds.",
    }.items()
}


#: A deadlock PostgreSQL broke, or a serialisation failure: nothing changed, the same request may succeed.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
#: The server cannot take the connection now (too many connections, starting up or shutting down): nothing was
#: done, and the caller may come back shortly, like any outage of the database.
UNAVAILABLE_SQLSTATES = frozenset({"53300", "57P03", "57P01"})


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """For a route's ``responses=``: the documented error bodies of these status codes."""
    unknown = set(codes) - set(ERROR_RESPONSES)
    if unknown:
        raise ValueError(f"no documented error response for {sorted(unknown)}")
    return {status: body for status, body in ERROR_RESPONSES.items() if status in codes}


def _request_id() -> str:
    return current_flow().request_id or uuid.uuid4().hex


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    fields: list[FieldError] | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(
            code=code,
            message=message,
            request_id=request_id or _request_id(),
            fields=fields or [],
            details=details or {},
        )
    )
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"), headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def install_error_handlers(app: FastAPI) -> None:
    """Map every failure to the uniform error body."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            FieldError(path=_field_path(err.get("loc", ())), message=str(err.get("msg", ""))) for err in exc.errors()
        ]
        names = ", ".join(f.path for f in fields)
        return error_response(422, "validation_failed", f"invalid input: {names}", fields=fields)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"Retry-After": "5"} if exc.status_code == 503 else None
        if exc.status_code == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(
            exc.status_code, exc.code, exc.message, fields=exc.fields, details=exc.details, headers=headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's own answer to a body it could not even decode (e.g. not UTF-8): a bare 400 that no
            # operation documents. It is bad input like any other, so the same 422 naming the body.
            unreadable = FieldError(path="body", message="could not be read; send JSON encoded as UTF-8")
            return error_response(422, "validation_failed", "invalid input: body", fields=[unreadable])
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        logger.warning("database unavailable: %s", type(exc).__name__)
        return error_response(
            503, "unavailable", "the service's database is unavailable; retry shortly", headers={"Retry-After": "5"}
        )

    # A connection that cannot be made at all surfaces as the operating system's error, unwrapped: refused over TCP
    # (ConnectionRefusedError), or a unix socket that is gone while PostgreSQL is down (FileNotFoundError).
    @app.exception_handler(OSError)
    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        logger.warning("a dependency is unreachable: %s", type(exc).__name__)
        return error_response(
            503,
            "unavailable",
            "a dependency of the service is unavailable; retry shortly",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        if getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
            logger.info("transaction lost to a concurrent one (%s); the caller may retry", exc.orig.sqlstate)  # type: ignore[union-attr]
            return error_response(
                503, "unavailable", "busy with a concurrent change; retry shortly", headers={"Retry-After": "1"}
            )
        if getattr(exc.orig, "sqlstate", None) in UNAVAILABLE_SQLSTATES:
            logger.warning("database refused the connection (%s)", exc.orig.sqlstate)  # type: ignore[union-attr]
            return error_response(
                503, "unavailable", "the service's database is unavailable; retry shortly", headers={"Retry-After": "5"}
            )
        return internal_error_response(exc)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        return internal_error_response(exc)


def internal_error_response(exc: BaseException) -> JSONResponse:
    """A masked 500: the stack trace goes to the log under the request id the caller is given."""
    request_id = _request_id()
    logger.error("internal error (request %s)", request_id, exc_info=exc)
    return error_response(500, "internal", f"internal error; quote request id {request_id}", request_id=request_id)
