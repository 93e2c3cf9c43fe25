"""The topic of a manager consultation: the theme a manager asks advice on, kept with the appointment and
carried on every appointment event so that signals can see repeated consultations on one theme."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.scheduling.adapters.tables import APPOINTMENTS

pytestmark = pytest.mark.integration

EVERY_DAY = {
    day: [["00:00", "23:45"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}
TOPIC = "reorganisation_uncertainty"


@pytest.fixture(scope="module")
async def agenda(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as service:
        yield service


async def new_worker(agenda: ServiceUnderTest, dev_keys: Any, tenant: uuid.UUID) -> tuple[str, dict[str, str]]:
    worker_id = str(uuid.uuid4())
    payload = {"id": worker_id, "name": "Werker", "tenant_ids": [str(tenant)], "weekly_hours": EVERY_DAY}
    created = await agenda.client.post("/workers", json=payload, headers=bearer(dev_keys.mint("provider_admin")))
    assert created.status_code == 201, created.text
    return worker_id, bearer(dev_keys.mint("social_worker", sub=worker_id))


async def free_slots(agenda: ServiceUnderTest, worker_id: str, headers: dict[str, str], after: timedelta) -> list[str]:
    """The worker's free manager-consultation slots from ``after`` from now."""
    start = datetime.now(UTC) + after
    params = {"from": start.isoformat(), "to": (start + timedelta(days=10)).isoformat(), "kind": "manager_consultation"}
    response = await agenda.client.get(f"/workers/{worker_id}/free-slots", params=params, headers=headers)
    assert response.status_code == 200, response.text
    slots: list[str] = response.json()["slots"]
    return slots


async def events_of(agenda: ServiceUnderTest, appointment_id: str, count: int) -> dict[str, dict[str, Any]]:
    """Scheduling's events about one appointment, by type, once ``count`` of them are on the broker."""
    found: dict[str, dict[str, Any]] = {}

    async def arrived() -> bool:
        nonlocal found
        records = await read_topic(
            agenda.bootstrap,
            "bmw.scheduling.events",
            match=lambda headers: headers.get("ce_subject") == appointment_id,
            idle_ms=300,
        )
        found = {headers["ce_type"]: json.loads(value) for headers, value in records}
        return len(found) >= count

    await eventually(arrived, what=f"{count} events of appointment {appointment_id}")
    return found


async def stored_topics(agenda: ServiceUnderTest, worker_id: str) -> list[str | None]:
    async with agenda.sessions() as session:
        rows = await session.execute(
            select(APPOINTMENTS.c.topic).where(APPOINTMENTS.c.worker_id == uuid.UUID(worker_id))
        )
    return list(rows.scalars())


async def test_a_manager_consultation_keeps_its_topic_in_reads_and_on_every_event(
    agenda: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(agenda, dev_keys, tenant)
    first, *_, later = await free_slots(agenda, worker_id, worker, timedelta(days=3))
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "kind": "manager_consultation", "start": first}
    booked = await agenda.client.post("/appointments", json={**body, "topic": TOPIC}, headers=contact)
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]
    assert booked.json()["topic"] == TOPIC

    read = await agenda.client.get(f"/appointments/{appointment_id}", headers=contact)
    assert read.status_code == 200 and read.json()["topic"] == TOPIC, read.text
    window = {"from": datetime.now(UTC).isoformat(), "to": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
    listed = (await agenda.client.get("/appointments", params=window, headers=contact)).json()["items"]
    assert [(item["id"], item["topic"]) for item in listed] == [(appointment_id, TOPIC)]
    assert await stored_topics(agenda, worker_id) == [TOPIC]

    moved = await agenda.client.post(
        f"/appointments/{appointment_id}/reschedule", json={"start": later}, headers=worker
    )
    assert moved.status_code == 200 and moved.json()["topic"] == TOPIC, moved.text
    cancelled = await agenda.client.post(f"/appointments/{appointment_id}/cancel", headers=contact)
    assert cancelled.status_code == 200 and cancelled.json()["topic"] == TOPIC, cancelled.text

    found = await events_of(agenda, appointment_id, 3)
    assert set(found) == {
        "scheduling.appointment.booked.v1",
        "scheduling.appointment.rescheduled.v1",
        "scheduling.appointment.cancelled.v1",
    }
    assert {kind: data["topic"] for kind, data in found.items()} == dict.fromkeys(found, TOPIC)
    assert found["scheduling.appointment.booked.v1"]["kind"] == "manager_consultation"


async def test_a_manager_consultation_recorded_afterwards_carries_its_topic_on_both_events(
    agenda: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(agenda, dev_keys, tenant)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    body = {
        "worker_id": worker_id,
        "tenant_id": str(tenant),
        "kind": "manager_consultation",
        "start": yesterday.isoformat(),
        "topic": "conflict_manager",
    }
    held = await agenda.client.post("/appointments/held", json=body, headers=worker)
    assert held.status_code == 201, held.text
    assert (held.json()["status"], held.json()["topic"]) == ("completed", "conflict_manager")
    found = await events_of(agenda, held.json()["id"], 2)
    assert {kind: data["topic"] for kind, data in found.items()} == {
        "scheduling.appointment.booked.v1": "conflict_manager",
        "scheduling.appointment.completed.v1": "conflict_manager",
    }


async def test_a_topic_belongs_to_a_manager_consultation_only(agenda: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(agenda, dev_keys, tenant)
    start, *_ = await free_slots(agenda, worker_id, worker, timedelta(days=2))
    consult = {"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult", "start": start, "topic": TOPIC}
    refused = await agenda.client.post("/appointments", json=consult, headers=worker)
    assert refused.status_code == 422, refused.text
    assert [field["path"] for field in refused.json()["error"]["fields"]] == ["body.topic"]
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    held = await agenda.client.post(
        "/appointments/held", json={**consult, "start": yesterday.isoformat()}, headers=worker
    )
    assert held.status_code == 422 and held.json()["error"]["fields"][0]["path"] == "body.topic", held.text
    unknown = {**consult, "kind": "manager_consultation", "topic": "office_gossip"}
    not_a_category = await agenda.client.post("/appointments", json=unknown, headers=worker)
    assert not_a_category.status_code == 422
    assert not_a_category.json()["error"]["fields"][0]["path"] == "body.topic"
    async with agenda.sessions() as session:
        count = await session.scalar(select(func.count()).where(APPOINTMENTS.c.worker_id == uuid.UUID(worker_id)))
    assert count == 0, "refused bookings store nothing"

    plain = {key: value for key, value in consult.items() if key != "topic"}
    booked = await agenda.client.post("/appointments", json=plain, headers=worker)
    assert booked.status_code == 201 and booked.json()["topic"] is None, booked.text
    found = await events_of(agenda, booked.json()["id"], 1)
    assert found["scheduling.appointment.booked.v1"]["topic"] is None
