"""The rights of the person in scheduling: access (what is held under a pseudonym) and retention.

Scheduling knows a person only by intake's pseudonym ``client_ref`` and by the digest of their portal login
(``employee_login``, see ``bmw.contracts.pseudonyms``), both on their appointments and on the intake that
auto-scheduling booked; a workshop registration they made themselves carries the same digest. Everything
that can be found from the pseudonym is the person's data here, and nothing else is.

Scheduling keeps no register of persons, so it cannot tell "never heard of" from "forgotten" (erased, or past
retention): both answer an empty export, which is also the truthful answer to a right-of-access request.
Only provider admins may ask, and they are refused before anything is looked up, so the answer reveals
nothing to anyone else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, or_, select, update

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import ClientErased
from bmw.contracts.taxonomy import AppointmentKind, CancelledBy, Category, Location, Role
from bmw.scheduling.adapters.tables import (
    APPOINTMENTS,
    PENDING_INTAKES,
    WORKERS,
    WORKSHOP_REGISTRATIONS,
    WORKSHOPS,
)
from bmw.scheduling.application.appointments import forget_client
from bmw.scheduling.application.workshops import SELF_PREFIX
from bmw.scheduling.domain.workshops import RegistrationStatus, WorkshopStatus
from bmw.servicekit.auth import Principal
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

#: What ``pending_intakes.client_ref`` holds once its person is forgotten (the column may not be empty, and
#: booking for the case is then refused, as after an erasure).
FORGOTTEN = "erased"


@dataclass(frozen=True)
class PersonAppointment:
    """An appointment of the person: when, what, with whom, where, and how it went."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    case_id: uuid.UUID | None
    kind: AppointmentKind
    status: str
    start: datetime
    end: datetime
    worker_id: uuid.UUID
    worker_name: str | None
    location: Location | None
    late_cancellation: bool | None
    cancelled_by: CancelledBy | None
    topic: Category | None
    booked_at: datetime


@dataclass(frozen=True)
class PersonPendingIntake:
    """The intake auto-scheduling was asked to book for the person's case, and how that went."""

    case_id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    category: str
    urgency: str
    sla_deadline: datetime
    needed_specialism: str | None
    language: str
    received_at: datetime
    outcome: str | None


@dataclass(frozen=True)
class PersonRegistration:
    """A workshop seat or waitlist place the person took themself (found by the digest of their login)."""

    id: uuid.UUID
    workshop_id: uuid.UUID
    tenant_id: uuid.UUID
    title: str
    theme: str
    workshop_status: WorkshopStatus
    start: datetime
    end: datetime
    location: Location
    status: RegistrationStatus
    attended: bool | None
    display_name: str | None
    registered_at: datetime


@dataclass(frozen=True)
class PersonData:
    """Everything scheduling holds that is linked to one pseudonym."""

    client_ref: str
    exported_at: datetime
    appointments: list[PersonAppointment]
    pending_intakes: list[PersonPendingIntake]
    workshop_registrations: list[PersonRegistration]


