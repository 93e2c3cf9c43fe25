"""Client organisations (tenants) and contracts: billing is their system of record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.billing.adapters.tables import CONTRACTS, ORGANISATION_UNITS, ORGANISATIONS
from bmw.contracts.events.billing import ClientRegistered, ClientUpdated, ContractActivated, ContractProduct, OrgUnit
from bmw.contracts.taxonomy import Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, InvalidInput, NotFound
from bmw.servicekit.uow import UnitOfWorkFactory


@dataclass
class Organisation:
    id: uuid.UUID
    name: str
    kvk_number: str | None
    account_manager_id: str | None
    k_anonymity: int
    org_units: list[OrgUnit] = field(default_factory=list)


@dataclass(frozen=True)
class RegisterClientOrganisation:
    name: str
    kvk_number: str | None
    account_manager_id: str | None
    k_anonymity: int
    org_units: list[OrgUnit]


def _check_tree(units: list[OrgUnit], path: str) -> None:
    ids = [unit.id for unit in units]
    if len(set(ids)) != len(ids):
        raise InvalidInput("org unit ids repeat", fields=[FieldError(path=path, message="ids must be unique")])
    for index, unit in enumerate(units):
        if unit.parent_id is not None and unit.parent_id not in ids:
            raise InvalidInput(
                "an org unit's parent is not one of the organisation's units",
                fields=[FieldError(path=f"{path}.{index}.parent_id", message="no such unit in this organisation")],
            )


async def register_client_organisation(
    command: RegisterClientOrganisation, *, principal: Principal, uow: UnitOfWorkFactory
) -> Organisation:
    """Onboard a client organisation and tell the other services (billing.client.registered.v1)."""
    principal.require_role(Role.PROVIDER_ADMIN)
    _check_tree(command.org_units, "body.org_units")
    organisation = Organisation(
        id=uuid.uuid4(),
        name=command.name,
        kvk_number=command.kvk_number,
        account_manager_id=command.account_manager_id,
        k_anonymity=command.k_anonymity,
        org_units=command.org_units,
    )
    try:
        async with uow(tenant_id=organisation.id) as work:
            await work.session.execute(
                insert(ORGANISATIONS).values(
                    id=organisation.id,
                    name=organisation.name,
                    kvk_number=organisation.kvk_number,
                    account_manager_id=organisation.account_manager_id,
                    k_anonymity=organisation.k_anonymity,
                )
            )
            await _insert_units(work.session, organisation.id, organisation.org_units)
            await work.emit(
                ClientRegistered(
                    tenant_id=organisation.id,
                    name=organisation.name,
                    kvk_number=organisation.kvk_number,
                    org_units=organisation.org_units,
                    account_manager_id=organisation.account_manager_id,
                    k_anonymity=organisation.k_anonymity,
                ),
                tenant_id=organisation.id,
                subject=str(organisation.id),
            )
            await work.commit()
    except IntegrityError as error:
        raise Conflict(
            "a client organisation with this KvK number is already registered",
            fields=[FieldError(path="body.kvk_number", message="already registered")],
        ) from error
    return organisation


async def _insert_units(session: AsyncSession, tenant_id: uuid.UUID, units: list[OrgUnit]) -> None:
    if units:
        await session.execute(
            insert(ORGANISATION_UNITS),
            [{"id": u.id, "tenant_id": tenant_id, "name": u.name, "parent_id": u.parent_id} for u in units],
        )


async def add_org_unit(
    tenant_id: uuid.UUID, unit: OrgUnit, *, principal: Principal, uow: UnitOfWorkFactory
) -> Organisation:
    """Add an org unit and publish the full new profile (billing.client.updated.v1)."""
    principal.require_role(Role.PROVIDER_ADMIN, Role.CLIENT_CONTACT, Role.INTEGRATION)
    principal.require_tenant(tenant_id)
    async with uow(tenant_id=tenant_id) as work:
        organisation = await _load(work.session, tenant_id)
        if organisation is None:
            raise NotFound("client organisation not found")
        _check_tree([*organisation.org_units, unit], "body")
        await _insert_units(work.session, tenant_id, [unit])
        organisation.org_units.append(unit)
        await work.emit(
            ClientUpdated(
                tenant_id=tenant_id,
                name=organisation.name,
                kvk_number=organisation.kvk_number,
                org_units=organisation.org_units,
                account_manager_id=organisation.account_manager_id,
                k_anonymity=organisation.k_anonymity,
            ),
            tenant_id=tenant_id,
            subject=str(tenant_id),
        )
        await work.commit()
    return organisation


async def _load(session: AsyncSession, tenant_id: uuid.UUID) -> Organisation | None:
    row = (await session.execute(select(ORGANISATIONS).where(ORGANISATIONS.c.id == tenant_id))).first()
    if row is None:
        return None
    units = await session.execute(
        select(ORGANISATION_UNITS)
        .where(ORGANISATION_UNITS.c.tenant_id == tenant_id)
        .order_by(ORGANISATION_UNITS.c.name)
    )
    return Organisation(
        id=row.id,
        name=row.name,
        kvk_number=row.kvk_number,
        account_manager_id=row.account_manager_id,
        k_anonymity=row.k_anonymity,
        org_units=[OrgUnit(id=u.id, name=u.name, parent_id=u.parent_id) for u in units],
    )


async def get_organisation(tenant_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> Organisation:
    if not principal.may_act_for(tenant_id) or principal.has_role(Role.EMPLOYEE):
        raise NotFound("client organisation not found")
    async with uow(tenant_id=tenant_id) as work:
        organisation = await _load(work.session, tenant_id)
    if organisation is None:
        raise NotFound("client organisation not found")
    return organisation


async def list_organisations(*, principal: Principal, uow: UnitOfWorkFactory) -> list[Organisation]:
    """The organisations the caller may see: all for provider staff, the portfolio, or their own."""
    principal.require_role(
        Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.SOCIAL_WORKER, Role.CLIENT_CONTACT, Role.INTEGRATION
    )
    async with uow() as work:
        ids = (await work.session.execute(select(ORGANISATIONS.c.id).order_by(ORGANISATIONS.c.name))).scalars().all()
        visible = [tenant_id for tenant_id in ids if principal.may_act_for(tenant_id)]
        loaded = [await _load(work.session, tenant_id) for tenant_id in visible]
    return [organisation for organisation in loaded if organisation is not None]


@dataclass(frozen=True)
class CreateContract:
    tenant_id: uuid.UUID
    products: list[ContractProduct]
    period_start: date
    period_end: date


async def create_contract(command: CreateContract, *, principal: Principal, uow: UnitOfWorkFactory) -> uuid.UUID:
    """Record a contract and announce it (billing.contract.activated.v1); metering comes in issue 5."""
    principal.require_role(Role.PROVIDER_ADMIN)
    if command.period_end < command.period_start:
        raise InvalidInput(
            "the contract ends before it starts",
            fields=[FieldError(path="body.period_end", message="must not be before period_start")],
        )
    contract_id = uuid.uuid4()
    async with uow(tenant_id=command.tenant_id) as work:
        if await _load(work.session, command.tenant_id) is None:
            raise InvalidInput(
                "unknown client organisation",
                fields=[FieldError(path="body.tenant_id", message="no such client organisation")],
            )
        products: list[dict[str, Any]] = [p.model_dump(mode="json") for p in command.products]
        await work.session.execute(
            insert(CONTRACTS).values(
                id=contract_id,
                tenant_id=command.tenant_id,
                products=products,
                period_start=command.period_start,
                period_end=command.period_end,
            )
        )
        await work.emit(
            ContractActivated(
                contract_id=contract_id,
                products=command.products,
                period_start=command.period_start,
                period_end=command.period_end,
            ),
            tenant_id=command.tenant_id,
            subject=str(contract_id),
        )
        await work.commit()
    return contract_id
