"""Scheduling's staff records and pending intakes against the real database and broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened, ClientErased
from bmw.contracts.taxonomy import AppointmentKind, Category, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.scheduling.adapters.tables import APPOINTMENTS
from bmw.scheduling.application.appointments import Appointment, insert_appointment
from bmw.scheduling.domain.availability import AMSTERDAM

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def scheduling(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as service:
        yield service


async def test_provider_admins_add_social_workers_and_others_cannot(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = uuid.uuid4()
    body = {
        "name": "Fatima El Amrani",
        "specialisms": ["burnout", "burnout"],
        "languages": ["nl", "ar"],
        "tenant_ids": [str(tenant)],
    }
    created = await scheduling.client.post("/workers", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    assert created.json()["specialisms"] == ["burnout"]
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    assert (await scheduling.client.post("/workers", json=body, headers=bearer(contact))).status_code == 403
    bad = await scheduling.client.post("/workers", json=body | {"languages": ["Dutch"]}, headers=bearer(admin))
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["path"] == "body.languages.0"
    listing = (await scheduling.client.get("/workers", headers=bearer(admin))).json()
    assert created.json()["id"] in [w["id"] for w in listing]


def opened(tenant: uuid.UUID, *, specialism: str | None = None, language: str = "nl", days: int = 5) -> CloudEvent:
    data = CaseOpened(
        case_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        client_ref="c_test",
        org_unit_id=uuid.uuid4(),
        category=Category.BURNOUT_RISK,
        urgency=Urgency.URGENT,
        sla_deadline=datetime.now(UTC) + timedelta(days=days),
        needed_specialism=specialism,
        language=language,
    )
    return CloudEvent.create(data, tenant_id=tenant)


async def scheduling_events(scheduling: ServiceUnderTest, tenant: uuid.UUID, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        nonlocal found
        records = await read_topic(
            scheduling.bootstrap,
            "bmw.scheduling.events",
            match=lambda h: h.get("ce_tenantid") == str(tenant),
            idle_ms=300,
        )
        found = [{"type": h["ce_type"], **json.loads(v)} for h, v in records]
        return len(found) >= count

    await eventually(arrived, what=f"{count} scheduling event(s)")
    return found


async def add_worker(scheduling: ServiceUnderTest, dev_keys: Any, tenant: uuid.UUID, **body: Any) -> str:
    payload = {"name": "Werker", "specialisms": [], "languages": ["nl"], "tenant_ids": [str(tenant)], **body}
    created = await scheduling.client.post("/workers", json=payload, headers=bearer(dev_keys.mint("provider_admin")))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_an_opened_case_gets_the_earliest_slot_of_the_least_loaded_suitable_worker(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    await add_worker(scheduling, dev_keys, tenant, name="Geen burn-out", specialisms=["grief"])
    dutch_only = await add_worker(scheduling, dev_keys, tenant, name="Alleen NL", specialisms=["burnout"])
    event = opened(tenant, specialism="burnout")
    await scheduling.publish([event, event])  # delivered twice: booked once
    (booked,) = await scheduling_events(scheduling, tenant, 1)
    assert booked["type"] == "scheduling.appointment.booked.v1"
    assert booked["worker_id"] == dutch_only and booked["kind"] == "intake"
    assert booked["duration_minutes"] == 60
    start = datetime.fromisoformat(booked["start"])
    assert start >= datetime.now(UTC) + timedelta(hours=2), "minimum notice"
    local = start.astimezone(AMSTERDAM)
    assert local.weekday() < 5 and time(9) <= local.time() <= time(16), "inside office hours"
    assert start + timedelta(hours=1) <= datetime.fromisoformat(event.data["sla_deadline"])

    # The next case goes to the earliest free slot after that one (with the buffer), same worker.
    await scheduling.publish([opened(tenant, specialism="burnout")])
    events = await scheduling_events(scheduling, tenant, 2)
    second = datetime.fromisoformat(events[1]["start"])
    assert second >= start + timedelta(hours=1, minutes=15) or second + timedelta(hours=1, minutes=15) <= start
    async with scheduling.sessions() as session:
        rows = (await session.execute(select(APPOINTMENTS).where(APPOINTMENTS.c.tenant_id == tenant))).all()
    assert len(rows) == 2


@pytest.mark.parametrize(
    ("workers", "case", "reason"),
    [
        ([], {}, "no_worker_serves_tenant"),
        ([{"specialisms": ["grief"]}], {"specialism": "burnout"}, "no_specialism"),
        ([{"languages": ["nl"]}], {"language": "ar"}, "no_language"),
        ([{"weekly_hours": {}}], {}, "no_capacity_before_deadline"),
        ([{}], {"days": 0}, "no_capacity_before_deadline"),
    ],
)
async def test_an_intake_that_cannot_be_scheduled_says_why(
    scheduling: ServiceUnderTest, dev_keys: Any, workers: list[dict[str, Any]], case: dict[str, Any], reason: str
) -> None:
    tenant = uuid.uuid4()
    for body in workers:
        await add_worker(scheduling, dev_keys, tenant, **body)
    await scheduling.publish([opened(tenant, **case)])
    (event,) = await scheduling_events(scheduling, tenant, 1)
    assert event["type"] == "scheduling.intake.unschedulable.v1"
    assert event["reason"] == reason


async def test_twenty_concurrent_bookings_of_one_slot_leave_exactly_one(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker = uuid.UUID(await add_worker(scheduling, dev_keys, tenant))
    start = datetime(2030, 3, 4, 9, 0, tzinfo=AMSTERDAM)

    async def book(offset_minutes: int) -> bool:
        appointment = Appointment(
            id=uuid.uuid4(),
            tenant_id=tenant,
            worker_id=worker,
            kind=AppointmentKind.CONSULT,
            case_id=None,
            start=start + timedelta(minutes=offset_minutes),
            end=start + timedelta(minutes=offset_minutes + 45),
        )
        async with scheduling.sessions() as session, session.begin():
            return await insert_appointment(session, appointment, client_ref=None, booked_by="test")

    # The same slot twenty times, some shifted so they overlap only partly: one may win.
    results = await asyncio.gather(*(book(minutes % 4 * 10) for minutes in range(20)))
    assert results.count(True) == 1
    async with scheduling.sessions() as session:
        count = await session.scalar(select(func.count()).where(APPOINTMENTS.c.worker_id == worker))
    assert count == 1
    # Right after the latest possible winner (09:30-10:15) is fine: the constraint is on overlap only.
    assert await book(75) is True


async def test_erasure_drops_the_pseudonym_and_keeps_the_time_slot(scheduling: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    await add_worker(scheduling, dev_keys, tenant)
    case = opened(tenant)
    await scheduling.publish([case])
    await scheduling_events(scheduling, tenant, 1)
    await scheduling.publish([CloudEvent.create(ClientErased(client_ref="c_test"), tenant_id=tenant)])

    async def forgotten() -> bool:
        async with scheduling.sessions() as session:
            rows = (await session.execute(select(APPOINTMENTS).where(APPOINTMENTS.c.tenant_id == tenant))).all()
        return len(rows) == 1 and rows[0].client_ref is None

    await eventually(forgotten, what="the appointment to lose its client_ref")
