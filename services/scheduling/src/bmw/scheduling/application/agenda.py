"""The agenda over HTTP: free slots, booking, cancelling, completing and no-shows."""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import any_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.events.scheduling import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentNoShow,
    AppointmentRescheduled,
)
from bmw.contracts.pseudonyms import login_digest
from bmw.contracts.taxonomy import DEFAULT_DURATION_MINUTES, AppointmentKind, CancelledBy, Category, Location, Role
from bmw.scheduling.adapters.tables import APPOINTMENTS, IDEMPOTENCY_KEYS, PENDING_INTAKES, WORKERS
from bmw.scheduling.application.access import is_employees_own, is_own_agenda, may_see_appointment
from bmw.scheduling.application.appointments import (
    Appointment,
    insert_appointment,
    is_double_booking,
    open_slots,
    rebook_intake,
)
from bmw.scheduling.application.entitlements import entitlement_verdict
from bmw.scheduling.domain.entitlements import Verdict
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.idempotency import Idempotency, claim, remember
from bmw.servicekit.uow import UnitOfWorkFactory

#: A cancellation less than this before the start is late (and billable under most contracts).
LATE_CANCELLATION = timedelta(hours=24)
MAX_WINDOW = timedelta(days=62)

CANCELLED_BY_ROLE: dict[Role, CancelledBy] = {
    Role.EMPLOYEE: CancelledBy.EMPLOYEE,
    Role.CLIENT_CONTACT: CancelledBy.CLIENT_ORGANISATION,
    Role.INTEGRATION: CancelledBy.CLIENT_ORGANISATION,
    Role.SOCIAL_WORKER: CancelledBy.SOCIAL_WORKER,
    Role.PROVIDER_ADMIN: CancelledBy.PROVIDER,
}


def cancelled_by(principal: Principal, *, own_agenda: bool, employees_own: bool) -> CancelledBy:
    """Which party cancels: the capacity in which the caller may cancel this appointment."""
    if employees_own:
        return CancelledBy.EMPLOYEE
    if own_agenda:
        return CancelledBy.SOCIAL_WORKER
    return next(CANCELLED_BY_ROLE[r] for r in CANCELLED_BY_ROLE if principal.has_role(r))


def duration_of(kind: AppointmentKind, minutes: int | None) -> timedelta:
    if minutes is not None:
        return timedelta(minutes=minutes)
    if kind not in DEFAULT_DURATION_MINUTES:
        raise InvalidInput(
            f"{kind.value} has no default length: give duration_minutes",
            fields=[FieldError(path="body.duration_minutes", message="required for this kind")],
        )
    return timedelta(minutes=DEFAULT_DURATION_MINUTES[kind])


#: Provider staff, who may look into any social worker's agenda for free time.
STAFF = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.ACCOUNT_MANAGER)


async def worker_slots(
    worker_id: uuid.UUID,
    *,
    principal: Principal,
    start: datetime,
    end: datetime,
    duration: timedelta,
    uow: UnitOfWorkFactory,
) -> list[datetime]:
    """The worker's free slots of ``duration`` in [start, end), for those who book in it: provider staff, and a
    client contact for a worker serving its organisation (a manager consultation).

    A worker's free time is the negative of their appointments, across every organisation they serve: employees
    and integrations book nothing and get 403; to a client contact a worker who does not serve its organisation is
    "not found", as one that does not exist.
    """
    if not principal.has_role(*STAFF, Role.CLIENT_CONTACT):
        raise Forbidden("this role does not book appointments")
    if end <= start or end - start > MAX_WINDOW:
        raise InvalidInput(
            "the period must be positive and at most 62 days",
            fields=[FieldError(path="query.to", message="after 'from', within 62 days")],
        )
    async with uow() as work:
        worker = (
            await work.session.execute(
                select(WORKERS.c.weekly_hours, WORKERS.c.tenant_ids).where(WORKERS.c.id == worker_id)
            )
        ).first()
        if worker is None or not (principal.has_role(*STAFF) or principal.tenant_id in worker.tenant_ids):
            raise NotFound("worker not found")
        slots = await open_slots(
            work.session, worker_id, worker.weekly_hours, start=start, end=end, duration=duration, now=datetime.now(UTC)
        )
        return list(slots)


