"""Appointments: booking under the database's no-double-booking constraint, and auto-scheduling of
intakes within the SLA when intake opens a case."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, any_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened, ClientErased
from bmw.contracts.events.scheduling import AppointmentBooked, IntakeUnschedulable
from bmw.contracts.taxonomy import DEFAULT_DURATION_MINUTES, AppointmentKind, Category, UnschedulableReason
from bmw.scheduling.adapters.tables import ABSENCES, APPOINTMENTS, EXTRA_HOURS, PENDING_INTAKES, WORKERS
from bmw.scheduling.domain.availability import WorkingHours, iter_free_slots
from bmw.servicekit.uow import UnitOfWork
from bmw.servicekit.walls import whole_service_view

logger = logging.getLogger(__name__)

#: The exclusion constraint that forbids two overlapping appointments of one worker.
NO_DOUBLE_BOOKING = "no_double_booking"
BUFFER = timedelta(minutes=15)
MINIMUM_NOTICE = timedelta(hours=2)
#: SQLSTATE of a deadlock PostgreSQL broke by aborting one transaction, and how often an insert tries again.
DEADLOCK_DETECTED = "40P01"
DEADLOCK_RETRIES = 3


@dataclass(frozen=True)
class Appointment:
    id: uuid.UUID
    tenant_id: uuid.UUID
    worker_id: uuid.UUID
    kind: AppointmentKind
    case_id: uuid.UUID | None
    start: datetime
    end: datetime
    #: A manager consultation's theme (a help-request category), so that signals can see repeated
    #: consultations on one theme; None for every other kind.
    topic: Category | None = None

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    def event_fields(self) -> dict[str, Any]:
        """What every appointment event says of it (no client identity)."""
        return {
            "appointment_id": self.id,
            "kind": self.kind,
            "case_id": self.case_id,
            "worker_id": self.worker_id,
            "start": self.start,
            "duration_minutes": self.duration_minutes,
            "topic": self.topic,
        }

    def booked_event(self, *, overage: bool = False) -> AppointmentBooked:
        return AppointmentBooked(**self.event_fields(), overage=overage)


def is_double_booking(error: IntegrityError) -> bool:
    return NO_DOUBLE_BOOKING in str(error.orig)


async def insert_appointment(
    session: AsyncSession,
    appointment: Appointment,
    *,
    client_ref: str | None,
    booked_by: str,
    location: str | None = None,
    employee_login: str | None = None,
    overage: bool = False,
    workshop_id: uuid.UUID | None = None,
    walk_in: bool = False,
) -> bool:
    """Insert inside a savepoint; False when the worker is already booked then (the constraint said no).

    Two overlapping inserts in flight may deadlock on the exclusion constraint (each waits to see whether the
    other commits); PostgreSQL then aborts one. Its savepoint is rolled back and the insert tried again, which
    now waits for the survivor and either meets the constraint (False) or, if the survivor rolled back, wins.
    """
    values = {
        "id": appointment.id,
        "tenant_id": appointment.tenant_id,
        "worker_id": appointment.worker_id,
        "kind": appointment.kind.value,
        "case_id": appointment.case_id,
        "topic": appointment.topic.value if appointment.topic else None,
        "client_ref": client_ref,
        "starts_at": appointment.start,
        "ends_at": appointment.end,
        "status": "booked",
        "booked_by": booked_by,
        "location": location,
        "employee_login": employee_login,
        "overage": overage,
        "workshop_id": workshop_id,
        "walk_in": walk_in,
    }
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            async with session.begin_nested():
                await session.execute(insert(APPOINTMENTS).values(**values))
        except IntegrityError as error:
            if is_double_booking(error):
                return False
            raise
        except DBAPIError as error:
            if not is_deadlock(error) or attempt == DEADLOCK_RETRIES:
                raise
            logger.info("booking %s lost a deadlock on the exclusion constraint; trying again", appointment.id)
            continue
        return True
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def is_deadlock(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == DEADLOCK_DETECTED


Intervals = list[tuple[datetime, datetime]]


async def busy_intervals(
    session: AsyncSession, worker_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[Intervals, Intervals, Intervals]:
    """The worker's active appointments, absences and one-off extra hours that touch [start, end).

    A worker serves several client organisations: their time is taken by every organisation's appointments, which
    are read across the walls here, as times only (nothing of whom they are for leaves this function).
    """
    async with whole_service_view(session):
        appointments = (
            await session.execute(
                select(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.ends_at).where(
                    APPOINTMENTS.c.worker_id == worker_id,
                    APPOINTMENTS.c.status != "cancelled",
                    APPOINTMENTS.c.ends_at > start - BUFFER,
                    APPOINTMENTS.c.starts_at < end + BUFFER,
                )
            )
        ).all()
    absences = await session.execute(
        select(ABSENCES.c.starts_at, ABSENCES.c.ends_at).where(
            ABSENCES.c.worker_id == worker_id, ABSENCES.c.ends_at > start, ABSENCES.c.starts_at < end
        )
    )
    extra = await session.execute(
        select(EXTRA_HOURS.c.starts_at, EXTRA_HOURS.c.ends_at).where(
            EXTRA_HOURS.c.worker_id == worker_id, EXTRA_HOURS.c.ends_at > start, EXTRA_HOURS.c.starts_at < end
        )
    )
    return [(r[0], r[1]) for r in appointments], [(r[0], r[1]) for r in absences], [(r[0], r[1]) for r in extra]


async def open_slots(
    session: AsyncSession,
    worker_id: uuid.UUID,
    weekly_hours: dict[str, list[list[str]]],
    *,
    start: datetime,
    end: datetime,
    duration: timedelta,
    now: datetime,
    ignore: tuple[datetime, datetime] | None = None,
) -> Iterator[datetime]:
    """The worker's free slots of ``duration`` in [start, end), earliest first, with the service's buffer
    and minimum notice; ``ignore`` leaves one busy interval out (an appointment being moved)."""
    busy, absences, extra = await busy_intervals(session, worker_id, start, end)
    return iter_free_slots(
        hours=WorkingHours.parse(weekly_hours),
        busy=[interval for interval in busy if interval != ignore],
        absences=absences,
        extra=extra,
        window_start=start,
        window_end=end,
        duration=duration,
        buffer=BUFFER,
        minimum_notice=MINIMUM_NOTICE,
        now=now,
    )


async def caseloads(session: AsyncSession, worker_ids: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, int]:
    """Upcoming booked appointments per worker: the load auto-scheduling balances."""
    rows = await session.execute(
        select(APPOINTMENTS.c.worker_id, func.count())
        .where(
            APPOINTMENTS.c.worker_id.in_(worker_ids),
            APPOINTMENTS.c.status == "booked",
            APPOINTMENTS.c.starts_at >= now,
        )
        .group_by(APPOINTMENTS.c.worker_id)
    )
    counts = dict.fromkeys(worker_ids, 0)
    counts.update({row[0]: int(row[1]) for row in rows})
    return counts


def _suitable(
    workers: list[Row[Any]], specialism: str | None, language: str
) -> tuple[list[Row[Any]], UnschedulableReason | None]:
    if not workers:
        return [], UnschedulableReason.NO_WORKER_SERVES_TENANT
    with_specialism = [w for w in workers if specialism is None or specialism in w.specialisms]
    if not with_specialism:
        return [], UnschedulableReason.NO_SPECIALISM
    speaking = [w for w in with_specialism if language in w.languages]
    if not speaking:
        return [], UnschedulableReason.NO_LANGUAGE
    return speaking, None


async def auto_schedule(uow: UnitOfWork, event: CloudEvent, data: CaseOpened, *, now: datetime | None = None) -> None:
    """Book the intake: a worker who serves the organisation, has the specialism and language, with the
    lowest caseload that has a free slot before the SLA deadline, at their earliest slot; else say why not."""
    session = uow.session
    moment = now or datetime.now(UTC)
    await session.execute(
        pg_insert(PENDING_INTAKES)
        .values(
            case_id=data.case_id,
            tenant_id=event.tenantid,
            org_unit_id=data.org_unit_id,
            client_ref=data.client_ref,
            category=data.category.value,
            urgency=data.urgency.value,
            sla_deadline=data.sla_deadline,
            needed_specialism=data.needed_specialism,
            language=data.language,
            employee_login=data.employee_login,
        )
        .on_conflict_do_nothing(index_elements=[PENDING_INTAKES.c.case_id])
    )
    await book_intake(
        uow,
        tenant_id=event.tenantid,
        case_id=data.case_id,
        client_ref=data.client_ref,
        employee_login=data.employee_login,
        specialism=data.needed_specialism,
        language=data.language,
        window=(moment, data.sla_deadline),
        now=moment,
    )


async def book_intake(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    case_id: uuid.UUID,
    client_ref: str,
    employee_login: str | None,
    specialism: str | None,
    language: str,
    window: tuple[datetime, datetime],
    now: datetime,
) -> None:
    """Book a case's intake with the least-loaded suitable worker at their earliest slot in ``window``, and
    announce it; else announce why it cannot be scheduled."""
    session = uow.session
    serving = list((await session.execute(select(WORKERS).where(any_(WORKERS.c.tenant_ids) == tenant_id))).all())
    candidates, reason = _suitable(serving, specialism, language)
    duration = timedelta(minutes=DEFAULT_DURATION_MINUTES[AppointmentKind.INTAKE])
    if reason is None:
        loads = await caseloads(session, [w.id for w in candidates], now)
        candidates.sort(key=lambda w: (loads[w.id], str(w.id)))
        for worker in candidates:
            for _attempt in range(5):  # a concurrent booking may take the slot: look again
                slots = await open_slots(
                    session, worker.id, worker.weekly_hours, start=window[0], end=window[1], duration=duration, now=now
                )
                start = next(slots, None)
                if start is None:
                    break
                appointment = Appointment(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    worker_id=worker.id,
                    kind=AppointmentKind.INTAKE,
                    case_id=case_id,
                    start=start,
                    end=start + duration,
                )
                if await insert_appointment(
                    session, appointment, client_ref=client_ref, booked_by="auto", employee_login=employee_login
                ):
                    await _settle(session, case_id, "booked")
                    await uow.emit(appointment.booked_event(), tenant_id=tenant_id, subject=str(appointment.id))
                    return
        reason = UnschedulableReason.NO_CAPACITY_BEFORE_DEADLINE
    await _settle(session, case_id, reason.value)
    await uow.emit(IntakeUnschedulable(case_id=case_id, reason=reason), tenant_id=tenant_id, subject=str(case_id))


#: When a cancelled intake can no longer be rebooked before the SLA deadline, the search looks this far ahead.
REBOOK_HORIZON = timedelta(days=14)


async def rebook_intake(uow: UnitOfWork, *, case_id: uuid.UUID, after: datetime, now: datetime) -> None:
    """A booked intake was cancelled: book the next suitable slot after the cancelled one — before the SLA
    deadline when possible, else within two weeks — or announce that it cannot be scheduled (intake escalates)."""
    case = (await uow.session.execute(select(PENDING_INTAKES).where(PENDING_INTAKES.c.case_id == case_id))).first()
    if case is None or case.client_ref == "erased":
        return
    start = max(now, after)
    end = case.sla_deadline if case.sla_deadline > start + timedelta(hours=1) else start + REBOOK_HORIZON
    await book_intake(
        uow,
        tenant_id=case.tenant_id,
        case_id=case_id,
        client_ref=case.client_ref,
        employee_login=case.employee_login,
        specialism=case.needed_specialism,
        language=case.language,
        window=(start, end),
        now=now,
    )


async def _settle(session: AsyncSession, case_id: uuid.UUID, outcome: str) -> None:
    await session.execute(update(PENDING_INTAKES).where(PENDING_INTAKES.c.case_id == case_id).values(outcome=outcome))


async def forget_client(uow: UnitOfWork, event: CloudEvent, data: ClientErased) -> None:
    """Erasure: drop the pseudonym; the time slots stay for billing and capacity history."""
    await uow.session.execute(
        update(APPOINTMENTS)
        .where(APPOINTMENTS.c.client_ref == data.client_ref)
        .values(client_ref=None, employee_login=None)
    )
    await uow.session.execute(
        update(PENDING_INTAKES)
        .where(PENDING_INTAKES.c.client_ref == data.client_ref)
        .values(client_ref="erased", employee_login=None)
    )
