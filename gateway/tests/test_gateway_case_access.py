"""Access to cases beyond the assigned social worker's: a break-glass read with a stated reason, a referral's
consent deadline while it waits, and a social worker's booking for a case whose organisation intake names."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from bmw.gateway.testing import (
    INTAKE,
    ORG_UNIT,
    OTHER_TENANT,
    SCHEDULING,
    TENANT,
    FakeServices,
    SigningKey,
    error_body,
    graphql,
    json_body,
)

WORKER = uuid.UUID("88888888-8888-4888-8888-888888888888")
COLLEAGUE = uuid.UUID("89898989-8989-4989-8989-898989898989")
CASE_ID = uuid.UUID("55555555-5555-4555-8555-555555555555")
REFERRAL_ID = uuid.UUID("44444444-4444-4444-8444-444444444444")
ENTRY_ID = uuid.UUID("99999999-9999-4999-8999-999999999999")
APPOINTMENT_ID = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")

HEADER = "x-break-glass-reason"
CASE_PATH = f"/cases/{CASE_ID}"
DOSSIER_PATH = f"/cases/{CASE_ID}/dossier"


def colleague(key: SigningKey) -> str:
    """A social worker who is not the case's: they read it only with a stated reason."""
    return key.mint("social_worker", sub=str(COLLEAGUE))


def case_body(**overrides: Any) -> dict[str, Any]:
    """A case as intake's ``CaseRead`` has it."""
    body: dict[str, Any] = {
        "id": str(CASE_ID),
        "tenant_id": str(TENANT),
        "client_ref": "c_Xk3vP9qLm2Ra",
        "org_unit_id": str(ORG_UNIT),
        "category": "burnout_risk",
        "urgency": "crisis",
        "status": "in_progress",
        "sla_deadline": "2026-03-05T17:00:00Z",
        "needed_specialism": None,
        "language": "nl",
        "worker_id": str(WORKER),
        "outcome": None,
        "escalation": None,
        "opened_at": "2026-03-02T09:15:00Z",
        "closed_at": None,
        "reopened_count": 0,
        "history": [],
    }
    body.update(overrides)
    return body


DOSSIER_PAGE = {
    "items": [
        {
            "id": str(ENTRY_ID),
            "layer": "formal",
            "kind": "intake_report",
            "text": "Intake held; follow-up agreed.",
            "author": str(WORKER),
            "created_at": "2026-03-03T08:00:00Z",
        }
    ],
    "next_cursor": None,
}


# -- case(id, breakGlassReason) -----------------------------------------------------------------------------------

CASE = """
query Case($id: ID!, $reason: String) {
  case(id: $id, breakGlassReason: $reason) { id tenantId workerId status }
}
"""

CASE_WITH_DOSSIER = """
query Case($id: ID!, $reason: String) {
  case(id: $id, breakGlassReason: $reason) {
    id workerId
    dossier { nodes { id kind text } }
  }
}
"""


def intake_with_case(services: FakeServices) -> None:
    services.reply("GET", INTAKE, CASE_PATH, 200, case_body())
    services.reply("GET", INTAKE, DOSSIER_PATH, 200, DOSSIER_PAGE)


