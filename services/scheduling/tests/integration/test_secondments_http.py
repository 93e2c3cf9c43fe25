"""Secondment blocks, walk-in consultation hours and logged hours over HTTP, on the real database and broker."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from bmw.contracts.taxonomy import AppointmentKind
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.scheduling.adapters.tables import ABSENCES, APPOINTMENTS, SECONDMENT_HOURS
from bmw.scheduling.application.appointments import Appointment, insert_appointment
from bmw.scheduling.domain.availability import AMSTERDAM, is_public_holiday

pytestmark = pytest.mark.integration

TOPIC = "bmw.scheduling.events"
HOURS_LOGGED = "scheduling.secondment.hours_logged.v1"


@pytest.fixture(scope="module")
async def secondments(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as service:
        yield service


async def new_worker(service: ServiceUnderTest, dev_keys: Any, *tenants: uuid.UUID) -> tuple[str, dict[str, str]]:
    worker_id = str(uuid.uuid4())
    payload = {"id": worker_id, "name": "Sanne de Vries", "tenant_ids": [str(t) for t in tenants]}
    created = await service.client.post("/workers", json=payload, headers=bearer(dev_keys.mint("provider_admin")))
    assert created.status_code == 201, created.text
    return worker_id, bearer(dev_keys.mint("social_worker", sub=worker_id))


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=AMSTERDAM)


def future_weekday(days_ahead: int = 14) -> date:
    """A weekday at least ``days_ahead`` days from now that is no holiday, nor one or two weeks later."""
    day = datetime.now(AMSTERDAM).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5 or any(is_public_holiday(day + timedelta(weeks=w)) for w in range(4)):
        day += timedelta(days=1)
    return day


def block(worker_id: str, tenant: uuid.UUID, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "tenant_id": str(tenant),
        "start": start.isoformat(),
        "end": end.isoformat(),
        **extra,
    }


async def count_blocks(service: ServiceUnderTest, worker_id: str) -> int:
    async with service.sessions() as session:
        count = await session.scalar(select(func.count()).where(APPOINTMENTS.c.worker_id == uuid.UUID(worker_id)))
    return int(count or 0)


async def past_block(service: ServiceUnderTest, worker_id: str, tenant: uuid.UUID, day: date) -> None:
    """A secondment block that already took place (09:00-17:00 local), written straight into the database."""
    appointment = Appointment(
        uuid.uuid4(),
        tenant,
        uuid.UUID(worker_id),
        AppointmentKind.SECONDMENT_BLOCK,
        None,
        local(day, 9).astimezone(UTC),
        local(day, 17).astimezone(UTC),
    )
    async with service.sessions() as session, session.begin():
        assert await insert_appointment(session, appointment, client_ref=None, booked_by="test")


def last_sunday_of_october(year: int) -> date:
    day = date(year, 10, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


async def test_a_weekly_block_keeps_its_local_time_across_the_autumn_clock_change(
    secondments: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(secondments, dev_keys, tenant)
    today = datetime.now(AMSTERDAM).date()
    change = last_sunday_of_october(today.year)
    if change - timedelta(days=6) <= today:
        change = last_sunday_of_october(today.year + 1)
    monday = change - timedelta(days=6)  # summer time; a week later it is winter time
    created = await secondments.client.post(
        "/secondments",
        json=block(worker_id, tenant, local(monday, 9), local(monday, 17), repeat_weekly=1),
        headers=worker,
    )
    assert created.status_code == 201, created.text
    blocks = created.json()["blocks"]
    assert created.json()["skipped_dates"] == []
    starts = [datetime.fromisoformat(b["start"]) for b in blocks]
    ends = [datetime.fromisoformat(b["end"]) for b in blocks]
    assert [s.astimezone(AMSTERDAM).time() for s in starts] == [time(9), time(9)]
    assert [e.astimezone(AMSTERDAM).time() for e in ends] == [time(17), time(17)]
    assert [s.astimezone(AMSTERDAM).date() for s in starts] == [monday, monday + timedelta(days=7)]
    assert starts[0].astimezone(UTC).time() == time(7), "09:00 CEST is 07:00 UTC"
    assert starts[1].astimezone(UTC).time() == time(8), "09:00 CET is 08:00 UTC"
    assert starts[1] - starts[0] == timedelta(days=7, hours=1)
    assert all(b["location"] == "client_site" and b["walk_in"] is False for b in blocks)
    assert await count_blocks(secondments, worker_id) == 2

    async def booked() -> bool:
        records = await read_topic(
            secondments.bootstrap,
            TOPIC,
            match=lambda h: (
                h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == "scheduling.appointment.booked.v1"
            ),
            idle_ms=300,
        )
        kinds = {json.loads(value)["kind"] for _, value in records}
        return len(records) == 2 and kinds == {"secondment_block"}

    await eventually(booked, what="one booked event per secondment block")


async def test_a_repeated_block_skips_a_dutch_public_holiday_and_says_so(
    secondments: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, _ = await new_worker(secondments, dev_keys, tenant)
    holiday = datetime.now(AMSTERDAM).date() + timedelta(days=8)
    while not (
        is_public_holiday(holiday)
        and not is_public_holiday(holiday - timedelta(days=7))
        and not is_public_holiday(holiday + timedelta(days=7))
    ):
        holiday += timedelta(days=1)
    first = holiday - timedelta(days=7)
    created = await secondments.client.post(
        "/secondments",
        json=block(worker_id, tenant, local(first, 13), local(first, 16), walk_in=True, repeat_weekly=2),
        headers=bearer(dev_keys.mint("provider_admin")),
    )
    assert created.status_code == 201, created.text
    assert created.json()["skipped_dates"] == [holiday.isoformat()]
    days = [datetime.fromisoformat(b["start"]).astimezone(AMSTERDAM).date() for b in created.json()["blocks"]]
    assert days == [first, holiday + timedelta(days=7)]
    assert all(b["walk_in"] is True for b in created.json()["blocks"])
    assert await count_blocks(secondments, worker_id) == 2


async def test_a_clash_in_any_week_refuses_the_whole_series(secondments: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(secondments, dev_keys, tenant)
    first = future_weekday()
    clash_day = first + timedelta(weeks=2)
    consult = Appointment(
        uuid.uuid4(),
        tenant,
        uuid.UUID(worker_id),
        AppointmentKind.CONSULT,
        None,
        local(clash_day, 11).astimezone(UTC),
        local(clash_day, 11, 45).astimezone(UTC),
    )
    async with secondments.sessions() as session, session.begin():
        assert await insert_appointment(session, consult, client_ref=None, booked_by="test")
    before = await count_blocks(secondments, worker_id)
    refused = await secondments.client.post(
        "/secondments",
        json=block(worker_id, tenant, local(first, 9), local(first, 17), repeat_weekly=3),
        headers=worker,
    )
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["details"]["conflicting_date"] == clash_day.isoformat()
    assert clash_day.isoformat() in error["message"]
    assert await count_blocks(secondments, worker_id) == before == 1, "nothing of the series was created"
    # The weeks before the clash are free: without the clashing week the same request succeeds.
    allowed = await secondments.client.post(
        "/secondments",
        json=block(worker_id, tenant, local(first, 9), local(first, 17), repeat_weekly=1),
        headers=worker,
    )
    assert allowed.status_code == 201, allowed.text
    assert await count_blocks(secondments, worker_id) == 3
    # Leave in the fourth week refuses a series over it just the same.
    leave_day = first + timedelta(weeks=3)
    async with secondments.sessions() as session, session.begin():
        await session.execute(
            insert(ABSENCES).values(
                id=uuid.uuid4(),
                worker_id=uuid.UUID(worker_id),
                starts_at=local(leave_day, 0).astimezone(UTC),
                ends_at=local(leave_day + timedelta(days=1), 0).astimezone(UTC),
                reason="leave",
            )
        )
    on_leave = await secondments.client.post(
        "/secondments",
        json=block(worker_id, tenant, local(leave_day, 9), local(leave_day, 17), repeat_weekly=1),
        headers=worker,
    )
    assert on_leave.status_code == 409, on_leave.text
    assert on_leave.json()["error"]["details"] == {"current_state": "absent", "conflicting_date": leave_day.isoformat()}
    assert await count_blocks(secondments, worker_id) == 3


async def test_an_idempotency_key_replay_creates_nothing_new(secondments: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, _ = await new_worker(secondments, dev_keys, tenant)
    admin = bearer(dev_keys.mint("provider_admin", sub=str(uuid.uuid4())))
    day = future_weekday()
    body = block(worker_id, tenant, local(day, 9), local(day, 12), walk_in=True, repeat_weekly=2)
    headers = {**admin, "Idempotency-Key": f"secondment-{uuid.uuid4()}"}
    first = await secondments.client.post("/secondments", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert await count_blocks(secondments, worker_id) == 3
    again = await secondments.client.post("/secondments", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert await count_blocks(secondments, worker_id) == 3, "the repeat created no blocks"
    different = await secondments.client.post("/secondments", json={**body, "walk_in": False}, headers=headers)
    assert different.status_code == 422
    assert [f["path"] for f in different.json()["error"]["fields"]] == ["header.Idempotency-Key"]
    assert await count_blocks(secondments, worker_id) == 3


@pytest.mark.parametrize(
    ("start", "end", "path", "words"),
    [
        ((10, 0), (9, 0), "body.end", "after the start"),
        ((7, 0), (17, 30), "body.end", "10 hours"),
        ((20, 0), (26, 0), "body.end", "midnight"),
    ],
)
async def test_bad_blocks_get_a_422_naming_the_field_and_change_nothing(
    secondments: ServiceUnderTest,
    dev_keys: Any,
    start: tuple[int, int],
    end: tuple[int, int],
    path: str,
    words: str,
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(secondments, dev_keys, tenant)
    day = future_weekday()
    begin = local(day, *start)
    finish = local(day + timedelta(days=end[0] // 24), end[0] % 24, end[1])
    refused = await secondments.client.post(
        "/secondments", json=block(worker_id, tenant, begin, finish), headers=worker
    )
    assert refused.status_code == 422, refused.text
    fields = refused.json()["error"]["fields"]
    assert [f["path"] for f in fields] == [path]
    assert words in fields[0]["message"]
    assert await count_blocks(secondments, worker_id) == 0


async def test_who_may_plan_blocks_and_where(secondments: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    worker_id, worker = await new_worker(secondments, dev_keys, tenant)
    day = future_weekday()
    body = block(worker_id, tenant, local(day, 9), local(day, 12))
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    assert (await secondments.client.post("/secondments", json=body, headers=colleague)).status_code == 403
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    assert (await secondments.client.post("/secondments", json=body, headers=contact)).status_code == 403
    elsewhere = await secondments.client.post("/secondments", json={**body, "tenant_id": str(other)}, headers=worker)
    assert elsewhere.status_code == 422
    assert elsewhere.json()["error"]["fields"][0]["path"] == "body.tenant_id"
    past = datetime.now(AMSTERDAM).date() - timedelta(days=1)
    yesterday = await secondments.client.post(
        "/secondments", json=block(worker_id, tenant, local(past, 9), local(past, 11)), headers=worker
    )
    assert yesterday.status_code == 422
    assert yesterday.json()["error"]["fields"][0]["path"] == "body.start"
    too_many = await secondments.client.post("/secondments", json={**body, "repeat_weekly": 53}, headers=worker)
    assert too_many.status_code == 422
    assert too_many.json()["error"]["fields"][0]["path"] == "body.repeat_weekly"
    assert await count_blocks(secondments, worker_id) == 0


async def test_employees_see_their_organisations_walk_in_hours_and_nothing_else(
    secondments: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    worker_id, worker = await new_worker(secondments, dev_keys, tenant)
    day = future_weekday()
    walk_in = await secondments.client.post(
        "/secondments", json=block(worker_id, tenant, local(day, 9), local(day, 11), walk_in=True), headers=worker
    )
    support = await secondments.client.post(
        "/secondments", json=block(worker_id, tenant, local(day, 13), local(day, 17)), headers=worker
    )
    assert walk_in.status_code == support.status_code == 201, (walk_in.text, support.text)
    params = {
        "tenant_id": str(tenant),
        "from": local(day, 0).isoformat(),
        "to": local(day + timedelta(days=1), 0).isoformat(),
    }
    employee = bearer(dev_keys.mint("employee", tenant_id=tenant))
    seen = await secondments.client.get("/secondments", params=params, headers=employee)
    assert seen.status_code == 200, seen.text
    assert [b["id"] for b in seen.json()] == [walk_in.json()["blocks"][0]["id"]]
    shown = seen.json()[0]
    assert shown["worker_name"] == "Sanne de Vries" and shown["location"] == "client_site"
    assert set(shown) == {
        "id",
        "tenant_id",
        "worker_id",
        "worker_name",
        "start",
        "end",
        "location",
        "walk_in",
        "status",
    }
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    everything = await secondments.client.get("/secondments", params=params, headers=contact)
    assert [b["walk_in"] for b in everything.json()] == [True, False]
    stranger = bearer(dev_keys.mint("employee", tenant_id=other))
    refused = await secondments.client.get("/secondments", params=params, headers=stranger)
    assert refused.status_code == 403
    assert "Sanne" not in refused.text
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    assert (await secondments.client.get("/secondments", params=params, headers=colleague)).json() == []
    assert len((await secondments.client.get("/secondments", params=params, headers=worker)).json()) == 2


async def test_logging_hours_publishes_the_exact_hours_once_per_day(
    secondments: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(secondments, dev_keys, tenant)
    day = datetime.now(AMSTERDAM).date() - timedelta(days=2)
    await past_block(secondments, worker_id, tenant, day)
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "date": day.isoformat(), "hours": "7.50"}
    logged = await secondments.client.post("/secondment-hours", json=body, headers=worker)
    assert logged.status_code == 201, logged.text
    assert logged.json()["hours"] == "7.50"
    twice = await secondments.client.post("/secondment-hours", json={**body, "hours": "8"}, headers=worker)
    assert twice.status_code == 409
    assert twice.json()["error"]["details"]["current_state"] == "logged"
    async with secondments.sessions() as session:
        stored = await session.scalar(
            select(SECONDMENT_HOURS.c.hours).where(SECONDMENT_HOURS.c.worker_id == uuid.UUID(worker_id))
        )
    assert str(stored) == "7.50", "the second log changed nothing"

    found: list[dict[str, Any]] = []

    async def published() -> bool:
        nonlocal found
        records = await read_topic(
            secondments.bootstrap,
            TOPIC,
            match=lambda h: h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == HOURS_LOGGED,
            idle_ms=300,
        )
        found = [json.loads(value) for _, value in records]
        return len(found) == 1

    await eventually(published, what="one hours_logged event")
    assert found[0] == {"worker_id": worker_id, "hours": "7.50", "date": day.isoformat()}

    # A correction replaces the hours and publishes the corrected figure (the latest event counts).
    corrected = await secondments.client.put(
        f"/secondment-hours/{tenant}/{worker_id}/{day.isoformat()}", json={"hours": 7.75}, headers=worker
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["hours"] == "7.75"

    async def corrected_published() -> bool:
        records = await read_topic(
            secondments.bootstrap,
            TOPIC,
            match=lambda h: h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == HOURS_LOGGED,
            idle_ms=300,
        )
        return [json.loads(value)["hours"] for _, value in records] == ["7.50", "7.75"]

    await eventually(corrected_published, what="a second hours_logged event with the corrected hours")
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    foreign = await secondments.client.put(
        f"/secondment-hours/{tenant}/{worker_id}/{day.isoformat()}", json={"hours": "1"}, headers=colleague
    )
    assert foreign.status_code == 403


@pytest.mark.parametrize(
    ("days_ago", "hours", "path", "words"),
    [
        (2, "7.30", "body.hours", "multiple of 0.25"),
        (2, "0", "body.hours", "greater than 0"),
        (2, "24.25", "body.hours", "less than or equal to 24"),
        (3, "4", "body.date", "no secondment block"),
        (-1, "4", "body.date", "not in advance"),
    ],
)
async def test_bad_hours_get_a_422_naming_the_field_and_log_nothing(
    secondments: ServiceUnderTest, dev_keys: Any, days_ago: int, hours: str, path: str, words: str
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(secondments, dev_keys, tenant)
    today = datetime.now(AMSTERDAM).date()
    await past_block(secondments, worker_id, tenant, today - timedelta(days=2))
    day = today - timedelta(days=days_ago)
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "date": day.isoformat(), "hours": hours}
    refused = await secondments.client.post("/secondment-hours", json=body, headers=worker)
    assert refused.status_code == 422, refused.text
    fields = refused.json()["error"]["fields"]
    assert [f["path"] for f in fields] == [path]
    assert words in fields[0]["message"]
    async with secondments.sessions() as session:
        count = await session.scalar(select(func.count()).where(SECONDMENT_HOURS.c.worker_id == uuid.UUID(worker_id)))
    assert count == 0


async def test_the_hours_log_has_an_exact_total_for_those_who_may_see_it(
    secondments: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    worker_id, worker = await new_worker(secondments, dev_keys, tenant)
    today = datetime.now(AMSTERDAM).date()
    days = [today - timedelta(days=n) for n in (4, 3)]
    for day, hours in zip(days, ("7.75", "0.50"), strict=True):
        await past_block(secondments, worker_id, tenant, day)
        admin = bearer(dev_keys.mint("provider_admin"))
        body = {"worker_id": worker_id, "tenant_id": str(tenant), "date": day.isoformat(), "hours": hours}
        assert (await secondments.client.post("/secondment-hours", json=body, headers=admin)).status_code == 201
    params = {"tenant_id": str(tenant), "from": days[0].isoformat(), "to": today.isoformat()}
    for reader in (
        dev_keys.mint("client_contact", tenant_id=tenant),
        dev_keys.mint("account_manager", portfolio=[tenant]),
        dev_keys.mint("provider_admin"),
    ):
        page = await secondments.client.get("/secondment-hours", params=params, headers=bearer(reader))
        assert page.status_code == 200, page.text
        assert page.json()["total_hours"] == "8.25"
        assert [(e["date"], e["hours"]) for e in page.json()["entries"]] == [
            (days[0].isoformat(), "7.75"),
            (days[1].isoformat(), "0.50"),
        ]
    own = await secondments.client.get("/secondment-hours", params=params, headers=worker)
    assert own.json()["total_hours"] == "8.25"
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    assert (await secondments.client.get("/secondment-hours", params=params, headers=colleague)).json()[
        "total_hours"
    ] == "0.00"
    for outsider in (
        dev_keys.mint("employee", tenant_id=tenant),
        dev_keys.mint("client_contact", tenant_id=other),
        dev_keys.mint("account_manager", portfolio=[other]),
    ):
        refused = await secondments.client.get("/secondment-hours", params=params, headers=bearer(outsider))
        assert refused.status_code == 403
    backwards = await secondments.client.get(
        "/secondment-hours", params={**params, "to": (days[0] - timedelta(days=1)).isoformat()}, headers=worker
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["fields"][0]["path"] == "query.to"
