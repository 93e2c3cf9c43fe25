"""Calendar feeds over HTTP, against the real database: secret-URL feeds parsed with a real iCalendar parser."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from icalendar import Calendar
from sqlalchemy import insert, select, update

from bmw.contracts.pseudonyms import login_digest
from bmw.devstack.testing import ServiceUnderTest, bearer, service_under_test
from bmw.scheduling.adapters.tables import (
    APPOINTMENTS,
    CALENDAR_FEEDS,
    PENDING_INTAKES,
    WORKSHOP_REGISTRATIONS,
    WORKSHOPS,
)

pytestmark = pytest.mark.integration

EVERY_DAY = {
    day: [["00:00", "23:45"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}
FEED_PATH = re.compile(r"^/calendar/feeds/([A-Za-z0-9_-]{43})\.ics$")


@pytest.fixture(scope="module")
async def scheduling(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as service:
        yield service


async def new_worker(service: ServiceUnderTest, dev_keys: Any, tenant: uuid.UUID) -> tuple[str, dict[str, str]]:
    worker_id = str(uuid.uuid4())
    payload = {"id": worker_id, "name": "Wendy Werker", "tenant_ids": [str(tenant)], "weekly_hours": EVERY_DAY}
    created = await service.client.post("/workers", json=payload, headers=bearer(dev_keys.mint("provider_admin")))
    assert created.status_code == 201, created.text
    return worker_id, bearer(dev_keys.mint("social_worker", sub=worker_id))


async def open_case(service: ServiceUnderTest, tenant: uuid.UUID, employee_sub: str) -> tuple[uuid.UUID, str]:
    """A case as intake would have announced it (with the employee's pseudonym and login digest)."""
    case_id, client_ref = uuid.uuid4(), f"cr-{uuid.uuid4().hex[:12]}"
    async with service.sessions() as session, session.begin():
        await session.execute(
            insert(PENDING_INTAKES).values(
                case_id=case_id,
                tenant_id=tenant,
                org_unit_id=uuid.uuid4(),
                client_ref=client_ref,
                category="workload_stress",
                urgency="normal",
                sla_deadline=datetime.now(UTC) + timedelta(days=5),
                language="nl",
                employee_login=login_digest(employee_sub),
                outcome="booked",
            )
        )
    return case_id, client_ref


async def book(
    service: ServiceUnderTest,
    headers: dict[str, str],
    worker_id: str,
    tenant: uuid.UUID,
    *,
    after: timedelta,
    case_id: uuid.UUID | None = None,
    kind: str = "consult",
) -> dict[str, Any]:
    start = datetime.now(UTC) + after
    params = {"from": start.isoformat(), "to": (start + timedelta(days=10)).isoformat(), "kind": kind}
    slots = await service.client.get(f"/workers/{worker_id}/free-slots", params=params, headers=headers)
    assert slots.status_code == 200, slots.text
    body: dict[str, Any] = {
        "worker_id": worker_id,
        "tenant_id": str(tenant),
        "kind": kind,
        "start": slots.json()["slots"][0],
        "location": "video",
    }
    if case_id is not None:
        body["case_id"] = str(case_id)
    booked = await service.client.post("/appointments", json=body, headers=headers)
    assert booked.status_code == 201, booked.text
    result: dict[str, Any] = booked.json()
    return result


async def issue_feed(service: ServiceUnderTest, path: str, headers: dict[str, str]) -> str:
    issued = await service.client.post(path, headers=headers)
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    feed_path = issued.json()["path"]
    assert FEED_PATH.match(feed_path), feed_path
    return str(feed_path)


def parse_calendar(response: httpx.Response) -> Calendar:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def vevents(calendar: Calendar) -> dict[str, Any]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


async def test_a_worker_feed_is_read_without_a_bearer_token_and_parses(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, _ = await scheduling.register_tenant("Logistiek")
    worker_id, worker = await new_worker(scheduling, dev_keys, tenant)
    employee_sub = f"emp-{uuid.uuid4().hex[:8]}"
    case_id, client_ref = await open_case(scheduling, tenant, employee_sub)
    path = await issue_feed(scheduling, f"/workers/{worker_id}/calendar-feed", worker)
    consult = await book(scheduling, worker, worker_id, tenant, after=timedelta(days=2), case_id=case_id)
    manager = await book(scheduling, worker, worker_id, tenant, after=timedelta(days=4), kind="manager_consultation")
    cancelled = await scheduling.client.post(f"/appointments/{manager['id']}/cancel", headers=worker)
    assert cancelled.status_code == 200, cancelled.text

    response = await scheduling.client.get(path)  # no Authorization header: the secret URL is the credential
    assert response.headers["cache-control"] == "private, max-age=300"
    calendar = parse_calendar(response)
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Amsterdam"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]
    events = vevents(calendar)
    assert set(events) == {f"{consult['id']}@bmw-scheduling", f"{manager['id']}@bmw-scheduling"}
    booked_event = events[f"{consult['id']}@bmw-scheduling"]
    assert booked_event.decoded("DTSTART").astimezone(UTC) == datetime.fromisoformat(consult["start"])
    assert booked_event.decoded("DTEND").astimezone(UTC) == datetime.fromisoformat(consult["end"])
    assert booked_event["DTSTART"].params["TZID"] == "Europe/Amsterdam"
    assert str(booked_event["SUMMARY"]) == "Consult – Test BV", "the worker's own feed names the organisation"
    assert str(booked_event["LOCATION"]) == "Video"
    assert str(booked_event["STATUS"]) == "CONFIRMED"
    assert str(events[f"{manager['id']}@bmw-scheduling"]["STATUS"]) == "CANCELLED"

    async with scheduling.sessions() as session:
        stored = (
            await session.execute(
                select(APPOINTMENTS.c.client_ref, APPOINTMENTS.c.employee_login).where(
                    APPOINTMENTS.c.id == uuid.UUID(consult["id"])
                )
            )
        ).one()
    assert stored == (client_ref, login_digest(employee_sub)), "the appointment does carry the client's pseudonyms"
    text = response.content.replace(b"\r\n ", b"").decode()
    for secret in (client_ref, str(case_id), login_digest(employee_sub), employee_sub, "Wendy", "Werker"):
        assert secret not in text, secret


async def test_only_a_hash_of_the_feed_token_is_stored(scheduling: ServiceUnderTest, dev_keys: Any) -> None:
    worker_id, worker = await new_worker(scheduling, dev_keys, uuid.uuid4())
    path = await issue_feed(scheduling, f"/workers/{worker_id}/calendar-feed", worker)
    match = FEED_PATH.match(path)
    assert match is not None
    token = match.group(1)
    async with scheduling.sessions() as session:
        rows = (
            await session.execute(select(CALENDAR_FEEDS).where(CALENDAR_FEEDS.c.owner_id == uuid.UUID(worker_id)))
        ).all()
    assert len(rows) == 1
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (rows[0].scope, rows[0].created_by) == ("worker", worker_id)
    assert token not in repr(tuple(rows[0]))


async def test_rotating_the_token_kills_the_old_url_and_deleting_kills_the_feed(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    worker_id, worker = await new_worker(scheduling, dev_keys, uuid.uuid4())
    first = await issue_feed(scheduling, f"/workers/{worker_id}/calendar-feed", worker)
    assert (await scheduling.client.get(first)).status_code == 200
    admin = bearer(dev_keys.mint("provider_admin"))
    second = await issue_feed(scheduling, f"/workers/{worker_id}/calendar-feed", admin)
    assert second != first
    assert_not_found(await scheduling.client.get(first))
    parse_calendar(await scheduling.client.get(second))

    revoked = await scheduling.client.delete(f"/workers/{worker_id}/calendar-feed", headers=worker)
    assert revoked.status_code == 204, revoked.text
    assert_not_found(await scheduling.client.get(second))
    assert_not_found(await scheduling.client.delete(f"/workers/{worker_id}/calendar-feed", headers=worker))


@pytest.mark.parametrize(
    "token",
    ["x" * 43, "does-not-exist", "a" * 500, "..%2F..%2Fetc"],
)
async def test_unknown_feed_tokens_are_404(scheduling: ServiceUnderTest, token: str) -> None:
    assert_not_found(await scheduling.client.get(f"/calendar/feeds/{token}.ics"))


async def test_a_control_character_in_a_feed_url_is_bad_input_not_a_lookup(scheduling: ServiceUnderTest) -> None:
    refused = await scheduling.client.get("/calendar/feeds/%00.ics")
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["path"] == "path"


async def test_only_the_worker_or_an_admin_manages_a_worker_feed(scheduling: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, _ = await new_worker(scheduling, dev_keys, tenant)
    path = f"/workers/{worker_id}/calendar-feed"
    colleague = bearer(dev_keys.mint("social_worker"))
    for headers in (
        colleague,
        bearer(dev_keys.mint("employee", tenant_id=tenant, sub=worker_id)),
        bearer(dev_keys.mint("client_contact", tenant_id=tenant)),
        bearer(dev_keys.mint("account_manager", portfolio=[tenant])),
    ):
        assert (await scheduling.client.post(path, headers=headers)).status_code == 403
        assert (await scheduling.client.delete(path, headers=headers)).status_code == 403
    assert (await scheduling.client.post(path)).status_code == 401
    async with scheduling.sessions() as session:
        feeds = await session.scalar(select(CALENDAR_FEEDS.c.token_hash).where(CALENDAR_FEEDS.c.owner_id == worker_id))
    assert feeds is None, "a refused request issued nothing"
    admin = bearer(dev_keys.mint("provider_admin"))
    assert_not_found(await scheduling.client.post(f"/workers/{uuid.uuid4()}/calendar-feed", headers=admin))
    bad = await scheduling.client.post("/workers/not-a-uuid/calendar-feed", headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "path.worker_id"


async def test_the_appointment_ics_is_only_for_who_may_see_the_appointment(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, other_tenant = uuid.uuid4(), uuid.uuid4()
    worker_id, worker = await new_worker(scheduling, dev_keys, tenant)
    employee_sub = f"emp-{uuid.uuid4().hex[:8]}"
    case_id, client_ref = await open_case(scheduling, tenant, employee_sub)
    consult = await book(scheduling, worker, worker_id, tenant, after=timedelta(days=3), case_id=case_id)
    path = f"/appointments/{consult['id']}/calendar.ics"

    employee = bearer(dev_keys.mint("employee", tenant_id=tenant, sub=employee_sub))
    response = await scheduling.client.get(path, headers=employee)
    calendar = parse_calendar(response)
    assert response.headers["content-disposition"] == f'attachment; filename="afspraak-{consult["id"]}.ics"'
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"{consult['id']}@bmw-scheduling"
    assert event.decoded("DTSTART").astimezone(UTC) == datetime.fromisoformat(consult["start"])
    assert str(event["SUMMARY"]) == "Consult"
    text = response.content.replace(b"\r\n ", b"").decode()
    for secret in (client_ref, str(case_id), login_digest(employee_sub), employee_sub, "Wendy"):
        assert secret not in text, secret

    for allowed in (worker, bearer(dev_keys.mint("provider_admin"))):
        parse_calendar(await scheduling.client.get(path, headers=allowed))
    unknown = await scheduling.client.get(f"/appointments/{uuid.uuid4()}/calendar.ics", headers=employee)
    assert_not_found(unknown)
    for stranger in (
        bearer(dev_keys.mint("employee", tenant_id=other_tenant, sub=employee_sub)),  # same login, other tenant
        bearer(dev_keys.mint("employee", tenant_id=tenant)),  # a colleague
        bearer(dev_keys.mint("social_worker")),  # not their social worker
        bearer(dev_keys.mint("client_contact", tenant_id=tenant)),  # HR never sees an employee's consult
        bearer(dev_keys.mint("account_manager", portfolio=[tenant])),
    ):
        refused = await scheduling.client.get(path, headers=stranger)
        assert_not_found(refused)
        assert refused.json()["error"]["message"] == unknown.json()["error"]["message"], "existence is not revealed"
    assert (await scheduling.client.get(path)).status_code == 401


async def test_the_workshop_feed_lists_the_organisations_workshops_and_no_participants(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, _ = await scheduling.register_tenant("Planning")
    other, _ = await scheduling.register_tenant("Inkoop")
    now = datetime.now(UTC).replace(microsecond=0)
    workshop: dict[str, Any] = {
        "id": uuid.uuid4(),
        "tenant_id": tenant,
        "theme": "giving_and_receiving_feedback",
        "title": "Feedback geven en ontvangen voor teamleiders",
        "location": "client_site",
        "location_detail": "Vergaderzaal De Brug, tweede verdieping, Stationsplein 1, 3511 ED Utrecht",
        "starts_at": now + timedelta(days=20),
        "ends_at": now + timedelta(days=20, hours=3),
        "capacity": 12,
        "trainer_ids": [uuid.uuid4()],
        "created_by": "test",
        "status": "scheduled",  # every row names every column: an executemany takes its columns from the first
    }
    cancelled = {**workshop, "id": uuid.uuid4(), "title": "Werken in een hybride team", "status": "cancelled"}
    cancelled.update(theme="working_in_a_hybrid_team", starts_at=now + timedelta(days=40))
    cancelled["ends_at"] = cancelled["starts_at"] + timedelta(hours=2)
    far_away = {**workshop, "id": uuid.uuid4(), "starts_at": now + timedelta(days=400)}
    far_away["ends_at"] = far_away["starts_at"] + timedelta(hours=2)
    elsewhere = {**workshop, "id": uuid.uuid4(), "tenant_id": other, "title": "Alleen voor Inkoop"}
    participant = f"emp-{uuid.uuid4().hex[:8]}"
    async with scheduling.sessions() as session, session.begin():
        await session.execute(insert(WORKSHOPS), [workshop, cancelled, far_away, elsewhere])
        await session.execute(
            insert(WORKSHOP_REGISTRATIONS).values(
                id=uuid.uuid4(),
                workshop_id=workshop["id"],
                tenant_id=tenant,
                participant=participant,
                display_name="Pieter Post",
                status="registered",
                registered_by=participant,
            )
        )

    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    path = f"/client-organisations/{tenant}/workshop-feed"
    for refused in (
        bearer(dev_keys.mint("client_contact", tenant_id=other)),
        bearer(dev_keys.mint("employee", tenant_id=tenant)),
        bearer(dev_keys.mint("social_worker")),
    ):
        assert (await scheduling.client.post(path, headers=refused)).status_code == 403
    admin = bearer(dev_keys.mint("provider_admin"))
    assert_not_found(await scheduling.client.post(f"/client-organisations/{uuid.uuid4()}/workshop-feed", headers=admin))
    feed = await issue_feed(scheduling, path, contact)

    response = await scheduling.client.get(feed)
    calendar = parse_calendar(response)
    assert str(calendar["X-WR-CALNAME"]) == "Workshops Test BV"
    events = vevents(calendar)
    assert set(events) == {f"workshop-{workshop['id']}@bmw-scheduling", f"workshop-{cancelled['id']}@bmw-scheduling"}
    shown = events[f"workshop-{workshop['id']}@bmw-scheduling"]
    assert str(shown["SUMMARY"]) == f"Workshop: {workshop['title']}"
    assert str(shown["DESCRIPTION"]) == "Thema: Feedback geven en ontvangen"
    assert str(shown["LOCATION"]) == f"Op locatie bij de klant, {workshop['location_detail']}"
    assert shown.decoded("DTSTART").astimezone(UTC) == workshop["starts_at"]
    assert shown.decoded("DTEND").astimezone(UTC) == workshop["ends_at"]
    assert str(events[f"workshop-{cancelled['id']}@bmw-scheduling"]["STATUS"]) == "CANCELLED"
    text = response.content.replace(b"\r\n ", b"").decode()
    for secret in ("Pieter", "Post", participant, "Alleen voor Inkoop"):
        assert secret not in text, secret

    rotated = await issue_feed(scheduling, path, admin)
    assert_not_found(await scheduling.client.get(feed))
    async with scheduling.sessions() as session, session.begin():
        await session.execute(update(WORKSHOPS).where(WORKSHOPS.c.id == workshop["id"]).values(status="cancelled"))
    again = vevents(parse_calendar(await scheduling.client.get(rotated)))
    assert str(again[f"workshop-{workshop['id']}@bmw-scheduling"]["STATUS"]) == "CANCELLED"
    assert (await scheduling.client.delete(path, headers=contact)).status_code == 204
    assert_not_found(await scheduling.client.get(rotated))


async def test_openapi_declares_the_calendar_content_type(scheduling: ServiceUnderTest) -> None:
    spec = (await scheduling.client.get("/openapi.json")).json()
    for path in ("/calendar/feeds/{token}.ics", "/appointments/{appointment_id}/calendar.ics"):
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        assert "text/calendar" in content, path
        assert spec["paths"][path]["get"]["description"]
    assert "security" not in spec["paths"]["/calendar/feeds/{token}.ics"]["get"], "feeds take no bearer token"
