"""The agenda over HTTP: free slots, booking, cancelling, completing and no-shows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bmw.contracts.events.scheduling import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentNoShow,
    AppointmentRescheduled,
)
from bmw.contracts.taxonomy import DEFAULT_DURATION_MINUTES, AppointmentKind, CancelledBy, Role
from bmw.scheduling.adapters.tables import APPOINTMENTS, WORKERS
from bmw.scheduling.application.appointments import Appointment, insert_appointment, is_double_booking, open_slots
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
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


def duration_of(kind: AppointmentKind, minutes: int | None) -> timedelta:
    if minutes is not None:
        return timedelta(minutes=minutes)
    if kind not in DEFAULT_DURATION_MINUTES:
        raise InvalidInput(
            f"{kind.value} has no default length: give duration_minutes",
            fields=[FieldError(path="body.duration_minutes", message="required for this kind")],
        )
    return timedelta(minutes=DEFAULT_DURATION_MINUTES[kind])


async def worker_slots(
    worker_id: uuid.UUID, *, start: datetime, end: datetime, duration: timedelta, uow: UnitOfWorkFactory
) -> list[datetime]:
    """The worker's free slots of ``duration`` in [start, end)."""
    if end <= start or end - start > MAX_WINDOW:
        raise InvalidInput(
            "the period must be positive and at most 62 days",
            fields=[FieldError(path="query.to", message="after 'from', within 62 days")],
        )
    async with uow() as work:
        hours_json = await work.session.scalar(select(WORKERS.c.weekly_hours).where(WORKERS.c.id == worker_id))
        if hours_json is None:
            raise NotFound("worker not found")
        slots = await open_slots(
            work.session, worker_id, hours_json, start=start, end=end, duration=duration, now=datetime.now(UTC)
        )
        return list(slots)


async def book(
    *,
    worker_id: uuid.UUID,
    tenant_id: uuid.UUID,
    kind: AppointmentKind,
    start: datetime,
    duration: timedelta,
    case_id: uuid.UUID | None,
    principal: Principal,
    uow: UnitOfWorkFactory,
) -> Appointment:
    """Book a free slot; 409 when it is outside the worker's hours, too soon, or taken."""
    principal.require_tenant(tenant_id)
    if principal.has_role(Role.SOCIAL_WORKER) and not principal.has_role(Role.PROVIDER_ADMIN):
        if principal.subject != str(worker_id):
            raise Forbidden("social workers book in their own agenda")
    elif principal.has_role(Role.CLIENT_CONTACT):
        if kind is not AppointmentKind.MANAGER_CONSULTATION:
            raise Forbidden("client contacts book manager consultations")
    elif not principal.has_role(Role.PROVIDER_ADMIN):
        raise Forbidden("this role cannot book appointments")
    async with uow(tenant_id=tenant_id) as work:
        worker = (await work.session.execute(select(WORKERS).where(WORKERS.c.id == worker_id))).first()
        if worker is None or tenant_id not in worker.tenant_ids:
            raise InvalidInput(
                "no such social worker for this client organisation",
                fields=[FieldError(path="body.worker_id", message="unknown, or does not serve this organisation")],
            )
        fits = await open_slots(
            work.session,
            worker_id,
            worker.weekly_hours,
            start=start,
            end=start + duration,
            duration=duration,
            now=datetime.now(UTC),
        )
        if start not in fits:
            raise Conflict(
                "that time is not free: outside working hours, too soon, or too close to another appointment",
                current_state="unavailable",
            )
        appointment = Appointment(uuid.uuid4(), tenant_id, worker_id, kind, case_id, start, start + duration)
        if not await insert_appointment(work.session, appointment, client_ref=None, booked_by=principal.subject):
            raise Conflict("that time was just booked by someone else", current_state="taken")
        await work.emit(appointment.booked_event(), tenant_id=tenant_id, subject=str(appointment.id))
        await work.commit()
    return appointment


