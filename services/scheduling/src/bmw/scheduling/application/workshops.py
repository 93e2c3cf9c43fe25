"""Workshops and trainings for a client organisation: scheduling the trainers' time, registrations with a
waitlist that moves up by itself, the attendance register, completion and cancellation.

Who sees what: provider admins, the workshop's trainers and the organisation's client contacts see the
participants; account managers (for their portfolio) see the workshop and its numbers; an employee sees the
workshops open to them and only their own registration, never a colleague's. Another organisation's
workshop is "not found".

Seats are never overbooked: every change to a workshop's registrations first locks the workshop row
(``SELECT ... FOR UPDATE``), so concurrent registrations and cancellations queue up behind each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, any_, exists, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.events.scheduling import WorkshopCancelled, WorkshopCompleted, WorkshopScheduled
from bmw.contracts.pseudonyms import login_digest
from bmw.contracts.taxonomy import AppointmentKind, CancelledBy, Location, Role, WorkshopTheme
from bmw.scheduling.adapters.tables import APPOINTMENTS, IDEMPOTENCY_KEYS, WORKERS, WORKSHOP_REGISTRATIONS, WORKSHOPS
from bmw.scheduling.application.agenda import CANCELLED_BY_ROLE, LATE_CANCELLATION
from bmw.scheduling.application.appointments import (
    BUFFER,
    MINIMUM_NOTICE,
    Appointment,
    busy_intervals,
    insert_appointment,
    open_slots,
)
from bmw.scheduling.domain.availability import WorkingHours, iter_free_slots
from bmw.scheduling.domain.workshops import (
    CATALOGUE,
    CatalogueEntry,
    RegistrationStatus,
    Seat,
    WorkshopStatus,
    is_late,
    placement,
    registration_closed_because,
    seats_to_promote,
    waitlist_positions,
)
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.idempotency import Idempotency, claim, remember
from bmw.servicekit.uow import UnitOfWorkFactory

#: At most this many workshops in one listing.
LIST_LIMIT = 500
_UNIQUE_ACTIVE_REGISTRATION = "uq_workshop_registrations_active"


@dataclass(frozen=True)
class ScheduleWorkshop:
    """Plan a workshop session for a client organisation and book its trainers' time."""

    tenant_id: uuid.UUID
    theme: WorkshopTheme
    title: str | None
    location: Location
    location_detail: str | None
    start: datetime
    duration_minutes: int | None
    capacity: int
    trainer_ids: list[uuid.UUID]
    self_registration: bool
    override_hours: bool


@dataclass(frozen=True)
class Trainer:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class Registration:
    id: uuid.UUID
    workshop_id: uuid.UUID
    participant: str
    display_name: str | None
    status: RegistrationStatus
    attended: bool | None
    registered_at: datetime
    waitlist_position: int | None


@dataclass(frozen=True)
class Workshop:
    """A workshop as one caller may see it (``registrations`` is None when they may not see participants)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    theme: WorkshopTheme
    title: str
    location: Location
    location_detail: str | None
    start: datetime
    end: datetime
    capacity: int
    trainers: list[Trainer]
    self_registration: bool
    status: WorkshopStatus
    attended_count: int | None
    cancelled_by: CancelledBy | None
    seats_taken: int
    waitlist_length: int
    my_registration: Registration | None
    registrations: list[Registration] | None

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def theme_catalogue() -> list[CatalogueEntry]:
    """The provider's workshop themes, in catalogue order."""
    return list(CATALOGUE.values())


# -- who may do what ------------------------------------------------------------------------------


def _is_trainer(principal: Principal, row: Row[Any]) -> bool:
    return principal.has_role(Role.SOCIAL_WORKER) and principal.subject in {str(t) for t in row.trainer_ids}


def _is_contact(principal: Principal, tenant_id: uuid.UUID) -> bool:
    return principal.has_role(Role.CLIENT_CONTACT) and principal.tenant_id == tenant_id


def _is_employee(principal: Principal, tenant_id: uuid.UUID) -> bool:
    return principal.has_role(Role.EMPLOYEE) and principal.tenant_id == tenant_id


