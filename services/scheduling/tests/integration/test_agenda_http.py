"""The agenda over HTTP: free slots, booking, cancelling (late or not), completing, no-shows."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.scheduling.domain.availability import AMSTERDAM, is_public_holiday

pytestmark = pytest.mark.integration

EVERY_DAY = {
    day: [["00:00", "23:45"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}


@pytest.fixture(scope="module")
async def agenda(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as service:
        yield service


async def new_worker(
    agenda: ServiceUnderTest, dev_keys: Any, tenant: uuid.UUID, **body: Any
) -> tuple[str, dict[str, str]]:
    worker_id = str(uuid.uuid4())
    payload = {"id": worker_id, "name": "Werker", "tenant_ids": [str(tenant)], **body}
    created = await agenda.client.post("/workers", json=payload, headers=bearer(dev_keys.mint("provider_admin")))
    assert created.status_code == 201, created.text
    return worker_id, bearer(dev_keys.mint("social_worker", sub=worker_id))


async def first_free(
    agenda: ServiceUnderTest, worker_id: str, headers: dict[str, str], after: timedelta, kind: str = "consult"
) -> datetime:
    """The worker's first free slot from ``after`` from now (asked of the API, so any time of day works)."""
    start = datetime.now(UTC) + after
    params = {"from": start.isoformat(), "to": (start + timedelta(days=10)).isoformat(), "kind": kind}
    slots = (await agenda.client.get(f"/workers/{worker_id}/free-slots", params=params, headers=headers)).json()
    return datetime.fromisoformat(slots["slots"][0])


def next_monday_nine() -> datetime:
    today = datetime.now(AMSTERDAM).date()
    monday = today + timedelta(days=7 - today.weekday())
    while is_public_holiday(monday):  # Easter Monday, Whit Monday, Christmas...
        monday += timedelta(days=7)
    return datetime.combine(monday, datetime.min.time(), tzinfo=AMSTERDAM).replace(hour=9)


