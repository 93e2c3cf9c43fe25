"""personalData: the right of access across the four services, against fake service answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bmw.gateway.testing import (
    BILLING,
    INTAKE,
    ORG_UNIT,
    SCHEDULING,
    SIGNALS,
    TENANT,
    FakeServices,
    SigningKey,
    error_body,
    graphql,
)

CLIENT_REF = "c_Pq7Zr2Xk9LmW"
OTHER_REF = "c_Zz9Yy8Xx7Ww6"
EXPORT = f"/persons/{CLIENT_REF}/export"
HOSTS = (INTAKE, SCHEDULING, BILLING, SIGNALS)
CASE_ID = uuid.UUID("55555555-5555-4555-8555-555555555555")
REFERRAL_ID = uuid.UUID("44444444-4444-4444-8444-444444444444")
WORKER = uuid.UUID("88888888-8888-4888-8888-888888888888")
APPOINTMENT = uuid.UUID("66666666-6666-4666-8666-666666666666")
USAGE_ID = uuid.UUID("77777777-7777-4777-8777-777777777777")
EVENT_ID = uuid.UUID("99999999-9999-4999-8999-999999999999")
WORKSHOP = uuid.UUID("abababab-abab-4bab-8bab-abababababab")

INTAKE_EXPORT: dict[str, Any] = {
    "client_ref": CLIENT_REF,
    "client_organisation": str(TENANT),
    "exported_at": "2026-11-28T10:00:00+00:00",
    "personal_data": {"name": "Joëlle van Dijk", "email": "joelle@example.nl", "phone": None, "date_of_birth": None},
    "referrals": [
        {
            "id": str(REFERRAL_ID),
            "channel": "self",
            "category": "workload_stress",
            "urgency": "normal",
            "status": "case_opened",
            "received_at": "2026-11-02T08:00:00+00:00",
            "org_unit_id": str(ORG_UNIT),
        }
    ],
    "cases": [
        {
            "id": str(CASE_ID),
            "status": "in_progress",
            "category": "workload_stress",
            "opened_at": "2026-11-02T08:00:00+00:00",
            "closed_at": None,
            "outcome": None,
        }
    ],
    "consents": [
        {
            "recipient": "provider",
            "item": "referral",
            "granted": True,
            "recorded_at": "2026-11-02T08:00:00+00:00",
            "valid_until": None,
            "method": "portal",
        }
    ],
    "dossier": [
        {"case_id": str(CASE_ID), "kind": "intake_report", "created_at": "2026-11-05T10:00:00+00:00", "text": "Verslag"}
    ],
    "access_log": [
        {
            "at": "2026-11-28T10:00:00+00:00",
            "actor": "admin-1",
            "action": "export",
            "resource": "person",
            "break_glass": False,
            "reason": None,
        }
    ],
    "not_included": "the social worker's working notes (werkaantekeningen) fall outside the right of access",
}

SCHEDULING_EXPORT: dict[str, Any] = {
    "client_ref": CLIENT_REF,
    "exported_at": "2026-11-28T10:00:00Z",
    "appointments": [
        {
            "id": str(APPOINTMENT),
            "tenant_id": str(TENANT),
            "case_id": str(CASE_ID),
            "kind": "intake",
            "status": "completed",
            "start": "2026-11-05T09:00:00Z",
            "end": "2026-11-05T10:00:00Z",
            "worker_id": str(WORKER),
            "worker_name": "Sanne de Vries",
            "location": "video",
            "late_cancellation": None,
            "cancelled_by": None,
            "topic": None,
            "booked_at": "2026-11-02T08:01:00Z",
        }
    ],
    "pending_intakes": [
        {
            "case_id": str(CASE_ID),
            "tenant_id": str(TENANT),
            "org_unit_id": str(ORG_UNIT),
            "category": "workload_stress",
            "urgency": "normal",
            "sla_deadline": "2026-11-09T08:00:00Z",
            "needed_specialism": None,
            "language": "nl",
            "received_at": "2026-11-02T08:00:30Z",
            "outcome": "booked",
        }
    ],
    "workshop_registrations": [
        {
            "id": str(uuid.uuid4()),
            "workshop_id": str(WORKSHOP),
            "tenant_id": str(TENANT),
            "title": "Stress en veerkracht",
            "theme": "stress_and_resilience",
            "workshop_status": "scheduled",
            "start": "2026-12-07T12:00:00Z",
            "end": "2026-12-07T13:30:00Z",
            "location": "client_site",
            "status": "waitlisted",
            "attended": None,
            "display_name": None,
            "registered_at": "2026-11-20T09:00:00Z",
        }
    ],
    "not_included": "the social workers' own records",
}

BILLING_EXPORT: dict[str, Any] = {
    "client_ref": CLIENT_REF,
    "exported_at": "2026-11-28T10:00:00Z",
    "usage": [
        {
            "id": str(USAGE_ID),
            "tenant_id": str(TENANT),
            "activity": "case_opened",
            "occurred_at": "2026-11-02T08:00:00Z",
            "quantity": "1.00",
            "unit": "case",
            "status": "invoiced",
            "contract_id": str(uuid.uuid4()),
            "product_code": "TRAJ",
            "unit_price_cents": 125000,
            "overage": False,
            "case_id": str(CASE_ID),
            "invoice_id": str(uuid.uuid4()),
            "invoice_number": "2026-000042",
            "source_event_id": str(EVENT_ID),
        }
    ],
    "activity": [
        {
            "source_event_id": str(EVENT_ID),
            "tenant_id": str(TENANT),
            "event_type": "intake.case.opened.v1",
            "occurred_at": "2026-11-02T08:00:00Z",
            "received_at": "2026-11-02T08:00:01Z",
            "facts": {"case_id": str(CASE_ID), "client_ref": CLIENT_REF, "language": "nl", "needed_specialism": None},
        }
    ],
    "not_included": "invoices and usage statements, which name no person",
}

SIGNALS_EXPORT: dict[str, Any] = {
    "client_ref": CLIENT_REF,
    "exported_at": "2026-11-28T10:00:00Z",
    "counted_referrals": [
        {
            "referral_id": str(REFERRAL_ID),
            "tenant_id": str(TENANT),
            "org_unit_id": str(ORG_UNIT),
            "org_unit_name": "Logistiek",
            "category": "workload_stress",
            "week_start": "2026-11-02",
        }
    ],
    "opted_out_of_statistics": False,
    "statistics_opt_outs": [],
    "not_included": "the weekly counts",
}

EXPORTS = {INTAKE: INTAKE_EXPORT, SCHEDULING: SCHEDULING_EXPORT, BILLING: BILLING_EXPORT, SIGNALS: SIGNALS_EXPORT}

QUERY = """
query PersonalData($clientRef: String!) {
  personalData(clientRef: $clientRef) {
    clientRef
    intake {
      clientOrganisationId exportedAt
      contactDetails { name email phone dateOfBirth }
      referrals { id channel category urgency status receivedAt orgUnitId }
      cases { id status category openedAt closedAt outcome }
      consents { recipient item granted method }
      dossier { caseId kind text }
      accessLog { actor action resource breakGlass reason }
      notIncluded
    }
    scheduling {
      appointments { id caseId kind status start end workerId workerName location cancelledBy }
      pendingIntakes { caseId category urgency outcome }
      workshopPlaces { workshopId title theme status workshopStatus }
      notIncluded
    }
    billing {
      usage { id activity quantity unit status productCode unitPrice { cents formatted } caseId invoiceNumber }
      events { eventId eventType facts { name value } }
    }
    signals {
      countedReferrals { referralId orgUnitName category weekStart }
      optedOutOfStatistics
      optOuts { clientOrganisationId }
    }
  }
}
"""

#: The roles that never handle the rights of the person.
NOT_ADMINS: list[tuple[str, dict[str, Any]]] = [
    ("social_worker", {}),
    ("account_manager", {"portfolio": [str(TENANT)]}),
    ("client_contact", {"tenant_id": TENANT}),
    ("integration", {"tenant_id": TENANT, "scopes": ["usage:read"]}),
    ("employee", {"tenant_id": TENANT}),
]


def answer_all(services: FakeServices) -> None:
    for host, body in EXPORTS.items():
        services.reply("GET", host, EXPORT, 200, body)


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def errors_by_part(body: dict[str, Any]) -> dict[str, str]:
    """The part each error is about, and its code."""
    return {error["path"][-1]: error["extensions"]["code"] for error in body.get("errors", [])}


@pytest.mark.asyncio
async def test_a_provider_admin_gets_every_services_part(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    answer_all(services)
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await graphql(gateway, QUERY, {"clientRef": CLIENT_REF}, token=token)

    body = response.json()
    assert "errors" not in body, body
    found = body["data"]["personalData"]
    assert found["clientRef"] == CLIENT_REF
    intake = found["intake"]
    assert intake["clientOrganisationId"] == str(TENANT)
    assert intake["contactDetails"] == {
        "name": "Joëlle van Dijk",
        "email": "joelle@example.nl",
        "phone": None,
        "dateOfBirth": None,
    }
    assert intake["referrals"] == [
        {
            "id": str(REFERRAL_ID),
            "channel": "SELF",
            "category": "WORKLOAD_STRESS",
            "urgency": "NORMAL",
            "status": "CASE_OPENED",
            "receivedAt": "2026-11-02T08:00:00+00:00",
            "orgUnitId": str(ORG_UNIT),
        }
    ]
    assert intake["cases"][0]["status"] == "IN_PROGRESS" and intake["cases"][0]["outcome"] is None
    assert intake["consents"] == [{"recipient": "PROVIDER", "item": "REFERRAL", "granted": True, "method": "PORTAL"}]
    assert intake["dossier"] == [{"caseId": str(CASE_ID), "kind": "INTAKE_REPORT", "text": "Verslag"}]
    assert intake["accessLog"][0] == {
        "actor": "admin-1",
        "action": "export",
        "resource": "person",
        "breakGlass": False,
        "reason": None,
    }
    scheduling = found["scheduling"]
    assert scheduling["appointments"] == [
        {
            "id": str(APPOINTMENT),
            "caseId": str(CASE_ID),
            "kind": "INTAKE",
            "status": "COMPLETED",
            "start": "2026-11-05T09:00:00+00:00",
            "end": "2026-11-05T10:00:00+00:00",
            "workerId": str(WORKER),
            "workerName": "Sanne de Vries",
            "location": "VIDEO",
            "cancelledBy": None,
        }
    ]
    assert scheduling["pendingIntakes"] == [
        {"caseId": str(CASE_ID), "category": "WORKLOAD_STRESS", "urgency": "NORMAL", "outcome": "booked"}
    ]
    assert scheduling["workshopPlaces"] == [
        {
            "workshopId": str(WORKSHOP),
            "title": "Stress en veerkracht",
            "theme": "STRESS_AND_RESILIENCE",
            "status": "WAITLISTED",
            "workshopStatus": "SCHEDULED",
        }
    ]
    [usage] = found["billing"]["usage"]
    assert usage == {
        "id": str(USAGE_ID),
        "activity": "CASE_OPENED",
        "quantity": "1.00",
        "unit": "CASE",
        "status": "INVOICED",
        "productCode": "TRAJ",
        "unitPrice": {"cents": 125000, "formatted": usage["unitPrice"]["formatted"]},
        "caseId": str(CASE_ID),
        "invoiceNumber": "2026-000042",
    }
    assert "1.250,00" in usage["unitPrice"]["formatted"]
    [event] = found["billing"]["events"]
    assert event["eventType"] == "intake.case.opened.v1"
    assert event["facts"] == [
        {"name": "case_id", "value": str(CASE_ID)},
        {"name": "client_ref", "value": CLIENT_REF},
        {"name": "language", "value": "nl"},
        {"name": "needed_specialism", "value": None},
    ]
    assert found["signals"] == {
        "countedReferrals": [
            {
                "referralId": str(REFERRAL_ID),
                "orgUnitName": "Logistiek",
                "category": "WORKLOAD_STRESS",
                "weekStart": "2026-11-02",
            }
        ],
        "optedOutOfStatistics": False,
        "optOuts": [],
    }
    for host in HOSTS:
        [call] = services.calls(host, EXPORT)
        assert call.method == "GET"
        assert call.headers["authorization"] == f"Bearer {token}", "each service checks the caller itself"


@pytest.mark.asyncio
async def test_the_four_services_are_asked_at_once(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    arrived: list[str] = []
    everyone = asyncio.Event()

    def together(host: str) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
        async def answer(request: httpx.Request) -> httpx.Response:
            arrived.append(host)
            if len(arrived) == len(HOSTS):
                everyone.set()
            # Asked one after another, the first would wait here for the others forever.
            await asyncio.wait_for(everyone.wait(), timeout=5)
            return httpx.Response(200, json=EXPORTS[host])

        return answer

    for host in HOSTS:
        services.on("GET", host, EXPORT, together(host))  # type: ignore[arg-type]

    response = await graphql(gateway, QUERY, {"clientRef": CLIENT_REF}, token=signing_key.mint("provider_admin"))

    body = response.json()
    assert "errors" not in body, body
    assert sorted(arrived) == sorted(HOSTS)
    assert all(
        body["data"]["personalData"][part] is not None for part in ("intake", "scheduling", "billing", "signals")
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(("role", "claims"), NOT_ADMINS)
async def test_only_provider_admins_ask(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, role: str, claims: dict[str, Any]
) -> None:
    answer_all(services)

    response = await graphql(gateway, QUERY, {"clientRef": CLIENT_REF}, token=signing_key.mint(role, **claims))

    body = response.json()
    assert body["data"] == {"personalData": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["personalData"], "FORBIDDEN")]
    assert services.requests == [], "refused before any service is asked"


@pytest.mark.asyncio
async def test_without_a_token_nothing_is_asked(gateway: httpx.AsyncClient, services: FakeServices) -> None:
    answer_all(services)

    response = await graphql(gateway, QUERY, {"clientRef": CLIENT_REF})

    body = response.json()
    assert body["data"] == {"personalData": None}
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert services.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("client_ref", ["c_short", "../persons", f"{CLIENT_REF}/../../cases", "c_" + "a" * 41, ""])
async def test_a_malformed_client_ref_never_reaches_a_url(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, client_ref: str
) -> None:
    response = await graphql(gateway, QUERY, {"clientRef": client_ref}, token=signing_key.mint("provider_admin"))

    body = response.json()
    assert body["data"] == {"personalData": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert [field["path"] for field in error["extensions"]["fields"]] == ["clientRef"]
    assert services.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("down", ["intake", "scheduling", "billing", "signals"])
async def test_a_service_that_is_down_fails_only_its_part(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, down: str
) -> None:
    answer_all(services)
    host = {"intake": INTAKE, "scheduling": SCHEDULING, "billing": BILLING, "signals": SIGNALS}[down]
    services.on("GET", host, EXPORT, refuse_connection)

    response = await graphql(gateway, QUERY, {"clientRef": CLIENT_REF}, token=signing_key.mint("provider_admin"))

    assert response.status_code == 200
    body = response.json()
    found = body["data"]["personalData"]
    assert found[down] is None
    assert all(found[part] is not None for part in ("intake", "scheduling", "billing", "signals") if part != down)
    assert errors_by_part(body) == {down: "SERVICE_UNAVAILABLE"}
    assert body["errors"][0]["path"] == ["personalData", down]


@pytest.mark.asyncio
async def test_a_person_intake_does_not_know_is_not_found_and_the_others_say_they_hold_nothing(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    path = f"/persons/{OTHER_REF}/export"
    services.reply("GET", INTAKE, path, 404, error_body("not_found", "no person with this client_ref"))
    services.reply("GET", SCHEDULING, path, 200, SCHEDULING_EXPORT | {"client_ref": OTHER_REF, "appointments": []})
    services.reply("GET", BILLING, path, 200, BILLING_EXPORT | {"client_ref": OTHER_REF, "usage": [], "activity": []})
    services.reply("GET", SIGNALS, path, 200, SIGNALS_EXPORT | {"client_ref": OTHER_REF, "counted_referrals": []})

    response = await graphql(gateway, QUERY, {"clientRef": OTHER_REF}, token=signing_key.mint("provider_admin"))

    body = response.json()
    found = body["data"]["personalData"]
    assert found["intake"] is None
    assert errors_by_part(body) == {"intake": "NOT_FOUND"}
    assert found["scheduling"]["appointments"] == []
    assert found["billing"]["usage"] == []
    assert found["signals"]["countedReferrals"] == []


@pytest.mark.asyncio
async def test_a_broken_answer_is_an_internal_error_of_that_part_only(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    answer_all(services)
    services.reply("GET", BILLING, EXPORT, 500, {"detail": "boom"})
    services.reply("GET", SIGNALS, EXPORT, 200, {"client_ref": CLIENT_REF, "unexpected": True})

    response = await graphql(gateway, QUERY, {"clientRef": CLIENT_REF}, token=signing_key.mint("provider_admin"))

    body = response.json()
    found = body["data"]["personalData"]
    assert (found["billing"], found["signals"]) == (None, None)
    assert found["intake"] is not None and found["scheduling"] is not None
    assert errors_by_part(body) == {"billing": "INTERNAL_SERVER_ERROR", "signals": "INTERNAL_SERVER_ERROR"}
    assert all("boom" not in error["message"] for error in body["errors"]), "masked"