def _sees_participants(principal: Principal, row: Row[Any]) -> bool:
    """Provider admins, the trainers and the organisation's client contacts keep the attendance register."""
    return (
        principal.has_role(Role.PROVIDER_ADMIN) or _is_trainer(principal, row) or _is_contact(principal, row.tenant_id)
    )


def _sees_workshop(principal: Principal, row: Row[Any], own: Registration | None) -> bool:
    """An employee sees the workshops open to self-registration and those they are registered for: a
    training for managers on dismissal conversations may not be news for the whole organisation yet."""
    if _sees_participants(principal, row):
        return True
    if principal.has_role(Role.ACCOUNT_MANAGER) and row.tenant_id in principal.portfolio:
        return True
    return _is_employee(principal, row.tenant_id) and (row.self_registration or own is not None)


# -- reading --------------------------------------------------------------------------------------


async def _load(session: AsyncSession, workshop_id: uuid.UUID, *, lock: bool = False) -> Row[Any] | None:
    query = select(WORKSHOPS).where(WORKSHOPS.c.id == workshop_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


def _registration(row: Row[Any], positions: dict[uuid.UUID, int]) -> Registration:
    return Registration(
        id=row.id,
        workshop_id=row.workshop_id,
        participant=row.participant,
        display_name=row.display_name,
        status=RegistrationStatus(row.status),
        attended=row.attended,
        registered_at=row.registered_at,
        waitlist_position=positions.get(row.id),
    )


def _seat(row: Row[Any]) -> Seat:
    return Seat(row.id, RegistrationStatus(row.status), row.registered_at)


async def _registrations(session: AsyncSession, workshop_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Row[Any]]]:
    rows = await session.execute(
        select(WORKSHOP_REGISTRATIONS)
        .where(WORKSHOP_REGISTRATIONS.c.workshop_id.in_(workshop_ids))
        .order_by(WORKSHOP_REGISTRATIONS.c.registered_at, WORKSHOP_REGISTRATIONS.c.id)
    )
    found: dict[uuid.UUID, list[Row[Any]]] = {workshop_id: [] for workshop_id in workshop_ids}
    for row in rows:
        found[row.workshop_id].append(row)
    return found


async def _trainers(session: AsyncSession, rows: Sequence[Row[Any]]) -> dict[uuid.UUID, str]:
    ids = {trainer for row in rows for trainer in row.trainer_ids}
    if not ids:
        return {}
    found = await session.execute(select(WORKERS.c.id, WORKERS.c.name).where(WORKERS.c.id.in_(ids)))
    return {row.id: row.name for row in found}


#: A self-registered participant is kept as the digest of their login, never the login itself.
SELF_PREFIX = "login:"


def self_participant(principal: Principal) -> str:
    """How an employee who registers themself is recorded (and recognised again)."""
    return SELF_PREFIX + login_digest(principal.subject)


def nominee(participant_ref: str) -> str:
    """A nominated participant: the organisation's own reference, or an employee's portal login id (a UUID),
    which is kept as its digest so that the employee recognises the registration as theirs."""
    try:
        uuid.UUID(participant_ref)
    except ValueError:
        return participant_ref
    return SELF_PREFIX + login_digest(participant_ref)


def _own(principal: Principal, workshop: Row[Any], registrations: list[Row[Any]]) -> Row[Any] | None:
    """The caller's own active registration (an employee registered by themself or nominated under their login)."""
    if principal.tenant_id != workshop.tenant_id:
        return None
    for row in registrations:
        if row.participant == self_participant(principal) and row.status != RegistrationStatus.CANCELLED:
            return row
    return None


_STATUS_ORDER = {RegistrationStatus.REGISTERED: 0, RegistrationStatus.WAITLISTED: 1, RegistrationStatus.CANCELLED: 2}


