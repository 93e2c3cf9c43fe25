"""Workshops over HTTP: scheduling trainers' time, registrations and the waitlist, the attendance register,
completion and cancellation, and who may see which participant."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from bmw.contracts.taxonomy import WorkshopTheme
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.scheduling.adapters.tables import APPOINTMENTS, WORKSHOP_REGISTRATIONS, WORKSHOPS
from bmw.scheduling.application.workshops import forget_old_registers
from bmw.scheduling.domain.availability import AMSTERDAM, is_public_holiday
from bmw.servicekit.uow import UnitOfWorkFactory

pytestmark = pytest.mark.integration

TOPIC = "bmw.scheduling.events"


@pytest.fixture(scope="module")
async def service(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as running:
        yield running


def admin(dev_keys: Any) -> dict[str, str]:
    return bearer(dev_keys.mint("provider_admin"))


async def new_worker(service: ServiceUnderTest, dev_keys: Any, *tenants: uuid.UUID) -> tuple[str, dict[str, str]]:
    """A social worker with office hours (weekdays 09:00-12:30, 13:00-17:00) serving ``tenants``."""
    worker_id = str(uuid.uuid4())
    body = {"id": worker_id, "name": f"Trainer {worker_id[:4]}", "tenant_ids": [str(t) for t in tenants]}
    created = await service.client.post("/workers", json=body, headers=admin(dev_keys))
    assert created.status_code == 201, created.text
    return worker_id, bearer(dev_keys.mint("social_worker", sub=worker_id))


def next_week_at(hour: int) -> datetime:
    """A working Monday at least two days ahead (past holidays) at ``hour`` local time."""
    today = datetime.now(AMSTERDAM).date()
    monday = today + timedelta(days=7 - today.weekday())
    while is_public_holiday(monday) or (monday - today).days < 2:
        monday += timedelta(days=7)
    return datetime.combine(monday, datetime.min.time(), tzinfo=AMSTERDAM).replace(hour=hour)


def workshop_body(tenant: uuid.UUID, trainers: list[str], **overrides: Any) -> dict[str, Any]:
    return {
        "tenant_id": str(tenant),
        "theme": "giving_and_receiving_feedback",
        "location": "client_site",
        "location_detail": "Room 3.14",
        "start": next_week_at(13).isoformat(),
        "capacity": 12,
        "trainer_ids": trainers,
        **overrides,
    }


async def schedule(
    service: ServiceUnderTest, headers: dict[str, str], tenant: uuid.UUID, trainers: list[str], **overrides: Any
) -> dict[str, Any]:
    created = await service.client.post(
        "/workshops", json=workshop_body(tenant, trainers, **overrides), headers=headers
    )
    assert created.status_code == 201, created.text
    workshop: dict[str, Any] = created.json()
    return workshop


async def register(service: ServiceUnderTest, workshop_id: str, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await service.client.post(f"/workshops/{workshop_id}/registrations", json=body, headers=headers)


async def count(service: ServiceUnderTest, query: Any) -> int:
    async with service.sessions() as session:
        return int(await session.scalar(query) or 0)


async def into_the_past(service: ServiceUnderTest, workshop_id: str) -> None:
    """Let the workshop have started an hour ago (its trainers' blocks move along)."""
    start = datetime.now(UTC) - timedelta(hours=1)
    async with service.sessions() as session, session.begin():
        row = (await session.execute(select(WORKSHOPS).where(WORKSHOPS.c.id == uuid.UUID(workshop_id)))).one()
        length = row.ends_at - row.starts_at
        await session.execute(
            update(WORKSHOPS).where(WORKSHOPS.c.id == row.id).values(starts_at=start, ends_at=start + length)
        )
        await session.execute(
            update(APPOINTMENTS)
            .where(APPOINTMENTS.c.workshop_id == row.id)
            .values(starts_at=start, ends_at=start + length)
        )


async def events_of(service: ServiceUnderTest, workshop_id: str, event_type: str, expected: int = 1) -> list[Any]:
    found: list[Any] = []

    async def arrived() -> bool:
        nonlocal found
        records = await read_topic(
            service.bootstrap,
            TOPIC,
            match=lambda h: h.get("ce_subject") == workshop_id and h.get("ce_type") == event_type,
            idle_ms=300,
        )
        found = [(headers, json.loads(value)) for headers, value in records]
        return len(found) >= expected

    await eventually(arrived, what=f"{event_type} for workshop {workshop_id}")
    return found


async def test_the_theme_catalogue_lists_every_theme_for_any_signed_in_caller(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    employee = bearer(dev_keys.mint("employee", tenant_id=uuid.uuid4()))
    themes = await service.client.get("/workshop-themes", headers=employee)
    assert themes.status_code == 200, themes.text
    by_theme = {entry["theme"]: entry for entry in themes.json()}
    assert set(by_theme) == {theme.value for theme in WorkshopTheme}
    feedback = by_theme["giving_and_receiving_feedback"]
    assert feedback["title_en"] == "Giving and receiving feedback" and feedback["default_duration_minutes"] == 180
    assert (await service.client.get("/workshop-themes")).status_code == 401


async def test_scheduling_books_every_trainer_and_a_busy_trainer_refuses_the_whole_workshop(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    first, _ = await new_worker(service, dev_keys, tenant)
    second, _ = await new_worker(service, dev_keys, tenant)
    third, _ = await new_worker(service, dev_keys, tenant)
    staff = admin(dev_keys)
    workshop = await schedule(service, staff, tenant, [first, second])
    assert workshop["title"] == "Feedback geven en ontvangen", "the catalogue's title by default"
    assert workshop["duration_minutes"] == 180 and workshop["status"] == "scheduled"
    assert [t["id"] for t in workshop["trainers"]] == [first, second]
    assert (workshop["seats_taken"], workshop["seats_available"], workshop["waitlist_length"]) == (0, 12, 0)
    async with service.sessions() as session:
        blocks = (
            await session.execute(select(APPOINTMENTS).where(APPOINTMENTS.c.workshop_id == uuid.UUID(workshop["id"])))
        ).all()
    assert sorted(str(b.worker_id) for b in blocks) == sorted([first, second])
    assert {(b.kind, b.status, b.location) for b in blocks} == {("workshop", "booked", "client_site")}
    assert {b.ends_at - b.starts_at for b in blocks} == {timedelta(minutes=180)}

    # The same time with a free trainer and a busy one: refused, naming the busy one, and nothing is created.
    clash = await service.client.post("/workshops", json=workshop_body(tenant, [third, first]), headers=staff)
    assert clash.status_code == 409, clash.text
    assert clash.json()["error"]["details"]["trainer_id"] == first
    assert await count(service, select(func.count()).where(WORKSHOPS.c.tenant_id == tenant)) == 1
    assert await count(service, select(func.count()).where(APPOINTMENTS.c.worker_id == uuid.UUID(third))) == 0

    scheduled = await events_of(service, workshop["id"], "scheduling.workshop.scheduled.v1")
    headers, data = scheduled[0]
    assert headers["ce_tenantid"] == str(tenant)
    assert (data["theme"], data["participants_count"]) == ("giving_and_receiving_feedback", 0)


async def test_evening_sessions_need_an_admin_override_but_never_overlap_an_appointment(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    trainer, trainer_headers = await new_worker(service, dev_keys, tenant)
    evening = next_week_at(19).isoformat()
    staff = admin(dev_keys)
    outside = await service.client.post(
        "/workshops", json=workshop_body(tenant, [trainer], start=evening), headers=staff
    )
    assert outside.status_code == 409 and outside.json()["error"]["details"]["current_state"] == "unavailable"
    by_trainer = await service.client.post(
        "/workshops", json=workshop_body(tenant, [trainer], start=evening, override_hours=True), headers=trainer_headers
    )
    assert by_trainer.status_code == 403, "only provider admins override working hours"
    await schedule(service, staff, tenant, [trainer], start=evening, override_hours=True, duration_minutes=120)
    overlapping = next_week_at(20).isoformat()
    again = await service.client.post(
        "/workshops", json=workshop_body(tenant, [trainer], start=overlapping, override_hours=True), headers=staff
    )
    assert again.status_code == 409, "an override never books over another appointment"
    assert await count(service, select(func.count()).where(WORKSHOPS.c.tenant_id == tenant)) == 1


async def test_who_may_schedule_and_what_bad_input_is_told(service: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    trainer, trainer_headers = await new_worker(service, dev_keys, tenant)
    elsewhere, _ = await new_worker(service, dev_keys, other)
    body = workshop_body(tenant, [trainer])
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    assert (await service.client.post("/workshops", json=body, headers=contact)).status_code == 403
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    assert (await service.client.post("/workshops", json=body, headers=colleague)).status_code == 403
    staff = admin(dev_keys)
    cases = {
        "body.theme": {**body, "theme": "juggling"},
        "body.location": {**body, "location": "the_moon"},
        "body.capacity": {**body, "capacity": 0},
        "body.location_detail": {**body, "location_detail": "x" * 301},
        "body.trainer_ids": {**body, "trainer_ids": []},
        "body.trainer_ids.1": {**body, "trainer_ids": [trainer, elsewhere]},
        "body.start": {**body, "start": "2030-01-01T13:00:00"},
    }
    for path, bad in cases.items():
        refused = await service.client.post("/workshops", json=bad, headers=staff)
        assert refused.status_code == 422, (path, refused.text)
        assert path in [f["path"] for f in refused.json()["error"]["fields"]], (path, refused.text)
    past = await service.client.post("/workshops", json={**body, "start": "2020-01-06T13:00:00+01:00"}, headers=staff)
    assert past.status_code == 422 and past.json()["error"]["fields"][0]["path"] == "body.start"
    twice = await service.client.post("/workshops", json={**body, "trainer_ids": [trainer, trainer]}, headers=staff)
    assert twice.status_code == 422 and twice.json()["error"]["fields"][0]["path"] == "body.trainer_ids.1"
    assert await count(service, select(func.count()).where(WORKSHOPS.c.tenant_id == tenant)) == 0
    own = await service.client.post("/workshops", json={**body, "capacity": 5}, headers=trainer_headers)
    assert own.status_code == 201, "a trainer schedules a workshop they give themselves"


async def test_a_full_workshop_waitlists_and_a_cancellation_moves_the_first_in_line_up(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    trainer, _ = await new_worker(service, dev_keys, tenant)
    workshop = await schedule(service, admin(dev_keys), tenant, [trainer], capacity=2)
    employees = [bearer(dev_keys.mint("employee", tenant_id=tenant)) for _ in range(3)]
    made = [await register(service, workshop["id"], who, display_name=f"Person {i}") for i, who in enumerate(employees)]
    assert [r.status_code for r in made] == [201, 201, 201], [r.text for r in made]
    assert [r.json()["status"] for r in made] == ["registered", "registered", "waitlisted"]
    assert made[2].json()["waitlist_position"] == 1
    twice = await register(service, workshop["id"], employees[0])
    assert twice.status_code == 409 and twice.json()["error"]["details"]["current_state"] == "registered"

    seen = (await service.client.get(f"/workshops/{workshop['id']}", headers=employees[2])).json()
    assert (seen["seats_taken"], seen["waitlist_length"]) == (2, 1)
    assert seen["my_registration"]["status"] == "waitlisted" and seen["my_registration"]["waitlist_position"] == 1

    first = made[0].json()["id"]
    cancelled = await service.client.post(
        f"/workshops/{workshop['id']}/registrations/{first}/cancel", headers=employees[0]
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    moved_up = (await service.client.get(f"/workshops/{workshop['id']}", headers=employees[2])).json()
    assert moved_up["my_registration"]["status"] == "registered" and moved_up["waitlist_length"] == 0
    again = await service.client.post(f"/workshops/{workshop['id']}/registrations/{first}/cancel", headers=employees[0])
    assert again.status_code == 409
    # The one who cancelled may register again, and now waits at the back of the line.
    back = await register(service, workshop["id"], employees[0])
    assert back.status_code == 201 and back.json()["status"] == "waitlisted"


async def test_concurrent_registrations_and_cancellations_never_overbook(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    trainer, trainer_headers = await new_worker(service, dev_keys, tenant)
    workshop = await schedule(service, admin(dev_keys), tenant, [trainer], capacity=3)
    employees = [bearer(dev_keys.mint("employee", tenant_id=tenant)) for _ in range(10)]
    answers = await asyncio.gather(*(register(service, workshop["id"], who) for who in employees))
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    statuses = [a.json()["status"] for a in answers]
    assert statuses.count("registered") == 3 and statuses.count("waitlisted") == 7

    register_view = (await service.client.get(f"/workshops/{workshop['id']}", headers=trainer_headers)).json()
    rows = register_view["registrations"]
    holders = [r for r in rows if r["status"] == "registered"]
    waiting = [r for r in rows if r["status"] == "waitlisted"]
    assert [r["waitlist_position"] for r in waiting] == list(range(1, 8))
    waiting_times = [datetime.fromisoformat(r["registered_at"]) for r in waiting]
    assert waiting_times == sorted(waiting_times), "the waitlist goes in order of registration"
    assert max(datetime.fromisoformat(r["registered_at"]) for r in holders) < waiting_times[0]

    # Free all three seats at once and register three more: still never more than three seats taken.
    cancels = [
        service.client.post(f"/workshops/{workshop['id']}/registrations/{r['id']}/cancel", headers=admin(dev_keys))
        for r in holders
    ]
    late_comers = [
        register(service, workshop["id"], bearer(dev_keys.mint("employee", tenant_id=tenant))) for _ in range(3)
    ]
    results = await asyncio.gather(*cancels, *late_comers)
    assert all(r.status_code in (200, 201) for r in results), [r.text for r in results]
    workshop_id = uuid.UUID(workshop["id"])
    registered = select(func.count()).where(
        WORKSHOP_REGISTRATIONS.c.workshop_id == workshop_id, WORKSHOP_REGISTRATIONS.c.status == "registered"
    )
    assert await count(service, registered) == 3
    after = (await service.client.get(f"/workshops/{workshop['id']}", headers=trainer_headers)).json()
    promoted = {r["id"] for r in after["registrations"] if r["status"] == "registered"}
    assert promoted == {r["id"] for r in waiting[:3]}, "the first three in line took the freed seats"
    assert after["waitlist_length"] == 7


async def test_employees_see_only_themselves_and_other_organisations_see_nothing(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    trainer, trainer_headers = await new_worker(service, dev_keys, tenant)
    staff = admin(dev_keys)
    workshop = await schedule(service, staff, tenant, [trainer])
    url = f"/workshops/{workshop['id']}"
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    nominated = await register(service, workshop["id"], contact, participant_ref="P-1001", display_name="Jan Jansen")
    assert nominated.status_code == 201, nominated.text
    employee_sub = str(uuid.uuid4())
    employee = bearer(dev_keys.mint("employee", tenant_id=tenant, sub=employee_sub))
    mine = await register(service, workshop["id"], employee, display_name="Eva")
    assert mine.status_code == 201

    as_employee = await service.client.get(url, headers=employee)
    assert as_employee.status_code == 200
    assert as_employee.json()["registrations"] is None and "Jan Jansen" not in as_employee.text
    assert as_employee.json()["my_registration"]["id"] == mine.json()["id"]
    listed = await service.client.get("/workshops", params={"tenant_id": str(tenant)}, headers=employee)
    assert [w["id"] for w in listed.json()] == [workshop["id"]] and "Jan Jansen" not in listed.text
    others = await service.client.post(f"{url}/registrations/{nominated.json()['id']}/cancel", headers=employee)
    assert others.status_code == 404, "an employee cannot touch a colleague's registration"
    nominating = await register(service, workshop["id"], employee, participant_ref="P-2", display_name="X")
    assert nominating.status_code == 403

    for keeper in (contact, trainer_headers, staff):
        names = {r["display_name"] for r in (await service.client.get(url, headers=keeper)).json()["registrations"]}
        assert names == {"Jan Jansen", "Eva"}
    manager = bearer(dev_keys.mint("account_manager", portfolio=[tenant]))
    as_manager = (await service.client.get(url, headers=manager)).json()
    assert as_manager["registrations"] is None and as_manager["seats_taken"] == 2
    assert (await register(service, workshop["id"], manager)).status_code == 403
    assert (await register(service, workshop["id"], trainer_headers)).status_code == 403
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    assert (await service.client.get(url, headers=colleague)).status_code == 404

    stranger = bearer(dev_keys.mint("client_contact", tenant_id=other))
    assert (await service.client.get(url, headers=stranger)).status_code == 404
    assert (await register(service, workshop["id"], stranger, participant_ref="A", display_name="B")).status_code == 404
    assert (await service.client.post(f"{url}/cancel", headers=stranger)).status_code == 404
    assert (
        await service.client.post(f"{url}/registrations/{mine.json()['id']}/cancel", headers=stranger)
    ).status_code == 404
    assert (
        await service.client.get("/workshops", params={"tenant_id": str(tenant)}, headers=stranger)
    ).status_code == 403
    assert (await service.client.get("/workshops", headers=stranger)).json() == []
    outsider = bearer(dev_keys.mint("account_manager", portfolio=[other]))
    assert (await service.client.get(url, headers=outsider)).status_code == 404
    assert (await service.client.get(f"/workshops/{uuid.uuid4()}", headers=staff)).status_code == 404


async def test_a_workshop_by_nomination_is_hidden_from_employees_who_are_not_nominated(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    trainer, _ = await new_worker(service, dev_keys, tenant)
    workshop = await schedule(
        service,
        admin(dev_keys),
        tenant,
        [trainer],
        theme="conducting_dismissal_conversations",
        self_registration=False,
    )
    url = f"/workshops/{workshop['id']}"
    manager_sub = str(uuid.uuid4())
    manager = bearer(dev_keys.mint("employee", tenant_id=tenant, sub=manager_sub))
    bystander = bearer(dev_keys.mint("employee", tenant_id=tenant))
    assert (await service.client.get(url, headers=bystander)).status_code == 404
    assert (await register(service, workshop["id"], bystander)).status_code == 404
    listed = await service.client.get("/workshops", headers=bystander)
    assert listed.status_code == 200 and listed.json() == []
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    missing_name = await register(service, workshop["id"], contact, participant_ref=manager_sub)
    assert missing_name.status_code == 422 and missing_name.json()["error"]["fields"][0]["path"] == "body.display_name"
    without_ref = await register(service, workshop["id"], contact, display_name="Mo")
    assert without_ref.status_code == 422
    assert without_ref.json()["error"]["fields"][0]["path"] == "body.participant_ref"
    nominated = await register(service, workshop["id"], contact, participant_ref=manager_sub, display_name="Mo")
    assert nominated.status_code == 201
    seen = await service.client.get(url, headers=manager)
    assert seen.status_code == 200 and seen.json()["my_registration"]["status"] == "registered"
    assert [w["id"] for w in (await service.client.get("/workshops", headers=manager)).json()] == [workshop["id"]]
    own_cancel = await service.client.post(f"{url}/registrations/{nominated.json()['id']}/cancel", headers=manager)
    assert own_cancel.status_code == 200, "the participant may withdraw"


async def test_attendance_and_completion_report_the_number_who_attended(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    trainer, trainer_headers = await new_worker(service, dev_keys, tenant)
    workshop = await schedule(service, admin(dev_keys), tenant, [trainer], capacity=3, theme="self_management")
    url = f"/workshops/{workshop['id']}"
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    ids = []
    for number in range(4):
        made = await register(
            service, workshop["id"], contact, participant_ref=f"P-{number}", display_name=f"N{number}"
        )
        assert made.status_code == 201
        ids.append(made.json()["id"])
    marks = [{"registration_id": ids[0], "attended": True}]
    early = await service.client.put(f"{url}/attendance", json=marks, headers=trainer_headers)
    assert early.status_code == 409 and early.json()["error"]["details"]["current_state"] == "not_started"
    assert (await service.client.post(f"{url}/complete", headers=trainer_headers)).status_code == 409

    await into_the_past(service, workshop["id"])
    late_registration = await register(service, workshop["id"], contact, participant_ref="P-9", display_name="Late")
    assert late_registration.status_code == 409
    assert late_registration.json()["error"]["details"]["current_state"] == "started"
    assert (await service.client.put(f"{url}/attendance", json=marks, headers=contact)).status_code == 403
    waitlisted = [{"registration_id": ids[3], "attended": True}]
    refused = await service.client.put(f"{url}/attendance", json=waitlisted, headers=trainer_headers)
    assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["path"] == "body.0.registration_id"
    register_marks = [
        {"registration_id": ids[0], "attended": True},
        {"registration_id": ids[1], "attended": True},
        {"registration_id": ids[2], "attended": False},
    ]
    kept = await service.client.put(f"{url}/attendance", json=register_marks, headers=trainer_headers)
    assert kept.status_code == 200, kept.text
    attended = {r["id"]: r["attended"] for r in kept.json()["registrations"]}
    assert (attended[ids[0]], attended[ids[1]], attended[ids[2]], attended[ids[3]]) == (True, True, False, None)

    completed = await service.client.post(f"{url}/complete", headers=trainer_headers)
    assert completed.status_code == 200, completed.text
    assert (completed.json()["status"], completed.json()["attended_count"]) == ("completed", 2)
    blocks = select(func.count()).where(
        APPOINTMENTS.c.workshop_id == uuid.UUID(workshop["id"]), APPOINTMENTS.c.status == "completed"
    )
    assert await count(service, blocks) == 1
    twice = await service.client.post(f"{url}/complete", headers=trainer_headers)
    assert twice.status_code == 409 and twice.json()["error"]["details"]["current_state"] == "completed"
    assert (await service.client.put(f"{url}/attendance", json=marks, headers=trainer_headers)).status_code == 409

    (headers, data), *_ = await events_of(service, workshop["id"], "scheduling.workshop.completed.v1")
    assert headers["ce_tenantid"] == str(tenant)
    assert (data["participants_count"], data["theme"]) == (2, "self_management")
    assert not any(name in json.dumps(data) for name in ("N0", "N1", "P-0")), "no participant in the event"


async def test_cancelling_a_workshop_frees_the_trainers_and_says_who_and_whether_late(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    trainer, trainer_headers = await new_worker(service, dev_keys, tenant)
    staff = admin(dev_keys)
    soon_start = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    soon = await schedule(service, staff, tenant, [trainer], start=soon_start.isoformat(), override_hours=True)
    later = await schedule(service, staff, tenant, [trainer], start=next_week_at(9).isoformat())
    employee = bearer(dev_keys.mint("employee", tenant_id=tenant))
    assert (await register(service, soon["id"], employee)).status_code == 201
    assert (await service.client.post(f"/workshops/{soon['id']}/cancel", headers=employee)).status_code == 403

    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    late = await service.client.post(f"/workshops/{soon['id']}/cancel", headers=contact)
    assert late.status_code == 200, late.text
    assert (late.json()["status"], late.json()["cancelled_by"]) == ("cancelled", "client_organisation")
    on_time = await service.client.post(f"/workshops/{later['id']}/cancel", headers=trainer_headers)
    assert on_time.status_code == 200 and on_time.json()["cancelled_by"] == "social_worker"
    again = await service.client.post(f"/workshops/{later['id']}/cancel", headers=staff)
    assert again.status_code == 409 and again.json()["error"]["details"]["current_state"] == "cancelled"
    closed = await register(service, soon["id"], bearer(dev_keys.mint("employee", tenant_id=tenant)))
    assert closed.status_code == 409 and closed.json()["error"]["details"]["current_state"] == "cancelled"

    async with service.sessions() as session:
        blocks = {
            str(row.workshop_id): row
            for row in await session.execute(select(APPOINTMENTS).where(APPOINTMENTS.c.worker_id == uuid.UUID(trainer)))
        }
    assert (blocks[soon["id"]].status, blocks[soon["id"]].late_cancellation) == ("cancelled", True)
    assert blocks[soon["id"]].cancelled_by == "client_organisation"
    assert (blocks[later["id"]].status, blocks[later["id"]].late_cancellation) == ("cancelled", False)
    # The trainer's time is free again: the same slot can be booked for another workshop.
    await schedule(service, staff, tenant, [trainer], start=next_week_at(9).isoformat())

    (_, late_event), *_ = await events_of(service, soon["id"], "scheduling.workshop.cancelled.v1")
    assert (late_event["late"], late_event["cancelled_by"], late_event["participants_count"]) == (
        True,
        "client_organisation",
        1,
    )
    (_, on_time_event), *_ = await events_of(service, later["id"], "scheduling.workshop.cancelled.v1")
    assert (on_time_event["late"], on_time_event["cancelled_by"], on_time_event["participants_count"]) == (
        False,
        "social_worker",
        0,
    )


async def test_the_same_idempotency_key_schedules_once_and_returns_the_same_workshop(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    trainer, _ = await new_worker(service, dev_keys, tenant)
    staff = bearer(dev_keys.mint("provider_admin", sub=str(uuid.uuid4())))
    body = workshop_body(tenant, [trainer])
    key = {"Idempotency-Key": f"workshop-{uuid.uuid4()}", **staff}
    first, second = await asyncio.gather(
        service.client.post("/workshops", json=body, headers=key),
        service.client.post("/workshops", json=body, headers=key),
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] == second.json()["id"]
    third = await service.client.post("/workshops", json=body, headers=key)
    assert third.status_code == 201 and third.json() == first.json()
    assert await count(service, select(func.count()).where(WORKSHOPS.c.tenant_id == tenant)) == 1
    different = await service.client.post("/workshops", json={**body, "capacity": 3}, headers=key)
    assert different.status_code == 422
    assert [f["path"] for f in different.json()["error"]["fields"]] == ["header.Idempotency-Key"]
    assert await count(service, select(func.count()).where(WORKSHOPS.c.tenant_id == tenant)) == 1


async def test_old_attendance_registers_lose_their_names_and_keep_their_counts(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    trainer, _ = await new_worker(service, dev_keys, tenant)
    workshop = await schedule(service, admin(dev_keys), tenant, [trainer], capacity=5)
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    employee_subject = str(uuid.uuid4())
    employee = bearer(dev_keys.mint("employee", tenant_id=tenant, sub=employee_subject))
    assert (
        await register(service, workshop["id"], contact, participant_ref="P-1", display_name="Jan")
    ).status_code == 201
    assert (await register(service, workshop["id"], employee)).status_code == 201
    rows = select(WORKSHOP_REGISTRATIONS).where(WORKSHOP_REGISTRATIONS.c.workshop_id == uuid.UUID(workshop["id"]))
    async with service.sessions() as session:
        stored = (await session.execute(rows)).all()
    assert all(employee_subject not in str(tuple(row)) for row in stored), "a login is kept as a digest only"

    uow = UnitOfWorkFactory(service.sessions)
    async with service.sessions() as session, session.begin():
        long_ago = datetime.now(UTC) - timedelta(days=120)
        await session.execute(
            update(WORKSHOPS)
            .where(WORKSHOPS.c.id == uuid.UUID(workshop["id"]))
            .values(starts_at=long_ago, ends_at=long_ago + timedelta(hours=3))
        )
    assert await forget_old_registers(uow) >= 2
    async with service.sessions() as session:
        forgotten = (await session.execute(rows)).all()
    assert len(forgotten) == 2
    assert all(row.display_name is None and row.participant.startswith("forgotten:") for row in forgotten)
    assert {row.status for row in forgotten} == {"registered"}, "the counts stay"
    assert await forget_old_registers(uow) == 0, "nothing left to forget"