async def export_person(client_ref: str, *, principal: Principal, uow: UnitOfWorkFactory) -> PersonData:
    """Right of access (provider admins): the person's appointments, pending intakes and own workshop places."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with uow() as work:
        session = work.session
        appointments = (
            await session.execute(
                select(APPOINTMENTS, WORKERS.c.name.label("worker_name"))
                .join(WORKERS, WORKERS.c.id == APPOINTMENTS.c.worker_id, isouter=True)
                .where(APPOINTMENTS.c.client_ref == client_ref)
                .order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id)
            )
        ).all()
        pending = (
            await session.execute(
                select(PENDING_INTAKES)
                .where(PENDING_INTAKES.c.client_ref == client_ref)
                .order_by(PENDING_INTAKES.c.received_at, PENDING_INTAKES.c.case_id)
            )
        ).all()
        digests = {row.employee_login for row in (*appointments, *pending) if row.employee_login}
        registrations = (
            (
                await session.execute(
                    select(
                        WORKSHOP_REGISTRATIONS,
                        WORKSHOPS.c.title,
                        WORKSHOPS.c.theme,
                        WORKSHOPS.c.status.label("workshop_status"),
                        WORKSHOPS.c.starts_at,
                        WORKSHOPS.c.ends_at,
                        WORKSHOPS.c.location,
                    )
                    .join(WORKSHOPS, WORKSHOPS.c.id == WORKSHOP_REGISTRATIONS.c.workshop_id)
                    .where(WORKSHOP_REGISTRATIONS.c.participant.in_(sorted(SELF_PREFIX + d for d in digests)))
                    .order_by(WORKSHOPS.c.starts_at, WORKSHOP_REGISTRATIONS.c.id)
                )
            ).all()
            if digests
            else []
        )
    return PersonData(
        client_ref=client_ref,
        exported_at=datetime.now(UTC),
        appointments=[
            PersonAppointment(
                id=row.id,
                tenant_id=row.tenant_id,
                case_id=row.case_id,
                kind=AppointmentKind(row.kind),
                status=row.status,
                start=row.starts_at,
                end=row.ends_at,
                worker_id=row.worker_id,
                worker_name=row.worker_name,
                location=Location(row.location) if row.location else None,
                late_cancellation=row.late_cancellation,
                cancelled_by=CancelledBy(row.cancelled_by) if row.cancelled_by else None,
                topic=Category(row.topic) if row.topic else None,
                booked_at=row.created_at,
            )
            for row in appointments
        ],
        pending_intakes=[
            PersonPendingIntake(
                case_id=row.case_id,
                tenant_id=row.tenant_id,
                org_unit_id=row.org_unit_id,
                category=row.category,
                urgency=row.urgency,
                sla_deadline=row.sla_deadline,
                needed_specialism=row.needed_specialism,
                language=row.language,
                received_at=row.received_at,
                outcome=row.outcome,
            )
            for row in pending
        ],
        workshop_registrations=[
            PersonRegistration(
                id=row.id,
                workshop_id=row.workshop_id,
                tenant_id=row.tenant_id,
                title=row.title,
                theme=row.theme,
                workshop_status=WorkshopStatus(row.workshop_status),
                start=row.starts_at,
                end=row.ends_at,
                location=Location(row.location),
                status=RegistrationStatus(row.status),
                attended=row.attended,
                display_name=row.display_name,
                registered_at=row.registered_at,
            )
            for row in registrations
        ],
    )


# -- retention ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionReport:
    """What the retention job took the person out of (or, in a dry run, would): rows, not people."""

    cutoff: datetime
    appointments: int
    pending_intakes: int
    dry_run: bool


def _appointments_due(cutoff: datetime) -> ColumnElement[bool]:
    """Appointments that ended before ``cutoff`` and still point at a person."""
    return (APPOINTMENTS.c.ends_at < cutoff) & or_(
        APPOINTMENTS.c.client_ref.is_not(None), APPOINTMENTS.c.employee_login.is_not(None)
    )


def _pending_due(cutoff: datetime) -> ColumnElement[bool]:
    """Pending intakes received before ``cutoff`` whose case has had no appointment since: a live case (one
    with a recent or coming appointment) keeps its pseudonym, since its next consult is booked through it."""
    recent = exists().where(APPOINTMENTS.c.case_id == PENDING_INTAKES.c.case_id, APPOINTMENTS.c.ends_at >= cutoff)
    still_linked = or_(PENDING_INTAKES.c.client_ref != FORGOTTEN, PENDING_INTAKES.c.employee_login.is_not(None))
    return (PENDING_INTAKES.c.received_at < cutoff) & still_linked & ~recent


async def apply_retention(
    *, uow: UnitOfWorkFactory, retention_days: int, now: datetime | None = None, dry_run: bool = False
) -> RetentionReport:
    """Forget who an appointment was for once it ended longer ago than the retention period.

    The appointment stays (its time, kind, worker, status and location are the worker's capacity history and
    what billing metered); only ``client_ref`` and ``employee_login`` go, as on erasure. The same holds for a
    pending intake whose case has had no appointment within the period. Names on attendance registers have
    their own, shorter period (``workshops.forget_old_registers``, 90 days, on the service's timer).
    """
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    async with uow() as work:
        session = work.session
        appointments = int(await session.scalar(select(func.count()).where(_appointments_due(cutoff))) or 0)
        pending = int(await session.scalar(select(func.count()).where(_pending_due(cutoff))) or 0)
        if not dry_run:
            # Pending intakes first: their test looks at the appointments' times, not their pseudonyms.
            await session.execute(
                update(PENDING_INTAKES).where(_pending_due(cutoff)).values(client_ref=FORGOTTEN, employee_login=None)
            )
            await session.execute(
                update(APPOINTMENTS).where(_appointments_due(cutoff)).values(client_ref=None, employee_login=None)
            )
            await work.commit()
    return RetentionReport(cutoff=cutoff, appointments=appointments, pending_intakes=pending, dry_run=dry_run)


# -- erasure --------------------------------------------------------------------------------------------------


async def forget_person(uow: UnitOfWork, event: CloudEvent, data: ClientErased) -> None:
    """intake.client.erased.v1: drop the pseudonym everywhere (``appointments.forget_client``), and first the
    workshop places the person took with their own login, found by the login digest their appointments carry.

    A place stays (the seat counts and the attendance register's numbers are history), but whose it was goes,
    as when an attendance register is cleared after its retention period.
    """
    session = uow.session
    digests = (
        select(APPOINTMENTS.c.employee_login)
        .where(APPOINTMENTS.c.client_ref == data.client_ref, APPOINTMENTS.c.employee_login.is_not(None))
        .union(
            select(PENDING_INTAKES.c.employee_login).where(
                PENDING_INTAKES.c.client_ref == data.client_ref, PENDING_INTAKES.c.employee_login.is_not(None)
            )
        )
    )
    found = [SELF_PREFIX + digest for digest in (await session.execute(digests)).scalars()]
    if found:
        await session.execute(
            update(WORKSHOP_REGISTRATIONS)
            .where(WORKSHOP_REGISTRATIONS.c.participant.in_(found))
            .values(
                participant=func.concat("forgotten:", WORKSHOP_REGISTRATIONS.c.id),
                display_name=None,
                registered_by="forgotten",
            )
        )
    await forget_client(uow, event, data)
