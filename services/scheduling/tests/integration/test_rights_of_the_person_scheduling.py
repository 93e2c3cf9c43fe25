"""The rights of the person in scheduling: the right-of-access export, erasure reaching workshop places, and the
retention job, against the real database and broker.

Data is seeded the way it arrives in production: intake's ``intake.case.opened.v1`` (auto-scheduling books the
intake) and the HTTP API (a workshop, an employee's own registration).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened, ClientErased
from bmw.contracts.pseudonyms import login_digest
from bmw.contracts.taxonomy import Category, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, service_under_test
from bmw.scheduling.__main__ import retention
from bmw.scheduling.adapters.tables import APPOINTMENTS, PENDING_INTAKES, WORKSHOP_REGISTRATIONS
from bmw.scheduling.application.persons import apply_retention
from bmw.scheduling.domain.availability import AMSTERDAM, is_public_holiday
from bmw.scheduling.settings import SchedulingSettings
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import TenantScope, scoped

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def scheduling(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as service:
        yield service


def new_ref() -> str:
    return "c_" + secrets.token_urlsafe(16)


def admin(dev_keys: Any) -> dict[str, str]:
    return bearer(dev_keys.mint("provider_admin"))


async def add_worker(scheduling: ServiceUnderTest, dev_keys: Any, tenant: uuid.UUID, **body: Any) -> str:
    worker_id = str(uuid.uuid4())
    payload = {"id": worker_id, "name": f"Werker {worker_id[:4]}", "languages": ["nl"], "tenant_ids": [str(tenant)]}
    created = await scheduling.client.post("/workers", json=payload | body, headers=admin(dev_keys))
    assert created.status_code == 201, created.text
    return worker_id


async def open_case(scheduling: ServiceUnderTest, tenant: uuid.UUID, client_ref: str, login: str) -> uuid.UUID:
    """Intake opens a case: scheduling books its intake with the worker who has the specialism."""
    data = CaseOpened(
        case_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        client_ref=client_ref,
        org_unit_id=uuid.uuid4(),
        category=Category.WORKLOAD_STRESS,
        urgency=Urgency.NORMAL,
        sla_deadline=datetime.now(UTC) + timedelta(days=7),
        needed_specialism="stress",
        employee_login=login_digest(login),
    )
    await scheduling.publish([CloudEvent.create(data, tenant_id=tenant)])
    return data.case_id


async def booked(scheduling: ServiceUnderTest, tenant: uuid.UUID, count: int) -> list[Any]:
    rows: list[Any] = []

    async def all_booked() -> bool:
        nonlocal rows
        async with scheduling.sessions() as session:
            rows = list(
                (
                    await session.execute(
                        select(APPOINTMENTS).where(APPOINTMENTS.c.tenant_id == tenant).order_by(APPOINTMENTS.c.ends_at)
                    )
                ).all()
            )
        return len(rows) >= count

    await eventually(all_booked, what=f"{count} auto-scheduled intake(s)")
    return rows


async def export(scheduling: ServiceUnderTest, client_ref: str, headers: dict[str, str]) -> Any:
    response = await scheduling.client.get(f"/persons/{client_ref}/export", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def next_monday_at(hour: int) -> datetime:
    today = datetime.now(AMSTERDAM).date()
    monday = today + timedelta(days=7 - today.weekday())
    while is_public_holiday(monday) or (monday - today).days < 2:
        monday += timedelta(days=7)
    return datetime.combine(monday, datetime.min.time(), tzinfo=AMSTERDAM).replace(hour=hour)


async def test_the_export_holds_the_persons_appointments_intake_and_workshop_place_and_nothing_after_erasure(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker = await add_worker(scheduling, dev_keys, tenant, name="Sanne de Vries", specialisms=["stress"])
    trainer = await add_worker(scheduling, dev_keys, tenant, name="Trainer")
    anna, anna_login = new_ref(), f"anna-{uuid.uuid4()}"
    bert, bert_login = new_ref(), f"bert-{uuid.uuid4()}"
    anna_case = await open_case(scheduling, tenant, anna, anna_login)
    bert_case = await open_case(scheduling, tenant, bert, bert_login)
    await booked(scheduling, tenant, 2)

    workshop = await scheduling.client.post(
        "/workshops",
        json={
            "tenant_id": str(tenant),
            "theme": "stress_and_resilience",
            "location": "video",
            "start": next_monday_at(13).isoformat(),
            "duration_minutes": 90,
            "capacity": 1,
            "trainer_ids": [trainer],
        },
        headers=admin(dev_keys),
    )
    assert workshop.status_code == 201, workshop.text
    workshop_id = workshop.json()["id"]
    for login in (bert_login, anna_login):  # Bert takes the one seat, Anna waits
        employee = bearer(dev_keys.mint("employee", tenant_id=tenant, sub=login))
        registered = await scheduling.client.post(f"/workshops/{workshop_id}/registrations", json={}, headers=employee)
        assert registered.status_code == 201, registered.text

    headers = admin(dev_keys)
    exported = await export(scheduling, anna, headers)
    assert exported["client_ref"] == anna
    [appointment] = exported["appointments"]
    assert appointment["case_id"] == str(anna_case)
    assert (appointment["kind"], appointment["status"]) == ("intake", "booked")
    assert (appointment["worker_id"], appointment["worker_name"]) == (worker, "Sanne de Vries")
    assert datetime.fromisoformat(appointment["end"]) - datetime.fromisoformat(appointment["start"]) == timedelta(
        hours=1
    )
    [pending] = exported["pending_intakes"]
    assert (pending["case_id"], pending["category"]) == (str(anna_case), "workload_stress")
    assert pending["outcome"] == "booked"
    [place] = exported["workshop_registrations"]
    assert (place["workshop_id"], place["status"]) == (workshop_id, "waitlisted")
    assert place["theme"] == "stress_and_resilience"

    other = await export(scheduling, bert, headers)
    assert [a["case_id"] for a in other["appointments"]] == [str(bert_case)]
    assert [r["status"] for r in other["workshop_registrations"]] == ["registered"]
    assert str(anna_case) not in str(other) and str(bert_case) not in str(exported), "nobody else's data"

    # Intake erases Anna: scheduling forgets her pseudonym, her login digest and whose workshop place it was.
    erased = ClientErased(client_ref=anna, erased_at=datetime.now(UTC))
    await scheduling.publish([CloudEvent.create(erased, tenant_id=tenant, subject=anna)])

    async def forgotten() -> bool:
        found = await export(scheduling, anna, headers)
        return not (found["appointments"] or found["pending_intakes"] or found["workshop_registrations"])

    await eventually(forgotten, what="scheduling to apply the erasure")
    async with scheduling.sessions() as session:
        places = (
            await session.execute(
                select(WORKSHOP_REGISTRATIONS.c.participant, WORKSHOP_REGISTRATIONS.c.status).where(
                    WORKSHOP_REGISTRATIONS.c.workshop_id == uuid.UUID(workshop_id)
                )
            )
        ).all()
    assert sorted(status for _, status in places) == ["registered", "waitlisted"], "the places stay"
    assert not [p for p, _ in places if login_digest(anna_login) in p], "but not whose they were"
    assert len((await export(scheduling, bert, headers))["workshop_registrations"]) == 1, "Bert keeps his"


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("social_worker", {}),
        ("account_manager", {"portfolio": []}),
        ("client_contact", {"tenant_id": uuid.uuid4()}),
        ("employee", {"tenant_id": uuid.uuid4()}),
        ("integration", {"tenant_id": uuid.uuid4(), "scopes": []}),
    ],
)
async def test_only_provider_admins_ask_and_nobody_can_probe(
    scheduling: ServiceUnderTest, dev_keys: Any, role: str, claims: dict[str, Any]
) -> None:
    token = bearer(dev_keys.mint(role, **claims))
    for ref in (new_ref(), "c_0000000000"):
        refused = await scheduling.client.get(f"/persons/{ref}/export", headers=token)
        assert refused.status_code == 403, refused.text


async def test_an_unknown_ref_is_empty_and_a_malformed_one_is_refused(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    unknown = new_ref()
    empty = await export(scheduling, unknown, admin(dev_keys))
    assert empty["client_ref"] == unknown
    assert (empty["appointments"], empty["pending_intakes"], empty["workshop_registrations"]) == ([], [], [])
    assert (await scheduling.client.get(f"/persons/{unknown}/export")).status_code == 401
    for malformed in ("c_short", "x_0123456789ab", "c_" + "a" * 41, "c_0123456789%20ab"):
        refused = await scheduling.client.get(f"/persons/{malformed}/export", headers=admin(dev_keys))
        assert refused.status_code == 422, (malformed, refused.text)
        assert refused.json()["error"]["fields"][0]["path"] == "path.client_ref"


async def test_retention_forgets_whose_old_appointments_were_and_keeps_the_slots(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    await add_worker(scheduling, dev_keys, tenant, specialisms=["stress"])
    old_ref, new = new_ref(), new_ref()
    old_case = await open_case(scheduling, tenant, old_ref, f"old-{uuid.uuid4()}")
    await booked(scheduling, tenant, 1)
    new_case = await open_case(scheduling, tenant, new, f"new-{uuid.uuid4()}")
    first, second = await booked(scheduling, tenant, 2)
    assert (first.case_id, second.case_id) == (old_case, new_case), "the first case has the earlier slot"
    # Two years on, between the two intakes' ends: the first is past the period, the second is not yet.
    now = first.ends_at + timedelta(days=730, minutes=1)
    uow = UnitOfWorkFactory(scheduling.sessions)

    async def state() -> list[tuple[Any, ...]]:
        async with scheduling.sessions() as session:
            appointments = await session.execute(
                select(
                    APPOINTMENTS.c.case_id,
                    APPOINTMENTS.c.client_ref,
                    APPOINTMENTS.c.employee_login,
                    APPOINTMENTS.c.starts_at,
                    APPOINTMENTS.c.status,
                    APPOINTMENTS.c.worker_id,
                )
                .where(APPOINTMENTS.c.tenant_id == tenant)
                .order_by(APPOINTMENTS.c.ends_at)
            )
            pending = await session.execute(
                select(PENDING_INTAKES.c.case_id, PENDING_INTAKES.c.client_ref, PENDING_INTAKES.c.employee_login)
                .where(PENDING_INTAKES.c.tenant_id == tenant)
                .order_by(PENDING_INTAKES.c.received_at)
            )
            return [tuple(row) for row in (*appointments.all(), *pending.all())]

    before = await state()
    with scoped(TenantScope(tenant_ids=frozenset({tenant}))):  # this test's organisation only
        dry = await apply_retention(uow=uow, retention_days=730, now=now, dry_run=True)
        assert (dry.appointments, dry.pending_intakes, dry.dry_run) == (1, 1, True)
        assert await state() == before, "a dry run changes nothing"
        report = await apply_retention(uow=uow, retention_days=730, now=now)
    assert (report.appointments, report.pending_intakes, report.dry_run) == (1, 1, False)

    after = await state()
    (old_appointment, new_appointment, old_pending, new_pending) = after
    assert old_appointment[1:3] == (None, None), "the old appointment lost its person"
    assert old_appointment[3:] == before[0][3:], "its time, status and worker stay"
    assert new_appointment == before[1], "the recent one keeps its person"
    assert old_pending[1:] == ("erased", None)
    assert new_pending == before[3]
    admin_headers = admin(dev_keys)
    assert (await export(scheduling, old_ref, admin_headers))["appointments"] == []
    assert [a["case_id"] for a in (await export(scheduling, new, admin_headers))["appointments"]] == [str(new_case)]
    with scoped(TenantScope(tenant_ids=frozenset({tenant}))):
        again = await apply_retention(uow=uow, retention_days=730, now=now)
    assert (again.appointments, again.pending_intakes) == (0, 0), "nothing is forgotten twice"


async def test_the_retention_command_says_in_one_line_what_a_dry_run_would_do(scheduling: ServiceUnderTest) -> None:
    # What `python -m bmw.scheduling retention --dry-run` prints, run in process (a new interpreter costs seconds).
    settings = SchedulingSettings(database_url=scheduling.database_url, kafka_bootstrap_servers=scheduling.bootstrap)
    line = await retention(settings, dry_run=True)
    assert re.fullmatch(
        r"would forget the person of \d+ appointment\(s\) and \d+ pending intake\(s\) "
        r"older than 730 days \(before \d{4}-\d\d-\d\d\)",
        line,
    ), line
