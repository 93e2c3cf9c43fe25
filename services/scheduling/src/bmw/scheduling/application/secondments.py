"""Secondment (*detachering*): blocks of a social worker on site at a client organisation, including open
walk-in consultation hours (*spreekuur*), and the hours the worker logs per day for billing.

A block is an appointment of kind ``secondment_block``: the no-double-booking constraint keeps it clear of the
worker's other appointments. It need not lie within the weekly working hours (a secondment replaces the normal
agenda). A weekly series repeats the same Europe/Amsterdam wall-clock times, so a 09:00 start stays 09:00 across
a daylight-saving change, and leaves out Dutch public holidays.

Logged hours are one row per worker x client organisation x day. A correction replaces the hours and publishes a
new ``scheduling.secondment.hours_logged.v1`` event: consumers (billing) must treat the latest event per
worker x client organisation x date as authoritative, not add the events up.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.events.scheduling import SecondmentHoursLogged
from bmw.contracts.taxonomy import AppointmentKind, Location, Role
from bmw.scheduling.adapters.tables import ABSENCES, APPOINTMENTS, IDEMPOTENCY_KEYS, SECONDMENT_HOURS, WORKERS
from bmw.scheduling.application.access import is_own_agenda
from bmw.scheduling.application.appointments import Appointment, insert_appointment
from bmw.scheduling.domain.availability import AMSTERDAM, is_public_holiday
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.idempotency import Idempotency, claim, remember
from bmw.servicekit.uow import UnitOfWorkFactory

#: The longest block on one day (a working day on site, with room for an evening walk-in hour).
MAX_BLOCK = timedelta(hours=10)
MAX_REPEAT_WEEKS = 52
#: The longest period one listing covers.
MAX_LISTING = timedelta(days=366)
QUARTER_HOUR = Decimal("0.25")
MAX_HOURS = Decimal(24)


@dataclass(frozen=True)
class SecondmentBlock:
    """One block of a worker on site at a client organisation (no client in it)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    worker_id: uuid.UUID
    worker_name: str
    start: datetime
    end: datetime
    location: Location
    walk_in: bool
    status: str


@dataclass(frozen=True)
class SecondmentSeries:
    """The blocks a request created, and the dates it left out (Dutch public holidays)."""

    blocks: list[SecondmentBlock]
    skipped_dates: list[date]


@dataclass(frozen=True)
class LoggedHours:
    """Hours a seconded worker spent at a client organisation on one day."""

    worker_id: uuid.UUID
    worker_name: str
    tenant_id: uuid.UUID
    day: date
    hours: Decimal
    logged_at: datetime