async def _views(
    session: AsyncSession, principal: Principal, rows: Sequence[Row[Any]], *, detail: bool
) -> list[Workshop]:
    """The workshops the caller may see, each with what they may know of it."""
    registrations = await _registrations(session, [row.id for row in rows])
    names = await _trainers(session, rows)
    views: list[Workshop] = []
    for row in rows:
        mine = registrations[row.id]
        positions = waitlist_positions(_seat(r) for r in mine)
        own_row = _own(principal, row, mine)
        own = _registration(own_row, positions) if own_row is not None else None
        if not _sees_workshop(principal, row, own):
            continue
        register: list[Registration] | None = None
        if detail and _sees_participants(principal, row):
            ordered = sorted(mine, key=lambda r: (_STATUS_ORDER[RegistrationStatus(r.status)], r.registered_at))
            register = [_registration(r, positions) for r in ordered]
        views.append(
            Workshop(
                id=row.id,
                tenant_id=row.tenant_id,
                theme=WorkshopTheme(row.theme),
                title=row.title,
                location=Location(row.location),
                location_detail=row.location_detail,
                start=row.starts_at.astimezone(UTC),
                end=row.ends_at.astimezone(UTC),
                capacity=row.capacity,
                trainers=[Trainer(t, names.get(t, "")) for t in row.trainer_ids],
                self_registration=row.self_registration,
                status=WorkshopStatus(row.status),
                attended_count=row.attended_count,
                cancelled_by=CancelledBy(row.cancelled_by) if row.cancelled_by else None,
                seats_taken=sum(1 for r in mine if r.status == RegistrationStatus.REGISTERED),
                waitlist_length=len(positions),
                my_registration=own,
                registrations=register,
            )
        )
    return views


async def _view(session: AsyncSession, principal: Principal, row: Row[Any]) -> Workshop:
    views = await _views(session, principal, [row], detail=True)
    if not views:
        raise NotFound("workshop not found")
    return views[0]


async def list_workshops(
    *,
    tenant_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    principal: Principal,
    uow: UnitOfWorkFactory,
) -> list[Workshop]:
    """The workshops of one organisation (or, for provider staff without one, all they are part of)."""
    if start is not None and end is not None and end <= start:
        raise InvalidInput(
            "the period must end after it starts", fields=[FieldError(path="query.to", message="must be after 'from'")]
        )
    if principal.has_role(Role.INTEGRATION) and not principal.has_role(Role.CLIENT_CONTACT, Role.EMPLOYEE):
        raise Forbidden("integrations do not read workshops")
    tenant = tenant_id or principal.tenant_id
    query: Select[Any] = select(WORKSHOPS)
    if tenant is not None:
        principal.require_tenant(tenant)
        query = query.where(WORKSHOPS.c.tenant_id == tenant)
        broad = (
            principal.has_role(Role.PROVIDER_ADMIN)
            or _is_contact(principal, tenant)
            or (principal.has_role(Role.ACCOUNT_MANAGER) and tenant in principal.portfolio)
        )
    elif principal.has_role(Role.PROVIDER_ADMIN):
        broad = True
    elif principal.has_role(Role.ACCOUNT_MANAGER):
        query = query.where(WORKSHOPS.c.tenant_id.in_(principal.portfolio))
        broad = True
    elif principal.has_role(Role.SOCIAL_WORKER):
        broad = False
    else:
        raise InvalidInput(
            "say which client organisation", fields=[FieldError(path="query.tenant_id", message="required")]
        )
    if not broad:
        # Trainers see their own sessions; employees those open to them (filtered again per row below).
        narrowing: list[ColumnElement[bool]] = []
        trainer = _as_uuid(principal.subject) if principal.has_role(Role.SOCIAL_WORKER) else None
        if trainer is not None:
            narrowing.append(literal(trainer, PG_UUID(as_uuid=True)) == any_(WORKSHOPS.c.trainer_ids))
        if tenant is not None and _is_employee(principal, tenant):
            narrowing.append(
                or_(
                    WORKSHOPS.c.self_registration.is_(True),
                    exists().where(
                        WORKSHOP_REGISTRATIONS.c.workshop_id == WORKSHOPS.c.id,
                        WORKSHOP_REGISTRATIONS.c.participant == self_participant(principal),
                        WORKSHOP_REGISTRATIONS.c.status != RegistrationStatus.CANCELLED.value,
                    ),
                )
            )
        if not narrowing:
            return []
        query = query.where(or_(*narrowing))
    if start is not None:
        query = query.where(WORKSHOPS.c.ends_at > start)
    if end is not None:
        query = query.where(WORKSHOPS.c.starts_at < end)
    query = query.order_by(WORKSHOPS.c.starts_at, WORKSHOPS.c.id).limit(LIST_LIMIT)
    async with uow(tenant_id=tenant) as work:
        rows = list((await work.session.execute(query)).all())
        return await _views(work.session, principal, rows, detail=False)