async def test_the_assigned_worker_reads_a_case_without_a_break_glass_header(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    intake_with_case(services)

    response = await graphql(
        gateway, CASE_WITH_DOSSIER, {"id": str(CASE_ID)}, token=signing_key.mint("social_worker", sub=str(WORKER))
    )

    body = response.json()
    assert "errors" not in body
    assert body["data"]["case"]["dossier"]["nodes"] == [
        {"id": str(ENTRY_ID), "kind": "INTAKE_REPORT", "text": "Intake held; follow-up agreed."}
    ]
    [case_call] = services.calls(INTAKE, CASE_PATH)
    [dossier_call] = services.calls(INTAKE, DOSSIER_PATH)
    assert HEADER not in case_call.headers
    assert HEADER not in dossier_call.headers


async def test_a_colleague_states_a_reason_that_reaches_the_case_and_its_dossier(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    intake_with_case(services)
    token = colleague(signing_key)
    reason = "Covering for a colleague: the client called in crisis"

    response = await graphql(gateway, CASE_WITH_DOSSIER, {"id": str(CASE_ID), "reason": reason}, token=token)

    body = response.json()
    assert "errors" not in body
    assert body["data"]["case"]["id"] == str(CASE_ID)
    assert body["data"]["case"]["workerId"] == str(WORKER)
    assert [node["id"] for node in body["data"]["case"]["dossier"]["nodes"]] == [str(ENTRY_ID)]
    [case_call] = services.calls(INTAKE, CASE_PATH)
    [dossier_call] = services.calls(INTAKE, DOSSIER_PATH)
    assert case_call.headers[HEADER] == reason  # plain ASCII stays readable
    assert dossier_call.headers[HEADER] == reason
    assert case_call.headers["authorization"] == f"Bearer {token}"
    assert dossier_call.headers["authorization"] == f"Bearer {token}"


async def test_without_the_dossier_only_the_case_is_asked_with_the_reason(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    intake_with_case(services)
    reason = "Crisis call while the assigned worker is ill"

    response = await graphql(gateway, CASE, {"id": str(CASE_ID), "reason": reason}, token=colleague(signing_key))

    assert response.json() == {
        "data": {
            "case": {"id": str(CASE_ID), "tenantId": str(TENANT), "workerId": str(WORKER), "status": "IN_PROGRESS"}
        }
    }
    assert [request.url.path for request in services.requests] == [CASE_PATH]
    assert services.requests[0].headers[HEADER] == reason


@pytest.mark.parametrize(
    ("reason", "stated"),
    [
        pytest.param(
            "  Collega ziek; cliënt belt in crisis \n",
            "Collega ziek; cliënt belt in crisis",
            id="non-ascii-trimmed",
        ),
        pytest.param(
            "Dekking 100%, zie melding %41-7", "Dekking 100%, zie melding %41-7", id="percent-signs-stay-literal"
        ),
        pytest.param(
            "Crisis\u2014collega afwezig\ttot maandag 😟",
            "Crisis\u2014collega afwezig\ttot maandag 😟",
            id="dash-tab-emoji",
        ),
    ],
)
async def test_a_reason_is_sent_as_ascii_that_decodes_to_the_trimmed_reason(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, reason: str, stated: str
) -> None:
    intake_with_case(services)

    response = await graphql(
        gateway, CASE_WITH_DOSSIER, {"id": str(CASE_ID), "reason": reason}, token=colleague(signing_key)
    )

    assert "errors" not in response.json()
    for call in (*services.calls(INTAKE, CASE_PATH), *services.calls(INTAKE, DOSSIER_PATH)):
        raw = call.headers.raw  # the bytes on the wire
        [value] = [v for k, v in raw if k.lower() == HEADER.encode()]
        assert value.isascii()
        assert unquote(value.decode("ascii"), errors="strict") == stated
    assert len(services.requests) == 2


async def test_a_reason_of_the_wrong_length_is_refused_without_asking_intake(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = colleague(signing_key)
    for reason in ("te kort", "   kort       ", "x" * 501, "", "é" * 501):
        response = await graphql(gateway, CASE, {"id": str(CASE_ID), "reason": reason}, token=token)

        body = response.json()
        assert body["data"] == {"case": None}, reason
        [error] = body["errors"]
        assert error["path"] == ["case"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["fields"] == [{"path": "breakGlassReason", "message": "10 to 500 characters"}]
    assert services.requests == []


async def test_reasons_at_the_limits_are_sent(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    intake_with_case(services)
    token = colleague(signing_key)
    reasons = ["0123456789", "y" * 500, f"  {'z' * 500}  "]

    for reason in reasons:
        response = await graphql(gateway, CASE, {"id": str(CASE_ID), "reason": reason}, token=token)

        assert response.json()["data"]["case"]["id"] == str(CASE_ID), reason
    assert [call.headers[HEADER] for call in services.calls(INTAKE, CASE_PATH)] == [
        "0123456789",
        "y" * 500,
        "z" * 500,  # counted and sent trimmed
    ]


async def test_a_malformed_id_and_reason_are_both_named(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(gateway, CASE, {"id": "case-1", "reason": "kort"}, token=colleague(signing_key))

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [
        {"path": "id", "message": "not a valid id"},
        {"path": "breakGlassReason", "message": "10 to 500 characters"},
    ]
    assert services.requests == []


async def test_intake_refusing_the_reason_names_the_argument(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        INTAKE,
        CASE_PATH,
        422,
        error_body(
            "validation_failed",
            "invalid break-glass reason: percent-encoded bytes that are not UTF-8",
            [("header.X-Break-Glass-Reason", "percent-encoded bytes that are not UTF-8")],
        ),
    )

    response = await graphql(
        gateway, CASE, {"id": str(CASE_ID), "reason": "Crisis, collega afwezig"}, token=colleague(signing_key)
    )

    body = response.json()
    assert body["data"] == {"case": None}
    [error] = body["errors"]
    assert error["path"] == ["case"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "invalid break-glass reason: percent-encoded bytes that are not UTF-8"
    assert error["extensions"]["fields"] == [
        {"path": "breakGlassReason", "message": "percent-encoded bytes that are not UTF-8"}
    ]


async def test_a_colleague_without_a_reason_is_forbidden_by_intake(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        INTAKE,
        CASE_PATH,
        403,
        error_body("forbidden", "not your case; state a break-glass reason to read it"),
    )

    response = await graphql(gateway, CASE_WITH_DOSSIER, {"id": str(CASE_ID)}, token=colleague(signing_key))

    body = response.json()
    assert body["data"] == {"case": None}
    [error] = body["errors"]
    assert error["path"] == ["case"]
    assert error["extensions"] == {"code": "FORBIDDEN", "requestId": "svc-request-1"}
    # the GraphQL argument to give, not intake's header
    assert "`breakGlassReason`" in error["message"]
    assert "X-Break-Glass-Reason" not in error["message"]
    [call] = services.requests  # the dossier is never asked for a case that was refused
    assert call.url.path == CASE_PATH
    assert HEADER not in call.headers


async def test_a_refusal_despite_a_reason_keeps_intakes_own_words(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, CASE_PATH, 403, error_body("forbidden", "break-glass is for reading only"))

    response = await graphql(
        gateway,
        CASE_WITH_DOSSIER,
        {"id": str(CASE_ID), "reason": "Collega ziek, cliënt in crisis"},
        token=colleague(signing_key),
    )

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == "break-glass is for reading only", "a reason was given: intake's own refusal stands"


# -- consentDeadline ----------------------------------------------------------------------------------------------

SUBMIT = """
mutation Submit($input: ReferralInput!) {
  submitReferral(input: $input) {
    __typename
    ... on ReferralSubmitted { referral { id status caseId consentDeadline } }
  }
}
"""

DEADLINE = "2026-03-16T09:15:00Z"
DEADLINE_OUT = "2026-03-16T09:15:00+00:00"


def referral_input() -> dict[str, Any]:
    return {
        "orgUnitId": str(ORG_UNIT),
        "category": "WORKLOAD_STRESS",
        "urgency": "NORMAL",
        "channel": "MANAGER",
        "employee": {"name": "Sanne de Vries", "email": "sanne@example.nl"},
    }


def submitted(status: str, case_id: uuid.UUID | None, **extra: Any) -> dict[str, Any]:
    """A referral as intake's ``POST /referrals`` answers it."""
    return {
        "id": str(REFERRAL_ID),
        "tenant_id": str(TENANT),
        "org_unit_id": str(ORG_UNIT),
        "category": "workload_stress",
        "urgency": "normal",
        "channel": "manager",
        "status": status,
        "case_id": str(case_id) if case_id else None,
        "received_at": "2026-03-02T09:15:00Z",
        **extra,
    }


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            submitted("awaiting_consent", None, consent_deadline=DEADLINE),
            {"id": str(REFERRAL_ID), "status": "AWAITING_CONSENT", "caseId": None, "consentDeadline": DEADLINE_OUT},
            id="awaiting-consent",
        ),
        pytest.param(
            submitted("case_opened", CASE_ID, consent_deadline=DEADLINE),
            {"id": str(REFERRAL_ID), "status": "CASE_OPENED", "caseId": str(CASE_ID), "consentDeadline": None},
            id="case-opened-despite-a-deadline",
        ),
        pytest.param(
            submitted("case_opened", CASE_ID),
            {"id": str(REFERRAL_ID), "status": "CASE_OPENED", "caseId": str(CASE_ID), "consentDeadline": None},
            id="case-opened-without-a-deadline",
        ),
    ],
)
async def test_a_submitted_referral_shows_its_deadline_only_while_it_awaits_consent(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    answer: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    services.reply("POST", INTAKE, "/referrals", 201, answer)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, SUBMIT, {"input": referral_input()}, token=token)

    assert response.json()["data"]["submitReferral"] == {"__typename": "ReferralSubmitted", "referral": expected}
    [call] = services.calls(INTAKE, "/referrals")
    assert "consent_deadline" not in json_body(call)  # intake sets it; the gateway never sends one


MY_REFERRALS = """
query Mine {
  myReferrals { nodes { id status caseId consentDeadline } }
}
"""


def own_referral(referral_id: uuid.UUID, status: str, case_id: uuid.UUID | None) -> dict[str, Any]:
    """An employee's own referral as intake's ``GET /referrals`` lists it (details always carry a deadline)."""
    return {
        "id": str(referral_id),
        "tenant_id": str(TENANT),
        "status": status,
        "received_at": "2026-03-02T09:15:00Z",
        "attended": None,
        "details": {
            "org_unit_id": str(ORG_UNIT),
            "category": "workload_stress",
            "urgency": "normal",
            "channel": "manager",
            "case_id": str(case_id) if case_id else None,
            "consent_deadline": DEADLINE,
        },
    }


async def test_an_employee_sees_the_deadline_only_of_referrals_awaiting_consent(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    waiting = uuid.UUID("44444444-4444-4444-8444-000000000001")
    opened = uuid.UUID("44444444-4444-4444-8444-000000000002")
    expired = uuid.UUID("44444444-4444-4444-8444-000000000003")
    services.reply(
        "GET",
        INTAKE,
        "/referrals",
        200,
        {
            "items": [
                own_referral(waiting, "awaiting_consent", None),
                own_referral(opened, "case_opened", CASE_ID),
                own_referral(expired, "expired", None),
            ],
            "next_cursor": None,
        },
    )
    token = signing_key.mint("employee", tenant_id=TENANT, sub="employee-7")

    response = await graphql(gateway, MY_REFERRALS, token=token)

    assert response.json()["data"]["myReferrals"]["nodes"] == [
        {"id": str(waiting), "status": "AWAITING_CONSENT", "caseId": None, "consentDeadline": DEADLINE_OUT},
        {"id": str(opened), "status": "CASE_OPENED", "caseId": str(CASE_ID), "consentDeadline": None},
        {"id": str(expired), "status": "EXPIRED", "caseId": None, "consentDeadline": None},
    ]
    [call] = services.calls(INTAKE, "/referrals")
    assert call.headers["authorization"] == f"Bearer {token}"


# -- bookAppointment for a case -----------------------------------------------------------------------------------

BOOK = """
mutation Book($input: BookAppointmentInput!) {
  bookAppointment(input: $input) {
    __typename
    ... on AppointmentBooked { appointment { id kind caseId start } }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on Conflict { message }
    ... on ServiceUnavailable { message }
  }
}
"""


def booking(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "workerId": str(WORKER),
        "kind": "CONSULT",
        "start": "2026-03-09T10:00:00+01:00",
        "location": "VIDEO",
        "caseId": str(CASE_ID),
    }
    values.update(overrides)
    return values


def booked(request: httpx.Request) -> httpx.Response:
    body = json_body(request)
    return httpx.Response(
        201,
        json={
            "id": str(APPOINTMENT_ID),
            "tenant_id": body["tenant_id"],
            "worker_id": body["worker_id"],
            "kind": body["kind"],
            "case_id": body.get("case_id"),
            "start": "2026-03-09T09:00:00Z",
            "end": "2026-03-09T09:45:00Z",
            "status": "booked",
            "location": body.get("location"),
            "late_cancellation": None,
            "cancelled_by": None,
            "overage": False,
            "walk_in": False,
            "workshop_id": None,
            "topic": body.get("topic"),
        },
    )


def worker(key: SigningKey) -> str:
    """The case's own social worker; a social worker's token names no client organisation."""
    return key.mint("social_worker", sub=str(WORKER))


async def test_a_social_worker_books_for_their_case_in_the_cases_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, CASE_PATH, 200, case_body(tenant_id=str(OTHER_TENANT)))
    services.on("POST", SCHEDULING, "/appointments", booked)
    token = worker(signing_key)

    response = await graphql(gateway, BOOK, {"input": booking(idempotencyKey="consult-0001")}, token=token)

    assert response.json()["data"]["bookAppointment"] == {
        "__typename": "AppointmentBooked",
        "appointment": {
            "id": str(APPOINTMENT_ID),
            "kind": "CONSULT",
            "caseId": str(CASE_ID),
            "start": "2026-03-09T09:00:00+00:00",
        },
    }
    assert [(request.url.host, request.method, request.url.path) for request in services.requests] == [
        (INTAKE, "GET", CASE_PATH),
        (SCHEDULING, "POST", "/appointments"),
    ]
    [lookup] = services.calls(INTAKE, CASE_PATH)
    assert lookup.headers["authorization"] == f"Bearer {token}"
    assert HEADER not in lookup.headers  # the lookup never breaks the glass
    [call] = services.calls(SCHEDULING, "/appointments")
    assert json_body(call) == {
        "worker_id": str(WORKER),
        "tenant_id": str(OTHER_TENANT),  # the case's organisation, from intake
        "kind": "consult",
        "start": "2026-03-09T10:00:00+01:00",
        "case_id": str(CASE_ID),
        "location": "video",
    }
    assert call.headers["idempotency-key"] == "consult-0001"
    assert call.headers["authorization"] == f"Bearer {token}"


async def test_a_named_tenant_is_used_without_asking_intake(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", SCHEDULING, "/appointments", booked)

    response = await graphql(gateway, BOOK, {"input": booking(tenantId=str(TENANT))}, token=worker(signing_key))

    assert response.json()["data"]["bookAppointment"]["__typename"] == "AppointmentBooked"
    assert services.calls(INTAKE, CASE_PATH) == []
    [call] = services.calls(SCHEDULING, "/appointments")
    assert json_body(call)["tenant_id"] == str(TENANT)


async def test_a_case_intake_does_not_show_is_a_validation_failure_and_nothing_is_booked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", SCHEDULING, "/appointments", booked)
    token = worker(signing_key)
    refusals = [(404, error_body("not_found", "case not found")), (403, error_body("forbidden", "not your case"))]

    for attempt, (status, body) in enumerate(refusals, start=1):
        services.reply("GET", INTAKE, CASE_PATH, status, body)

        response = await graphql(gateway, BOOK, {"input": booking()}, token=token)

        assert response.json()["data"]["bookAppointment"] == {
            "__typename": "ValidationFailed",
            "message": "invalid input: input.caseId",
            "fields": [{"path": "input.caseId", "message": "no case of yours has this id"}],
        }, status
        assert len(services.calls(INTAKE, CASE_PATH)) == attempt  # a refusal is not retried
    assert services.calls(SCHEDULING, "/appointments") == []


async def test_without_tenant_or_case_a_social_worker_is_told_to_name_the_tenant(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(gateway, BOOK, {"input": booking(caseId=None)}, token=worker(signing_key))

    assert response.json()["data"]["bookAppointment"] == {
        "__typename": "ValidationFailed",
        "message": "invalid input: input.tenantId",
        "fields": [
            {
                "path": "input.tenantId",
                "message": "required for callers without a client organisation, unless caseId names your case",
            }
        ],
    }
    assert services.requests == []


async def test_a_malformed_case_id_is_named_without_asking_intake(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(gateway, BOOK, {"input": booking(caseId="../persons")}, token=worker(signing_key))

    result = response.json()["data"]["bookAppointment"]
    assert result["__typename"] == "ValidationFailed"
    # Without a case to take it from, the organisation is missing as well.
    assert [field["path"] for field in result["fields"]] == ["input.tenantId", "input.caseId"]
    assert result["fields"][1]["message"] == "not a valid id"
    assert services.requests == []


@pytest.mark.parametrize(
    ("change", "typename"),
    [
        ({"workerId": "not-an-id"}, "ValidationFailed"),
        ({"idempotencyKey": "short"}, "ValidationFailed"),
        ({"workerId": "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"}, "Forbidden"),  # a colleague's agenda
    ],
)
async def test_a_booking_the_gateway_refuses_anyway_never_reads_the_case(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    change: dict[str, str],
    typename: str,
) -> None:
    """Reading the case leaves a line in the person's access log: a booking refused anyway must not cause one."""
    response = await graphql(gateway, BOOK, {"input": booking(**change)}, token=worker(signing_key))

    assert response.json()["data"]["bookAppointment"]["__typename"] == typename
    assert services.requests == []


async def test_a_client_contact_booking_with_a_case_id_never_asks_intake(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", SCHEDULING, "/appointments", booked)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(
        gateway,
        BOOK,
        {"input": booking(kind="MANAGER_CONSULTATION", topic="WORKLOAD_STRESS")},
        token=token,
    )

    assert response.json()["data"]["bookAppointment"]["__typename"] == "AppointmentBooked"
    assert services.calls(INTAKE, CASE_PATH) == []
    assert [request.url.host for request in services.requests] == [SCHEDULING]
    [call] = services.calls(SCHEDULING, "/appointments")
    assert json_body(call)["tenant_id"] == str(TENANT)  # the contact's own organisation


async def test_intake_down_during_the_lookup_is_service_unavailable_and_nothing_is_booked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, CASE_PATH, 503, error_body("unavailable", "database down"))

    response = await graphql(gateway, BOOK, {"input": booking()}, token=worker(signing_key))

    assert response.json()["data"]["bookAppointment"] == {
        "__typename": "ServiceUnavailable",
        "message": "the intake service is unavailable; retry shortly",
    }
    assert len(services.calls(INTAKE, CASE_PATH)) == 3  # a read: retried twice
    assert services.calls(SCHEDULING, "/appointments") == []