def _invalid(path: str, message: str) -> InvalidInput:
    field = path.split(".", 1)[-1]
    return InvalidInput(f"{field}: {message}", fields=[FieldError(path=path, message=message)])


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC moments at which the Amsterdam day starts and the next one starts (23, 24 or 25 h apart)."""
    start = datetime.combine(day, time(0), tzinfo=AMSTERDAM).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=AMSTERDAM).astimezone(UTC)
    return start, end


def _exists(wall: datetime) -> datetime | None:
    """The moment the Amsterdam clock shows the naive ``wall`` time (the first, in the repeated autumn hour),
    or None when the clock skips it (the spring-forward gap)."""
    moment = wall.replace(tzinfo=AMSTERDAM, fold=0)
    if moment.astimezone(UTC).astimezone(AMSTERDAM).replace(tzinfo=None) != wall:
        return None
    return moment.astimezone(UTC)


def plan_weekly_blocks(
    start: datetime, end: datetime, *, repeat_weekly: int, now: datetime
) -> tuple[list[tuple[datetime, datetime]], list[date]]:
    """The (start, end) UTC pairs of a block and its weekly repeats at the same Amsterdam wall-clock times,
    and the dates left out as Dutch public holidays; InvalidInput naming the field for a bad request."""
    if start.tzinfo is None or end.tzinfo is None:
        raise _invalid("body.start", "start and end need a UTC offset")
    if end <= start:
        raise _invalid("body.end", "the end must be after the start")
    local_start, local_end = start.astimezone(AMSTERDAM), end.astimezone(AMSTERDAM)
    ends_at_midnight = local_end.time() == time(0) and local_end.date() == local_start.date() + timedelta(days=1)
    if local_end.date() != local_start.date() and not ends_at_midnight:
        raise _invalid("body.end", "a block must end on the day it starts (Europe/Amsterdam), not cross midnight")
    if end - start > MAX_BLOCK:
        raise _invalid("body.end", "a block lasts at most 10 hours")
    if start < now:
        raise _invalid("body.start", "a block cannot start in the past")
    if not 0 <= repeat_weekly <= MAX_REPEAT_WEEKS:
        raise _invalid("body.repeat_weekly", "from 0 to 52 extra weeks")
    wall_start, wall_end = local_start.replace(tzinfo=None), local_end.replace(tzinfo=None)
    planned: list[tuple[datetime, datetime]] = []
    skipped: list[date] = []
    for week in range(repeat_weekly + 1):
        day = local_start.date() + timedelta(weeks=week)
        if is_public_holiday(day):
            skipped.append(day)
            continue
        if week == 0:
            planned.append((start.astimezone(UTC), end.astimezone(UTC)))
            continue
        shift = timedelta(weeks=week)
        block_start, block_end = _exists(wall_start + shift), _exists(wall_end + shift)
        if block_start is None or block_end is None:
            raise _invalid("body.start", f"{day.isoformat()}: that wall-clock time does not exist (clock change)")
        if block_end - block_start > MAX_BLOCK:
            raise _invalid("body.end", f"{day.isoformat()}: the clock change makes the block longer than 10 hours")
        planned.append((block_start, block_end))
    if not planned:
        raise _invalid("body.start", "every date of the request is a Dutch public holiday")
    return planned, skipped


async def _worker(session: AsyncSession, worker_id: uuid.UUID) -> Any:
    return (await session.execute(select(WORKERS).where(WORKERS.c.id == worker_id))).first()


async def _absent(session: AsyncSession, worker_id: uuid.UUID, start: datetime, end: datetime) -> bool:
    found = await session.scalar(
        select(ABSENCES.c.id)
        .where(ABSENCES.c.worker_id == worker_id, ABSENCES.c.starts_at < end, ABSENCES.c.ends_at > start)
        .limit(1)
    )
    return found is not None


async def create_secondment(
    *,
    worker_id: uuid.UUID,
    tenant_id: uuid.UUID,
    start: datetime,
    end: datetime,
    walk_in: bool,
    location: Location,
    repeat_weekly: int,
    principal: Principal,
    uow: UnitOfWorkFactory,
    idempotency: Idempotency | None,
    render: Callable[[SecondmentSeries], dict[str, Any]],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Put a block (and its weekly repeats) in the worker's agenda: all of them or, on any clash, none."""
    if not (principal.has_role(Role.PROVIDER_ADMIN) or is_own_agenda(principal, worker_id)):
        raise Forbidden("provider admins, or the social worker in their own agenda, plan secondment blocks")
    async with uow(tenant_id=tenant_id) as work:
        session = work.session
        if idempotency is not None:
            # First, so that a repeat gets the first answer even once the start has passed.
            stored = await claim(session, IDEMPOTENCY_KEYS, idempotency)
            if stored is not None:
                return stored
        planned, skipped = plan_weekly_blocks(start, end, repeat_weekly=repeat_weekly, now=now or datetime.now(UTC))
        worker = await _worker(session, worker_id)
        if worker is None:
            raise _invalid("body.worker_id", "no such social worker")
        if tenant_id not in worker.tenant_ids:
            raise _invalid("body.tenant_id", "the social worker does not serve this client organisation")
        if location.value not in worker.locations:
            raise _invalid("body.location", "the social worker does not work at this kind of location")
        blocks: list[SecondmentBlock] = []
        for block_start, block_end in planned:
            day = block_start.astimezone(AMSTERDAM).date().isoformat()
            if await _absent(session, worker_id, block_start, block_end):
                raise Conflict(
                    f"the social worker is absent on {day}; nothing was planned",
                    current_state="absent",
                    conflicting_date=day,
                )
            appointment = Appointment(
                uuid.uuid4(), tenant_id, worker_id, AppointmentKind.SECONDMENT_BLOCK, None, block_start, block_end
            )
            inserted = await insert_appointment(
                session,
                appointment,
                client_ref=None,
                booked_by=principal.subject,
                location=location.value,
                walk_in=walk_in,
            )
            if not inserted:
                raise Conflict(
                    f"the social worker already has an appointment on {day}; nothing was planned",
                    current_state="taken",
                    conflicting_date=day,
                )
            await work.emit(appointment.booked_event(), tenant_id=tenant_id, subject=str(appointment.id))
            blocks.append(
                SecondmentBlock(
                    appointment.id,
                    tenant_id,
                    worker_id,
                    worker.name,
                    block_start,
                    block_end,
                    location,
                    walk_in,
                    "booked",
                )
            )
        response = render(SecondmentSeries(blocks, skipped))
        if idempotency is not None:
            await remember(session, IDEMPOTENCY_KEYS, idempotency, 201, response)
        await work.commit()
    return response


