"""Scheduling through the gateway: free slots, agendas, own appointments, workshops and their mutations."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import httpx
import pytest

from bmw.contracts import taxonomy
from bmw.gateway.scheduling.enums import AppointmentKind, CancelledBy, MeetingLocation, WorkshopTheme
from bmw.gateway.testing import (
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
OTHER_WORKER = uuid.UUID("99999999-9999-4999-8999-999999999999")
APPOINTMENT = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
CASE = uuid.UUID("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb")
WORKSHOP = uuid.UUID("cccccccc-cccc-4ccc-8ccc-cccccccccccc")
REGISTRATION = uuid.UUID("dddddddd-dddd-4ddd-8ddd-dddddddddddd")


def appointment(**overrides: Any) -> dict[str, Any]:
    """An appointment as scheduling answers it."""
    values: dict[str, Any] = {
        "id": str(APPOINTMENT),
        "tenant_id": str(TENANT),
        "worker_id": str(WORKER),
        "kind": "consult",
        "case_id": str(CASE),
        "start": "2026-03-02T09:00:00Z",
        "end": "2026-03-02T09:45:00Z",
        "status": "booked",
        "location": "video",
        "late_cancellation": None,
        "cancelled_by": None,
        "overage": False,
        "walk_in": False,
        "workshop_id": None,
        "topic": None,
    }
    values.update(overrides)
    return values


def worker(worker_id: uuid.UUID, name: str) -> dict[str, Any]:
    """A staff record as scheduling answers it."""
    return {
        "id": str(worker_id),
        "name": name,
        "specialisms": ["burnout"],
        "languages": ["nl", "en"],
        "tenant_ids": [str(TENANT)],
        "weekly_hours": {"monday": [["09:00", "17:00"]]},
        "locations": ["video", "provider_office"],
    }


def registration(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": str(REGISTRATION),
        "workshop_id": str(WORKSHOP),
        "participant": "self:1f2e",
        "display_name": None,
        "status": "registered",
        "waitlist_position": None,
        "attended": None,
        "registered_at": "2026-02-10T12:00:00Z",
    }
    values.update(overrides)
    return values


def workshop(**overrides: Any) -> dict[str, Any]:
    """A workshop as scheduling's list answers it (no register in the list view)."""
    values: dict[str, Any] = {
        "id": str(WORKSHOP),
        "tenant_id": str(TENANT),
        "theme": "giving_and_receiving_feedback",
        "title": "Feedback geven en ontvangen",
        "location": "client_site",
        "location_detail": "Zaal 2",
        "start": "2026-04-07T12:00:00Z",
        "end": "2026-04-07T15:00:00Z",
        "duration_minutes": 180,
        "capacity": 12,
        "seats_taken": 12,
        "seats_available": 0,
        "waitlist_length": 3,
        "status": "scheduled",
        "trainers": [{"id": str(WORKER), "name": "Anouk Jansen"}],
        "self_registration": True,
        "attended_count": None,
        "cancelled_by": None,
        "my_registration": None,
        "registrations": None,
    }
    values.update(overrides)
    return values


def answer_503(_: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json=error_body("unavailable", "the service's database is unavailable"))


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


# -- enums ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "shared"),
    [
        (AppointmentKind, taxonomy.AppointmentKind),
        (MeetingLocation, taxonomy.Location),
        (CancelledBy, taxonomy.CancelledBy),
        (WorkshopTheme, taxonomy.WorkshopTheme),
    ],
)
def test_the_gateway_enums_carry_the_shared_wire_values(ours: type[Enum], shared: type[Enum]) -> None:
    assert {(member.name, member.value) for member in ours} == {(member.name, member.value) for member in shared}


# -- freeSlots ------------------------------------------------------------------------------------

