"""trends: mapping of signals' report, and errors with extensions.code."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from bmw.gateway.testing import (
    OTHER_TENANT,
    SIGNALS,
    TENANT,
    FakeServices,
    SigningKey,
    error_body,
    graphql,
)

TRENDS = """
query Trends($tenantId: ID!, $from: Date!, $to: Date!) {
  trends(tenantId: $tenantId, from: $from, to: $to) {
    tenantId from to k
    cells { month orgUnitId orgUnitName category count suppressed }
  }
}
"""

FINANCE = uuid.UUID("66666666-6666-4666-8666-666666666666")
LOGISTICS = uuid.UUID("77777777-7777-4777-8777-777777777777")


def period(tenant: uuid.UUID = TENANT, start: str = "2026-01-05", end: str = "2026-03-29") -> dict[str, Any]:
    return {"tenantId": str(tenant), "from": start, "to": end}


def month(*cells: dict[str, Any]) -> dict[str, Any]:
    """Signals' monthly report shape around flat (unit, category, count, suppressed) cells."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    for cell in cells:
        unit = {key: cell[key] for key in ("org_unit_id", "org_unit_name", "count", "suppressed")}
        by_category.setdefault(cell["category"], []).append({**unit, "parent_id": None})
    return {
        "month": "2026-02",
        "first_week": "2026-02-02",
        "last_week": "2026-02-23",
        "categories": [
            {"category": category, "total": None, "total_suppressed": True, "units": units}
            for category, units in by_category.items()
        ],
    }


CELLS: list[dict[str, Any]] = [
    {
        "org_unit_id": str(LOGISTICS),
        "org_unit_name": "Logistiek",
        "category": "reorganisation_uncertainty",
        "count": 12,
        "suppressed": False,
    },
    {
        "org_unit_id": str(FINANCE),
        "org_unit_name": "Financiën",
        "category": "conflict_manager",
        "count": None,
        "suppressed": True,
    },
]

REPORT: dict[str, Any] = {
    "tenant_id": str(TENANT),
    "from": "2026-01-05",
    "to": "2026-03-29",
    "k": 5,
    "months": [month(*CELLS)],
}


@pytest.mark.asyncio
async def test_a_report_maps_to_graphql_with_suppressed_cells_as_null(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/trends", 200, REPORT)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, TRENDS, period(), token=token)

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "trends": {
                "tenantId": str(TENANT),
                "from": "2026-01-05",
                "to": "2026-03-29",
                "k": 5,
                "cells": [
                    {
                        "month": "2026-02",
                        "orgUnitId": str(LOGISTICS),
                        "orgUnitName": "Logistiek",
                        "category": "REORGANISATION_UNCERTAINTY",
                        "count": 12,
                        "suppressed": False,
                    },
                    {
                        "month": "2026-02",
                        "orgUnitId": str(FINANCE),
                        "orgUnitName": "Financiën",
                        "category": "CONFLICT_MANAGER",
                        "count": None,
                        "suppressed": True,
                    },
                ],
            }
        }
    }
    [call] = services.calls(SIGNALS, "/trends")
    # Zero cells are never shown, so signals is asked to leave them out.
    assert dict(call.url.params) == {
        "tenant_id": str(TENANT),
        "from": "2026-01-05",
        "to": "2026-03-29",
        "nonzero_only": "true",
    }
    assert call.headers["authorization"] == f"Bearer {token}"
    assert call.headers["x-correlation-id"]  # the gateway's own when the caller sent none


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "cell",
    [
        pytest.param({"count": 2, "suppressed": True}, id="suppressed-but-with-a-count"),
        pytest.param({"count": 4, "suppressed": False}, id="below-k-but-not-suppressed"),
    ],
)
async def test_a_small_cell_never_shows_a_count(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, cell: dict[str, Any]
) -> None:
    # Signals suppresses; the gateway does not rely on that alone (DESIGN §2 rule 2).
    leaky = {**REPORT, "months": [month({**CELLS[1], **cell})]}
    services.reply("GET", SIGNALS, "/trends", 200, leaky)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, TRENDS, period(), token=token)

    assert response.json()["data"]["trends"]["cells"] == [
        {
            "month": "2026-02",
            "orgUnitId": str(FINANCE),
            "orgUnitName": "Financiën",
            "category": "CONFLICT_MANAGER",
            "count": None,
            "suppressed": True,
        }
    ]