def _as_uuid(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None


async def get_workshop(workshop_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> Workshop:
    """One workshop; 404 when it does not exist or the caller may not see it."""
    async with uow() as work:
        row = await _load(work.session, workshop_id)
        if row is None or not principal.may_act_for(row.tenant_id):
            raise NotFound("workshop not found")
        return await _view(work.session, principal, row)


# -- scheduling -----------------------------------------------------------------------------------


def _authorise_scheduling(command: ScheduleWorkshop, principal: Principal) -> None:
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if principal.has_role(Role.SOCIAL_WORKER):
        if principal.subject not in {str(t) for t in command.trainer_ids}:
            raise Forbidden("social workers schedule the workshops they give themselves")
        if command.override_hours:
            raise Forbidden("only provider admins schedule outside a trainer's working hours")
        return
    raise Forbidden("workshops are scheduled by the provider; ask your account manager or a provider admin")


def _check_trainer_list(trainer_ids: list[uuid.UUID]) -> None:
    seen: set[uuid.UUID] = set()
    for index, trainer_id in enumerate(trainer_ids):
        if trainer_id in seen:
            raise InvalidInput(
                "a trainer is listed twice",
                fields=[FieldError(path=f"body.trainer_ids.{index}", message="listed twice")],
            )
        seen.add(trainer_id)


async def _trainer_is_free(
    session: AsyncSession, trainer: Row[Any], *, start: datetime, end: datetime, override_hours: bool, now: datetime
) -> bool:
    """Free as ``agenda.book`` sees it (hours, buffers, notice); with ``override_hours`` the weekly hours do not
    count, but other appointments (with their buffers), absences and the minimum notice still do."""
    if not override_hours:
        fits = await open_slots(
            session, trainer.id, trainer.weekly_hours, start=start, end=end, duration=end - start, now=now
        )
        return start in fits
    busy, absences, _extra = await busy_intervals(session, trainer.id, start, end)
    fits = iter_free_slots(
        hours=WorkingHours(),
        busy=busy,
        absences=absences,
        extra=[(start, end)],
        window_start=start,
        window_end=end,
        duration=end - start,
        buffer=BUFFER,
        minimum_notice=MINIMUM_NOTICE,
        now=now,
    )
    return start in fits


async def schedule_workshop(
    command: ScheduleWorkshop,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    idempotency: Idempotency | None,
    render: Callable[[Workshop], dict[str, Any]],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Create the workshop and book every trainer's time in one transaction (all or nothing); replay a repeat."""
    _authorise_scheduling(command, principal)
    _check_trainer_list(command.trainer_ids)
    moment = now or datetime.now(UTC)
    entry = CATALOGUE[command.theme]
    start = command.start.astimezone(UTC)
    end = start + timedelta(minutes=command.duration_minutes or entry.default_duration_minutes)
    async with uow(tenant_id=command.tenant_id) as work:
        session = work.session
        if idempotency is not None:
            stored = await claim(session, IDEMPOTENCY_KEYS, idempotency)
            if stored is not None:
                return stored
        if command.start <= moment:
            raise InvalidInput(
                "a workshop is scheduled in the future", fields=[FieldError(path="body.start", message="in the past")]
            )
        found = {
            row.id: row for row in await session.execute(select(WORKERS).where(WORKERS.c.id.in_(command.trainer_ids)))
        }
        for index, trainer_id in enumerate(command.trainer_ids):
            trainer = found.get(trainer_id)
            if trainer is None or command.tenant_id not in trainer.tenant_ids:
                raise InvalidInput(
                    "no such social worker for this client organisation",
                    fields=[
                        FieldError(
                            path=f"body.trainer_ids.{index}", message="unknown, or does not serve this organisation"
                        )
                    ],
                )
            if command.location.value not in trainer.locations:
                raise InvalidInput(
                    f"the trainer does not work at {command.location.value}",
                    fields=[FieldError(path=f"body.trainer_ids.{index}", message="does not work at this location")],
                )
        workshop_id = uuid.uuid4()
        await session.execute(
            insert(WORKSHOPS).values(
                id=workshop_id,
                tenant_id=command.tenant_id,
                theme=command.theme.value,
                title=command.title or entry.title_nl,
                location=command.location.value,
                location_detail=command.location_detail,
                starts_at=start,
                ends_at=end,
                capacity=command.capacity,
                trainer_ids=command.trainer_ids,
                self_registration=command.self_registration,
                status=WorkshopStatus.SCHEDULED.value,
                created_by=principal.subject,
            )
        )
        for trainer_id in command.trainer_ids:
            trainer = found[trainer_id]
            if not await _trainer_is_free(
                session, trainer, start=start, end=end, override_hours=command.override_hours, now=moment
            ):
                raise Conflict(
                    f"trainer {trainer_id} is not free then: outside working hours, too soon, absent, or too close "
                    "to another appointment",
                    current_state="unavailable",
                    trainer_id=str(trainer_id),
                )
            block = Appointment(uuid.uuid4(), command.tenant_id, trainer_id, AppointmentKind.WORKSHOP, None, start, end)
            booked = await insert_appointment(
                session,
                block,
                client_ref=None,
                booked_by=principal.subject,
                location=command.location.value,
                workshop_id=workshop_id,
            )
            if not booked:
                raise Conflict(
                    f"trainer {trainer_id} was just booked by someone else at that time",
                    current_state="taken",
                    trainer_id=str(trainer_id),
                )
        await work.emit(
            WorkshopScheduled(workshop_id=workshop_id, theme=command.theme, start=start, participants_count=0),
            tenant_id=command.tenant_id,
            subject=str(workshop_id),
        )
        row = await _load(session, workshop_id)
        assert row is not None  # noqa: S101 - inserted above, in this transaction
        response = render(await _view(session, principal, row))
        if idempotency is not None:
            await remember(session, IDEMPOTENCY_KEYS, idempotency, 201, response)
        await work.commit()
    return response


# -- registrations --------------------------------------------------------------------------------


async def _locked_visible(session: AsyncSession, workshop_id: uuid.UUID, principal: Principal) -> Row[Any]:
    """The workshop row, locked against concurrent seat changes; 404 unless the caller may see it."""
    row = await _load(session, workshop_id, lock=True)
    if row is None or not principal.may_act_for(row.tenant_id):
        raise NotFound("workshop not found")
    registrations = (await _registrations(session, [row.id]))[row.id]
    own_row = _own(principal, row, registrations)
    own = _registration(own_row, {}) if own_row is not None else None
    if not _sees_workshop(principal, row, own):
        raise NotFound("workshop not found")
    return row


def _require_open(row: Row[Any], now: datetime) -> None:
    closed = registration_closed_because(status=WorkshopStatus(row.status), start=row.starts_at, now=now)
    if closed is not None:
        raise Conflict(f"registrations are closed: the workshop is {closed}", current_state=closed)


async def _seats(session: AsyncSession, workshop_id: uuid.UUID) -> list[Row[Any]]:
    return (await _registrations(session, [workshop_id]))[workshop_id]


async def register(
    workshop_id: uuid.UUID,
    *,
    participant_ref: str | None,
    display_name: str | None,
    principal: Principal,
    uow: UnitOfWorkFactory,
    now: datetime | None = None,
) -> Registration:
    """An employee registers themself, or a client contact (or provider admin) nominates a participant; when
    the workshop is full the registration joins the waitlist."""
    moment = now or datetime.now(UTC)
    async with uow() as work:
        session = work.session
        row = await _locked_visible(session, workshop_id, principal)
        nominates = _is_contact(principal, row.tenant_id) or principal.has_role(Role.PROVIDER_ADMIN)
        if not (nominates or _is_employee(principal, row.tenant_id)):
            raise Forbidden("employees register themselves; the organisation's client contact nominates others")
        if participant_ref is not None:
            if not nominates:
                raise Forbidden("only the organisation's client contact nominates participants")
            if not display_name:
                raise InvalidInput(
                    "a nominated participant needs a name for the attendance register",
                    fields=[FieldError(path="body.display_name", message="required when nominating")],
                )
            participant = nominee(participant_ref)
        else:
            if not _is_employee(principal, row.tenant_id):
                raise InvalidInput(
                    "say whom you nominate",
                    fields=[FieldError(path="body.participant_ref", message="required when nominating")],
                )
            if not row.self_registration:
                raise Forbidden("this workshop is by nomination: ask your client contact (HR) to register you")
            participant = self_participant(principal)
        _require_open(row, moment)
        seats = await _seats(session, workshop_id)
        existing = next(
            (r for r in seats if r.participant == participant and r.status != RegistrationStatus.CANCELLED), None
        )
        if existing is not None:
            raise Conflict(
                "this participant is already registered for the workshop",
                current_state=existing.status,
                registration_id=str(existing.id),
            )
        registered = sum(1 for r in seats if r.status == RegistrationStatus.REGISTERED)
        status = placement(capacity=row.capacity, registered=registered)
        registration_id = uuid.uuid4()
        try:
            async with session.begin_nested():
                inserted = (
                    await session.execute(
                        insert(WORKSHOP_REGISTRATIONS)
                        .values(
                            id=registration_id,
                            workshop_id=workshop_id,
                            tenant_id=row.tenant_id,
                            participant=participant,
                            display_name=display_name,
                            status=status.value,
                            registered_by=participant if participant.startswith(SELF_PREFIX) else principal.subject,
                            # The moment of the insert (not of the transaction's start): the order in which
                            # registrations got the lock is the order of the waitlist.
                            registered_at=func.clock_timestamp(),
                        )
                        .returning(WORKSHOP_REGISTRATIONS)
                    )
                ).one()
        except IntegrityError as error:
            if _UNIQUE_ACTIVE_REGISTRATION in str(error.orig):
                raise Conflict(
                    "this participant is already registered for the workshop", current_state="registered"
                ) from error
            raise
        positions = waitlist_positions([*(_seat(r) for r in seats), _seat(inserted)])
        await work.commit()
    return _registration(inserted, positions)


async def cancel_registration(
    workshop_id: uuid.UUID,
    registration_id: uuid.UUID,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    now: datetime | None = None,
) -> Registration:
    """Give up a seat or a waitlist place; a freed seat goes to the first on the waitlist at once."""
    moment = now or datetime.now(UTC)
    async with uow() as work:
        session = work.session
        row = await _locked_visible(session, workshop_id, principal)
        seats = await _seats(session, workshop_id)
        target = next((r for r in seats if r.id == registration_id), None)
        own = (
            target is not None
            and _is_employee(principal, row.tenant_id)
            and target.participant == self_participant(principal)
        )
        manages = _is_contact(principal, row.tenant_id) or principal.has_role(Role.PROVIDER_ADMIN)
        if target is None or not (own or _sees_participants(principal, row)):
            raise NotFound("registration not found")
        if not (own or manages):
            raise Forbidden("a registration is cancelled by the participant, their client contact or the provider")
        if target.status == RegistrationStatus.CANCELLED:
            raise Conflict("the registration is already cancelled", current_state="cancelled")
        _require_open(row, moment)
        await session.execute(
            update(WORKSHOP_REGISTRATIONS)
            .where(WORKSHOP_REGISTRATIONS.c.id == registration_id)
            .values(status=RegistrationStatus.CANCELLED.value)
        )
        remaining = [_seat(r) for r in seats if r.id != registration_id]
        promoted = seats_to_promote(capacity=row.capacity, seats=remaining)
        if promoted:
            await session.execute(
                update(WORKSHOP_REGISTRATIONS)
                .where(WORKSHOP_REGISTRATIONS.c.id.in_([seat.id for seat in promoted]))
                .values(status=RegistrationStatus.REGISTERED.value)
            )
        await work.commit()
    return replace(_registration(target, {}), status=RegistrationStatus.CANCELLED)


# -- attendance, completion and cancellation -------------------------------------------------------


def _require_runner(principal: Principal, row: Row[Any]) -> None:
    if not (principal.has_role(Role.PROVIDER_ADMIN) or _is_trainer(principal, row)):
        raise Forbidden("only the workshop's trainers (or a provider admin) keep the attendance register")


def _require_taking_place(row: Row[Any], now: datetime) -> None:
    if row.status != WorkshopStatus.SCHEDULED:
        raise Conflict(f"the workshop is already {row.status}", current_state=row.status)
    if now < row.starts_at:
        raise Conflict("the workshop has not started yet", current_state="not_started")


async def record_attendance(
    workshop_id: uuid.UUID,
    marks: list[tuple[uuid.UUID, bool]],
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    now: datetime | None = None,
) -> Workshop:
    """Tick who attended (registered participants only), from the start until completion."""
    moment = now or datetime.now(UTC)
    async with uow() as work:
        session = work.session
        row = await _locked_visible(session, workshop_id, principal)
        _require_runner(principal, row)
        _require_taking_place(row, moment)
        seats = {r.id: r for r in await _seats(session, workshop_id)}
        seen: set[uuid.UUID] = set()
        for index, (registration_id, _attended) in enumerate(marks):
            path = f"body.{index}.registration_id"
            if registration_id in seen:
                raise InvalidInput("a registration is listed twice", fields=[FieldError(path=path, message="twice")])
            seen.add(registration_id)
            seat = seats.get(registration_id)
            if seat is None or seat.status != RegistrationStatus.REGISTERED:
                raise InvalidInput(
                    "only registered participants of this workshop can attend",
                    fields=[FieldError(path=path, message="not a registered participant of this workshop")],
                )
        for registration_id, attended in marks:
            await session.execute(
                update(WORKSHOP_REGISTRATIONS)
                .where(WORKSHOP_REGISTRATIONS.c.id == registration_id)
                .values(attended=attended)
            )
        view = await _view(session, principal, row)
        await work.commit()
    return view


async def complete_workshop(
    workshop_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory, now: datetime | None = None
) -> Workshop:
    """Close the session: the number who attended is final, the trainers' blocks are completed."""
    moment = now or datetime.now(UTC)
    async with uow() as work:
        session = work.session
        row = await _locked_visible(session, workshop_id, principal)
        _require_runner(principal, row)
        _require_taking_place(row, moment)
        # Whoever was not ticked as present did not attend.
        await session.execute(
            update(WORKSHOP_REGISTRATIONS)
            .where(
                WORKSHOP_REGISTRATIONS.c.workshop_id == workshop_id,
                WORKSHOP_REGISTRATIONS.c.status == RegistrationStatus.REGISTERED.value,
                WORKSHOP_REGISTRATIONS.c.attended.is_(None),
            )
            .values(attended=False)
        )
        attended = int(
            await session.scalar(
                select(func.count()).where(
                    WORKSHOP_REGISTRATIONS.c.workshop_id == workshop_id,
                    WORKSHOP_REGISTRATIONS.c.status == RegistrationStatus.REGISTERED.value,
                    WORKSHOP_REGISTRATIONS.c.attended.is_(True),
                )
            )
            or 0
        )
        await session.execute(
            update(WORKSHOPS)
            .where(WORKSHOPS.c.id == workshop_id)
            .values(status=WorkshopStatus.COMPLETED.value, attended_count=attended)
        )
        await session.execute(
            update(APPOINTMENTS)
            .where(APPOINTMENTS.c.workshop_id == workshop_id, APPOINTMENTS.c.status == "booked")
            .values(status="completed")
        )
        await work.emit(
            WorkshopCompleted(
                workshop_id=workshop_id,
                theme=WorkshopTheme(row.theme),
                start=row.starts_at,
                participants_count=attended,
            ),
            tenant_id=row.tenant_id,
            subject=str(workshop_id),
        )
        view = await _view(session, principal, await _load(session, workshop_id) or row)
        await work.commit()
    return view


def _cancelling_party(principal: Principal, row: Row[Any]) -> CancelledBy:
    if _is_trainer(principal, row):
        return CANCELLED_BY_ROLE[Role.SOCIAL_WORKER]
    if principal.has_role(Role.PROVIDER_ADMIN):
        return CANCELLED_BY_ROLE[Role.PROVIDER_ADMIN]
    if _is_contact(principal, row.tenant_id):
        return CANCELLED_BY_ROLE[Role.CLIENT_CONTACT]
    raise Forbidden("a workshop is cancelled by its trainers, the client contact or a provider admin")


async def cancel_workshop(
    workshop_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory, now: datetime | None = None
) -> Workshop:
    """Call the session off before it starts; under 24 h before the start it is a late cancellation."""
    moment = now or datetime.now(UTC)
    async with uow() as work:
        session = work.session
        row = await _locked_visible(session, workshop_id, principal)
        by = _cancelling_party(principal, row)
        if row.status != WorkshopStatus.SCHEDULED:
            raise Conflict(f"the workshop is already {row.status}", current_state=row.status)
        if moment >= row.starts_at:
            raise Conflict("a workshop that has started cannot be cancelled", current_state="started")
        late = is_late(start=row.starts_at, now=moment, notice=LATE_CANCELLATION)
        registered = int(
            await session.scalar(
                select(func.count()).where(
                    WORKSHOP_REGISTRATIONS.c.workshop_id == workshop_id,
                    WORKSHOP_REGISTRATIONS.c.status == RegistrationStatus.REGISTERED.value,
                )
            )
            or 0
        )
        await session.execute(
            update(WORKSHOPS)
            .where(WORKSHOPS.c.id == workshop_id)
            .values(status=WorkshopStatus.CANCELLED.value, cancelled_by=by.value)
        )
        await session.execute(
            update(APPOINTMENTS)
            .where(and_(APPOINTMENTS.c.workshop_id == workshop_id, APPOINTMENTS.c.status == "booked"))
            .values(status="cancelled", cancelled_by=by.value, late_cancellation=late)
        )
        await work.emit(
            WorkshopCancelled(
                workshop_id=workshop_id,
                theme=WorkshopTheme(row.theme),
                start=row.starts_at,
                participants_count=registered,
                late=late,
                cancelled_by=by,
            ),
            tenant_id=row.tenant_id,
            subject=str(workshop_id),
        )
        view = await _view(session, principal, await _load(session, workshop_id) or row)
        await work.commit()
    return view


#: How long the names on an attendance register are kept after the workshop ended or was cancelled.
REGISTER_RETENTION = timedelta(days=90)


async def forget_old_registers(uow: UnitOfWorkFactory, *, now: datetime | None = None) -> int:
    """Retention: clear who took part in workshops that ended more than 90 days ago.

    The counts stay (seats, attended_count on the workshop, each registration's status and attendance), so
    billing and signals keep their history; the names and references of the participants go.
    """
    moment = now or datetime.now(UTC)
    async with uow() as work:
        ended = select(WORKSHOPS.c.id).where(WORKSHOPS.c.ends_at < moment - REGISTER_RETENTION)
        result = await work.session.execute(
            update(WORKSHOP_REGISTRATIONS)
            .where(
                WORKSHOP_REGISTRATIONS.c.workshop_id.in_(ended),
                WORKSHOP_REGISTRATIONS.c.participant != func.concat("forgotten:", WORKSHOP_REGISTRATIONS.c.id),
            )
            .values(
                participant=func.concat("forgotten:", WORKSHOP_REGISTRATIONS.c.id),
                display_name=None,
                registered_by="forgotten",
            )
            .returning(WORKSHOP_REGISTRATIONS.c.id)
        )
        forgotten = len(result.all())
        await work.commit()
    return forgotten