FREE_SLOTS = """
query Slots($tenantId: ID!, $from: DateTime!, $kind: AppointmentKind!, $first: Int, $after: String,
            $language: String) {
  freeSlots(tenantId: $tenantId, from: $from, kind: $kind, first: $first, after: $after, language: $language) {
    nodes { workerId workerName start end durationMinutes locations }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def slots(count: int) -> dict[str, Any]:
    return {
        "duration_minutes": 45,
        "slots": [
            {
                "worker_id": str(WORKER),
                "worker_name": "Anouk Jansen",
                "start": f"2026-03-02T{9 + i:02d}:00:00Z",
                "locations": ["video", "client_site"],
            }
            for i in range(count)
        ],
    }


@pytest.mark.asyncio
async def test_free_slots_ask_scheduling_for_one_more_than_the_page_and_map_each_slot(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SCHEDULING, "/free-slots", 200, slots(3))
    token = signing_key.mint("client_contact", tenant_id=TENANT)
    variables = {
        "tenantId": str(TENANT),
        "from": "2026-03-02T08:00:00",  # no offset: Amsterdam time (CET, +01:00)
        "kind": "MANAGER_CONSULTATION",
        "first": 2,
        "language": "nl",
    }

    response = await graphql(gateway, FREE_SLOTS, variables, token=token)

    result = response.json()["data"]["freeSlots"]
    assert result["nodes"] == [
        {
            "workerId": str(WORKER),
            "workerName": "Anouk Jansen",
            "start": "2026-03-02T09:00:00+00:00",
            "end": "2026-03-02T09:45:00+00:00",
            "durationMinutes": 45,
            "locations": ["VIDEO", "CLIENT_SITE"],
        },
        {
            "workerId": str(WORKER),
            "workerName": "Anouk Jansen",
            "start": "2026-03-02T10:00:00+00:00",
            "end": "2026-03-02T10:45:00+00:00",
            "durationMinutes": 45,
            "locations": ["VIDEO", "CLIENT_SITE"],
        },
    ]
    assert result["pageInfo"]["hasNextPage"] is True
    [call] = services.calls(SCHEDULING, "/free-slots")
    assert dict(call.url.params) == {
        "tenant_id": str(TENANT),
        "from": "2026-03-02T08:00:00+01:00",
        "to": "2026-03-16T08:00:00+01:00",
        "kind": "manager_consultation",
        "limit": "3",
        "language": "nl",
    }
    assert call.headers["authorization"] == f"Bearer {token}"

    variables["after"] = result["pageInfo"]["endCursor"]
    second = (await graphql(gateway, FREE_SLOTS, variables, token=token)).json()["data"]["freeSlots"]

    assert [node["start"] for node in second["nodes"]] == ["2026-03-02T11:00:00+00:00"]
    assert second["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    assert services.calls(SCHEDULING, "/free-slots")[1].url.params["limit"] == "5"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("role", "tenant", "asked"),
    [
        ("employee", TENANT, TENANT),  # employees do not book; their intakes are scheduled for them
        ("integration", TENANT, TENANT),
        ("client_contact", TENANT, OTHER_TENANT),
    ],
)
async def test_free_slots_are_refused_early_to_whom_scheduling_would_refuse(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    role: str,
    tenant: uuid.UUID,
    asked: uuid.UUID,
) -> None:
    token = signing_key.mint(role, tenant_id=tenant)
    variables = {"tenantId": str(asked), "from": "2026-03-02T08:00:00Z", "kind": "CONSULT"}

    body = (await graphql(gateway, FREE_SLOTS, variables, token=token)).json()

    assert body["data"] == {"freeSlots": None}
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert services.requests == []


@pytest.mark.asyncio
async def test_a_refused_search_names_the_argument(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        SCHEDULING,
        "/free-slots",
        422,
        error_body("validation_failed", "invalid input: query.language", [("query.language", "two letters")]),
    )
    token = signing_key.mint("account_manager", portfolio=[str(TENANT)])
    variables = {"tenantId": str(TENANT), "from": "2026-03-02T08:00:00Z", "kind": "CONSULT", "language": "dutch"}

    body = (await graphql(gateway, FREE_SLOTS, variables, token=token)).json()

    [error] = body["errors"]
    assert error["path"] == ["freeSlots"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [{"path": "language", "message": "two letters"}]


# -- agenda and myAppointments --------------------------------------------------------------------

AGENDA = """
query Agenda($from: DateTime!, $to: DateTime!, $workerId: ID, $first: Int, $after: String) {
  agenda(from: $from, to: $to, workerId: $workerId, first: $first, after: $after) {
    nodes {
      id kind caseId start end durationMinutes status location overage topic
      worker { id name specialisms locations }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

WEEK = {"from": "2026-03-02T00:00:00+01:00", "to": "2026-03-09T00:00:00+01:00"}


@pytest.mark.asyncio
async def test_a_social_workers_agenda_maps_appointments_and_loads_their_worker_once(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    items = [
        appointment(),
        appointment(id=str(uuid.uuid4()), kind="intake", start="2026-03-03T09:00:00Z", end="2026-03-03T10:00:00Z"),
        appointment(id=str(uuid.uuid4()), start="2026-03-04T09:00:00Z", end="2026-03-04T09:45:00Z"),
    ]
    services.reply("GET", SCHEDULING, "/appointments", 200, {"items": items, "next_cursor": "c2"})
    services.reply("GET", SCHEDULING, f"/workers/{WORKER}", 200, worker(WORKER, "Anouk Jansen"))
    token = signing_key.mint("social_worker", sub=str(WORKER))

    response = await graphql(gateway, AGENDA, {**WEEK, "first": 3, "after": "c1"}, token=token)

    result = response.json()["data"]["agenda"]
    assert result["nodes"][0] == {
        "id": str(APPOINTMENT),
        "kind": "CONSULT",
        "caseId": str(CASE),
        "start": "2026-03-02T09:00:00+00:00",
        "end": "2026-03-02T09:45:00+00:00",
        "durationMinutes": 45,
        "status": "BOOKED",
        "location": "VIDEO",
        "overage": False,
        "topic": None,
        "worker": {
            "id": str(WORKER),
            "name": "Anouk Jansen",
            "specialisms": ["burnout"],
            "locations": ["VIDEO", "PROVIDER_OFFICE"],
        },
    }
    assert [node["durationMinutes"] for node in result["nodes"]] == [45, 60, 45]
    assert {node["worker"]["name"] for node in result["nodes"]} == {"Anouk Jansen"}
    assert result["pageInfo"] == {"hasNextPage": True, "endCursor": "c2"}
    [call] = services.calls(SCHEDULING, "/appointments")
    assert dict(call.url.params) == {
        "from": "2026-03-02T00:00:00+01:00",
        "to": "2026-03-09T00:00:00+01:00",
        "limit": "3",
        "cursor": "c1",
    }
    assert len(services.calls(SCHEDULING, f"/workers/{WORKER}")) == 1


@pytest.mark.asyncio
async def test_an_admins_agenda_of_many_workers_costs_one_call_for_all_workers(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    items = [appointment(id=str(uuid.uuid4()), worker_id=str(w)) for w in (WORKER, OTHER_WORKER, WORKER, OTHER_WORKER)]
    services.reply("GET", SCHEDULING, "/appointments", 200, {"items": items, "next_cursor": None})
    services.reply(
        "GET", SCHEDULING, "/workers", 200, [worker(WORKER, "Anouk Jansen"), worker(OTHER_WORKER, "Bram de Boer")]
    )
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await graphql(gateway, AGENDA, WEEK, token=token)

    nodes = response.json()["data"]["agenda"]["nodes"]
    assert [node["worker"]["name"] for node in nodes] == ["Anouk Jansen", "Bram de Boer"] * 2
    assert [request.url.path for request in services.requests] == ["/appointments", "/workers"]


@pytest.mark.asyncio
async def test_a_social_worker_may_not_read_a_colleagues_agenda(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("social_worker", sub=str(WORKER))

    body = (await graphql(gateway, AGENDA, {**WEEK, "workerId": str(OTHER_WORKER)}, token=token)).json()

    assert body["data"] == {"agenda": None}
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert services.requests == []


@pytest.mark.asyncio
async def test_an_admin_names_the_worker_whose_agenda_to_read(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SCHEDULING, "/appointments", 200, {"items": [], "next_cursor": None})
    token = signing_key.mint("provider_admin", sub="admin-1")

    body = (await graphql(gateway, AGENDA, {**WEEK, "workerId": str(OTHER_WORKER)}, token=token)).json()

    assert body["data"]["agenda"] == {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    assert services.calls(SCHEDULING, "/appointments")[0].url.params["worker_id"] == str(OTHER_WORKER)


MY_APPOINTMENTS = """
query { myAppointments { nodes { id kind caseId status worker { name } } } }
"""


@pytest.mark.asyncio
async def test_an_employees_own_appointments_are_read_with_their_token(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SCHEDULING, "/appointments", 200, {"items": [appointment()], "next_cursor": None})
    token = signing_key.mint("employee", tenant_id=TENANT, sub="employee-login-3")

    response = await graphql(gateway, MY_APPOINTMENTS, token=token)

    assert response.json() == {
        "data": {
            "myAppointments": {
                # Their own case; no staff record (employees may not read those, so it is not even asked for).
                "nodes": [
                    {"id": str(APPOINTMENT), "kind": "CONSULT", "caseId": str(CASE), "status": "BOOKED", "worker": None}
                ]
            }
        }
    }
    [call] = services.calls(SCHEDULING, "/appointments")
    assert call.headers["authorization"] == f"Bearer {token}"
    assert "worker_id" not in call.url.params
    start = datetime.fromisoformat(call.url.params["from"])
    end = datetime.fromisoformat(call.url.params["to"])
    assert start.utcoffset() is not None
    assert (start.hour, start.minute) == (0, 0)  # from the start of today, Amsterdam time
    assert end - start == timedelta(days=365)
    assert [request.url.path for request in services.requests] == ["/appointments"]


@pytest.mark.asyncio
async def test_a_client_contact_sees_no_case_id_even_if_one_came_along(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SCHEDULING, "/appointments", 200, {"items": [appointment()], "next_cursor": None})
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    body = (await graphql(gateway, MY_APPOINTMENTS, token=token)).json()

    assert body["data"]["myAppointments"]["nodes"][0]["caseId"] is None


@pytest.mark.asyncio
@pytest.mark.parametrize("role", ["account_manager", "social_worker", "integration"])
async def test_my_appointments_is_for_employees_and_client_contacts(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, role: str
) -> None:
    token = signing_key.mint(role, tenant_id=TENANT if role == "integration" else None)

    body = (await graphql(gateway, MY_APPOINTMENTS, token=token)).json()

    assert body["data"] == {"myAppointments": None}
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert services.requests == []


# -- workshops ------------------------------------------------------------------------------------

WORKSHOPS = """
query Workshops($tenantId: ID, $first: Int, $after: String) {
  workshops(tenantId: $tenantId, first: $first, after: $after) {
    nodes {
      id theme title location locationDetail start durationMinutes capacity seatsTaken seatsAvailable
      waitlistLength status selfRegistration trainers { id name }
      myRegistration { id status waitlistPosition }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.mark.asyncio
async def test_workshops_show_seats_and_waitlist_and_are_paged(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    later = workshop(id=str(uuid.uuid4()), start="2026-05-12T12:00:00Z", end="2026-05-12T15:00:00Z")
    services.reply("GET", SCHEDULING, "/workshops", 200, [workshop(), later])
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, WORKSHOPS, {"tenantId": str(TENANT), "first": 1}, token=token)

    result = response.json()["data"]["workshops"]
    assert result["nodes"] == [
        {
            "id": str(WORKSHOP),
            "theme": "GIVING_AND_RECEIVING_FEEDBACK",
            "title": "Feedback geven en ontvangen",
            "location": "CLIENT_SITE",
            "locationDetail": "Zaal 2",
            "start": "2026-04-07T12:00:00+00:00",
            "durationMinutes": 180,
            "capacity": 12,
            "seatsTaken": 12,
            "seatsAvailable": 0,
            "waitlistLength": 3,
            "status": "SCHEDULED",
            "selfRegistration": True,
            "trainers": [{"id": str(WORKER), "name": "Anouk Jansen"}],
            "myRegistration": None,
        }
    ]
    assert result["pageInfo"]["hasNextPage"] is True
    [call] = services.calls(SCHEDULING, "/workshops")
    assert dict(call.url.params) == {"tenant_id": str(TENANT)}

    after = result["pageInfo"]["endCursor"]
    second = (await graphql(gateway, WORKSHOPS, {"first": 1, "after": after}, token=token)).json()["data"]["workshops"]

    assert [node["id"] for node in second["nodes"]] == [later["id"]]
    assert second["pageInfo"]["hasNextPage"] is False


@pytest.mark.asyncio
async def test_an_employee_sees_their_own_place_on_the_waitlist(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    own = registration(status="waitlisted", waitlist_position=2)
    services.reply("GET", SCHEDULING, "/workshops", 200, [workshop(my_registration=own)])
    token = signing_key.mint("employee", tenant_id=TENANT)

    body = (await graphql(gateway, WORKSHOPS, token=token)).json()

    [node] = body["data"]["workshops"]["nodes"]
    assert node["myRegistration"] == {"id": str(REGISTRATION), "status": "WAITLISTED", "waitlistPosition": 2}
    assert dict(services.calls(SCHEDULING, "/workshops")[0].url.params) == {}


@pytest.mark.asyncio
async def test_another_organisations_workshops_are_refused_without_asking(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    body = (await graphql(gateway, WORKSHOPS, {"tenantId": str(OTHER_TENANT)}, token=token)).json()

    assert body["data"] == {"workshops": None}
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert services.requests == []


# -- bookAppointment ------------------------------------------------------------------------------

BOOK = """
mutation Book($input: BookAppointmentInput!) {
  bookAppointment(input: $input) {
    __typename
    ... on AppointmentBooked { appointment { id kind start end status location topic overage caseId worker { name } } }
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
        "kind": "MANAGER_CONSULTATION",
        "start": "2026-03-02T10:00:00+01:00",
        "topic": "REORGANISATION_UNCERTAINTY",
        "location": "VIDEO",
    }
    values.update(overrides)
    return values


def booked(request: httpx.Request) -> httpx.Response:
    body = json_body(request)
    return httpx.Response(
        201,
        json=appointment(
            kind=body["kind"],
            case_id=None,
            start="2026-03-02T09:00:00Z",
            end="2026-03-02T09:45:00Z",
            location=body.get("location"),
            topic=body.get("topic"),
            overage=True,
        ),
    )


@pytest.mark.asyncio
async def test_a_client_contact_books_a_manager_consultation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", SCHEDULING, "/appointments", booked)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, BOOK, {"input": booking(idempotencyKey="booking-0001")}, token=token)

    assert response.json()["data"]["bookAppointment"] == {
        "__typename": "AppointmentBooked",
        "appointment": {
            "id": str(APPOINTMENT),
            "kind": "MANAGER_CONSULTATION",
            "start": "2026-03-02T09:00:00+00:00",
            "end": "2026-03-02T09:45:00+00:00",
            "status": "BOOKED",
            "location": "VIDEO",
            "topic": "REORGANISATION_UNCERTAINTY",
            "overage": True,
            "caseId": None,
            "worker": None,
        },
    }
    [call] = services.calls(SCHEDULING, "/appointments")
    assert json_body(call) == {
        "worker_id": str(WORKER),
        "tenant_id": str(TENANT),  # defaulted to the caller's own
        "kind": "manager_consultation",
        "start": "2026-03-02T10:00:00+01:00",
        "location": "video",
        "topic": "reorganisation_uncertainty",
    }
    assert call.headers["idempotency-key"] == "booking-0001"
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.asyncio
async def test_without_a_key_no_idempotency_header_is_sent(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", SCHEDULING, "/appointments", booked)
    token = signing_key.mint("social_worker", sub=str(WORKER))

    response = await graphql(
        gateway,
        BOOK,
        {"input": booking(tenantId=str(TENANT), kind="CONSULT", topic=None, caseId=str(CASE))},
        token=token,
    )

    assert response.json()["data"]["bookAppointment"]["__typename"] == "AppointmentBooked"
    [call] = services.calls(SCHEDULING, "/appointments")
    assert "idempotency-key" not in call.headers
    assert json_body(call)["case_id"] == str(CASE)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "message",
    [
        "that time was just booked by someone else",
        "the hour bundle of 40 h is used up (39.5 h booked or used, 0.75 h more asked) and the contract has no "
        "overage rate",
    ],
)
async def test_a_taken_slot_or_used_up_entitlement_is_a_conflict(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, message: str
) -> None:
    services.reply("POST", SCHEDULING, "/appointments", 409, error_body("conflict", message))
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, BOOK, {"input": booking()}, token=token)

    assert response.json()["data"]["bookAppointment"] == {"__typename": "Conflict", "message": message}


@pytest.mark.asyncio
async def test_schedulings_field_errors_come_back_as_input_paths(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        SCHEDULING,
        "/appointments",
        422,
        error_body(
            "validation_failed",
            "no such social worker for this client organisation",
            [
                ("body.worker_id", "unknown, or does not serve this organisation"),
                ("body.duration_minutes", "Input should be less than or equal to 480"),
            ],
        ),
    )
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, BOOK, {"input": booking(durationMinutes=600)}, token=token)

    result = response.json()["data"]["bookAppointment"]
    assert result["__typename"] == "ValidationFailed"
    assert [field["path"] for field in result["fields"]] == ["input.workerId", "input.durationMinutes"]


@pytest.mark.asyncio
async def test_bad_input_is_refused_with_every_path_before_asking_scheduling(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await graphql(
        gateway,
        BOOK,
        {"input": booking(workerId="nope", kind="CONSULT", caseId="12", idempotencyKey="short")},
        token=token,
    )

    result = response.json()["data"]["bookAppointment"]
    assert result["__typename"] == "ValidationFailed"
    assert {field["path"] for field in result["fields"]} == {
        "input.tenantId",  # provider staff name the organisation
        "input.workerId",
        "input.caseId",
        "input.topic",  # only a manager consultation has one
        "input.idempotencyKey",
    }
    assert services.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("make_token", "overrides"),
    [
        (lambda key: key.mint("account_manager", portfolio=[str(TENANT)]), {"tenantId": str(TENANT)}),
        (lambda key: key.mint("employee", tenant_id=TENANT), {}),
        (lambda key: key.mint("client_contact", tenant_id=TENANT), {"kind": "CONSULT", "topic": None}),
        (lambda key: key.mint("client_contact", tenant_id=TENANT), {"tenantId": str(OTHER_TENANT)}),
        (lambda key: key.mint("social_worker", sub=str(OTHER_WORKER)), {"tenantId": str(TENANT)}),
    ],
    ids=["account-manager", "employee", "contact-books-a-consult", "other-organisation", "colleagues-agenda"],
)
async def test_who_may_not_book_is_refused_without_asking_scheduling(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    make_token: Callable[[SigningKey], str],
    overrides: dict[str, Any],
) -> None:
    response = await graphql(gateway, BOOK, {"input": booking(**overrides)}, token=make_token(signing_key))

    assert response.json()["data"]["bookAppointment"]["__typename"] == "Forbidden"
    assert services.requests == []


@pytest.mark.asyncio
async def test_a_booking_by_staff_shows_the_worker_from_one_more_call(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", SCHEDULING, "/appointments", booked)
    services.reply("GET", SCHEDULING, f"/workers/{WORKER}", 200, worker(WORKER, "Anouk Jansen"))
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await graphql(gateway, BOOK, {"input": booking(tenantId=str(TENANT))}, token=token)

    result = response.json()["data"]["bookAppointment"]
    assert result["appointment"]["worker"] == {"name": "Anouk Jansen"}


# -- cancelAppointment ----------------------------------------------------------------------------

CANCEL = """
mutation Cancel($input: CancelAppointmentInput!) {
  cancelAppointment(input: $input) {
    __typename
    ... on AppointmentCancelled { lateCancellation cancelledBy appointment { id status caseId } }
    ... on ValidationFailed { fields { path } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on Conflict { message }
    ... on ServiceUnavailable { message }
  }
}
"""


@pytest.mark.asyncio
async def test_an_employee_cancels_late_and_is_told_so(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        SCHEDULING,
        f"/appointments/{APPOINTMENT}/cancel",
        200,
        appointment(status="cancelled", late_cancellation=True, cancelled_by="employee"),
    )
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, CANCEL, {"input": {"appointmentId": str(APPOINTMENT)}}, token=token)

    assert response.json()["data"]["cancelAppointment"] == {
        "__typename": "AppointmentCancelled",
        "lateCancellation": True,
        "cancelledBy": "EMPLOYEE",
        "appointment": {"id": str(APPOINTMENT), "status": "CANCELLED", "caseId": str(CASE)},
    }
    [call] = services.calls(SCHEDULING, f"/appointments/{APPOINTMENT}/cancel")
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "code", "typename"),
    [(404, "not_found", "NotFound"), (409, "conflict", "Conflict"), (403, "forbidden", "Forbidden")],
)
async def test_schedulings_refusals_of_a_cancellation_are_union_members(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    status: int,
    code: str,
    typename: str,
) -> None:
    services.reply(
        "POST", SCHEDULING, f"/appointments/{APPOINTMENT}/cancel", status, error_body(code, f"refused: {code}")
    )
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, CANCEL, {"input": {"appointmentId": str(APPOINTMENT)}}, token=token)

    assert response.json()["data"]["cancelAppointment"] == {"__typename": typename, "message": f"refused: {code}"}


@pytest.mark.asyncio
async def test_a_malformed_appointment_id_is_a_validation_failure(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, CANCEL, {"input": {"appointmentId": "42"}}, token=token)

    assert response.json()["data"]["cancelAppointment"] == {
        "__typename": "ValidationFailed",
        "fields": [{"path": "input.appointmentId"}],
    }
    assert services.requests == []


# -- scheduleWorkshop -----------------------------------------------------------------------------

SCHEDULE = """
mutation Schedule($input: ScheduleWorkshopInput!) {
  scheduleWorkshop(input: $input) {
    __typename
    ... on WorkshopScheduled { workshop { id theme title seatsAvailable trainers { name } } }
    ... on ValidationFailed { fields { path message } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on Conflict { message }
    ... on ServiceUnavailable { message }
  }
}
"""


def workshop_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "tenantId": str(TENANT),
        "theme": "GIVING_AND_RECEIVING_FEEDBACK",
        "location": "CLIENT_SITE",
        "locationDetail": "Zaal 2",
        "start": "2026-04-07T14:00:00+02:00",
        "capacity": 12,
        "trainerIds": [str(WORKER)],
    }
    values.update(overrides)
    return values


@pytest.mark.asyncio
async def test_a_provider_admin_schedules_a_workshop(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("POST", SCHEDULING, "/workshops", 201, workshop(seats_taken=0, seats_available=12))
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await graphql(gateway, SCHEDULE, {"input": workshop_input(idempotencyKey="workshop-0001")}, token=token)

    assert response.json()["data"]["scheduleWorkshop"] == {
        "__typename": "WorkshopScheduled",
        "workshop": {
            "id": str(WORKSHOP),
            "theme": "GIVING_AND_RECEIVING_FEEDBACK",
            "title": "Feedback geven en ontvangen",
            "seatsAvailable": 12,
            "trainers": [{"name": "Anouk Jansen"}],
        },
    }
    [call] = services.calls(SCHEDULING, "/workshops")
    assert json_body(call) == {
        "tenant_id": str(TENANT),
        "theme": "giving_and_receiving_feedback",
        "location": "client_site",
        "location_detail": "Zaal 2",
        "start": "2026-04-07T14:00:00+02:00",
        "capacity": 12,
        "trainer_ids": [str(WORKER)],
        "self_registration": True,
        "override_hours": False,
    }
    assert call.headers["idempotency-key"] == "workshop-0001"


@pytest.mark.asyncio
async def test_a_trainer_who_is_not_free_is_a_conflict(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    message = f"trainer {WORKER} is not free then: outside working hours, too soon, absent, or too close to another"
    services.reply("POST", SCHEDULING, "/workshops", 409, error_body("conflict", message))
    token = signing_key.mint("social_worker", sub=str(WORKER))

    response = await graphql(gateway, SCHEDULE, {"input": workshop_input()}, token=token)

    assert response.json()["data"]["scheduleWorkshop"] == {"__typename": "Conflict", "message": message}


@pytest.mark.asyncio
async def test_trainer_paths_are_mapped_and_malformed_ids_caught_early(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        SCHEDULING,
        "/workshops",
        422,
        error_body("validation_failed", "a trainer is listed twice", [("body.trainer_ids.1", "listed twice")]),
    )
    token = signing_key.mint("provider_admin", sub="admin-1")

    twice = await graphql(gateway, SCHEDULE, {"input": workshop_input(trainerIds=[str(WORKER)] * 2)}, token=token)
    malformed = await graphql(gateway, SCHEDULE, {"input": workshop_input(trainerIds=[str(WORKER), "x"])}, token=token)

    assert twice.json()["data"]["scheduleWorkshop"]["fields"] == [
        {"path": "input.trainerIds.1", "message": "listed twice"}
    ]
    assert malformed.json()["data"]["scheduleWorkshop"]["fields"] == [
        {"path": "input.trainerIds.1", "message": "not a valid id"}
    ]
    assert len(services.calls(SCHEDULING, "/workshops")) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("make_token", "overrides"),
    [
        (lambda key: key.mint("client_contact", tenant_id=TENANT), {}),
        (lambda key: key.mint("account_manager", portfolio=[str(TENANT)]), {}),
        (lambda key: key.mint("social_worker", sub=str(OTHER_WORKER)), {}),
        (lambda key: key.mint("social_worker", sub=str(WORKER)), {"overrideHours": True}),
    ],
    ids=["client-contact", "account-manager", "not-a-trainer", "override-by-a-worker"],
)
async def test_who_may_not_schedule_a_workshop_is_refused_without_asking(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    make_token: Callable[[SigningKey], str],
    overrides: dict[str, Any],
) -> None:
    response = await graphql(gateway, SCHEDULE, {"input": workshop_input(**overrides)}, token=make_token(signing_key))

    assert response.json()["data"]["scheduleWorkshop"]["__typename"] == "Forbidden"
    assert services.requests == []


# -- registerForWorkshop --------------------------------------------------------------------------

REGISTER = """
mutation Register($input: RegisterForWorkshopInput!) {
  registerForWorkshop(input: $input) {
    __typename
    ... on RegisteredForWorkshop { registration { id workshopId displayName status waitlistPosition registeredAt } }
    ... on ValidationFailed { fields { path message } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on Conflict { message }
    ... on ServiceUnavailable { message }
  }
}
"""


@pytest.mark.asyncio
async def test_an_employee_registers_themself_and_joins_the_waitlist(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    path = f"/workshops/{WORKSHOP}/registrations"
    services.reply("POST", SCHEDULING, path, 201, registration(status="waitlisted", waitlist_position=4))
    token = signing_key.mint("employee", tenant_id=TENANT)

    response = await graphql(gateway, REGISTER, {"input": {"workshopId": str(WORKSHOP)}}, token=token)

    assert response.json()["data"]["registerForWorkshop"] == {
        "__typename": "RegisteredForWorkshop",
        "registration": {
            "id": str(REGISTRATION),
            "workshopId": str(WORKSHOP),
            "displayName": None,
            "status": "WAITLISTED",
            "waitlistPosition": 4,
            "registeredAt": "2026-02-10T12:00:00+00:00",
        },
    }
    [call] = services.calls(SCHEDULING, path)
    assert json_body(call) == {}  # registering oneself: nobody is named
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.asyncio
async def test_a_client_contact_nominates_a_participant(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    path = f"/workshops/{WORKSHOP}/registrations"
    services.reply("POST", SCHEDULING, path, 201, registration(display_name="J. de Wit"))
    token = signing_key.mint("client_contact", tenant_id=TENANT)
    nomination = {"workshopId": str(WORKSHOP), "participantRef": "P-1042", "displayName": "J. de Wit"}

    response = await graphql(gateway, REGISTER, {"input": nomination}, token=token)

    assert response.json()["data"]["registerForWorkshop"]["registration"]["displayName"] == "J. de Wit"
    assert json_body(services.calls(SCHEDULING, path)[0]) == {"participant_ref": "P-1042", "display_name": "J. de Wit"}


@pytest.mark.asyncio
async def test_an_employee_may_not_nominate_a_colleague(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("employee", tenant_id=TENANT)
    nomination = {"workshopId": str(WORKSHOP), "participantRef": "P-1042", "displayName": "J. de Wit"}

    response = await graphql(gateway, REGISTER, {"input": nomination}, token=token)

    assert response.json()["data"]["registerForWorkshop"]["__typename"] == "Forbidden"
    assert services.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (409, error_body("conflict", "this participant is already registered for the workshop"), "Conflict"),
        (404, error_body("not_found", "workshop not found"), "NotFound"),
        (
            422,
            error_body(
                "validation_failed",
                "a nominated participant needs a name for the attendance register",
                [("body.display_name", "required when nominating")],
            ),
            "ValidationFailed",
        ),
    ],
)
async def test_schedulings_refusals_of_a_registration_are_union_members(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    status: int,
    error: dict[str, Any],
    expected: str,
) -> None:
    services.reply("POST", SCHEDULING, f"/workshops/{WORKSHOP}/registrations", status, error)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(
        gateway, REGISTER, {"input": {"workshopId": str(WORKSHOP), "participantRef": "P-1042"}}, token=token
    )

    result = response.json()["data"]["registerForWorkshop"]
    assert result["__typename"] == expected
    if expected == "ValidationFailed":
        assert result["fields"] == [{"path": "input.displayName", "message": "required when nominating"}]


# -- scheduling down ------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", [answer_503, refuse_connection])
async def test_scheduling_down_fails_only_its_own_field(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    services.on("GET", SCHEDULING, "/appointments", answer)
    token = signing_key.mint("social_worker", sub=str(WORKER))
    query = "query($from: DateTime!, $to: DateTime!) { me { subject } agenda(from: $from, to: $to) { nodes { id } } }"

    response = await graphql(gateway, query, WEEK, token=token)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": {"subject": str(WORKER)}, "agenda": None}
    [error] = body["errors"]
    assert error["path"] == ["agenda"]
    assert error["message"] == "the scheduling service is unavailable; retry shortly"
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


@pytest.mark.asyncio
async def test_scheduling_down_is_a_service_unavailable_booking(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", SCHEDULING, "/appointments", answer_503)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, BOOK, {"input": booking()}, token=token)

    assert response.json()["data"]["bookAppointment"] == {
        "__typename": "ServiceUnavailable",
        "message": "the scheduling service is unavailable; retry shortly",
    }


@pytest.mark.asyncio
async def test_an_unreachable_worker_fails_only_the_worker_field(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SCHEDULING, "/appointments", 200, {"items": [appointment()], "next_cursor": None})
    services.on("GET", SCHEDULING, f"/workers/{WORKER}", answer_503)
    token = signing_key.mint("social_worker", sub=str(WORKER))

    body = (await graphql(gateway, AGENDA, WEEK, token=token)).json()

    [node] = body["data"]["agenda"]["nodes"]
    assert node["id"] == str(APPOINTMENT)
    assert node["worker"] is None
    [error] = body["errors"]
    assert error["path"] == ["agenda", "nodes", 0, "worker"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