async def change_status(
    appointment_id: uuid.UUID, *, action: str, principal: Principal, uow: UnitOfWorkFactory, now: datetime | None = None
) -> tuple[Appointment, str, bool | None]:
    """cancel, complete or no_show a booked appointment; returns it with its new status (and lateness)."""
    moment = now or datetime.now(UTC)
    async with uow() as work:
        row = (
            await work.session.execute(
                select(APPOINTMENTS).where(APPOINTMENTS.c.id == appointment_id).with_for_update()
            )
        ).first()
        if row is None or not principal.may_act_for(row.tenant_id):
            raise NotFound("appointment not found")
        own_agenda = principal.has_role(Role.SOCIAL_WORKER) and principal.subject == str(row.worker_id)
        if action != "cancel" and not (own_agenda or principal.has_role(Role.PROVIDER_ADMIN)):
            raise Forbidden("only the social worker of the appointment records how it went")
        if action == "cancel" and principal.has_role(Role.SOCIAL_WORKER) and not own_agenda:
            raise Forbidden("social workers cancel in their own agenda")
        if row.status != "booked":
            raise Conflict(f"the appointment is already {row.status}", current_state=row.status)
        appointment = Appointment(
            row.id, row.tenant_id, row.worker_id, AppointmentKind(row.kind), row.case_id, row.starts_at, row.ends_at
        )
        late: bool | None = None
        fields = {
            "appointment_id": appointment.id,
            "kind": appointment.kind,
            "case_id": appointment.case_id,
            "worker_id": appointment.worker_id,
            "start": appointment.start,
            "duration_minutes": appointment.duration_minutes,
        }
        if action == "cancel":
            if moment >= appointment.start:
                raise Conflict("an appointment that has started cannot be cancelled", current_state="started")
            late = appointment.start - moment < LATE_CANCELLATION
            by = next(CANCELLED_BY_ROLE[r] for r in CANCELLED_BY_ROLE if principal.has_role(r))
            status = "cancelled"
            event: object = AppointmentCancelled(**fields, late=late, cancelled_by=by)
            values = {"status": status, "cancelled_by": by.value, "late_cancellation": late}
        else:
            if moment < appointment.start:
                raise Conflict("an appointment cannot be recorded before it starts", current_state="booked")
            status = "completed" if action == "complete" else "no_show"
            event = AppointmentCompleted(**fields) if action == "complete" else AppointmentNoShow(**fields)
            values = {"status": status}
        await work.session.execute(update(APPOINTMENTS).where(APPOINTMENTS.c.id == appointment.id).values(**values))
        await work.emit(event, tenant_id=appointment.tenant_id, subject=str(appointment.id))  # type: ignore[arg-type]
        await work.commit()
    return appointment, status, late


async def reschedule(
    appointment_id: uuid.UUID, *, start: datetime, principal: Principal, uow: UnitOfWorkFactory
) -> Appointment:
    """Move a booked appointment to another free slot of the same worker (the worker, or an admin)."""
    async with uow() as work:
        row = (
            await work.session.execute(
                select(APPOINTMENTS).where(APPOINTMENTS.c.id == appointment_id).with_for_update()
            )
        ).first()
        if row is None or not principal.may_act_for(row.tenant_id):
            raise NotFound("appointment not found")
        if not (principal.has_role(Role.PROVIDER_ADMIN) or principal.subject == str(row.worker_id)):
            raise Forbidden("only the social worker of the appointment (or an admin) moves it")
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
                await work.session.execute(
                    update(APPOINTMENTS)
                    .where(APPOINTMENTS.c.id == appointment_id)
                    .values(starts_at=start, ends_at=start + duration)
                )
        except IntegrityError as error:
            if is_double_booking(error):
                raise Conflict("that time was just booked by someone else", current_state="taken") from error
            raise
        moved = Appointment(
            row.id, row.tenant_id, row.worker_id, AppointmentKind(row.kind), row.case_id, start, start + duration
        )
        await work.emit(
            AppointmentRescheduled(
                appointment_id=moved.id,
                kind=moved.kind,
                case_id=moved.case_id,
                worker_id=moved.worker_id,
                start=moved.start,
                duration_minutes=moved.duration_minutes,
                previous_start=row.starts_at,
            ),
            tenant_id=moved.tenant_id,
            subject=str(moved.id),
        )
        await work.commit()
    return moved
