"""Social workers: staff records kept by provider admins, with their weekly working hours."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bmw.contracts.taxonomy import Location, Role
from bmw.scheduling.adapters.tables import ABSENCES, APPOINTMENTS, EXTRA_HOURS, STANDARD_HOURS, WORKERS
from bmw.scheduling.application.access import is_own_agenda
from bmw.scheduling.domain.availability import WorkingHours
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class Worker:
    id: uuid.UUID
    name: str
    specialisms: list[str]
    languages: list[str]
    tenant_ids: list[uuid.UUID]
    weekly_hours: dict[str, list[list[str]]]
    locations: list[str]

    @classmethod
    def of(cls, row: Any) -> Worker:
        return cls(
            row.id,
            row.name,
            list(row.specialisms),
            list(row.languages),
            list(row.tenant_ids),
            dict(row.weekly_hours),
            list(row.locations),
        )


async def add_worker(
    *,
    worker_id: uuid.UUID | None = None,
    weekly_hours: dict[str, list[list[str]]] | None = None,
    name: str,
    specialisms: list[str],
    languages: list[str],
    tenant_ids: list[uuid.UUID],
    locations: list[Location] | None = None,
    principal: Principal,
    uow: UnitOfWorkFactory,
) -> Worker:
    principal.require_role(Role.PROVIDER_ADMIN)
    hours = weekly_hours if weekly_hours is not None else STANDARD_HOURS
    _check_hours(hours)
    worker = Worker(
        worker_id or uuid.uuid4(),
        name,
        sorted(set(specialisms)),
        sorted(set(languages)),
        list(dict.fromkeys(tenant_ids)),
        hours,
        [location.value for location in dict.fromkeys(locations or list(Location))],
    )
    async with uow() as work:
        try:
            # The insert runs at once: a taken id fails here, not at the commit.
            await work.session.execute(
                insert(WORKERS).values(
                    id=worker.id,
                    name=worker.name,
                    specialisms=worker.specialisms,
                    languages=worker.languages,
                    tenant_ids=worker.tenant_ids,
                    weekly_hours=worker.weekly_hours,
                    locations=worker.locations,
                )
            )
            await work.commit()
        except IntegrityError as error:
            raise Conflict(
                "a worker with this id exists", fields=[FieldError(path="body.id", message="already registered")]
            ) from error
    return worker


async def list_workers(*, principal: Principal, uow: UnitOfWorkFactory) -> list[Worker]:
    principal.require_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.ACCOUNT_MANAGER)
    async with uow() as work:
        rows = (await work.session.execute(select(WORKERS).order_by(WORKERS.c.name))).all()
    return [Worker.of(r) for r in rows]


def _check_hours(hours: dict[str, list[list[str]]]) -> None:
    try:
        WorkingHours.parse(hours)
    except ValueError as error:
        raise InvalidInput(str(error), fields=[FieldError(path="body.weekly_hours", message=str(error))]) from error


async def read_worker(worker_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> Worker:
    principal.require_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.ACCOUNT_MANAGER)
    async with uow() as work:
        row = (await work.session.execute(select(WORKERS).where(WORKERS.c.id == worker_id))).first()
    if row is None:
        raise NotFound("worker not found")
    return Worker.of(row)


async def change_worker(
    worker_id: uuid.UUID, changes: dict[str, Any], *, principal: Principal, uow: UnitOfWorkFactory
) -> Worker:
    """Change a staff record (provider admins): hours, specialisms, languages, organisations, locations.

    Appointments already booked stay; new hours apply to slots offered from now on.
    """
    principal.require_role(Role.PROVIDER_ADMIN)
    values = dict(changes)
    if "weekly_hours" in values:
        _check_hours(values["weekly_hours"])
    for key in ("specialisms", "languages"):
        if key in values:
            values[key] = sorted(set(values[key]))
    if "tenant_ids" in values:
        values["tenant_ids"] = list(dict.fromkeys(values["tenant_ids"]))
    if "locations" in values:
        values["locations"] = [Location(v).value for v in dict.fromkeys(values["locations"])]
    async with uow() as work:
        if values:
            statement: Any = update(WORKERS).where(WORKERS.c.id == worker_id).values(**values).returning(WORKERS)
        else:
            statement = select(WORKERS).where(WORKERS.c.id == worker_id)
        row = (await work.session.execute(statement)).first()
        if row is None:
            raise NotFound("worker not found")
        await work.commit()
    return Worker.of(row)


# -- leave, absences and one-off extra hours ---------------------------------------------------


class AbsenceReason(StrEnum):
    """Why a worker is away: a code, never free text (no health details in an agenda)."""

    LEAVE = "leave"
    SICKNESS = "sickness"
    TRAINING = "training"
    OTHER = "other"


@dataclass(frozen=True)
class TimeOff:
    """An absence (reason set) or one-off extra working time (reason None)."""

    id: uuid.UUID
    worker_id: uuid.UUID
    start: datetime
    end: datetime
    reason: AbsenceReason | None
    affected_appointments: list[uuid.UUID]


MAX_EXCEPTION = timedelta(days=366)


def _may_manage_agenda(principal: Principal, worker_id: uuid.UUID) -> None:
    if not (principal.has_role(Role.PROVIDER_ADMIN) or is_own_agenda(principal, worker_id)):
        raise Forbidden("provider admins, or the worker for their own agenda")


def _check_period(start: datetime, end: datetime, longest: timedelta, *, end_field: str = "body.end") -> None:
    """Refuse a backwards or too long period, naming where its end came from (a body, or a query's ``to``)."""
    if end <= start or end - start > longest:
        raise InvalidInput(
            f"the end must come after the start, at most {longest.days} days later",
            fields=[FieldError(path=end_field, message=f"after 'start', at most {longest.days} days later")],
        )


async def add_exception(
    worker_id: uuid.UUID,
    *,
    start: datetime,
    end: datetime,
    reason: AbsenceReason | None,
    principal: Principal,
    uow: UnitOfWorkFactory,
) -> TimeOff:
    """Record leave or another absence (``reason``), or one-off extra working time (no reason).

    An absence does not cancel what is booked in it: the booked appointments it overlaps are returned, so
    the planner can reschedule them with the people concerned.
    """
    _may_manage_agenda(principal, worker_id)
    _check_period(start, end, MAX_EXCEPTION if reason else timedelta(days=1))
    table = ABSENCES if reason else EXTRA_HOURS
    exception_id = uuid.uuid4()
    async with uow() as work:
        if await work.session.scalar(select(WORKERS.c.id).where(WORKERS.c.id == worker_id)) is None:
            raise NotFound("worker not found")
        values: dict[str, Any] = {"id": exception_id, "worker_id": worker_id, "starts_at": start, "ends_at": end}
        if reason:
            values["reason"] = reason.value
        await work.session.execute(insert(table).values(**values))
        affected: list[uuid.UUID] = []
        if reason:
            overlapped = await work.session.scalars(
                select(APPOINTMENTS.c.id)
                .where(
                    APPOINTMENTS.c.worker_id == worker_id,
                    APPOINTMENTS.c.status == "booked",
                    APPOINTMENTS.c.starts_at < end,
                    APPOINTMENTS.c.ends_at > start,
                )
                .order_by(APPOINTMENTS.c.starts_at)
            )
            affected = list(overlapped)
        await work.commit()
    return TimeOff(exception_id, worker_id, start, end, reason, list(affected))


async def list_exceptions(
    worker_id: uuid.UUID, *, start: datetime, end: datetime, principal: Principal, uow: UnitOfWorkFactory
) -> list[TimeOff]:
    """Absences and extra hours that touch [start, end), by start."""
    _may_manage_agenda(principal, worker_id)
    _check_period(start, end, MAX_EXCEPTION, end_field="query.to")
    found: list[TimeOff] = []
    async with uow() as work:
        for table in (ABSENCES, EXTRA_HOURS):
            rows = await work.session.execute(
                select(table).where(table.c.worker_id == worker_id, table.c.ends_at > start, table.c.starts_at < end)
            )
            for row in rows:
                reason = AbsenceReason(row.reason) if table is ABSENCES else None
                found.append(TimeOff(row.id, worker_id, row.starts_at, row.ends_at, reason, []))
    return sorted(found, key=lambda item: (item.start, str(item.id)))


async def remove_exception(
    worker_id: uuid.UUID, exception_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory
) -> None:
    """Withdraw an absence or extra hours (404 when there is none with this id for the worker)."""
    _may_manage_agenda(principal, worker_id)
    async with uow() as work:
        removed = 0
        for table in (ABSENCES, EXTRA_HOURS):
            result = await work.session.execute(
                delete(table).where(table.c.id == exception_id, table.c.worker_id == worker_id).returning(table.c.id)
            )
            removed += len(result.all())
        if not removed:
            raise NotFound("no such absence or extra hours")
        await work.commit()
