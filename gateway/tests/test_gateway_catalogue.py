"""Signals' catalogue and review parts: one signal, the false-alarm record, the interventions catalogue, the
pipeline's statistics, notes on opportunities and saving interventions; what reaches signals, what comes back,
who is refused before signals is asked, and which calls are retried when signals is busy."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bmw.gateway.testing import (
    ORG_UNIT,
    OTHER_TENANT,
    SIGNALS,
    TENANT,
    FakeServices,
    SigningKey,
    error_body,
    graphql,
    json_body,
    make_settings,
    serve,
)

SIGNAL_ID = uuid.UUID("81818181-8181-4181-8181-818181818181")
OPPORTUNITY_ID = uuid.UUID("91919191-9191-4191-8191-919191919191")
NOTE_ID = uuid.UUID("93939393-9393-4393-8393-939393939393")

ROLE_ANY_BUT_EMPLOYEE = (
    "this needs one of the roles: account_manager, client_contact, integration, provider_admin, social_worker"
)


# -- builders of signals' answers ---------------------------------------------------------------------------------


def signal_body(**overrides: Any) -> dict[str, Any]:
    """A signal as ``GET /signals/{id}`` answers it to a caller outside the provider."""
    body: dict[str, Any] = {
        "id": str(SIGNAL_ID),
        "tenant_id": str(TENANT),
        "kind": "stress_surge",
        "org_unit_id": str(ORG_UNIT),
        "org_unit_name": "Logistiek",
        "raised_week": "2026-03-02",
        "status": "open",
        "resolved_week": None,
        "review_status": "confirmed",
        "weeks": ["2026-02-23", "2026-03-02"],
        "method": "cusum",
        "strength": "strong",
        "summary": "Workload referrals rose in Logistiek.",
        "evidence": None,
        "internal": None,
    }
    body.update(overrides)
    return body


INTERNAL = {
    "observed": 11,
    "expected": 2.5,
    "p_value": None,
    "score": 6.2,
    "suppressed": False,
    "explanation": "11 referrals against 2.5 expected",
    "reviewed_by": "worker-7",
    "reviewed_at": "2026-03-03T10:00:00Z",
    "review_reason": "matches_what_we_see",
    "review_note": "Seen in the intakes too.",
}


def intervention_body(code: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "title_nl": f"Titel {code}",
        "title_en": f"Title {code}",
        "description": "Two sessions for managers.",
        "product_kind": "workshop_per_session",
        "quantity": "2",
        "list_price_cents": 172525,
        "signal_kinds": ["reorganisation_wave"],
        "rank": 10,
        "active": True,
        "updated_at": "2026-03-01T12:00:00Z",
    }
    body.update(overrides)
    return body


def note_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(NOTE_ID),
        "author": "am-1",
        "from_stage": None,
        "to_stage": None,
        "note": "Called the HR director; meeting next week.",
        "created_at": "2026-03-05T14:30:00Z",
    }
    body.update(overrides)
    return body


def account_manager(key: SigningKey, portfolio: tuple[uuid.UUID, ...] = (TENANT,)) -> str:
    return key.mint("account_manager", sub="am-1", portfolio=[str(t) for t in portfolio])


def assert_refused_field(body: dict[str, Any], field: str, code: str, message: str | None = None) -> dict[str, Any]:
    """The field is null with exactly one error at its path with ``code``; returns the error."""
    assert body["data"] == {field: None}
    [error] = body["errors"]
    assert error["path"] == [field]
    assert error["extensions"]["code"] == code
    if message is not None:
        assert error["message"] == message
    found: dict[str, Any] = error
    return found


# -- signal(id) ---------------------------------------------------------------------------------------------------

SIGNAL = """
query One($id: ID!) {
  signal(id: $id) {
    id tenantId kind orgUnitId orgUnitName raisedWeek status reviewStatus weeks method strength summary evidence
    internal { observed expected pValue score suppressed explanation reviewedBy reviewedAt reviewReason reviewNote }
  }
}
"""


async def test_a_social_worker_reads_one_signal_with_its_counts(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    evidence = {"weeks": ["2026-03-02"], "observed": 11, "baseline": 2.5}
    services.reply("GET", SIGNALS, f"/signals/{SIGNAL_ID}", 200, signal_body(internal=INTERNAL, evidence=evidence))
    token = signing_key.mint("social_worker", sub="worker-7")

    response = await graphql(gateway, SIGNAL, {"id": str(SIGNAL_ID)}, token=token)

    assert response.json() == {
        "data": {
            "signal": {
                "id": str(SIGNAL_ID),
                "tenantId": str(TENANT),
                "kind": "STRESS_SURGE",
                "orgUnitId": str(ORG_UNIT),
                "orgUnitName": "Logistiek",
                "raisedWeek": "2026-03-02",
                "status": "OPEN",
                "reviewStatus": "CONFIRMED",
                "weeks": ["2026-02-23", "2026-03-02"],
                "method": "CUSUM",
                "strength": "STRONG",
                "summary": "Workload referrals rose in Logistiek.",
                "evidence": evidence,
                "internal": {
                    "observed": 11,
                    "expected": 2.5,
                    "pValue": None,
                    "score": 6.2,
                    "suppressed": False,
                    "explanation": "11 referrals against 2.5 expected",
                    "reviewedBy": "worker-7",
                    "reviewedAt": "2026-03-03T10:00:00+00:00",
                    "reviewReason": "MATCHES_WHAT_WE_SEE",
                    "reviewNote": "Seen in the intakes too.",
                },
            }
        }
    }
    [call] = services.calls(SIGNALS, f"/signals/{SIGNAL_ID}")
    assert call.method == "GET"
    assert dict(call.url.params) == {}
    assert call.headers["authorization"] == f"Bearer {token}"
    assert len(services.requests) == 1


async def test_a_client_contact_reads_one_signal_without_counts_even_when_signals_sends_them(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    leaky = signal_body(internal=INTERNAL, evidence={"observed": 11})
    services.reply("GET", SIGNALS, f"/signals/{SIGNAL_ID}", 200, leaky)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, SIGNAL, {"id": str(SIGNAL_ID)}, token=token)

    found = response.json()["data"]["signal"]
    assert found["id"] == str(SIGNAL_ID)
    assert found["summary"] == "Workload referrals rose in Logistiek."
    assert found["internal"] is None
    assert found["evidence"] is None
    assert "11 referrals" not in response.text
    assert "Seen in the intakes" not in response.text
    assert len(services.calls(SIGNALS, f"/signals/{SIGNAL_ID}")) == 1


async def test_a_social_worker_who_is_also_a_client_contact_gets_the_clients_view_of_a_signal(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, f"/signals/{SIGNAL_ID}", 200, signal_body(internal=INTERNAL))
    token = signing_key.mint("social_worker", "client_contact", tenant_id=TENANT)

    response = await graphql(gateway, SIGNAL, {"id": str(SIGNAL_ID)}, token=token)

    assert response.json()["data"]["signal"]["internal"] is None


async def test_a_malformed_signal_id_is_refused_without_asking_signals(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(gateway, SIGNAL, {"id": "../accounts"}, token=signing_key.mint("provider_admin"))

    error = assert_refused_field(response.json(), "signal", "BAD_USER_INPUT", "invalid id")
    assert error["extensions"]["fields"] == [{"path": "id", "message": "not a valid id"}]
    assert services.requests == []


async def test_a_signal_signals_does_not_show_is_not_found(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, f"/signals/{SIGNAL_ID}", 404, error_body("not_found", "no such signal"))
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, SIGNAL, {"id": str(SIGNAL_ID)}, token=token)

    assert_refused_field(response.json(), "signal", "NOT_FOUND", "no such signal")
    assert len(services.calls(SIGNALS, f"/signals/{SIGNAL_ID}")) == 1  # a refusal is not retried


async def test_an_employee_may_not_read_a_signal(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, SIGNAL, {"id": str(SIGNAL_ID)}, token=token)

    error = assert_refused_field(response.json(), "signal", "FORBIDDEN", ROLE_ANY_BUT_EMPLOYEE)
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert services.requests == []


# -- falseAlarms(tenantId) ----------------------------------------------------------------------------------------

FALSE_ALARMS = """
query FalseAlarms($tenantId: ID!) {
  falseAlarms(tenantId: $tenantId) {
    tenantId since
    kinds { kind raised confirmed dismissed pending thresholdFactor }
  }
}
"""

FALSE_ALARM_REPORT = {
    "tenant_id": str(TENANT),
    "since": "2025-03-03",
    "kinds": [
        {
            "kind": "stress_surge",
            "raised": 6,
            "confirmed": 1,
            "dismissed": 4,
            "pending": 1,
            "threshold_factor": 0.125,
        },
        {
            "kind": "reorganisation_wave",
            "raised": 2,
            "confirmed": 2,
            "dismissed": 0,
            "pending": 0,
            "threshold_factor": 1.0,
        },
    ],
}


async def test_a_social_worker_reads_the_false_alarm_record(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/false-alarms", 200, FALSE_ALARM_REPORT)
    token = signing_key.mint("social_worker", sub="worker-7")

    response = await graphql(gateway, FALSE_ALARMS, {"tenantId": str(TENANT)}, token=token)

    assert response.json() == {
        "data": {
            "falseAlarms": {
                "tenantId": str(TENANT),
                "since": "2025-03-03",
                "kinds": [
                    {
                        "kind": "STRESS_SURGE",
                        "raised": 6,
                        "confirmed": 1,
                        "dismissed": 4,
                        "pending": 1,
                        "thresholdFactor": 0.125,
                    },
                    {
                        "kind": "REORGANISATION_WAVE",
                        "raised": 2,
                        "confirmed": 2,
                        "dismissed": 0,
                        "pending": 0,
                        "thresholdFactor": 1.0,
                    },
                ],
            }
        }
    }
    [call] = services.calls(SIGNALS, "/false-alarms")
    assert dict(call.url.params) == {"tenant_id": str(TENANT)}
    assert call.headers["authorization"] == f"Bearer {token}"

    admin = signing_key.mint("provider_admin", sub="admin-1")
    by_admin = await graphql(gateway, FALSE_ALARMS, {"tenantId": str(OTHER_TENANT)}, token=admin)

    assert by_admin.json()["data"]["falseAlarms"]["kinds"][0]["thresholdFactor"] == 0.125
    [_, admin_call] = services.calls(SIGNALS, "/false-alarms")
    assert dict(admin_call.url.params) == {"tenant_id": str(OTHER_TENANT)}
    assert admin_call.headers["authorization"] == f"Bearer {admin}"


async def test_the_false_alarm_record_is_refused_before_signals_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    refused = [
        (
            signing_key.mint("client_contact", tenant_id=TENANT),
            "this needs one of the roles: provider_admin, social_worker",
        ),
        (account_manager(signing_key), "this needs one of the roles: provider_admin, social_worker"),
        # a social worker's token that also binds it to a client organisation gets the client's view: none
        (
            signing_key.mint("social_worker", "client_contact", tenant_id=TENANT),
            "not allowed for this client organisation",
        ),
    ]
    for token, message in refused:
        response = await graphql(gateway, FALSE_ALARMS, {"tenantId": str(TENANT)}, token=token)

        error = assert_refused_field(response.json(), "falseAlarms", "FORBIDDEN", message)
        assert error["extensions"] == {"code": "FORBIDDEN"}
    assert services.requests == []


async def test_a_malformed_tenant_of_the_false_alarm_record_is_bad_input(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(gateway, FALSE_ALARMS, {"tenantId": "acme"}, token=signing_key.mint("social_worker"))

    error = assert_refused_field(response.json(), "falseAlarms", "BAD_USER_INPUT")
    assert error["extensions"]["fields"] == [{"path": "tenantId", "message": "not a valid id"}]
    assert services.requests == []


# -- interventions(signalKind, first, after) ----------------------------------------------------------------------

INTERVENTIONS = """
query Catalogue($signalKind: SignalKind, $first: Int, $after: String) {
  interventions(signalKind: $signalKind, first: $first, after: $after) {
    edges { cursor node { code } }
    nodes {
      code titleNl titleEn description productKind quantity listPriceCents listPriceEuros signalKinds rank active
      updatedAt
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CATALOGUE = [
    intervention_body(
        "training_dismissal_conversations",
        signal_kinds=["reorganisation_wave", "leadership_conflict_cluster"],
        rank=1,
    ),
    intervention_body(
        "team_coaching",
        product_kind="hour_bundle",
        quantity="7.5",
        list_price_cents=5,
        rank=2,
        active=False,
        updated_at=None,
    ),
    intervention_body("secondment_on_site", product_kind="secondment_hourly", list_price_cents=100000000, rank=3),
]


async def test_the_catalogue_is_paged_by_the_gateway_and_the_kind_reaches_signals(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/interventions", 200, CATALOGUE)
    token = signing_key.mint("provider_admin")

    first_page = await graphql(gateway, INTERVENTIONS, {"signalKind": "REORGANISATION_WAVE", "first": 2}, token=token)

    page = first_page.json()["data"]["interventions"]
    assert page["nodes"] == [
        {
            "code": "training_dismissal_conversations",
            "titleNl": "Titel training_dismissal_conversations",
            "titleEn": "Title training_dismissal_conversations",
            "description": "Two sessions for managers.",
            "productKind": "WORKSHOP_PER_SESSION",
            "quantity": "2",
            "listPriceCents": 172525,
            "listPriceEuros": "1725.25",
            "signalKinds": ["REORGANISATION_WAVE", "LEADERSHIP_CONFLICT_CLUSTER"],
            "rank": 1,
            "active": True,
            "updatedAt": "2026-03-01T12:00:00+00:00",
        },
        {
            "code": "team_coaching",
            "titleNl": "Titel team_coaching",
            "titleEn": "Title team_coaching",
            "description": "Two sessions for managers.",
            "productKind": "HOUR_BUNDLE",
            "quantity": "7.5",
            "listPriceCents": 5,
            "listPriceEuros": "0.05",
            "signalKinds": ["REORGANISATION_WAVE"],
            "rank": 2,
            "active": False,
            "updatedAt": None,
        },
    ]
    assert [edge["node"]["code"] for edge in page["edges"]] == ["training_dismissal_conversations", "team_coaching"]
    assert page["edges"][0]["cursor"] != page["edges"][1]["cursor"]
    assert page["pageInfo"]["hasNextPage"] is True
    end_cursor = page["pageInfo"]["endCursor"]
    assert end_cursor == page["edges"][1]["cursor"]

    second_page = await graphql(
        gateway,
        INTERVENTIONS,
        {"signalKind": "REORGANISATION_WAVE", "first": 2, "after": end_cursor},
        token=token,
    )

    rest = second_page.json()["data"]["interventions"]
    assert [node["code"] for node in rest["nodes"]] == ["secondment_on_site"]
    assert rest["nodes"][0]["listPriceEuros"] == "1000000.00"
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    calls = services.calls(SIGNALS, "/interventions")
    assert len(calls) == 2  # the whole list each time: signals does not page it
    assert [dict(call.url.params) for call in calls] == [{"signal_kind": "reorganisation_wave"}] * 2


async def test_the_whole_catalogue_is_asked_without_a_kind(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/interventions", 200, CATALOGUE)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, INTERVENTIONS, {}, token=token)

    page = response.json()["data"]["interventions"]
    assert [node["code"] for node in page["nodes"]] == [
        "training_dismissal_conversations",
        "team_coaching",
        "secondment_on_site",
    ]
    assert page["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    [call] = services.calls(SIGNALS, "/interventions")
    assert dict(call.url.params) == {}
    assert call.headers["authorization"] == f"Bearer {token}"


async def test_a_cursor_of_another_list_is_bad_input_naming_after(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/interventions", 200, CATALOGUE)

    response = await graphql(
        gateway, INTERVENTIONS, {"after": "not-a-cursor"}, token=signing_key.mint("account_manager")
    )

    error = assert_refused_field(response.json(), "interventions", "BAD_USER_INPUT")
    assert error["extensions"]["fields"] == [{"path": "after", "message": "pass an endCursor of this list"}]


@pytest.mark.parametrize("variables", [{"first": 0}, {"first": 201}, {"after": "not-a-cursor"}])
async def test_a_bad_page_of_the_catalogue_is_refused_before_signals_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, variables: dict[str, Any]
) -> None:
    response = await graphql(gateway, INTERVENTIONS, variables, token=signing_key.mint("account_manager"))

    assert_refused_field(response.json(), "interventions", "BAD_USER_INPUT")
    assert services.requests == []


async def test_employees_may_not_read_the_catalogue(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, INTERVENTIONS, {"signalKind": "STRESS_SURGE"}, token=token)

    assert_refused_field(response.json(), "interventions", "FORBIDDEN", ROLE_ANY_BUT_EMPLOYEE)
    assert services.requests == []


# -- opportunityStatistics(tenantId) ------------------------------------------------------------------------------

STATISTICS = """
query Statistics($tenantId: ID) {
  opportunityStatistics(tenantId: $tenantId) { kind won lost open winRate }
}
"""

STATISTICS_BODY = [
    {"kind": "reorganisation_wave", "won": 3, "lost": 1, "open": 2, "win_rate": 0.75},
    {"kind": "contract_ending", "won": 0, "lost": 0, "open": 4, "win_rate": None},
]


async def test_an_account_manager_reads_the_statistics_of_their_portfolio(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/opportunities/statistics", 200, STATISTICS_BODY)
    token = account_manager(signing_key)

    response = await graphql(gateway, STATISTICS, {}, token=token)

    assert response.json() == {
        "data": {
            "opportunityStatistics": [
                {"kind": "REORGANISATION_WAVE", "won": 3, "lost": 1, "open": 2, "winRate": 0.75},
                {"kind": "CONTRACT_ENDING", "won": 0, "lost": 0, "open": 4, "winRate": None},
            ]
        }
    }
    [call] = services.calls(SIGNALS, "/opportunities/statistics")
    assert dict(call.url.params) == {}  # no tenant_id: signals takes the whole portfolio
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda key: account_manager(key, (OTHER_TENANT, TENANT)), id="account-manager"),
        pytest.param(lambda key: key.mint("provider_admin"), id="provider-admin"),
    ],
)
async def test_the_statistics_of_one_organisation_send_its_tenant_id(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    make_token: Callable[[SigningKey], str],
) -> None:
    services.reply("GET", SIGNALS, "/opportunities/statistics", 200, STATISTICS_BODY[:1])

    response = await graphql(gateway, STATISTICS, {"tenantId": str(TENANT)}, token=make_token(signing_key))

    assert response.json()["data"]["opportunityStatistics"] == [
        {"kind": "REORGANISATION_WAVE", "won": 3, "lost": 1, "open": 2, "winRate": 0.75}
    ]
    [call] = services.calls(SIGNALS, "/opportunities/statistics")
    assert dict(call.url.params) == {"tenant_id": str(TENANT)}


async def test_the_statistics_are_refused_before_signals_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    refused = [
        (account_manager(signing_key, (OTHER_TENANT,)), "not allowed for this client organisation"),
        (
            signing_key.mint("client_contact", tenant_id=TENANT),
            "this needs one of the roles: account_manager, provider_admin",
        ),
        (signing_key.mint("social_worker"), "this needs one of the roles: account_manager, provider_admin"),
    ]
    for token, message in refused:
        response = await graphql(gateway, STATISTICS, {"tenantId": str(TENANT)}, token=token)

        assert_refused_field(response.json(), "opportunityStatistics", "FORBIDDEN", message)
    assert services.requests == []


# -- addOpportunityNote -------------------------------------------------------------------------------------------

ADD_NOTE = """
mutation Note($input: AddOpportunityNoteInput!) {
  addOpportunityNote(input: $input) {
    __typename
    ... on OpportunityNoteAdded { note { id author fromStage toStage note createdAt } }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on ServiceUnavailable { message }
  }
}
"""

NOTES_PATH = f"/opportunities/{OPPORTUNITY_ID}/notes"


def note_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "opportunityId": str(OPPORTUNITY_ID),
        "note": "Called the HR director; meeting next week.",
    }
    values.update(overrides)
    return values


async def test_an_account_manager_adds_a_note_with_an_idempotency_key(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("POST", SIGNALS, NOTES_PATH, 201, note_body())
    token = account_manager(signing_key)

    response = await graphql(gateway, ADD_NOTE, {"input": note_input(idempotencyKey="note-2026-03-05")}, token=token)

    assert response.json()["data"]["addOpportunityNote"] == {
        "__typename": "OpportunityNoteAdded",
        "note": {
            "id": str(NOTE_ID),
            "author": "am-1",
            "fromStage": None,
            "toStage": None,
            "note": "Called the HR director; meeting next week.",
            "createdAt": "2026-03-05T14:30:00+00:00",
        },
    }
    [call] = services.calls(SIGNALS, NOTES_PATH)
    assert call.method == "POST"
    assert json_body(call) == {"note": "Called the HR director; meeting next week."}
    assert call.headers["idempotency-key"] == "note-2026-03-05"
    assert call.headers["authorization"] == f"Bearer {token}"
    assert len(services.requests) == 1


async def test_a_note_without_a_key_sends_no_idempotency_header(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("POST", SIGNALS, NOTES_PATH, 201, note_body(author="admin-1"))

    response = await graphql(gateway, ADD_NOTE, {"input": note_input()}, token=signing_key.mint("provider_admin"))

    assert response.json()["data"]["addOpportunityNote"]["note"]["author"] == "admin-1"
    [call] = services.calls(SIGNALS, NOTES_PATH)
    assert "idempotency-key" not in call.headers


NOTE_REFUSALS: list[tuple[int, dict[str, Any], dict[str, Any]]] = [
    (
        422,
        error_body("validation_failed", "invalid input: body.note", [("body.note", "must not be blank")]),
        {
            "__typename": "ValidationFailed",
            "message": "invalid input: body.note",
            "fields": [{"path": "input.note", "message": "must not be blank"}],
        },
    ),
    (
        422,
        error_body("validation_failed", "invalid input", [("header.Idempotency-Key", "reused with a different body")]),
        {
            "__typename": "ValidationFailed",
            "message": "invalid input",
            "fields": [{"path": "input.idempotencyKey", "message": "reused with a different body"}],
        },
    ),
    (
        404,
        error_body("not_found", "no such opportunity"),
        {"__typename": "NotFound", "message": "no such opportunity"},
    ),
    (
        403,
        error_body("forbidden", "not your portfolio"),
        {"__typename": "Forbidden", "message": "not your portfolio"},
    ),
]


async def test_signals_refusals_of_a_note_are_members_of_its_result(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = account_manager(signing_key)
    for attempt, (status, body, expected) in enumerate(NOTE_REFUSALS, start=1):
        services.reply("POST", SIGNALS, NOTES_PATH, status, body)

        response = await graphql(gateway, ADD_NOTE, {"input": note_input(note=" ")}, token=token)

        assert response.json()["data"]["addOpportunityNote"] == expected
        assert len(services.calls(SIGNALS, NOTES_PATH)) == attempt  # each sent once


async def test_a_note_the_gateway_can_refuse_never_reaches_signals(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    not_pipeline = {
        "__typename": "Forbidden",
        "message": "this needs one of the roles: account_manager, provider_admin",
    }
    refused: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        (signing_key.mint("client_contact", tenant_id=TENANT), {}, not_pipeline),
        (signing_key.mint("social_worker"), {}, not_pipeline),
        (
            account_manager(signing_key),
            {"idempotencyKey": "short"},
            {
                "__typename": "ValidationFailed",
                "message": "invalid input: input.idempotencyKey",
                "fields": [{"path": "input.idempotencyKey", "message": "between 8 and 200 characters"}],
            },
        ),
        (
            account_manager(signing_key),
            {"opportunityId": "opp-1", "idempotencyKey": "k" * 201},
            {
                "__typename": "ValidationFailed",
                "message": "invalid input: input.opportunityId, input.idempotencyKey",
                "fields": [
                    {"path": "input.opportunityId", "message": "not a valid id"},
                    {"path": "input.idempotencyKey", "message": "between 8 and 200 characters"},
                ],
            },
        ),
    ]
    for token, values, expected in refused:
        response = await graphql(gateway, ADD_NOTE, {"input": note_input(**values)}, token=token)

        assert response.json()["data"]["addOpportunityNote"] == expected
    assert services.requests == []


# -- putIntervention ----------------------------------------------------------------------------------------------

PUT = """
mutation Put($input: PutInterventionInput!) {
  putIntervention(input: $input) {
    __typename
    ... on InterventionSaved {
      created
      intervention { code titleNl productKind quantity listPriceCents listPriceEuros signalKinds rank active }
    }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on Conflict { message }
    ... on ServiceUnavailable { message }
  }
}
"""

CODE = "team_coaching"
PUT_PATH = f"/interventions/{CODE}"


def put_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": CODE,
        "titleNl": "Teamcoaching",
        "titleEn": "Team coaching",
        "description": "Coaching of a team after a reorganisation.",
        "productKind": "HOUR_BUNDLE",
        "quantity": "7.5",
        "listPriceCents": 12550,
        "signalKinds": ["REORGANISATION_WAVE", "LEADERSHIP_CONFLICT_CLUSTER"],
        "rank": 20,
    }
    values.update(overrides)
    return values


def saved(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """Signals storing the intervention it was sent and answering ``status``."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = json_body(request)
        return httpx.Response(
            status,
            json={"code": CODE, **body, "updated_at": "2026-03-06T09:00:00Z"},
        )

    return answer


@pytest.mark.parametrize(
    ("status", "created", "active"), [(201, True, True), (200, False, False)], ids=["created", "replaced"]
)
async def test_a_provider_admin_saves_an_intervention(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    status: int,
    created: bool,
    active: bool,
) -> None:
    services.on("PUT", SIGNALS, PUT_PATH, saved(status))
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await graphql(gateway, PUT, {"input": put_input(active=active)}, token=token)

    assert response.json()["data"]["putIntervention"] == {
        "__typename": "InterventionSaved",
        "created": created,
        "intervention": {
            "code": CODE,
            "titleNl": "Teamcoaching",
            "productKind": "HOUR_BUNDLE",
            "quantity": "7.5",
            "listPriceCents": 12550,
            "listPriceEuros": "125.50",
            "signalKinds": ["REORGANISATION_WAVE", "LEADERSHIP_CONFLICT_CLUSTER"],
            "rank": 20,
            "active": active,
        },
    }
    [call] = services.calls(SIGNALS, PUT_PATH)
    assert call.method == "PUT"
    assert json_body(call) == {
        "title_nl": "Teamcoaching",
        "title_en": "Team coaching",
        "description": "Coaching of a team after a reorganisation.",
        "product_kind": "hour_bundle",
        "quantity": "7.5",
        "list_price_cents": 12550,
        "signal_kinds": ["reorganisation_wave", "leadership_conflict_cluster"],
        "rank": 20,
        "active": active,
    }
    assert "idempotency-key" not in call.headers
    assert call.headers["authorization"] == f"Bearer {token}"


PUT_REFUSALS: list[tuple[int, dict[str, Any], dict[str, Any]]] = [
    (
        409,
        error_body("conflict", "reorganisation_wave would have no active intervention left"),
        {"__typename": "Conflict", "message": "reorganisation_wave would have no active intervention left"},
    ),
    (
        422,
        error_body(
            "validation_failed",
            "invalid input: body.quantity, body.list_price_cents",
            [("body.quantity", "a positive decimal with at most 2 decimals"), ("body.list_price_cents", "at least 0")],
        ),
        {
            "__typename": "ValidationFailed",
            "message": "invalid input: body.quantity, body.list_price_cents",
            "fields": [
                {"path": "input.quantity", "message": "a positive decimal with at most 2 decimals"},
                {"path": "input.listPriceCents", "message": "at least 0"},
            ],
        },
    ),
    (
        422,
        error_body("validation_failed", "invalid input: path.code", [("path.code", "letters, digits, _ . -")]),
        {
            "__typename": "ValidationFailed",
            "message": "invalid input: path.code",
            "fields": [{"path": "input.code", "message": "letters, digits, _ . -"}],
        },
    ),
    (
        503,
        error_body("unavailable", "database down"),
        {"__typename": "ServiceUnavailable", "message": "the signals service is unavailable; retry shortly"},
    ),
]


async def test_signals_refusals_of_an_intervention_are_members_of_its_result(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("provider_admin")
    for attempt, (status, body, expected) in enumerate(PUT_REFUSALS, start=1):
        services.reply("PUT", SIGNALS, PUT_PATH, status, body)

        response = await graphql(gateway, PUT, {"input": put_input()}, token=token)

        assert response.json()["data"]["putIntervention"] == expected
        # a PUT is a command: sent once, never retried (not even after the 503)
        assert len(services.calls(SIGNALS, PUT_PATH)) == attempt


@pytest.mark.parametrize("code", ["", "a/b", "-leading-dash", "x" * 65, "met spatie"])
async def test_a_code_signals_would_not_take_is_refused_without_a_call(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, code: str
) -> None:
    response = await graphql(gateway, PUT, {"input": put_input(code=code)}, token=signing_key.mint("provider_admin"))

    result = response.json()["data"]["putIntervention"]
    assert result["__typename"] == "ValidationFailed"
    assert [field["path"] for field in result["fields"]] == ["input.code"]
    assert services.requests == []


async def test_a_404_from_signals_is_a_refused_code_not_an_empty_response(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("PUT", SIGNALS, PUT_PATH, 404, error_body("not_found", "Not Found"))

    response = await graphql(gateway, PUT, {"input": put_input()}, token=signing_key.mint("provider_admin"))

    body = response.json()
    assert "errors" not in body
    result = body["data"]["putIntervention"]
    assert result["__typename"] == "ValidationFailed"
    assert [field["path"] for field in result["fields"]] == ["input.code"]


async def test_only_provider_admins_save_interventions(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    for token in (
        account_manager(signing_key),
        signing_key.mint("social_worker"),
        signing_key.mint("client_contact", tenant_id=TENANT),
    ):
        response = await graphql(gateway, PUT, {"input": put_input()}, token=token)

        assert response.json()["data"]["putIntervention"] == {
            "__typename": "Forbidden",
            "message": "this needs one of the roles: provider_admin",
        }
    assert services.requests == []


# -- retries ------------------------------------------------------------------------------------------------------


def busy(_: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json=error_body("unavailable", "database down"))


async def test_a_read_meeting_503_is_tried_three_times_then_only_its_field_fails(
    services: FakeServices, signing_key: SigningKey
) -> None:
    settings = make_settings(signing_key, read_retry_backoff_seconds=0.0)
    assert settings.read_retries == 2  # the default: two further attempts
    services.on("GET", SIGNALS, "/interventions", busy)
    token = signing_key.mint("client_contact", tenant_id=TENANT, sub="contact-1")

    async with serve(settings, services) as gateway:
        response = await graphql(gateway, "{ me { subject } interventions { nodes { code } } }", token=token)

    body = response.json()
    assert body["data"] == {"me": {"subject": "contact-1"}, "interventions": None}
    [error] = body["errors"]
    assert error["path"] == ["interventions"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == "the signals service is unavailable; retry shortly"
    calls = services.calls(SIGNALS, "/interventions")
    assert len(calls) == 3
    assert all(call.headers["authorization"] == f"Bearer {token}" for call in calls)


async def test_a_read_that_meets_503_once_succeeds_on_the_retry(
    services: FakeServices, signing_key: SigningKey
) -> None:
    seen: list[httpx.Request] = []

    def once_busy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, json=error_body("unavailable", "restarting"))
        return httpx.Response(200, json=signal_body())

    services.on("GET", SIGNALS, f"/signals/{SIGNAL_ID}", once_busy)

    async with serve(make_settings(signing_key, read_retry_backoff_seconds=0.0), services) as gateway:
        response = await graphql(
            gateway, SIGNAL, {"id": str(SIGNAL_ID)}, token=signing_key.mint("client_contact", tenant_id=TENANT)
        )

    body = response.json()
    assert "errors" not in body
    assert body["data"]["signal"]["id"] == str(SIGNAL_ID)
    assert len(services.calls(SIGNALS, f"/signals/{SIGNAL_ID}")) == 2


async def test_a_mutation_meeting_503_is_sent_exactly_once(services: FakeServices, signing_key: SigningKey) -> None:
    services.on("POST", SIGNALS, NOTES_PATH, busy)

    async with serve(make_settings(signing_key, read_retry_backoff_seconds=0.0), services) as gateway:
        response = await graphql(
            gateway, ADD_NOTE, {"input": note_input(idempotencyKey="note-0001")}, token=account_manager(signing_key)
        )

    assert response.json()["data"]["addOpportunityNote"] == {
        "__typename": "ServiceUnavailable",
        "message": "the signals service is unavailable; retry shortly",
    }
    [call] = services.calls(SIGNALS, NOTES_PATH)
    assert call.headers["idempotency-key"] == "note-0001"