@dataclass(frozen=True)
class Booking:
    """Command: book one appointment in a worker's agenda."""

    worker_id: uuid.UUID
    tenant_id: uuid.UUID
    kind: AppointmentKind
    start: datetime
    duration: timedelta
    case_id: uuid.UUID | None = None
    location: Location | None = None
    topic: Category | None = None


def check_topic(booking: Booking) -> None:
    """A topic belongs to a manager consultation only: what a manager asks advice on is a theme of the
    organisation, while a consult's or intake's subject is the employee's and stays in intake."""
    if booking.topic is not None and booking.kind is not AppointmentKind.MANAGER_CONSULTATION:
        raise InvalidInput(
            "only a manager consultation has a topic",
            fields=[FieldError(path="body.topic", message="leave it out unless kind is manager_consultation")],
        )


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    location: Location | None
    overage: bool


def _may_book(principal: Principal, booking: Booking) -> None:
    principal.require_tenant(booking.tenant_id)
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if principal.has_role(Role.SOCIAL_WORKER):
        if not is_own_agenda(principal, booking.worker_id):
            raise Forbidden("social workers book in their own agenda")
        return
    if principal.has_role(Role.CLIENT_CONTACT):
        if booking.kind is not AppointmentKind.MANAGER_CONSULTATION:
            raise Forbidden("client contacts book manager consultations; workshop seats are booked on the workshop")
        return
    raise Forbidden("this role cannot book appointments")


async def book(
    booking: Booking,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    idempotency: Idempotency | None = None,
    render: Callable[[Booked], dict[str, Any]],
) -> dict[str, Any]:
    """Book a free slot; 409 when it is outside the worker's hours, too soon, taken, or beyond the contract.

    With an ``Idempotency-Key`` a repeat of the same request returns the first answer and books nothing.
    """
    _may_book(principal, booking)
    if booking.kind in (AppointmentKind.WORKSHOP, AppointmentKind.SECONDMENT_BLOCK):
        raise InvalidInput(
            f"a {booking.kind.value} is planned on its own resource",
            fields=[FieldError(path="body.kind", message="use /workshops or /secondments")],
        )
    check_topic(booking)
    async with uow(tenant_id=booking.tenant_id) as work:
        if idempotency is not None:
            stored = await claim(work.session, IDEMPOTENCY_KEYS, idempotency)
            if stored is not None:
                return stored
        worker = (await work.session.execute(select(WORKERS).where(WORKERS.c.id == booking.worker_id))).first()
        if worker is None or booking.tenant_id not in worker.tenant_ids:
            raise InvalidInput(
                "no such social worker for this client organisation",
                fields=[FieldError(path="body.worker_id", message="unknown, or does not serve this organisation")],
            )
        if booking.location is not None and booking.location.value not in worker.locations:
            raise InvalidInput(
                f"this social worker does not meet clients by {booking.location.value}",
                fields=[FieldError(path="body.location", message=f"one of {', '.join(worker.locations)}")],
            )
        client_ref, employee_login = await _case_client(work.session, booking)
        fits = await open_slots(
            work.session,
            booking.worker_id,
            worker.weekly_hours,
            start=booking.start,
            end=booking.start + booking.duration,
            duration=booking.duration,
            now=datetime.now(UTC),
        )
        if booking.start not in fits:
            raise Conflict(
                "that time is not free: outside working hours, too soon, or too close to another appointment",
                current_state="unavailable",
            )
        verdict = await entitlement_verdict(
            work.session,
            tenant_id=booking.tenant_id,
            kind=booking.kind,
            start=booking.start,
            duration=booking.duration,
            client_ref=client_ref,
        )
        overage = verdict is Verdict.OVERAGE
        appointment = await _insert(work.session, booking, principal, client_ref, employee_login, overage)
        if appointment is None:
            raise Conflict("that time was just booked by someone else", current_state="taken")
        await work.emit(
            appointment.booked_event(overage=overage), tenant_id=booking.tenant_id, subject=str(appointment.id)
        )
        response = render(Booked(appointment, booking.location, overage))
        if idempotency is not None:
            await remember(work.session, IDEMPOTENCY_KEYS, idempotency, 201, response)
        await work.commit()
    return response


