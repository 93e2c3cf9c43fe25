"""Social workers: staff records kept by provider admins, with their weekly working hours."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bmw.contracts.taxonomy import Role
from bmw.scheduling.adapters.tables import STANDARD_HOURS, WORKERS
from bmw.scheduling.domain.availability import WorkingHours
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, InvalidInput
from bmw.servicekit.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class Worker:
    id: uuid.UUID
    name: str
    specialisms: list[str]
    languages: list[str]
    tenant_ids: list[uuid.UUID]
    weekly_hours: dict[str, list[list[str]]]


async def add_worker(
    *,
    worker_id: uuid.UUID | None = None,
    weekly_hours: dict[str, list[list[str]]] | None = None,
    name: str,
    specialisms: list[str],
    languages: list[str],
    tenant_ids: list[uuid.UUID],
    principal: Principal,
    uow: UnitOfWorkFactory,
) -> Worker:
    principal.require_role(Role.PROVIDER_ADMIN)
    hours = weekly_hours if weekly_hours is not None else STANDARD_HOURS
    try:
        WorkingHours.parse(hours)
    except ValueError as error:
        raise InvalidInput(str(error), fields=[FieldError(path="body.weekly_hours", message=str(error))]) from error
    worker = Worker(
        worker_id or uuid.uuid4(),
        name,
        sorted(set(specialisms)),
        sorted(set(languages)),
        list(dict.fromkeys(tenant_ids)),
        hours,
    )
    async with uow() as work:
        await work.session.execute(
            insert(WORKERS).values(
                id=worker.id,
                name=worker.name,
                specialisms=worker.specialisms,
                languages=worker.languages,
                tenant_ids=worker.tenant_ids,
                weekly_hours=worker.weekly_hours,
            )
        )
        try:
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
    return [
        Worker(r.id, r.name, list(r.specialisms), list(r.languages), list(r.tenant_ids), dict(r.weekly_hours))
        for r in rows
    ]
