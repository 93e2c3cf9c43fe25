"""Social workers (staff records kept by provider admins) and intakes waiting to be booked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened
from bmw.contracts.taxonomy import Role
from bmw.scheduling.adapters.tables import PENDING_INTAKES, WORKERS
from bmw.servicekit.auth import Principal
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Worker:
    id: uuid.UUID
    name: str
    specialisms: list[str]
    languages: list[str]
    tenant_ids: list[uuid.UUID]


async def add_worker(
    *,
    name: str,
    specialisms: list[str],
    languages: list[str],
    tenant_ids: list[uuid.UUID],
    principal: Principal,
    uow: UnitOfWorkFactory,
) -> Worker:
    principal.require_role(Role.PROVIDER_ADMIN)
    worker = Worker(
        uuid.uuid4(), name, sorted(set(specialisms)), sorted(set(languages)), list(dict.fromkeys(tenant_ids))
    )
    async with uow() as work:
        await work.session.execute(
            insert(WORKERS).values(
                id=worker.id,
                name=worker.name,
                specialisms=worker.specialisms,
                languages=worker.languages,
                tenant_ids=worker.tenant_ids,
            )
        )
        await work.commit()
    return worker


async def list_workers(*, principal: Principal, uow: UnitOfWorkFactory) -> list[Worker]:
    principal.require_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.ACCOUNT_MANAGER)
    async with uow() as work:
        rows = (await work.session.execute(select(WORKERS).order_by(WORKERS.c.name))).all()
    return [Worker(r.id, r.name, list(r.specialisms), list(r.languages), list(r.tenant_ids)) for r in rows]


async def record_case_opened(uow: UnitOfWork, event: CloudEvent, data: CaseOpened) -> None:
    """Remember a case that needs its intake booked (auto-scheduling comes in issue 4)."""
    await uow.session.execute(
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
        )
        .on_conflict_do_nothing(index_elements=[PENDING_INTAKES.c.case_id])
    )