async def _insert(
    session: AsyncSession,
    booking: Booking,
    principal: Principal,
    client_ref: str | None,
    employee_login: str | None,
    overage: bool,
) -> Appointment | None:
    """Insert the booking; None when the worker is taken then (the exclusion constraint said no)."""
    appointment = Appointment(
        uuid.uuid4(),
        booking.tenant_id,
        booking.worker_id,
        booking.kind,
        booking.case_id,
        booking.start,
        booking.start + booking.duration,
        booking.topic,
    )
    inserted = await insert_appointment(
        session,
        appointment,
        client_ref=client_ref,
        booked_by=principal.subject,
        location=booking.location.value if booking.location else None,
        employee_login=employee_login,
        overage=overage,
    )
    return appointment if inserted else None


async def _case_client(session: AsyncSession, booking: Booking) -> tuple[str | None, str | None]:
    """The pseudonym (and login digest) of the employee whose case the appointment is for."""
    if booking.case_id is None:
        return None, None
    case = (
        await session.execute(
            select(PENDING_INTAKES.c.client_ref, PENDING_INTAKES.c.employee_login).where(
                PENDING_INTAKES.c.case_id == booking.case_id, PENDING_INTAKES.c.tenant_id == booking.tenant_id
            )
        )
    ).first()
    if case is None:
        raise InvalidInput(
            "no such case for this client organisation",
            fields=[FieldError(path="body.case_id", message="unknown case of this client organisation")],
        )
    if case.client_ref == "erased":
        raise Conflict("the client of this case has been erased", current_state="erased")
    return case.client_ref, case.employee_login


#: How far back an appointment that already took place may be recorded.
RECORD_WINDOW = timedelta(days=60)


async def record_held(
    booking: Booking, *, principal: Principal, uow: UnitOfWorkFactory, now: datetime | None = None
) -> Booked:
    """Record an appointment that already took place without being booked — a walk-in consult during
    consultation hours, a session that ran on site — as booked and completed at once (the worker, or an admin).

    It must lie in the past (within 60 days) and, like every appointment, overlap nothing else of the worker;
    working hours do not apply (a walk-in may run late). Beyond the contract's entitlement it is not refused —
    it happened — but marked overage.
    """
    moment = now or datetime.now(UTC)
    if not (principal.has_role(Role.PROVIDER_ADMIN) or is_own_agenda(principal, booking.worker_id)):
        raise Forbidden("the social worker records their own appointments (or a provider admin)")
    principal.require_tenant(booking.tenant_id)
    if booking.kind not in (AppointmentKind.INTAKE, AppointmentKind.CONSULT, AppointmentKind.MANAGER_CONSULTATION):
        raise InvalidInput(
            "only intakes, consults and manager consultations are recorded afterwards",
            fields=[FieldError(path="body.kind", message="intake, consult or manager_consultation")],
        )
    check_topic(booking)
    if not moment - RECORD_WINDOW <= booking.start <= moment - booking.duration:
        raise InvalidInput(
            "an appointment recorded afterwards has ended already, and started at most 60 days ago",
            fields=[FieldError(path="body.start", message="in the past: ended before now, within 60 days")],
        )
    async with uow(tenant_id=booking.tenant_id) as work:
        worker = (await work.session.execute(select(WORKERS).where(WORKERS.c.id == booking.worker_id))).first()
        if worker is None or booking.tenant_id not in worker.tenant_ids:
            raise InvalidInput(
                "no such social worker for this client organisation",
                fields=[FieldError(path="body.worker_id", message="unknown, or does not serve this organisation")],
            )
        client_ref, employee_login = await _case_client(work.session, booking)
        try:
            verdict = await entitlement_verdict(
                work.session,
                tenant_id=booking.tenant_id,
                kind=booking.kind,
                start=booking.start,
                duration=booking.duration,
                client_ref=client_ref,
            )
        except Conflict:
            verdict = Verdict.OVERAGE  # it took place: billed as overage, never refused
        overage = verdict is Verdict.OVERAGE
        appointment = await _insert(work.session, booking, principal, client_ref, employee_login, overage)
        if appointment is None:
            raise Conflict("the worker had another appointment at that time", current_state="taken")
        await work.session.execute(
            update(APPOINTMENTS).where(APPOINTMENTS.c.id == appointment.id).values(status="completed", revision=1)
        )
        await work.emit(
            appointment.booked_event(overage=overage), tenant_id=booking.tenant_id, subject=str(appointment.id)
        )
        await work.emit(
            AppointmentCompleted(**appointment.event_fields()), tenant_id=booking.tenant_id, subject=str(appointment.id)
        )
        await work.commit()
    return Booked(appointment, booking.location, overage)


