"""Scheduling's authorisation matrix (``authorisation.matrix`` beside this file), run against the real service:
every role × every operation × its own organisation and another one. An operation without a row fails.

The world: two client organisations, A (the callers' own; the account manager's portfolio) and B. Each has a social
worker serving it alone (A's is the matrix's social worker: the token's subject is that worker's id, which is how
scheduling recognises "their own agenda"), an employee with a case (opened by intake's event, so the employee's
login digest is on the case and on the consults booked for it), consults and manager consultations in the worker's
agenda, two workshops the worker gives (one to cancel) with the employee's own registration and a nominated one,
and two past days with a secondment block there (hours logged on one of them).

"Own" is the caller's own thing where a role is personal: the social worker's own agenda and staff record (B's
worker is a colleague), the employee's own consult and registration; a client contact is asked about its
organisation's manager consultation (the kind it books and sees) and its nominated registration. A command that
can succeed only once is sent again by later roles and then answers 409 (counted as "allowed"); where a second call
would answer 404 instead (a withdrawn absence, a revoked feed), the builder makes a fresh one for every call.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened
from bmw.contracts.pseudonyms import login_digest
from bmw.contracts.taxonomy import AppointmentKind, Category, Urgency
from bmw.devstack.authz import Call, Matrix, Requests, Side, matrix_tokens, uncovered, unmatched
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, service_under_test
from bmw.scheduling.adapters.tables import PENDING_INTAKES
from bmw.scheduling.application.appointments import Appointment, insert_appointment
from bmw.scheduling.domain.availability import AMSTERDAM, is_public_holiday

pytestmark = pytest.mark.integration

MATRIX = Matrix.load(Path(__file__).with_name("authorisation.matrix"))
#: Workers who work around the clock (holidays excepted), so that every planned time below is in their hours.
EVERY_DAY = {
    day: [["00:00", "23:45"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}


def _planning_day() -> date:
    """A day a week or so ahead that is no Dutch public holiday: the world's appointments are on it."""
    day = datetime.now(AMSTERDAM).date() + timedelta(days=8)
    while is_public_holiday(day):
        day += timedelta(days=1)
    return day


DAY = _planning_day()
TODAY = datetime.now(AMSTERDAM).date()


def at(hour: int, minute: int = 0, day: date = DAY) -> str:
    """A moment on ``day`` (Europe/Amsterdam), as the API takes it."""
    return datetime.combine(day, time(hour, minute), tzinfo=AMSTERDAM).isoformat()


@dataclass
class Organisation:
    tenant: str
    worker: str
    employee: str
    client_ref: str
    consult: str
    manager: str
    cancel_consult: str
    cancel_manager: str
    workshop: str
    cancel_workshop: str
    own_registration: str
    nominated: str
    hours_day: str
    block_day: str

    @classmethod
    def made_up(cls) -> Organisation:
        """Ids of nothing at all, each well-formed (so the answer is about existence, never about input)."""

        def some() -> str:
            return str(uuid.uuid4())

        return cls(
            tenant=some(),
            worker=some(),
            employee=some(),
            client_ref=f"c_{uuid.uuid4().hex[:16]}",
            consult=some(),
            manager=some(),
            cancel_consult=some(),
            cancel_manager=some(),
            workshop=some(),
            cancel_workshop=some(),
            own_registration=some(),
            nominated=some(),
            hours_day=(TODAY - timedelta(days=5)).isoformat(),
            block_day=(TODAY - timedelta(days=6)).isoformat(),
        )