@pytest.mark.asyncio
async def test_from_after_to_is_bad_user_input(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, TRENDS, period(start="2026-03-01", end="2026-02-01"), token=token)

    body = response.json()
    assert body["data"] == {"trends": None}  # only the field fails
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": [{"path": "to", "message": "must not be before 'from'"}],
    }
    assert services.requests == []


@pytest.mark.asyncio
async def test_field_errors_of_signals_name_the_arguments(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        SIGNALS,
        "/trends",
        422,
        error_body(
            "validation_failed",
            "the period is longer than three years",
            [("query.to", "at most three years after 'from'")],
        ),
    )
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, TRENDS, period(start="2020-01-01", end="2026-01-01"), token=token)

    [error] = response.json()["errors"]
    assert error["message"] == "the period is longer than three years"
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": [{"path": "to", "message": "at most three years after 'from'"}],
        "requestId": "svc-request-1",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("roles", "tenant"),
    [
        pytest.param(("client_contact",), OTHER_TENANT, id="another-organisation"),
        pytest.param(("employee",), TENANT, id="employee"),
        pytest.param(("account_manager",), TENANT, id="outside-portfolio"),
    ],
)
async def test_who_may_not_read_trends_is_forbidden_before_signals_is_asked(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    roles: tuple[str, ...],
    tenant: uuid.UUID,
) -> None:
    tenant_claim = TENANT if "account_manager" not in roles else None
    token = signing_key.mint(*roles, tenant_id=tenant_claim, portfolio=[str(OTHER_TENANT)])

    response = await graphql(gateway, TRENDS, period(tenant), token=token)

    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == "not allowed for this client organisation"
    assert services.requests == []


@pytest.mark.asyncio
async def test_an_account_manager_reads_their_portfolio(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/trends", 200, REPORT)
    token = signing_key.mint("account_manager", portfolio=[str(TENANT)])

    response = await graphql(gateway, TRENDS, period(), token=token)

    assert response.json()["data"]["trends"]["k"] == 5


@pytest.mark.asyncio
async def test_a_malformed_tenant_id_is_bad_user_input(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, TRENDS, {**period(), "tenantId": "acme"}, token=token)

    [error] = response.json()["errors"]
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": [{"path": "tenantId", "message": "not a valid id"}],
    }


@pytest.mark.asyncio
async def test_a_refusal_by_signals_is_forbidden(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/trends", 403, error_body("forbidden", "not allowed for this client organisation"))
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, TRENDS, period(), token=token)

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "answer",
    [
        lambda _: httpx.Response(503, json=error_body("unavailable", "the service's database is unavailable")),
        lambda _: httpx.Response(502, text="Bad Gateway"),
        refuse_connection,
    ],
    ids=["503", "502-from-a-proxy", "refused"],
)
async def test_an_unavailable_signals_is_service_unavailable(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, answer: Any
) -> None:
    services.on("GET", SIGNALS, "/trends", answer)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, TRENDS, period(), token=token)

    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == "the signals service is unavailable; retry shortly"
    assert error["path"] == ["trends"]


@pytest.mark.asyncio
async def test_an_internal_failure_is_masked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/trends", 500, {"detail": "Traceback ... secret internals"})
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, TRENDS, period(), token=token)

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    request_id = response.headers["x-request-id"]
    assert error["extensions"]["requestId"] == request_id
    assert error["message"] == f"internal error; quote request id {request_id}"
    assert "secret" not in response.text
    assert "signals" not in error["message"]


@pytest.mark.asyncio
async def test_without_a_token_trends_is_unauthenticated(gateway: httpx.AsyncClient, services: FakeServices) -> None:
    response = await graphql(gateway, TRENDS, period())

    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
    assert services.requests == []