def _check_period(start: datetime, end: datetime) -> None:
    if end <= start or end - start > MAX_LISTING:
        raise _invalid("query.to", "after 'from', within 366 days")


async def list_secondments(
    *, tenant_id: uuid.UUID, start: datetime, end: datetime, principal: Principal, uow: UnitOfWorkFactory
) -> list[SecondmentBlock]:
    """The client organisation's blocks touching [start, end): all of them for provider admins and client
    contacts, the walk-in hours for its employees, a social worker's own blocks for that worker."""
    _check_period(start, end)
    conditions = [
        APPOINTMENTS.c.tenant_id == tenant_id,
        APPOINTMENTS.c.kind == AppointmentKind.SECONDMENT_BLOCK.value,
        APPOINTMENTS.c.status != "cancelled",
        APPOINTMENTS.c.ends_at > start,
        APPOINTMENTS.c.starts_at < end,
    ]
    if principal.has_role(Role.PROVIDER_ADMIN) or (
        principal.has_role(Role.CLIENT_CONTACT) and principal.tenant_id == tenant_id
    ):
        pass
    elif principal.has_role(Role.EMPLOYEE) and principal.tenant_id == tenant_id:
        # Open consultation hours are public within the organisation; other blocks (e.g. support for a
        # reorganisation that has not been announced) are the organisation's business, not its staff's.
        conditions.append(APPOINTMENTS.c.walk_in.is_(True))
    elif principal.has_role(Role.SOCIAL_WORKER) and _is_uuid(principal.subject):
        conditions.append(APPOINTMENTS.c.worker_id == uuid.UUID(principal.subject))
    else:
        raise Forbidden("not allowed for this client organisation")
    async with uow(tenant_id=tenant_id) as work:
        rows = await work.session.execute(
            select(APPOINTMENTS, WORKERS.c.name.label("worker_name"))
            .join(WORKERS, WORKERS.c.id == APPOINTMENTS.c.worker_id)
            .where(*conditions)
            .order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.worker_id)
        )
        return [
            SecondmentBlock(
                row.id,
                row.tenant_id,
                row.worker_id,
                row.worker_name,
                row.starts_at,
                row.ends_at,
                Location(row.location or Location.CLIENT_SITE.value),
                row.walk_in,
                row.status,
            )
            for row in rows
        ]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def check_hours(hours: Decimal) -> Decimal:
    """Hours as stored: more than 0, at most 24, in quarter hours, two decimals."""
    if not hours.is_finite() or hours <= 0 or hours > MAX_HOURS:
        raise _invalid("body.hours", "more than 0 and at most 24")
    if hours % QUARTER_HOUR != 0:
        raise _invalid("body.hours", "in quarter hours: a multiple of 0.25")
    return hours.quantize(Decimal("0.01"))


def _may_log(principal: Principal, worker_id: uuid.UUID) -> None:
    if not (principal.has_role(Role.PROVIDER_ADMIN) or is_own_agenda(principal, worker_id)):
        raise Forbidden("the seconded social worker (or a provider admin) logs secondment hours")


async def _had_block(session: AsyncSession, worker_id: uuid.UUID, tenant_id: uuid.UUID, day: date) -> bool:
    day_start, day_end = _local_day_bounds(day)
    found = await session.scalar(
        select(APPOINTMENTS.c.id)
        .where(
            APPOINTMENTS.c.worker_id == worker_id,
            APPOINTMENTS.c.tenant_id == tenant_id,
            APPOINTMENTS.c.kind == AppointmentKind.SECONDMENT_BLOCK.value,
            APPOINTMENTS.c.status != "cancelled",
            APPOINTMENTS.c.starts_at >= day_start,
            APPOINTMENTS.c.starts_at < day_end,
        )
        .limit(1)
    )
    return found is not None


async def log_hours(
    *,
    worker_id: uuid.UUID,
    tenant_id: uuid.UUID,
    day: date,
    hours: Decimal,
    principal: Principal,
    uow: UnitOfWorkFactory,
    now: datetime | None = None,
) -> LoggedHours:
    """Log the hours of one day on site; once per worker x client organisation x day (409 the second time)."""
    _may_log(principal, worker_id)
    exact = check_hours(hours)
    today = (now or datetime.now(UTC)).astimezone(AMSTERDAM).date()
    if day > today:
        raise _invalid("body.date", "hours are logged on or after the day they were worked, not in advance")
    async with uow(tenant_id=tenant_id) as work:
        session = work.session
        worker = await _worker(session, worker_id)
        if worker is None:
            raise _invalid("body.worker_id", "no such social worker")
        if not await _had_block(session, worker_id, tenant_id, day):
            raise _invalid("body.date", "the social worker had no secondment block at this organisation that day")
        inserted = await session.execute(
            pg_insert(SECONDMENT_HOURS)
            .values(worker_id=worker_id, tenant_id=tenant_id, day=day, hours=exact)
            .on_conflict_do_nothing()
            .returning(SECONDMENT_HOURS.c.logged_at)
        )
        logged_at = inserted.scalar_one_or_none()
        if logged_at is None:
            raise Conflict(
                "hours for this day are already logged; correct them with PUT instead", current_state="logged"
            )
        await work.emit(
            SecondmentHoursLogged(worker_id=worker_id, hours=exact, date=day),
            tenant_id=tenant_id,
            subject=f"{worker_id}/{day.isoformat()}",
        )
        await work.commit()
    return LoggedHours(worker_id, worker.name, tenant_id, day, exact, logged_at)


