"""A service's local read copy of client organisations and their org units, kept from billing's
``billing.client.registered.v1`` / ``.updated.v1`` events (billing is the system of record)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, ForeignKey, Integer, Table, Text, delete, func, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import ClientRegistered, ClientUpdated
from bmw.servicekit.db import new_metadata
from bmw.servicekit.messaging import ConsumerGroup
from bmw.servicekit.uow import UnitOfWork

TENANT_METADATA = new_metadata()

CLIENT_ORGANISATIONS = Table(
    "client_organisations",
    TENANT_METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("k_anonymity", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

ORG_UNITS = Table(
    "org_units",
    TENANT_METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column(
        "tenant_id",
        UUID(as_uuid=True),
        ForeignKey("client_organisations.tenant_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", Text, nullable=False),
    Column("parent_id", UUID(as_uuid=True), nullable=True),
    Column("employees", Integer, nullable=True, comment="Headcount of the unit itself, if billing has it"),
)


@dataclass(frozen=True)
class OrgUnitRow:
    """One org unit of the local copy. ``employees`` is the unit's own headcount (not its sub-units'), None
    when the client has not given it: a caller relating counts to size must treat None as unknown, not zero."""

    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    employees: int | None


async def apply_profile(session: AsyncSession, profile: ClientRegistered | ClientUpdated) -> None:
    """Upsert the organisation and replace its org units with the profile's."""
    await session.execute(
        insert(CLIENT_ORGANISATIONS)
        .values(tenant_id=profile.tenant_id, name=profile.name, k_anonymity=profile.k_anonymity)
        .on_conflict_do_update(
            index_elements=[CLIENT_ORGANISATIONS.c.tenant_id],
            set_={"name": profile.name, "k_anonymity": profile.k_anonymity, "updated_at": func.now()},
        )
    )
    await session.execute(delete(ORG_UNITS).where(ORG_UNITS.c.tenant_id == profile.tenant_id))
    if profile.org_units:
        await session.execute(
            insert(ORG_UNITS),
            [
                {
                    "id": unit.id,
                    "tenant_id": profile.tenant_id,
                    "name": unit.name,
                    "parent_id": unit.parent_id,
                    "employees": unit.employees,
                }
                for unit in profile.org_units
            ],
        )


def register_tenant_directory(group: ConsumerGroup) -> None:
    """Keep the local copy from the billing client events in this consumer group."""

    @group.on(ClientRegistered)
    async def _registered(uow: UnitOfWork, event: CloudEvent, data: ClientRegistered) -> None:
        await apply_profile(uow.session, data)

    @group.on(ClientUpdated)
    async def _updated(uow: UnitOfWork, event: CloudEvent, data: ClientUpdated) -> None:
        await apply_profile(uow.session, data)


async def org_unit_exists(session: AsyncSession, tenant_id: uuid.UUID, org_unit_id: uuid.UUID) -> bool:
    row = await session.execute(
        select(ORG_UNITS.c.id).where(ORG_UNITS.c.tenant_id == tenant_id, ORG_UNITS.c.id == org_unit_id)
    )
    return row.first() is not None


async def org_unit_names(session: AsyncSession, tenant_id: uuid.UUID) -> dict[uuid.UUID, str]:
    rows = await session.execute(select(ORG_UNITS.c.id, ORG_UNITS.c.name).where(ORG_UNITS.c.tenant_id == tenant_id))
    return {row.id: row.name for row in rows}


async def org_units(session: AsyncSession, tenant_id: uuid.UUID) -> list[OrgUnitRow]:
    """The tenant's org units with their parents and headcounts, sorted by name (then id, for a stable order)."""
    rows = await session.execute(
        select(ORG_UNITS.c.id, ORG_UNITS.c.name, ORG_UNITS.c.parent_id, ORG_UNITS.c.employees)
        .where(ORG_UNITS.c.tenant_id == tenant_id)
        .order_by(ORG_UNITS.c.name, ORG_UNITS.c.id)
    )
    return [OrgUnitRow(id=row.id, name=row.name, parent_id=row.parent_id, employees=row.employees) for row in rows]


async def k_anonymity(session: AsyncSession, tenant_id: uuid.UUID, default: int) -> int:
    """The tenant's small-cell threshold: never below the provider default (configurable upward only)."""
    row = await session.execute(
        select(CLIENT_ORGANISATIONS.c.k_anonymity).where(CLIENT_ORGANISATIONS.c.tenant_id == tenant_id)
    )
    value = row.scalar_one_or_none()
    return max(default, value or default)