async def change_status(
    appointment_id: uuid.UUID, *, action: str, principal: Principal, uow: UnitOfWorkFactory, now: datetime | None = None
) -> AppointmentView:
    """cancel, complete or no_show a booked appointment; returns it as it now is."""
    moment = now or datetime.now(UTC)
    async with uow() as work:
        row = (
            await work.session.execute(
                select(APPOINTMENTS).where(APPOINTMENTS.c.id == appointment_id).with_for_update()
            )
        ).first()
        if row is None or not may_see_appointment(principal, row):
            raise NotFound("appointment not found")
        own_agenda = is_own_agenda(principal, row.worker_id)
        if action != "cancel" and not (own_agenda or principal.has_role(Role.PROVIDER_ADMIN)):
            raise Forbidden("only the social worker of the appointment records how it went")
        if row.kind in (AppointmentKind.WORKSHOP.value, AppointmentKind.SECONDMENT_BLOCK.value) and row.workshop_id:
            raise Conflict("a trainer's workshop block changes with its workshop", current_state="workshop")
        if row.status != "booked":
            raise Conflict(f"the appointment is already {row.status}", current_state=row.status)
        appointment = Appointment(
            row.id,
            row.tenant_id,
            row.worker_id,
            AppointmentKind(row.kind),
            row.case_id,
            row.starts_at,
            row.ends_at,
            Category(row.topic) if row.topic else None,
        )
        late: bool | None = None
        fields = appointment.event_fields()
        if action == "cancel":
            if moment >= appointment.start:
                raise Conflict("an appointment that has started cannot be cancelled", current_state="started")
            late = appointment.start - moment < LATE_CANCELLATION
            by = cancelled_by(principal, own_agenda=own_agenda, employees_own=is_employees_own(principal, row))
            status = "cancelled"
            event: object = AppointmentCancelled(**fields, late=late, cancelled_by=by)
            values = {"status": status, "cancelled_by": by.value, "late_cancellation": late}
        else:
            if moment < appointment.start:
                raise Conflict("an appointment cannot be recorded before it starts", current_state="booked")
            status = "completed" if action == "complete" else "no_show"
            event = AppointmentCompleted(**fields) if action == "complete" else AppointmentNoShow(**fields)
            values = {"status": status}
        changed = (
            await work.session.execute(
                update(APPOINTMENTS)
                .where(APPOINTMENTS.c.id == appointment.id)
                .values(**values, revision=APPOINTMENTS.c.revision + 1)
                .returning(APPOINTMENTS)
            )
        ).one()
        await work.emit(event, tenant_id=appointment.tenant_id, subject=str(appointment.id))  # type: ignore[arg-type]
        if action == "cancel" and appointment.kind is AppointmentKind.INTAKE and appointment.case_id is not None:
            # The case still needs its intake: the next slot after the cancelled one, in the same transaction.
            await rebook_intake(work, case_id=appointment.case_id, after=appointment.end, now=moment)
        await work.commit()
    return AppointmentView.of(changed)


