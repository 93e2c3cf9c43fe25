"""The uniform error body (DESIGN §5: bad input gets a clear error, never a 500 with a stack trace)
and the request/correlation ids the flow middleware adds."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, OperationalError

from bmw.servicekit.app import FlowContextMiddleware
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
    install_error_handlers,
)

SECRET = "Sanne de Vries has a conflict with her manager"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


class Inner(BaseModel):
    y: int


class Body(BaseModel):
    x: Inner
    label: str


RAISED: dict[str, DomainError] = {
    "domain": DomainError("cannot do that"),
    "not-found": NotFound("referral not found"),
    "conflict": Conflict("the case is closed", current_state="closed", allowed=["reopen"]),
    "forbidden": Forbidden("not allowed for this client organisation"),
    "unauthorized": Unauthorized("missing bearer token"),
    "invalid": InvalidInput(
        "unknown org unit", fields=[FieldError(path="body.org_unit_id", message="no such org unit")]
    ),
    "unavailable": ServiceUnavailable("the broker is unavailable"),
}


def build_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(FlowContextMiddleware)
    install_error_handlers(app)

    @app.post("/things")
    async def create_thing(body: Body) -> dict[str, Any]:
        return {"y": body.x.y}

    @app.get("/raise/{name}")
    async def raise_domain_error(name: str) -> None:
        raise RAISED[name]

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(SECRET)

    @app.get("/database-down")
    async def database_down() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError(SECRET))

    @app.get("/deadlock")
    async def deadlock() -> None:
        raise DBAPIError("INSERT INTO appointments ...", {}, _WithSqlstate(SECRET, "40P01"))

    @app.get("/too-many-connections")
    async def too_many_connections() -> None:
        raise DBAPIError("connect", {}, _WithSqlstate(SECRET, "53300"))

    @app.get("/other-database-error")
    async def other_database_error() -> None:
        raise DBAPIError("INSERT INTO appointments ...", {}, _WithSqlstate(SECRET, "22001"))

    @app.get("/connection-refused")
    async def connection_refused() -> None:
        raise ConnectionRefusedError(SECRET)

    @app.get("/socket-gone")
    async def socket_gone() -> None:
        # What asyncpg raises, unwrapped, while PostgreSQL (reached over its unix socket) is down.
        raise FileNotFoundError(2, "No such file or directory", SECRET)

    @app.get("/flow")
    async def flow() -> dict[str, str | None]:
        context = current_flow()
        return {"request_id": context.request_id, "correlation_id": context.correlation_id}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(build_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as http:
        yield http


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "request_id", "fields", "details"}
    return error


# -- validation ------------------------------------------------------------------------------


async def test_an_invalid_body_is_a_422_naming_each_field_by_its_path(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={"x": {"y": "not a number"}})

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert {field["path"] for field in error["fields"]} == {"body.x.y", "body.label"}
    assert all(field["message"] for field in error["fields"])
    assert "body.x.y" in error["message"]


async def test_a_422_does_not_echo_the_submitted_value(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={"x": {"y": SECRET}, "label": "ok"})

    assert response.status_code == 422
    assert SECRET not in response.text


async def test_a_body_that_is_not_json_is_a_422_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", content=b"{not json", headers={"content-type": "application/json"})

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert error["fields"][0]["path"].startswith("body")


# -- domain errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("domain", 400, "bad_request"),
        ("not-found", 404, "not_found"),
        ("conflict", 409, "conflict"),
        ("forbidden", 403, "forbidden"),
        ("unauthorized", 401, "unauthorized"),
        ("invalid", 422, "validation_failed"),
        ("unavailable", 503, "unavailable"),
    ],
)
async def test_each_domain_error_has_its_status_and_code(
    client: httpx.AsyncClient, name: str, status: int, code: str
) -> None:
    response = await client.get(f"/raise/{name}")

    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code
    assert error["message"] == RAISED[name].message


async def test_a_conflict_carries_its_details(client: httpx.AsyncClient) -> None:
    error = error_of(await client.get("/raise/conflict"))

    assert error["details"] == {"current_state": "closed", "allowed": ["reopen"]}


async def test_invalid_input_carries_its_field_errors(client: httpx.AsyncClient) -> None:
    error = error_of(await client.get("/raise/invalid"))

    assert error["fields"] == [{"path": "body.org_unit_id", "message": "no such org unit"}]


async def test_unauthorized_asks_for_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/unauthorized")

    assert response.headers["www-authenticate"] == "Bearer"


async def test_service_unavailable_says_when_to_retry(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/unavailable")

    assert int(response.headers["retry-after"]) > 0


# -- infrastructure and internal errors -----------------------------------------------------------


class _WithSqlstate(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


async def test_a_deadlock_is_a_503_the_caller_may_retry_and_other_database_errors_stay_masked(
    client: httpx.AsyncClient,
) -> None:
    lost = await client.get("/deadlock")
    assert lost.status_code == 503 and int(lost.headers["retry-after"]) > 0
    assert error_of(lost)["code"] == "unavailable" and SECRET not in lost.text
    other = await client.get("/other-database-error")
    assert other.status_code == 500 and SECRET not in other.text


@pytest.mark.parametrize("path", ["/database-down", "/connection-refused", "/socket-gone", "/too-many-connections"])
async def test_an_unreachable_database_is_a_503_with_retry_after(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert error_of(response)["code"] == "unavailable"
    assert SECRET not in response.text


async def test_an_unexpected_error_is_a_500_with_a_request_id_and_nothing_else(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom")

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal"
    assert HEX_ID.match(error["request_id"])
    assert SECRET not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    assert ".py" not in response.text


async def test_a_500_quotes_one_request_id_in_message_and_field(client: httpx.AsyncClient) -> None:
    error = error_of(await client.get("/boom"))

    assert error["request_id"] in error["message"]


async def test_a_500_carries_the_request_id_header_of_its_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/boom", headers={"x-correlation-id": "flow-500"})

    assert response.headers.get("x-correlation-id") == "flow-500"
    assert response.headers.get("x-request-id") == error_of(response)["request_id"]


# -- framework errors --------------------------------------------------------------------------


async def test_an_unknown_route_is_a_404_in_the_same_body_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


async def test_a_wrong_method_is_a_405_in_the_same_body_shape(client: httpx.AsyncClient) -> None:
    response = await client.delete("/things")

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


# -- request and correlation ids -------------------------------------------------------------


async def test_every_response_carries_a_fresh_request_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/flow")
    second = await client.get("/flow")

    assert HEX_ID.match(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_the_handler_sees_the_request_id_of_the_response(client: httpx.AsyncClient) -> None:
    response = await client.get("/flow")

    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_a_given_correlation_id_is_echoed_and_seen_by_the_handler(client: httpx.AsyncClient) -> None:
    response = await client.get("/flow", headers={"X-Correlation-Id": "flow-123"})

    assert response.headers["x-correlation-id"] == "flow-123"
    assert response.json()["correlation_id"] == "flow-123"


async def test_without_a_correlation_id_the_request_id_starts_the_flow(client: httpx.AsyncClient) -> None:
    response = await client.get("/flow")

    assert response.headers["x-correlation-id"] == response.headers["x-request-id"]


async def test_an_overlong_correlation_id_is_cut_to_128_characters(client: httpx.AsyncClient) -> None:
    response = await client.get("/flow", headers={"x-correlation-id": "c" * 500})

    assert response.headers["x-correlation-id"] == "c" * 128


async def test_an_error_body_quotes_the_request_id_of_its_response(client: httpx.AsyncClient) -> None:
    response = await client.get("/raise/conflict")

    assert error_of(response)["request_id"] == response.headers["x-request-id"]


async def test_a_422_body_quotes_the_request_id_of_its_response(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={})

    assert error_of(response)["request_id"] == response.headers["x-request-id"]
