"""caseload, case, myReferrals, giveConsent, withdrawConsent and eraseClient against fake intake answers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from graphql import GraphQLNamedType, GraphQLObjectType, GraphQLUnionType, get_named_type

from bmw.gateway.schema import build_schema
from bmw.gateway.testing import (
    INTAKE,
    ORG_UNIT,
    TENANT,
    FakeServices,
    SigningKey,
    error_body,
    graphql,
    json_body,
)

WORKER = uuid.UUID("88888888-8888-4888-8888-888888888888")
CASE_ID = uuid.UUID("55555555-5555-4555-8555-555555555555")
OTHER_CASE_ID = uuid.UUID("56565656-5656-4565-8565-565656565656")
REFERRAL_ID = uuid.UUID("44444444-4444-4444-8444-444444444444")
ENTRY_ID = uuid.UUID("99999999-9999-4999-8999-999999999999")
CONSENT_ID = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
CLIENT_REF = "c_Xk3vP9qLm2Ra"

#: Tokens of the audiences that never see an individual case.
PORTAL_AUDIENCES: list[tuple[str, dict[str, Any]]] = [
    ("client_contact", {"tenant_id": TENANT}),
    ("account_manager", {"portfolio": [str(TENANT)]}),
    ("integration", {"tenant_id": TENANT, "scopes": ["referrals:read", "referrals:write"]}),
    ("employee", {"tenant_id": TENANT}),
]


def social_worker(key: SigningKey) -> str:
    return key.mint("social_worker", sub=str(WORKER))


def case_body(case_id: uuid.UUID = CASE_ID, **overrides: Any) -> dict[str, Any]:
    """A case as intake's ``CaseRead`` has it."""
    body: dict[str, Any] = {
        "id": str(case_id),
        "tenant_id": str(TENANT),
        "client_ref": CLIENT_REF,
        "org_unit_id": str(ORG_UNIT),
        "category": "reorganisation_uncertainty",
        "urgency": "urgent",
        "status": "intake_scheduled",
        "sla_deadline": "2026-03-05T17:00:00Z",
        "needed_specialism": "reorganisation",
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


# -- caseload ---------------------------------------------------------------------------------------

CASELOAD = """
query Caseload($status: CaseloadStatus, $first: Int, $after: String) {
  caseload(status: $status, first: $first, after: $after) {
    edges { cursor node {
      id tenantId clientRef orgUnitId category urgency status slaDeadline neededSpecialism language
      workerId outcome escalation openedAt closedAt reopenedCount
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.mark.asyncio
async def test_the_caseload_maps_intakes_page(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    closed = case_body(
        OTHER_CASE_ID,
        status="closed",
        outcome="resolved",
        closed_at="2026-02-20T10:00:00Z",
        needed_specialism=None,
        reopened_count=1,
    )
    services.reply("GET", INTAKE, "/cases", 200, {"items": [case_body(), closed], "next_cursor": "page-2"})
    token = social_worker(signing_key)

    response = await graphql(gateway, CASELOAD, {"status": "ALL", "first": 2}, token=token)

    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    caseload = body["data"]["caseload"]
    assert [edge["node"] for edge in caseload["edges"]] == [
        {
            "id": str(CASE_ID),
            "tenantId": str(TENANT),
            "clientRef": CLIENT_REF,
            "orgUnitId": str(ORG_UNIT),
            "category": "REORGANISATION_UNCERTAINTY",
            "urgency": "URGENT",
            "status": "INTAKE_SCHEDULED",
            "slaDeadline": "2026-03-05T17:00:00+00:00",
            "neededSpecialism": "reorganisation",
            "language": "nl",
            "workerId": str(WORKER),
            "outcome": None,
            "escalation": None,
            "openedAt": "2026-03-02T09:15:00+00:00",
            "closedAt": None,
            "reopenedCount": 0,
        },
        {
            "id": str(OTHER_CASE_ID),
            "tenantId": str(TENANT),
            "clientRef": CLIENT_REF,
            "orgUnitId": str(ORG_UNIT),
            "category": "REORGANISATION_UNCERTAINTY",
            "urgency": "URGENT",
            "status": "CLOSED",
            "slaDeadline": "2026-03-05T17:00:00+00:00",
            "neededSpecialism": None,
            "language": "nl",
            "workerId": str(WORKER),
            "outcome": "RESOLVED",
            "escalation": None,
            "openedAt": "2026-03-02T09:15:00+00:00",
            "closedAt": "2026-02-20T10:00:00+00:00",
            "reopenedCount": 1,
        },
    ]
    assert caseload["pageInfo"] == {"hasNextPage": True, "endCursor": "page-2"}
    assert caseload["edges"][-1]["cursor"] == "page-2"
    [call] = services.calls(INTAKE, "/cases")
    assert dict(call.url.params) == {"limit": "2", "include_closed": "true"}
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.asyncio
async def test_the_caseload_defaults_to_open_cases_and_passes_the_cursor_on(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, "/cases", 200, {"items": [case_body()], "next_cursor": None})

    response = await graphql(gateway, CASELOAD, {"after": "page-2"}, token=social_worker(signing_key))

    caseload = response.json()["data"]["caseload"]
    assert caseload["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    [call] = services.calls(INTAKE, "/cases")
    assert dict(call.url.params) == {"limit": "50", "include_closed": "false", "cursor": "page-2"}


@pytest.mark.asyncio
async def test_a_page_larger_than_intakes_is_capped_and_an_impossible_one_refused(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, "/cases", 200, {"items": [], "next_cursor": None})
    token = social_worker(signing_key)

    await graphql(gateway, CASELOAD, {"first": 150}, token=token)
    refused = await graphql(gateway, CASELOAD, {"first": 0}, token=token)

    [call] = services.calls(INTAKE, "/cases")  # the refused page never reached intake
    assert call.url.params["limit"] == "100"
    body = refused.json()
    assert body["data"] == {"caseload": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [{"path": "first", "message": "between 1 and 200"}]


@pytest.mark.asyncio
async def test_a_cursor_intake_refuses_points_at_after(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        INTAKE,
        "/cases",
        422,
        error_body("validation_failed", "invalid input: query.cursor", [("query.cursor", "not a cursor of this list")]),
    )

    response = await graphql(gateway, CASELOAD, {"after": "garbage"}, token=social_worker(signing_key))

    [error] = response.json()["errors"]
    assert error["path"] == ["caseload"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [{"path": "after", "message": "not a cursor of this list"}]


@pytest.mark.asyncio
@pytest.mark.parametrize(("role", "claims"), PORTAL_AUDIENCES)
async def test_no_portal_audience_reaches_a_case(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, role: str, claims: dict[str, Any]
) -> None:
    token = signing_key.mint(role, **claims)
    query = f"""{{
      caseload {{ edges {{ node {{ id }} }} }}
      case(id: "{CASE_ID}") {{ id dossier {{ nodes {{ text }} }} }}
    }}"""

    response = await graphql(gateway, query, token=token)

    body = response.json()
    assert body["data"] == {"caseload": None, "case": None}
    assert sorted((e["path"][0], e["extensions"]["code"]) for e in body["errors"]) == [
        ("case", "FORBIDDEN"),
        ("caseload", "FORBIDDEN"),
    ]
    assert services.requests == []


@pytest.mark.asyncio
async def test_intake_refusing_a_provider_admin_the_caseload_is_forbidden(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET", INTAKE, "/cases", 403, error_body("forbidden", "this operation needs one of the roles: social_worker")
    )

    response = await graphql(gateway, CASELOAD, token=signing_key.mint("provider_admin"))

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == "this operation needs one of the roles: social_worker"
    assert len(services.calls(INTAKE, "/cases")) == 1


def answer_503(_: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json=error_body("unavailable", "the service's database is unavailable"))


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", [answer_503, refuse_connection])
async def test_an_unavailable_intake_fails_only_the_caseload(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    services.on("GET", INTAKE, "/cases", answer)

    response = await graphql(gateway, "{ me { subject } caseload { nodes { id } } }", token=social_worker(signing_key))

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": {"subject": str(WORKER)}, "caseload": None}
    [error] = body["errors"]
    assert error["path"] == ["caseload"]
    assert error["message"] == "the intake service is unavailable; retry shortly"
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


# -- case -------------------------------------------------------------------------------------------

CASE = """
query Case($id: ID!) {
  case(id: $id) {
    id status category urgency slaDeadline
    history { nodes { status at actor } pageInfo { hasNextPage } }
  }
}
"""

CASE_WITH_DOSSIER = """
query Case($id: ID!, $first: Int) {
  case(id: $id) {
    id status
    dossier(first: $first) {
      edges { cursor node { id layer kind text author createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

HISTORY = [
    {"status": "registered", "at": "2026-03-02T09:15:00Z", "actor": "intake"},
    {"status": "triaged", "at": "2026-03-02T11:00:00Z", "actor": str(WORKER)},
]


@pytest.mark.asyncio
async def test_a_case_maps_with_its_history_and_without_asking_for_the_dossier(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, f"/cases/{CASE_ID}", 200, case_body(status="triaged", history=HISTORY))

    response = await graphql(gateway, CASE, {"id": str(CASE_ID)}, token=social_worker(signing_key))

    assert response.json() == {
        "data": {
            "case": {
                "id": str(CASE_ID),
                "status": "TRIAGED",
                "category": "REORGANISATION_UNCERTAINTY",
                "urgency": "URGENT",
                "slaDeadline": "2026-03-05T17:00:00+00:00",
                "history": {
                    "nodes": [
                        {"status": "REGISTERED", "at": "2026-03-02T09:15:00+00:00", "actor": "intake"},
                        {"status": "TRIAGED", "at": "2026-03-02T11:00:00+00:00", "actor": str(WORKER)},
                    ],
                    "pageInfo": {"hasNextPage": False},
                },
            }
        }
    }
    assert [request.url.path for request in services.requests] == [f"/cases/{CASE_ID}"]


@pytest.mark.asyncio
async def test_the_dossier_is_asked_for_only_when_selected_and_maps(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, f"/cases/{CASE_ID}", 200, case_body())
    entries = [
        {
            "id": str(ENTRY_ID),
            "layer": "working",
            "kind": "working_note",
            "text": "Follow up after the announcement.",
            "author": str(WORKER),
            "created_at": "2026-03-03T08:00:00Z",
        }
    ]
    services.reply("GET", INTAKE, f"/cases/{CASE_ID}/dossier", 200, {"items": entries, "next_cursor": "d-2"})

    response = await graphql(
        gateway, CASE_WITH_DOSSIER, {"id": str(CASE_ID), "first": 1}, token=social_worker(signing_key)
    )

    assert response.json()["data"]["case"]["dossier"] == {
        "edges": [
            {
                "cursor": "d-2",
                "node": {
                    "id": str(ENTRY_ID),
                    "layer": "WORKING",
                    "kind": "WORKING_NOTE",
                    "text": "Follow up after the announcement.",
                    "author": str(WORKER),
                    "createdAt": "2026-03-03T08:00:00+00:00",
                },
            }
        ],
        "pageInfo": {"hasNextPage": True, "endCursor": "d-2"},
    }
    [call] = services.calls(INTAKE, f"/cases/{CASE_ID}/dossier")
    assert dict(call.url.params) == {"limit": "1"}


@pytest.mark.asyncio
async def test_a_dossier_intake_withholds_is_null_with_an_error_and_the_case_still_resolves(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, f"/cases/{CASE_ID}", 200, case_body())
    services.reply(
        "GET",
        INTAKE,
        f"/cases/{CASE_ID}/dossier",
        403,
        error_body("forbidden", "only the assigned social worker reads this case"),
    )

    response = await graphql(gateway, CASE_WITH_DOSSIER, {"id": str(CASE_ID)}, token=social_worker(signing_key))

    body = response.json()
    assert body["data"] == {"case": {"id": str(CASE_ID), "status": "INTAKE_SCHEDULED", "dossier": None}}
    [error] = body["errors"]
    assert error["path"] == ["case", "dossier"]
    assert error["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.asyncio
async def test_a_case_intake_does_not_show_is_not_found(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, f"/cases/{CASE_ID}", 404, error_body("not_found", "case not found"))

    response = await graphql(gateway, CASE, {"id": str(CASE_ID)}, token=social_worker(signing_key))

    body = response.json()
    assert body["data"] == {"case": None}
    [error] = body["errors"]
    assert (error["message"], error["extensions"]["code"]) == ("case not found", "NOT_FOUND")


@pytest.mark.asyncio
async def test_a_malformed_case_id_is_refused_without_asking_intake(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(gateway, CASE, {"id": "../persons"}, token=social_worker(signing_key))

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [{"path": "id", "message": "not a valid id"}]
    assert services.requests == []


def test_no_field_but_caseload_and_case_leads_to_a_case() -> None:
    """Walk the schema from every other root field: no portal query (or mutation result) reaches a case."""
    schema = build_schema()._schema
    case_types = {"Case", "CaseSummary", "CaseTransition", "DossierEntry"}
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    roots = [field for name, field in schema.query_type.fields.items() if name not in {"caseload", "case"}]
    roots += list(schema.mutation_type.fields.values())
    seen: set[str] = set()
    pending: list[GraphQLNamedType] = [get_named_type(field.type) for field in roots]
    while pending:
        named = pending.pop()
        if named.name in seen:
            continue
        seen.add(named.name)
        if isinstance(named, GraphQLObjectType):
            pending += [get_named_type(field.type) for field in named.fields.values()]
        elif isinstance(named, GraphQLUnionType):
            pending += list(named.types)
    assert "Referral" in seen  # the walk does reach the portal's own types
    assert seen.isdisjoint(case_types)


# -- myReferrals ------------------------------------------------------------------------------------

MY_REFERRALS = """
query Mine($first: Int, $after: String) {
  myReferrals(first: $first, after: $after) {
    nodes { id tenantId orgUnitId category urgency channel status caseId receivedAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def own_referral(status: str = "case_opened", case_id: uuid.UUID | None = CASE_ID) -> dict[str, Any]:
    return {
        "id": str(REFERRAL_ID),
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
            "consent_deadline": "2026-03-16T09:15:00Z",
        },
    }


@pytest.mark.asyncio
async def test_an_employee_lists_their_own_referrals_with_their_own_token(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", INTAKE, "/referrals", 200, {"items": [own_referral()], "next_cursor": None})
    token = signing_key.mint("employee", tenant_id=TENANT, sub="employee-7")

    response = await graphql(gateway, MY_REFERRALS, {"first": 10}, token=token)

    assert response.json() == {
        "data": {
            "myReferrals": {
                "nodes": [
                    {
                        "id": str(REFERRAL_ID),
                        "tenantId": str(TENANT),
                        "orgUnitId": str(ORG_UNIT),
                        "category": "WORKLOAD_STRESS",
                        "urgency": "NORMAL",
                        "channel": "MANAGER",
                        "status": "CASE_OPENED",
                        "caseId": str(CASE_ID),
                        "receivedAt": "2026-03-02T09:15:00+00:00",
                    }
                ],
                "pageInfo": {"hasNextPage": False, "endCursor": None},
            }
        }
    }
    [call] = services.calls(INTAKE, "/referrals")
    assert dict(call.url.params) == {"limit": "10"}  # no tenant_id: intake takes the employee's own
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "roles",
    [("client_contact",), ("integration",), ("employee", "client_contact"), ("social_worker",)],
)
async def test_my_referrals_is_for_employees_only(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, roles: tuple[str, ...]
) -> None:
    # A token that also says client_contact would make intake list the whole organisation's referrals.
    token = signing_key.mint(*roles, tenant_id=None if roles == ("social_worker",) else TENANT)

    response = await graphql(gateway, MY_REFERRALS, token=token)

    body = response.json()
    assert body["data"] == {"myReferrals": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert services.requests == []


# -- giveConsent / withdrawConsent ------------------------------------------------------------------

GIVE = """
mutation Give($input: GiveConsentInput!) {
  giveConsent(input: $input) {
    __typename
    ... on ConsentGiven { consent { id recipient item granted recordedAt validUntil recordedBy method } }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on Conflict { message }
    ... on ServiceUnavailable { message }
  }
}
"""

WITHDRAW = """
mutation Withdraw($input: WithdrawConsentInput!) {
  withdrawConsent(input: $input) {
    __typename
    ... on ConsentWithdrawn { consent { recipient item granted method } }
    ... on ValidationFailed { fields { path message } }
    ... on Forbidden { message }
  }
}
"""

CONSENTS = f"/referrals/{REFERRAL_ID}/consents"


def consent_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"referralId": str(REFERRAL_ID), "recipient": "MANAGER", "item": "ATTENDANCE"}
    values.update(overrides)
    return values


def recorded(request: httpx.Request) -> httpx.Response:
    body = json_body(request)
    return httpx.Response(
        201,
        json={
            "id": str(CONSENT_ID),
            "recipient": body["recipient"],
            "item": body["item"],
            "granted": body["granted"],
            "recorded_at": "2026-03-03T10:00:00Z",
            "valid_until": body["valid_until"],
            "recorded_by": "employee-7",
            "method": body["method"],
        },
    )


@pytest.mark.asyncio
async def test_an_employee_gives_their_own_consent_in_the_portal(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", INTAKE, CONSENTS, recorded)
    token = signing_key.mint("employee", tenant_id=TENANT, sub="employee-7")

    response = await graphql(
        gateway, GIVE, {"input": consent_input(validUntil="2026-09-01T00:00:00+02:00")}, token=token
    )

    assert response.json()["data"]["giveConsent"] == {
        "__typename": "ConsentGiven",
        "consent": {
            "id": str(CONSENT_ID),
            "recipient": "MANAGER",
            "item": "ATTENDANCE",
            "granted": True,
            "recordedAt": "2026-03-03T10:00:00+00:00",
            "validUntil": "2026-09-01T00:00:00+02:00",
            "recordedBy": "employee-7",
            "method": "PORTAL",
        },
    }
    [call] = services.calls(INTAKE, CONSENTS)
    assert json_body(call) == {
        "recipient": "manager",
        "item": "attendance",
        "granted": True,
        "valid_until": "2026-09-01T00:00:00+02:00",
        "method": "portal",
    }
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.asyncio
async def test_a_social_worker_records_how_the_employee_gave_it(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", INTAKE, CONSENTS, recorded)
    token = social_worker(signing_key)

    missing = await graphql(gateway, GIVE, {"input": consent_input()}, token=token)
    given = await graphql(
        gateway, GIVE, {"input": consent_input(recipient="PROVIDER", item="REFERRAL", method="VERBAL")}, token=token
    )

    assert missing.json()["data"]["giveConsent"] == {
        "__typename": "ValidationFailed",
        "message": "invalid input: input.method",
        "fields": [{"path": "input.method", "message": "say how the employee gave it: VERBAL or WRITTEN"}],
    }
    assert given.json()["data"]["giveConsent"]["consent"]["method"] == "VERBAL"
    [call] = services.calls(INTAKE, CONSENTS)  # only the complete one reached intake
    assert json_body(call) == {
        "recipient": "provider",
        "item": "referral",
        "granted": True,
        "valid_until": None,
        "method": "verbal",
    }


@pytest.mark.asyncio
async def test_consent_input_the_gateway_can_check_is_refused_with_input_paths(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("employee", tenant_id=TENANT)
    variables = {"input": consent_input(referralId="nope", validUntil="2026-09-01T00:00:00", method="WRITTEN")}

    response = await graphql(gateway, GIVE, variables, token=token)

    result = response.json()["data"]["giveConsent"]
    assert result["__typename"] == "ValidationFailed"
    assert result["fields"] == [
        {"path": "input.referralId", "message": "not a valid id"},
        {"path": "input.method", "message": "your own consent is given in the PORTAL"},
        {"path": "input.validUntil", "message": "include a UTC offset, e.g. +01:00 or Z"},
    ]
    assert services.requests == []


@pytest.mark.asyncio
async def test_intakes_field_errors_come_back_as_input_paths(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        INTAKE,
        CONSENTS,
        422,
        error_body(
            "validation_failed",
            "consent for referral cannot be given to manager",
            [
                ("body.item", "consent for referral cannot be given to manager"),
                ("body.valid_until", "must lie in the future"),
                ("path.referral_id", "Input should be a valid UUID"),
            ],
        ),
    )
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, GIVE, {"input": consent_input(item="REFERRAL")}, token=token)

    result = response.json()["data"]["giveConsent"]
    assert result["__typename"] == "ValidationFailed"
    assert [field["path"] for field in result["fields"]] == ["input.item", "input.validUntil", "input.referralId"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "code", "typename"),
    [
        (404, "not_found", "NotFound"),
        (409, "conflict", "Conflict"),
        (403, "forbidden", "Forbidden"),
        (503, "unavailable", "ServiceUnavailable"),
    ],
)
async def test_intakes_refusals_of_a_consent_are_union_members(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    status: int,
    code: str,
    typename: str,
) -> None:
    services.reply("POST", INTAKE, CONSENTS, status, error_body(code, f"intake says {code}"))
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, GIVE, {"input": consent_input()}, token=token)

    result = response.json()["data"]["giveConsent"]
    assert result["__typename"] == typename
    expected = "the intake service is unavailable; retry shortly" if status == 503 else f"intake says {code}"
    assert result["message"] == expected


@pytest.mark.asyncio
@pytest.mark.parametrize(("role", "claims"), PORTAL_AUDIENCES[:3])
async def test_only_the_employee_and_provider_staff_record_consent(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, role: str, claims: dict[str, Any]
) -> None:
    token = signing_key.mint(role, **claims)

    given = await graphql(gateway, GIVE, {"input": consent_input()}, token=token)
    withdrawn = await graphql(gateway, WITHDRAW, {"input": consent_input()}, token=token)

    assert given.json()["data"]["giveConsent"]["__typename"] == "Forbidden"
    assert withdrawn.json()["data"]["withdrawConsent"]["__typename"] == "Forbidden"
    assert services.requests == []


@pytest.mark.asyncio
async def test_a_withdrawal_is_recorded_as_not_granted(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", INTAKE, CONSENTS, recorded)
    token = signing_key.mint("social_worker")

    response = await graphql(
        gateway,
        WITHDRAW,
        {"input": consent_input(recipient="COMPANY_DOCTOR", item="CLOSING_REPORT", method="WRITTEN")},
        token=token,
    )

    assert response.json()["data"]["withdrawConsent"] == {
        "__typename": "ConsentWithdrawn",
        "consent": {"recipient": "COMPANY_DOCTOR", "item": "CLOSING_REPORT", "granted": False, "method": "WRITTEN"},
    }
    [call] = services.calls(INTAKE, CONSENTS)
    assert json_body(call) == {
        "recipient": "company_doctor",
        "item": "closing_report",
        "granted": False,
        "valid_until": None,
        "method": "written",
    }


# -- eraseClient ------------------------------------------------------------------------------------

ERASE = """
mutation Erase($input: EraseClientInput!) {
  eraseClient(input: $input) {
    __typename
    ... on ClientErased { clientRef erased }
    ... on ValidationFailed { fields { path message } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on ServiceUnavailable { message }
  }
}
"""

ERASE_PATH = f"/persons/{CLIENT_REF}/erase"


@pytest.mark.asyncio
async def test_a_provider_admin_erases_a_person_and_learns_what_was_erased(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", INTAKE, ERASE_PATH, lambda _: httpx.Response(204))
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, ERASE, {"input": {"clientRef": CLIENT_REF}}, token=token)

    assert response.json()["data"]["eraseClient"] == {
        "__typename": "ClientErased",
        "clientRef": CLIENT_REF,
        "erased": ["PERSONAL_DATA", "DOSSIER", "CONSENTS", "PSEUDONYM"],
    }
    [call] = services.calls(INTAKE, ERASE_PATH)
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.asyncio
@pytest.mark.parametrize(("role", "claims"), [*PORTAL_AUDIENCES, ("social_worker", {})])
async def test_only_provider_admins_erase(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, role: str, claims: dict[str, Any]
) -> None:
    token = signing_key.mint(role, **claims)

    response = await graphql(gateway, ERASE, {"input": {"clientRef": CLIENT_REF}}, token=token)

    assert response.json()["data"]["eraseClient"] == {
        "__typename": "Forbidden",
        "message": "this operation needs one of the roles: provider_admin",
    }
    assert services.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("client_ref", ["../cases", "c_short", "c_Xk3vP9qLm2Ra/../../referrals"])
async def test_a_malformed_client_ref_never_reaches_a_url(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, client_ref: str
) -> None:
    response = await graphql(
        gateway, ERASE, {"input": {"clientRef": client_ref}}, token=signing_key.mint("provider_admin")
    )

    result = response.json()["data"]["eraseClient"]
    assert result["__typename"] == "ValidationFailed"
    assert [field["path"] for field in result["fields"]] == ["input.clientRef"]
    assert services.requests == []


@pytest.mark.asyncio
async def test_an_unknown_person_is_not_found_and_an_unavailable_intake_says_so(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("provider_admin")
    services.reply("POST", INTAKE, ERASE_PATH, 404, error_body("not_found", "no person with this client_ref"))
    unknown = await graphql(gateway, ERASE, {"input": {"clientRef": CLIENT_REF}}, token=token)
    services.on("POST", INTAKE, ERASE_PATH, refuse_connection)
    down = await graphql(gateway, ERASE, {"input": {"clientRef": CLIENT_REF}}, token=token)

    assert unknown.json()["data"]["eraseClient"] == {
        "__typename": "NotFound",
        "message": "no person with this client_ref",
    }
    assert down.json()["data"]["eraseClient"] == {
        "__typename": "ServiceUnavailable",
        "message": "the intake service is unavailable; retry shortly",
    }