@dataclass
class World:
    client: httpx.AsyncClient
    admin: dict[str, str]
    own: Organisation
    other: Organisation

    def of(self, side: Side) -> Organisation:
        if side is Side.ABSENT:
            return Organisation.made_up()
        return self.own if side is Side.OWN else self.other

    async def post(self, path: str, body: Any = None) -> dict[str, Any]:
        """A provider admin's command while seeding; it must succeed."""
        response = await self.client.post(path, json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


REQUESTS: Requests[World] = Requests()


@pytest.fixture(scope="module")
async def scheduling(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as running:
        yield running


async def _open_case(
    scheduling: ServiceUnderTest, tenant: uuid.UUID, unit: uuid.UUID, employee: str
) -> tuple[str, str]:
    """A case as intake announces it (scheduling auto-books its intake); returns the case id and pseudonym."""
    case_id = uuid.uuid4()
    client_ref = f"c_{case_id.hex[:16]}"
    opened = CaseOpened(
        case_id=case_id,
        referral_id=uuid.uuid4(),
        client_ref=client_ref,
        org_unit_id=unit,
        category=Category.WORKLOAD_STRESS,
        urgency=Urgency.NORMAL,
        sla_deadline=datetime.now(UTC) + timedelta(days=10),
        employee_login=login_digest(employee),
    )
    await scheduling.publish([CloudEvent.create(opened, tenant_id=tenant)])

    async def taken_in() -> bool:
        async with scheduling.sessions() as session:
            outcome = await session.scalar(
                select(PENDING_INTAKES.c.outcome).where(PENDING_INTAKES.c.case_id == case_id)
            )
        return outcome is not None

    await eventually(taken_in, what="scheduling to take the case in")
    return str(case_id), client_ref


async def _past_block(scheduling: ServiceUnderTest, tenant: str, worker: str, day: date) -> None:
    """A secondment block on a past day. The API plans blocks from now on only, so the block that hours are
    logged against is put in the agenda as the service itself would (its own insert, under its constraint)."""
    start = datetime.combine(day, time(9), tzinfo=AMSTERDAM).astimezone(UTC)
    block = Appointment(
        uuid.uuid4(),
        uuid.UUID(tenant),
        uuid.UUID(worker),
        AppointmentKind.SECONDMENT_BLOCK,
        None,
        start,
        start + timedelta(hours=3),
    )
    async with scheduling.sessions() as session, session.begin():
        assert await insert_appointment(session, block, client_ref=None, booked_by="matrix", location="client_site")


async def _organisation(scheduling: ServiceUnderTest, world: World, dev_keys: Any, worker: str) -> Organisation:
    tenant_id, units = await scheduling.register_tenant("Logistiek")
    tenant = str(tenant_id)
    employee = str(uuid.uuid4())
    body = {"id": worker, "name": f"Werker {worker[:4]}", "tenant_ids": [tenant], "weekly_hours": EVERY_DAY}
    await world.post("/workers", body)
    case_id, client_ref = await _open_case(scheduling, tenant_id, units[0], employee)

    async def book(kind: str, start: str, **extra: str) -> str:
        booking = {"worker_id": worker, "tenant_id": tenant, "kind": kind, "start": start, **extra}
        return str((await world.post("/appointments", booking))["id"])

    async def workshop(start: str) -> str:
        planned = {
            "tenant_id": tenant,
            "theme": "dealing_with_conflict",
            "location": "client_site",
            "start": start,
            "duration_minutes": 60,
            "capacity": 20,
            "trainer_ids": [worker],
        }
        return str((await world.post("/workshops", planned))["id"])

    consult = await book("consult", at(7), case_id=case_id)
    manager = await book("manager_consultation", at(8, 30), topic="reorganisation_uncertainty")
    cancel_consult = await book("consult", at(10), case_id=case_id)
    cancel_manager = await book("manager_consultation", at(11, 30))
    main_workshop = await workshop(at(14, 30))
    cancel_workshop = await workshop(at(16))
    employee_token = bearer(dev_keys.mint("employee", tenant_id=tenant_id, sub=employee))
    own = await world.client.post(f"/workshops/{main_workshop}/registrations", headers=employee_token)
    assert own.status_code == 201, own.text
    nominated = await world.post(
        f"/workshops/{main_workshop}/registrations", {"participant_ref": "P-1001", "display_name": "Pieter Jansen"}
    )
    hours_day, block_day = TODAY - timedelta(days=5), TODAY - timedelta(days=6)
    await _past_block(scheduling, tenant, worker, hours_day)
    await _past_block(scheduling, tenant, worker, block_day)
    await world.post(
        "/secondment-hours", {"worker_id": worker, "tenant_id": tenant, "date": hours_day.isoformat(), "hours": "3.00"}
    )
    return Organisation(
        tenant=tenant,
        worker=worker,
        employee=employee,
        client_ref=client_ref,
        consult=consult,
        manager=manager,
        cancel_consult=cancel_consult,
        cancel_manager=cancel_manager,
        workshop=main_workshop,
        cancel_workshop=cancel_workshop,
        own_registration=str(own.json()["id"]),
        nominated=str(nominated["id"]),
        hours_day=hours_day.isoformat(),
        block_day=block_day.isoformat(),
    )


@pytest.fixture(scope="module")
async def world(scheduling: ServiceUnderTest, dev_keys: Any) -> World:
    admin = bearer(dev_keys.mint("provider_admin"))
    nobody = Organisation.made_up()
    world = World(scheduling.client, admin, nobody, nobody)
    world.own = await _organisation(scheduling, world, dev_keys, str(uuid.uuid4()))
    world.other = await _organisation(scheduling, world, dev_keys, str(uuid.uuid4()))
    return world


@pytest.fixture(scope="module")
def tokens(world: World, dev_keys: Any) -> dict[str, str | None]:
    subs = {"social_worker": world.own.worker, "employee": world.own.employee}
    return matrix_tokens(dev_keys.mint, uuid.UUID(world.own.tenant), subs=subs)


# -- the requests, one per operation ---------------------------------------------------------------------------


def _appointment(world: World, side: Side, role: str) -> str:
    """The appointment a role is asked about: a client contact's organisation's manager consultation (the kind
    it books and sees), the employee's own consult for everyone else."""
    own = world.of(side)
    return own.manager if role == "client_contact" else own.consult


def _cancellable(world: World, side: Side, role: str) -> str:
    own = world.of(side)
    return own.cancel_manager if role == "client_contact" else own.cancel_consult


def _period(days: int) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": now.isoformat(), "to": (now + timedelta(days=days)).isoformat()}


def _planning_day_window() -> dict[str, str]:
    return {"from": at(0), "to": at(0, day=DAY + timedelta(days=1))}


REQUESTS.simple("GET /healthz", "/healthz", tenanted=False)
REQUESTS.simple("GET /readyz", "/readyz", tenanted=False)
REQUESTS.simple("GET /workers", "/workers", tenanted=False)
REQUESTS.simple("GET /workshop-themes", "/workshop-themes", tenanted=False)
REQUESTS.simple("GET /workers/{worker_id}", lambda w, s: f"/workers/{w.of(s).worker}")
REQUESTS.simple("GET /workshops/{workshop_id}", lambda w, s: f"/workshops/{w.of(s).workshop}")
REQUESTS.simple("POST /workshops/{workshop_id}/complete", lambda w, s: f"/workshops/{w.of(s).workshop}/complete")
REQUESTS.simple("POST /workshops/{workshop_id}/cancel", lambda w, s: f"/workshops/{w.of(s).cancel_workshop}/cancel")
REQUESTS.simple("GET /persons/{client_ref}/export", lambda w, s: f"/persons/{w.of(s).client_ref}/export")
REQUESTS.simple("POST /workers/{worker_id}/calendar-feed", lambda w, s: f"/workers/{w.of(s).worker}/calendar-feed")
REQUESTS.simple(
    "POST /client-organisations/{tenant_id}/workshop-feed",
    lambda w, s: f"/client-organisations/{w.of(s).tenant}/workshop-feed",
)


@REQUESTS.op("POST /workers")
async def _add_worker(world: World, side: Side, role: str) -> Call:
    worker = str(uuid.uuid4())
    return Call("/workers", json={"id": worker, "name": f"Nieuw {worker[:4]}", "tenant_ids": [world.of(side).tenant]})


@REQUESTS.op("PATCH /workers/{worker_id}")
async def _change_worker(world: World, side: Side, role: str) -> Call:
    return Call(f"/workers/{world.of(side).worker}", json={"languages": ["nl", "en"]})


@REQUESTS.op("POST /workers/{worker_id}/time-off")
async def _add_time_off(world: World, side: Side, role: str) -> Call:
    away = DAY + timedelta(days=60)
    body = {"start": at(10, day=away), "end": at(11, day=away), "reason": "training"}
    return Call(f"/workers/{world.of(side).worker}/time-off", json=body)


@REQUESTS.op("GET /workers/{worker_id}/time-off")
async def _read_time_off(world: World, side: Side, role: str) -> Call:
    return Call(f"/workers/{world.of(side).worker}/time-off", params=_period(90))


@REQUESTS.op("DELETE /workers/{worker_id}/time-off/{time_off_id}")
async def _withdraw_time_off(world: World, side: Side, role: str) -> Call:
    # A withdrawn absence is gone (404 the second time): a fresh one for every call.
    worker = world.of(side).worker
    time_off = str(uuid.uuid4())
    if side is not Side.ABSENT:
        away = DAY + timedelta(days=61)
        body = {"start": at(10, day=away), "end": at(11, day=away), "reason": "leave"}
        time_off = str((await world.post(f"/workers/{worker}/time-off", body))["id"])
    return Call(f"/workers/{worker}/time-off/{time_off}")


@REQUESTS.op("GET /workers/{worker_id}/free-slots")
async def _worker_slots(world: World, side: Side, role: str) -> Call:
    return Call(f"/workers/{world.of(side).worker}/free-slots", params=_planning_day_window())


@REQUESTS.op("DELETE /workers/{worker_id}/calendar-feed")
async def _revoke_worker_feed(world: World, side: Side, role: str) -> Call:
    # A revoked feed is gone (404 the second time): a fresh one for every call.
    worker = world.of(side).worker
    if side is not Side.ABSENT:
        await world.post(f"/workers/{worker}/calendar-feed")
    return Call(f"/workers/{worker}/calendar-feed")


@REQUESTS.op("DELETE /client-organisations/{tenant_id}/workshop-feed")
async def _revoke_workshop_feed(world: World, side: Side, role: str) -> Call:
    tenant = world.of(side).tenant
    if side is not Side.ABSENT:
        await world.post(f"/client-organisations/{tenant}/workshop-feed")
    return Call(f"/client-organisations/{tenant}/workshop-feed")


@REQUESTS.op("GET /calendar/feeds/{token}.ics")
async def _read_feed(world: World, side: Side, role: str) -> Call:
    """The feed URL is the credential: "own" is the current URL of the organisation's workshop feed, "other" the
    URL of B's feed from before it was issued anew (dead), "absent" a made-up one."""
    if side is Side.ABSENT:
        return Call(f"/calendar/feeds/{secrets.token_urlsafe(32)}.ics")
    path = f"/client-organisations/{world.of(side).tenant}/workshop-feed"
    issued = str((await world.post(path))["path"])
    if side is Side.OTHER:
        await world.post(path)  # the URL just issued stops working
    return Call(issued)


@REQUESTS.op("GET /free-slots")
async def _suitable_slots(world: World, side: Side, role: str) -> Call:
    return Call("/free-slots", params={"tenant_id": world.of(side).tenant, "limit": 5, **_planning_day_window()})


@REQUESTS.op("GET /appointments")
async def _agenda(world: World, side: Side, role: str) -> Call:
    own = world.of(side)
    return Call("/appointments", params={"worker_id": own.worker, "tenant_id": own.tenant, **_period(30)})


@REQUESTS.op("POST /appointments")
async def _book(world: World, side: Side, role: str) -> Call:
    # One slot: the first allowed role books it, the rest find it taken (409).
    own = world.of(side)
    kind = "manager_consultation" if role == "client_contact" else "consult"
    return Call("/appointments", json={"worker_id": own.worker, "tenant_id": own.tenant, "kind": kind, "start": at(13)})


@REQUESTS.op("POST /appointments/held")
async def _record_held(world: World, side: Side, role: str) -> Call:
    own = world.of(side)
    start = datetime.combine(TODAY - timedelta(days=3), time(15), tzinfo=AMSTERDAM).isoformat()
    return Call(
        "/appointments/held", json={"worker_id": own.worker, "tenant_id": own.tenant, "kind": "consult", "start": start}
    )


@REQUESTS.op("GET /appointments/{appointment_id}")
async def _read_appointment(world: World, side: Side, role: str) -> Call:
    return Call(f"/appointments/{_appointment(world, side, role)}")


@REQUESTS.op("GET /appointments/{appointment_id}/calendar.ics")
async def _appointment_ics(world: World, side: Side, role: str) -> Call:
    return Call(f"/appointments/{_appointment(world, side, role)}/calendar.ics")


@REQUESTS.op("POST /appointments/{appointment_id}/cancel")
async def _cancel_appointment(world: World, side: Side, role: str) -> Call:
    return Call(f"/appointments/{_cancellable(world, side, role)}/cancel")


@REQUESTS.op("POST /appointments/{appointment_id}/complete")
async def _complete_appointment(world: World, side: Side, role: str) -> Call:
    # Still ahead: whoever may record it gets 409 (it has not started), everyone else 403 or 404.
    return Call(f"/appointments/{_appointment(world, side, role)}/complete")


@REQUESTS.op("POST /appointments/{appointment_id}/no-show")
async def _no_show(world: World, side: Side, role: str) -> Call:
    return Call(f"/appointments/{_appointment(world, side, role)}/no-show")


@REQUESTS.op("POST /appointments/{appointment_id}/reschedule")
async def _reschedule(world: World, side: Side, role: str) -> Call:
    return Call(f"/appointments/{_appointment(world, side, role)}/reschedule", json={"start": at(21)})


@REQUESTS.op("GET /workshops")
async def _list_workshops(world: World, side: Side, role: str) -> Call:
    return Call("/workshops", params={"tenant_id": world.of(side).tenant})


@REQUESTS.op("POST /workshops")
async def _schedule_workshop(world: World, side: Side, role: str) -> Call:
    # One time: the first allowed role schedules it, the rest find the trainer taken (409).
    own = world.of(side)
    body = {
        "tenant_id": own.tenant,
        "theme": "self_management",
        "location": "video",
        "start": at(17, 30),
        "duration_minutes": 60,
        "capacity": 12,
        "trainer_ids": [own.worker],
    }
    return Call("/workshops", json=body)


@REQUESTS.op("POST /workshops/{workshop_id}/registrations")
async def _register(world: World, side: Side, role: str) -> Call:
    """An employee registers themself (no body); every other role nominates someone."""
    path = f"/workshops/{world.of(side).workshop}/registrations"
    if role == "employee":
        return Call(path)
    return Call(path, json={"participant_ref": f"P-{uuid.uuid4().hex[:8]}", "display_name": "Sanne de Vries"})


@REQUESTS.op("POST /workshops/{workshop_id}/registrations/{registration_id}/cancel")
async def _cancel_registration(world: World, side: Side, role: str) -> Call:
    own = world.of(side)
    registration = own.own_registration if role == "employee" else own.nominated
    return Call(f"/workshops/{own.workshop}/registrations/{registration}/cancel")


@REQUESTS.op("PUT /workshops/{workshop_id}/attendance")
async def _attendance(world: World, side: Side, role: str) -> Call:
    # Still ahead: whoever keeps the register gets 409 (not started), everyone else 403 or 404.
    return Call(f"/workshops/{world.of(side).workshop}/attendance", json=[])


@REQUESTS.op("GET /secondments")
async def _list_secondments(world: World, side: Side, role: str) -> Call:
    return Call("/secondments", params={"tenant_id": world.of(side).tenant, **_period(30)})


@REQUESTS.op("POST /secondments")
async def _plan_secondment(world: World, side: Side, role: str) -> Call:
    own = world.of(side)
    body = {"worker_id": own.worker, "tenant_id": own.tenant, "start": at(19), "end": at(20)}
    return Call("/secondments", json=body)


@REQUESTS.op("GET /secondment-hours")
async def _list_hours(world: World, side: Side, role: str) -> Call:
    period = {"from": (TODAY - timedelta(days=30)).isoformat(), "to": TODAY.isoformat()}
    return Call("/secondment-hours", params={"tenant_id": world.of(side).tenant, **period})


@REQUESTS.op("POST /secondment-hours")
async def _log_hours(world: World, side: Side, role: str) -> Call:
    own = world.of(side)
    body = {"worker_id": own.worker, "tenant_id": own.tenant, "date": own.block_day, "hours": "2.75"}
    return Call("/secondment-hours", json=body)


@REQUESTS.op("PUT /secondment-hours/{tenant_id}/{worker_id}/{day}")
async def _correct_hours(world: World, side: Side, role: str) -> Call:
    own = world.of(side)
    return Call(f"/secondment-hours/{own.tenant}/{own.worker}/{own.hours_day}", json={"hours": "3.25"})


# -- the test --------------------------------------------------------------------------------------------------


async def test_every_operation_has_a_row_and_a_request(scheduling: ServiceUnderTest) -> None:
    assert await uncovered(scheduling.client, MATRIX, REQUESTS) == []


@pytest.mark.parametrize("operation", MATRIX.operations)
async def test_each_role_gets_what_the_matrix_promises(
    scheduling: ServiceUnderTest, world: World, tokens: dict[str, str | None], operation: str
) -> None:
    problems = await unmatched(scheduling.client, MATRIX, REQUESTS, world, operation, tokens)
    assert not problems, problems