async def test_free_slots_respect_office_hours_and_shrink_around_a_booking(
    agenda: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(agenda, dev_keys, tenant)
    start = next_monday_nine()
    params = {"from": start.isoformat(), "to": (start + timedelta(hours=8)).isoformat(), "kind": "consult"}
    before = await agenda.client.get(f"/workers/{worker_id}/free-slots", params=params, headers=worker)
    assert before.status_code == 200, before.text
    slots = [datetime.fromisoformat(s) for s in before.json()["slots"]]
    assert slots[0] == start
    assert all(s.astimezone(AMSTERDAM).hour < 17 for s in slots)
    booked = await agenda.client.post(
        "/appointments",
        json={"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult", "start": start.isoformat()},
        headers=worker,
    )
    assert booked.status_code == 201, booked.text
    after = await agenda.client.get(f"/workers/{worker_id}/free-slots", params=params, headers=worker)
    remaining = [datetime.fromisoformat(s) for s in after.json()["slots"]]
    assert remaining[0] >= start + timedelta(minutes=45 + 15), "the booking and its buffer are taken"
    again = await agenda.client.post(
        "/appointments",
        json={"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult", "start": start.isoformat()},
        headers=worker,
    )
    assert again.status_code == 409
    evening = start.replace(hour=20)
    late_evening = await agenda.client.post(
        "/appointments",
        json={"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult", "start": evening.isoformat()},
        headers=worker,
    )
    assert late_evening.status_code == 409, "outside working hours"


async def test_another_organisations_booking_takes_the_workers_time_behind_the_tenant_walls(
    agenda: ServiceUnderTest, dev_keys: Any
) -> None:
    """A client contact's walls hide the other organisation's appointments, never the time they take."""
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    worker_id, worker = await new_worker(agenda, dev_keys, mine, tenant_ids=[str(mine), str(theirs)])
    start = next_monday_nine()
    booked = await agenda.client.post(
        "/appointments",
        json={"worker_id": worker_id, "tenant_id": str(theirs), "kind": "consult", "start": start.isoformat()},
        headers=worker,
    )
    assert booked.status_code == 201, booked.text
    contact = bearer(dev_keys.mint("client_contact", tenant_id=mine))
    params = {
        "tenant_id": str(mine),
        "from": start.isoformat(),
        "to": (start + timedelta(hours=3)).isoformat(),
        "kind": "manager_consultation",
    }
    offered = await agenda.client.get("/free-slots", params=params, headers=contact)
    assert offered.status_code == 200, offered.text
    slots = offered.json()["slots"]
    starts = [datetime.fromisoformat(slot["start"]) for slot in slots if slot["worker_id"] == worker_id]
    assert starts, "the worker has time later that morning"
    assert all(slot >= start + timedelta(minutes=45 + 15) for slot in starts), "the other organisation's consult"
    seen = await agenda.client.get(
        "/appointments",
        params={"from": start.isoformat(), "to": (start + timedelta(hours=3)).isoformat()},
        headers=contact,
    )
    assert seen.status_code == 200 and seen.json()["items"] == [], "its appointment itself stays invisible"


async def test_cancelling_records_who_and_whether_it_was_late(agenda: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(agenda, dev_keys, tenant, weekly_hours=EVERY_DAY)
    soon = await first_free(agenda, worker_id, worker, timedelta(hours=3), "manager_consultation")
    later = await first_free(agenda, worker_id, worker, timedelta(days=3), "manager_consultation")
    # Normally soon is < 24 h away and later is not; around holidays the first slot may be further off.
    soon_is_late = soon - datetime.now(UTC) < timedelta(hours=24)
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    ids = []
    for when in (soon, later):
        booked = await agenda.client.post(
            "/appointments",
            json={
                "worker_id": worker_id,
                "tenant_id": str(tenant),
                "kind": "manager_consultation",
                "start": when.isoformat(),
            },
            headers=contact,
        )
        assert booked.status_code == 201, booked.text
        ids.append(booked.json()["id"])
    late = await agenda.client.post(f"/appointments/{ids[0]}/cancel", headers=contact)
    assert late.status_code == 200 and late.json()["late_cancellation"] is soon_is_late
    on_time = await agenda.client.post(f"/appointments/{ids[1]}/cancel", headers=worker)
    assert on_time.json()["late_cancellation"] is False
    twice = await agenda.client.post(f"/appointments/{ids[1]}/cancel", headers=worker)
    assert twice.status_code == 409 and twice.json()["error"]["details"]["current_state"] == "cancelled"

    found: list[dict[str, Any]] = []

    async def cancelled() -> bool:
        nonlocal found
        records = await read_topic(
            agenda.bootstrap,
            "bmw.scheduling.events",
            match=lambda h: (
                h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == "scheduling.appointment.cancelled.v1"
            ),
            idle_ms=300,
        )
        found = [json.loads(v) for _, v in records]
        return len(found) == 2

    await eventually(cancelled, what="two cancellation events")
    by_id = {event["appointment_id"]: event for event in found}
    assert (by_id[ids[0]]["late"], by_id[ids[0]]["cancelled_by"]) == (soon_is_late, "client_organisation")
    assert (by_id[ids[1]]["late"], by_id[ids[1]]["cancelled_by"]) == (False, "social_worker")


async def test_roles_book_only_what_they_may(agenda: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    worker_id, _ = await new_worker(agenda, dev_keys, tenant, weekly_hours=EVERY_DAY)
    when = await first_free(agenda, worker_id, bearer(dev_keys.mint("provider_admin")), timedelta(days=2))
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult", "start": when.isoformat()}
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    assert (await agenda.client.post("/appointments", json=body, headers=contact)).status_code == 403
    stranger = bearer(dev_keys.mint("client_contact", tenant_id=other))
    body_mc = {**body, "kind": "manager_consultation"}
    assert (await agenda.client.post("/appointments", json=body_mc, headers=stranger)).status_code == 403
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    assert (await agenda.client.post("/appointments", json=body, headers=colleague)).status_code == 403
    elsewhere = {**body_mc, "tenant_id": str(other)}
    admin = bearer(dev_keys.mint("provider_admin"))
    refused = await agenda.client.post("/appointments", json=elsewhere, headers=admin)
    assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["path"] == "body.worker_id"
    naive = await agenda.client.post("/appointments", json={**body, "start": "2030-01-01T09:00:00"}, headers=admin)
    assert naive.status_code == 422


async def test_completion_and_no_show_only_after_the_start_and_only_by_its_worker(
    agenda: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(agenda, dev_keys, tenant, weekly_hours=EVERY_DAY)
    when = await first_free(agenda, worker_id, worker, timedelta(days=1))
    booked = await agenda.client.post(
        "/appointments",
        json={"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult", "start": when.isoformat()},
        headers=worker,
    )
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["id"]
    early = await agenda.client.post(f"/appointments/{appointment}/complete", headers=worker)
    assert early.status_code == 409, "it has not taken place yet"
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    no_show = await agenda.client.post(f"/appointments/{appointment}/no-show", headers=contact)
    assert no_show.status_code == 404, "a client contact may not even learn that an employee's consult exists"


async def test_rescheduling_moves_to_a_free_slot_and_says_where_it_came_from(
    agenda: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(agenda, dev_keys, tenant)
    start = next_monday_nine()
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult"}
    first = await agenda.client.post("/appointments", json={**body, "start": start.isoformat()}, headers=worker)
    other = start + timedelta(hours=4)  # 13:00, after the lunch break
    second = await agenda.client.post("/appointments", json={**body, "start": other.isoformat()}, headers=worker)
    assert first.status_code == second.status_code == 201
    appointment = first.json()["id"]
    # Into the other appointment (or its buffer): refused, nothing moves.
    clash = await agenda.client.post(
        f"/appointments/{appointment}/reschedule",
        json={"start": (other + timedelta(minutes=30)).isoformat()},
        headers=worker,
    )
    assert clash.status_code == 409
    # A few minutes later than itself: its own old time does not block it.
    nudged = start + timedelta(minutes=15)
    moved = await agenda.client.post(
        f"/appointments/{appointment}/reschedule", json={"start": nudged.isoformat()}, headers=worker
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["start"]) == nudged
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    later = start + timedelta(hours=5)
    refused = await agenda.client.post(
        f"/appointments/{appointment}/reschedule", json={"start": later.isoformat()}, headers=colleague
    )
    assert refused.status_code == 404, "another worker does not learn of a colleague's appointments"

    async def announced() -> bool:
        records = await read_topic(
            agenda.bootstrap,
            "bmw.scheduling.events",
            match=lambda h: (
                h.get("ce_subject") == appointment and h.get("ce_type") == "scheduling.appointment.rescheduled.v1"
            ),
            idle_ms=300,
        )
        return len(records) == 1 and datetime.fromisoformat(json.loads(records[0][1])["previous_start"]) == start

    await eventually(announced, what="one rescheduled event naming the previous start")