async def reschedule(
    appointment_id: uuid.UUID, *, start: datetime, principal: Principal, uow: UnitOfWorkFactory
) -> AppointmentView:
    """Move a booked appointment to another free slot of the same worker (the worker, or an admin)."""
    async with uow() as work:
        row = (
            await work.session.execute(
                select(APPOINTMENTS).where(APPOINTMENTS.c.id == appointment_id).with_for_update()
            )
        ).first()
        if row is None or not may_see_appointment(principal, row):
            raise NotFound("appointment not found")
        if not (principal.has_role(Role.PROVIDER_ADMIN) or is_own_agenda(principal, row.worker_id)):
            raise Forbidden("only the social worker of the appointment (or an admin) moves it")
        if row.workshop_id is not None:
            raise Conflict("a trainer's workshop block moves with its workshop", current_state="workshop")
        if row.status != "booked":
            raise Conflict(f"the appointment is already {row.status}", current_state=row.status)
        duration = row.ends_at - row.starts_at
        hours = await work.session.scalar(select(WORKERS.c.weekly_hours).where(WORKERS.c.id == row.worker_id))
        fits = await open_slots(
            work.session,
            row.worker_id,
            hours or {},
            start=start,
            end=start + duration,
            duration=duration,
            now=datetime.now(UTC),
            ignore=(row.starts_at, row.ends_at),  # its own old time does not block it
        )
        if start not in fits:
            raise Conflict("that time is not free", current_state="unavailable")
        try:
            async with work.session.begin_nested():
                changed = (
                    await work.session.execute(
                        update(APPOINTMENTS)
                        .where(APPOINTMENTS.c.id == appointment_id)
                        .values(starts_at=start, ends_at=start + duration, revision=APPOINTMENTS.c.revision + 1)
                        .returning(APPOINTMENTS)
                    )
                ).one()
        except IntegrityError as error:
            if is_double_booking(error):
                raise Conflict("that time was just booked by someone else", current_state="taken") from error
            raise
        moved = Appointment(
            row.id,
            row.tenant_id,
            row.worker_id,
            AppointmentKind(row.kind),
            row.case_id,
            start,
            start + duration,
            Category(row.topic) if row.topic else None,
        )
        await work.emit(
            AppointmentRescheduled(**moved.event_fields(), previous_start=row.starts_at),
            tenant_id=moved.tenant_id,
            subject=str(moved.id),
        )
        await work.commit()
    return AppointmentView.of(changed)


# -- reading the agenda -------------------------------------------------------------------------