async def correct_hours(
    *,
    worker_id: uuid.UUID,
    tenant_id: uuid.UUID,
    day: date,
    hours: Decimal,
    principal: Principal,
    uow: UnitOfWorkFactory,
) -> LoggedHours:
    """Replace the hours logged for one day and publish them again (the latest event is authoritative)."""
    _may_log(principal, worker_id)
    exact = check_hours(hours)
    async with uow(tenant_id=tenant_id) as work:
        session = work.session
        row = (
            await session.execute(
                select(SECONDMENT_HOURS, WORKERS.c.name.label("worker_name"))
                .join(WORKERS, WORKERS.c.id == SECONDMENT_HOURS.c.worker_id)
                .where(
                    SECONDMENT_HOURS.c.worker_id == worker_id,
                    SECONDMENT_HOURS.c.tenant_id == tenant_id,
                    SECONDMENT_HOURS.c.day == day,
                )
                .with_for_update(of=SECONDMENT_HOURS)
            )
        ).first()
        if row is None:
            raise NotFound("no hours logged for this worker, organisation and day")
        if row.hours == exact:  # nothing changes: no new fact to publish
            return LoggedHours(worker_id, row.worker_name, tenant_id, day, exact, row.logged_at)
        logged_at = (
            await session.execute(
                update(SECONDMENT_HOURS)
                .where(
                    SECONDMENT_HOURS.c.worker_id == worker_id,
                    SECONDMENT_HOURS.c.tenant_id == tenant_id,
                    SECONDMENT_HOURS.c.day == day,
                )
                .values(hours=exact, logged_at=datetime.now(UTC))
                .returning(SECONDMENT_HOURS.c.logged_at)
            )
        ).scalar_one()
        await work.emit(
            SecondmentHoursLogged(worker_id=worker_id, hours=exact, date=day),
            tenant_id=tenant_id,
            subject=f"{worker_id}/{day.isoformat()}",
        )
        await work.commit()
    return LoggedHours(worker_id, row.worker_name, tenant_id, day, exact, logged_at)


async def list_hours(
    *, tenant_id: uuid.UUID, first: date, last: date, principal: Principal, uow: UnitOfWorkFactory
) -> tuple[list[LoggedHours], Decimal]:
    """The hours logged at a client organisation from ``first`` to ``last`` (inclusive), with their total."""
    if last < first or last - first > MAX_LISTING:
        raise _invalid("query.to", "on or after 'from', within 366 days")
    conditions = [
        SECONDMENT_HOURS.c.tenant_id == tenant_id,
        SECONDMENT_HOURS.c.day >= first,
        SECONDMENT_HOURS.c.day <= last,
    ]
    if (
        principal.has_role(Role.PROVIDER_ADMIN)
        or (principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio)
        or (principal.has_role(Role.CLIENT_CONTACT) and principal.tenant_id == tenant_id)
    ):
        pass
    elif principal.has_role(Role.SOCIAL_WORKER) and _is_uuid(principal.subject):
        conditions.append(SECONDMENT_HOURS.c.worker_id == uuid.UUID(principal.subject))
    else:
        raise Forbidden("not allowed for this client organisation")
    async with uow(tenant_id=tenant_id) as work:
        rows = await work.session.execute(
            select(SECONDMENT_HOURS, WORKERS.c.name.label("worker_name"))
            .join(WORKERS, WORKERS.c.id == SECONDMENT_HOURS.c.worker_id)
            .where(*conditions)
            .order_by(SECONDMENT_HOURS.c.day, WORKERS.c.name, SECONDMENT_HOURS.c.worker_id)
        )
        entries = [
            LoggedHours(row.worker_id, row.worker_name, row.tenant_id, row.day, row.hours, row.logged_at)
            for row in rows
        ]
    total = sum((entry.hours for entry in entries), Decimal("0.00"))
    return entries, total
