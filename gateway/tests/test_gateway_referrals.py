"""submitReferral: success, and each expected failure as a member of its result union."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from bmw.gateway.testing import (
    INTAKE,
    ORG_UNIT,
    OTHER_TENANT,
    TENANT,
    FakeServices,
    SigningKey,
    error_body,
    graphql,
    json_body,
)

SUBMIT = """
mutation Submit($input: ReferralInput!) {
  submitReferral(input: $input) {
    __typename
    ... on ReferralSubmitted {
      referral { id tenantId orgUnitId category urgency channel status caseId receivedAt }
    }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on ServiceUnavailable { message }
  }
}
"""

REFERRAL_ID = uuid.UUID("44444444-4444-4444-8444-444444444444")
CASE_ID = uuid.UUID("55555555-5555-4555-8555-555555555555")


def referral_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "orgUnitId": str(ORG_UNIT),
        "category": "WORKLOAD_STRESS",
        "urgency": "URGENT",
        "channel": "SELF",
        "employee": {"name": "Sanne de Vries", "email": "sanne@example.nl"},
    }
    values.update(overrides)
    return values


def created(request: httpx.Request) -> httpx.Response:
    body = json_body(request)
    return httpx.Response(
        201,
        json={
            "id": str(REFERRAL_ID),
            "tenant_id": body["tenant_id"],
            "org_unit_id": body["org_unit_id"],
            "category": body["category"],
            "urgency": body["urgency"],
            "channel": body["channel"],
            "status": "case_opened",
            "case_id": str(CASE_ID),
            "received_at": "2026-03-02T09:15:00Z",
        },
    )


@pytest.mark.asyncio
async def test_a_referral_is_submitted_to_intake_on_behalf_of_the_caller(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, spans: list[ReadableSpan]
) -> None:
    services.on("POST", INTAKE, "/referrals", created)
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await gateway.post(
        "/graphql",
        json={"query": SUBMIT, "variables": {"input": referral_input()}},
        headers={
            "authorization": f"Bearer {token}",
            "x-correlation-id": "corr-123",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
    )

    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "submitReferral": {
                "__typename": "ReferralSubmitted",
                "referral": {
                    "id": str(REFERRAL_ID),
                    "tenantId": str(TENANT),
                    "orgUnitId": str(ORG_UNIT),
                    "category": "WORKLOAD_STRESS",
                    "urgency": "URGENT",
                    "channel": "SELF",
                    "status": "CASE_OPENED",
                    "caseId": str(CASE_ID),
                    "receivedAt": "2026-03-02T09:15:00+00:00",
                },
            }
        }
    }
    [call] = services.calls(INTAKE, "/referrals")
    assert json_body(call) == {
        "tenant_id": str(TENANT),  # defaulted to the caller's own
        "org_unit_id": str(ORG_UNIT),
        "category": "workload_stress",
        "urgency": "urgent",
        "channel": "self",
        "employee": {"name": "Sanne de Vries", "email": "sanne@example.nl", "phone": None},
        "employee_consented": False,
        "language": "nl",
    }
    assert call.headers["authorization"] == f"Bearer {token}"
    assert call.headers["x-correlation-id"] == "corr-123"
    # The call continues the caller's trace: the gateway's request span, under it the call's client span, whose
    # context the service receives.
    server = next(span for span in spans if span.kind is SpanKind.SERVER)
    client = next(span for span in spans if span.kind is SpanKind.CLIENT)
    assert server.name == "POST /graphql" and client.name == "POST intake"
    assert server.parent is not None and f"{server.parent.span_id:016x}" == "b7ad6b7169203331"
    assert client.parent is not None and server.context is not None and client.parent.span_id == server.context.span_id
    assert client.context is not None
    expected = f"00-0af7651916cd43dd8448eb211c80319c-{client.context.span_id:016x}-01"
    assert call.headers["traceparent"] == expected


@pytest.mark.asyncio
async def test_intake_field_errors_come_back_as_input_paths(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        INTAKE,
        "/referrals",
        422,
        error_body(
            "validation_failed",
            "invalid input: body.category, body.employee.email, body.org_unit_id",
            [
                ("body.category", "Input should be 'workload_stress', ..."),
                ("body.employee.email", "value is not a valid email address"),
                ("body.org_unit_id", "no such org unit in this client organisation"),
            ],
        ),
    )
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, SUBMIT, {"input": referral_input()}, token=token)

    result = response.json()["data"]["submitReferral"]
    assert result["__typename"] == "ValidationFailed"
    assert result["message"] == "invalid input: body.category, body.employee.email, body.org_unit_id"
    assert [f["path"] for f in result["fields"]] == [
        "input.category",
        "input.employee.email",
        "input.orgUnitId",
    ]
    assert result["fields"][1]["message"] == "value is not a valid email address"


@pytest.mark.asyncio
async def test_a_refusal_by_intake_is_forbidden(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        INTAKE,
        "/referrals",
        403,
        error_body("forbidden", "an employee may only refer themselves (channel self)"),
    )
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, SUBMIT, {"input": referral_input(channel="MANAGER")}, token=token)

    assert response.json()["data"]["submitReferral"] == {
        "__typename": "Forbidden",
        "message": "an employee may only refer themselves (channel self)",
    }


@pytest.mark.asyncio
async def test_another_organisation_is_forbidden_without_asking_intake(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, SUBMIT, {"input": referral_input(tenantId=str(OTHER_TENANT))}, token=token)

    assert response.json()["data"]["submitReferral"]["__typename"] == "Forbidden"
    assert services.requests == []


@pytest.mark.asyncio
async def test_provider_staff_must_name_the_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, SUBMIT, {"input": referral_input(orgUnitId="not-a-uuid")}, token=token)

    result = response.json()["data"]["submitReferral"]
    assert result["__typename"] == "ValidationFailed"
    assert {f["path"] for f in result["fields"]} == {"input.orgUnitId", "input.tenantId"}
    assert services.requests == []


def answer_503(_: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json=error_body("unavailable", "the service's database is unavailable"))


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer", request=request)


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", [answer_503, refuse_connection, time_out])
async def test_an_unavailable_intake_is_service_unavailable(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    services.on("POST", INTAKE, "/referrals", answer)
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, SUBMIT, {"input": referral_input()}, token=token)

    assert response.status_code == 200
    assert response.json()["data"]["submitReferral"] == {
        "__typename": "ServiceUnavailable",
        "message": "the intake service is unavailable; retry shortly",
    }


@pytest.mark.asyncio
async def test_without_a_token_the_mutation_is_unauthenticated(
    gateway: httpx.AsyncClient, services: FakeServices
) -> None:
    response = await graphql(gateway, SUBMIT, {"input": referral_input()})

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None  # submitReferral is non-null: the error nulls the whole result
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == "missing bearer token"
    assert error["path"] == ["submitReferral"]
    assert services.requests == []


def expired(key: SigningKey) -> str:
    return key.mint("employee", tenant_id=TENANT, ttl=timedelta(minutes=-5))


def signed_by_another_key(_: SigningKey) -> str:
    return SigningKey.generate().mint("employee", tenant_id=TENANT)


def for_another_audience(key: SigningKey) -> str:
    return key.mint("employee", tenant_id=TENANT, aud="someone-else")


def tenant_role_without_tenant(key: SigningKey) -> str:
    return key.mint("employee")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "make_token", [expired, signed_by_another_key, for_another_audience, tenant_role_without_tenant]
)
async def test_an_invalid_token_is_unauthenticated(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    make_token: Callable[[SigningKey], str],
) -> None:
    response = await graphql(gateway, SUBMIT, {"input": referral_input()}, token=make_token(signing_key))

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["message"] == "invalid or expired token"
    assert services.requests == []