@dataclass(frozen=True)
class AppointmentView:
    """An appointment as its readers see it (never the client's pseudonym)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    worker_id: uuid.UUID
    kind: AppointmentKind
    case_id: uuid.UUID | None
    start: datetime
    end: datetime
    status: str
    location: Location | None
    late_cancellation: bool | None
    cancelled_by: CancelledBy | None
    overage: bool
    walk_in: bool
    workshop_id: uuid.UUID | None
    topic: Category | None

    @classmethod
    def of(cls, row: Any) -> AppointmentView:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            worker_id=row.worker_id,
            kind=AppointmentKind(row.kind),
            case_id=row.case_id,
            start=row.starts_at,
            end=row.ends_at,
            status=row.status,
            location=Location(row.location) if row.location else None,
            late_cancellation=row.late_cancellation,
            cancelled_by=CancelledBy(row.cancelled_by) if row.cancelled_by else None,
            overage=row.overage,
            walk_in=row.walk_in,
            workshop_id=row.workshop_id,
            topic=Category(row.topic) if row.topic else None,
        )


MAX_LIST_WINDOW = timedelta(days=366)


def _visible_to(principal: Principal, worker_id: uuid.UUID | None) -> list[Any]:
    """SQL conditions that keep only the appointments the caller may see (see application.access)."""
    if principal.has_role(Role.PROVIDER_ADMIN):
        return []
    if principal.has_role(Role.SOCIAL_WORKER):
        if worker_id is not None and str(worker_id) != principal.subject:
            raise Forbidden("social workers read their own agenda")
        return [APPOINTMENTS.c.worker_id == uuid.UUID(principal.subject)]
    if principal.has_role(Role.EMPLOYEE) and principal.tenant_id is not None:
        return [
            APPOINTMENTS.c.tenant_id == principal.tenant_id,
            APPOINTMENTS.c.employee_login == login_digest(principal.subject),
        ]
    if principal.has_role(Role.CLIENT_CONTACT) and principal.tenant_id is not None:
        return [
            APPOINTMENTS.c.tenant_id == principal.tenant_id,
            APPOINTMENTS.c.kind == AppointmentKind.MANAGER_CONSULTATION.value,
        ]
    raise Forbidden("this role has no agenda to read")


async def list_appointments(
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    start: datetime,
    end: datetime,
    worker_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    status: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 100,
) -> list[AppointmentView]:
    """Appointments starting in [start, end) that the caller may see, by start time; keyset-paged."""
    if end <= start or end - start > MAX_LIST_WINDOW:
        raise InvalidInput(
            "the period must be positive and at most 366 days",
            fields=[FieldError(path="query.to", message="after 'from', within 366 days")],
        )
    if principal.has_role(Role.SOCIAL_WORKER) and not principal.has_role(Role.PROVIDER_ADMIN):
        try:
            uuid.UUID(principal.subject)
        except ValueError as error:
            raise Forbidden("this login is not a social worker's staff record") from error
    conditions = [
        *_visible_to(principal, worker_id),
        APPOINTMENTS.c.starts_at >= start,
        APPOINTMENTS.c.starts_at < end,
    ]
    if worker_id is not None:
        conditions.append(APPOINTMENTS.c.worker_id == worker_id)
    if tenant_id is not None:
        conditions.append(APPOINTMENTS.c.tenant_id == tenant_id)
    if status is not None:
        conditions.append(APPOINTMENTS.c.status == status)
    if after is not None:
        conditions.append(tuple_(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id) > tuple_(*after))
    async with uow() as work:
        rows = await work.session.execute(
            select(APPOINTMENTS).where(*conditions).order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id).limit(limit)
        )
        return [AppointmentView.of(row) for row in rows]


async def read_appointment(
    appointment_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory
) -> AppointmentView:
    """One appointment; 404 when it does not exist or the caller may not know of it."""
    async with uow() as work:
        row = (await work.session.execute(select(APPOINTMENTS).where(APPOINTMENTS.c.id == appointment_id))).first()
    if row is None or not may_see_appointment(principal, row):
        raise NotFound("appointment not found")
    return AppointmentView.of(row)


@dataclass(frozen=True)
class OpenSlot:
    worker_id: uuid.UUID
    worker_name: str
    start: datetime
    locations: list[Location]


async def suitable_slots(
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    tenant_id: uuid.UUID,
    start: datetime,
    end: datetime,
    duration: timedelta,
    specialism: str | None = None,
    language: str | None = None,
    location: Location | None = None,
    limit: int = 50,
) -> list[OpenSlot]:
    """Free slots of every worker who serves the organisation (with the specialism, language and location
    asked for), earliest first across workers."""
    principal.require_tenant(tenant_id)
    if not principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.CLIENT_CONTACT, Role.ACCOUNT_MANAGER):
        raise Forbidden("this role does not book appointments")
    if end <= start or end - start > MAX_WINDOW:
        raise InvalidInput(
            "the period must be positive and at most 62 days",
            fields=[FieldError(path="query.to", message="after 'from', within 62 days")],
        )
    conditions = [any_(WORKERS.c.tenant_ids) == tenant_id]
    if specialism is not None:
        conditions.append(any_(WORKERS.c.specialisms) == specialism)
    if language is not None:
        conditions.append(any_(WORKERS.c.languages) == language)
    if location is not None:
        conditions.append(any_(WORKERS.c.locations) == location.value)
    now = datetime.now(UTC)
    async with uow() as work:
        workers = (await work.session.execute(select(WORKERS).where(*conditions).order_by(WORKERS.c.id))).all()
        per_worker = []
        for worker in workers:
            slots = await open_slots(
                work.session, worker.id, worker.weekly_hours, start=start, end=end, duration=duration, now=now
            )
            locations = [Location(value) for value in worker.locations]
            per_worker.append([OpenSlot(worker.id, worker.name, slot, locations) for slot in islice(slots, limit)])
    return list(islice(heapq.merge(*per_worker, key=lambda slot: (slot.start, str(slot.worker_id))), limit))
