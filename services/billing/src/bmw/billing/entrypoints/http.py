"""Billing's HTTP API: client organisations and contracts."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bmw.billing.application.organisations import (
    CreateContract,
    Organisation,
    RegisterClientOrganisation,
    add_org_unit,
    create_contract,
    get_organisation,
    list_organisations,
    register_client_organisation,
)
from bmw.contracts.events.billing import ContractProduct, OrgUnit
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import ERROR_RESPONSES

router = APIRouter()

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
KvkNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]


def _errors(*codes: int) -> dict[int | str, dict[str, object]]:
    return {k: v for k, v in ERROR_RESPONSES.items() if k in codes}


class OrgUnitCreate(BaseModel):
    """A department or location. Give ids yourself to build a tree in one request."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(default=None, description="Id to use; generated when absent.")
    name: Name = Field(description="Name of the department or location.")
    parent_id: uuid.UUID | None = Field(default=None, description="Parent unit (one of this organisation's).")

    def to_unit(self) -> OrgUnit:
        return OrgUnit(id=self.id or uuid.uuid4(), name=self.name, parent_id=self.parent_id)


class ClientOrganisationCreate(BaseModel):
    """Onboard a client organisation."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Legal name.")
    kvk_number: KvkNumber | None = Field(default=None, description="Chamber of Commerce number (8 digits).")
    account_manager_id: str | None = Field(default=None, description="Subject id of the account manager.")
    k_anonymity: int = Field(default=5, ge=5, le=100, description="Small-cell threshold (5 or more).")
    org_units: list[OrgUnitCreate] = Field(default_factory=list, max_length=2000, description="Org units.")


class OrgUnitRead(BaseModel):
    id: uuid.UUID = Field(description="Org unit id.")
    name: str = Field(description="Name of the department or location.")
    parent_id: uuid.UUID | None = Field(description="Parent unit, if any.")


class ClientOrganisationRead(BaseModel):
    """A client organisation (tenant)."""

    id: uuid.UUID = Field(description="Tenant id.")
    name: str = Field(description="Legal name.")
    kvk_number: str | None = Field(description="Chamber of Commerce number.")
    account_manager_id: str | None = Field(description="Subject id of the account manager.")
    k_anonymity: int = Field(description="Small-cell threshold.")
    org_units: list[OrgUnitRead] = Field(description="Departments and locations.")

    @classmethod
    def of(cls, organisation: Organisation) -> ClientOrganisationRead:
        return cls(
            id=organisation.id,
            name=organisation.name,
            kvk_number=organisation.kvk_number,
            account_manager_id=organisation.account_manager_id,
            k_anonymity=organisation.k_anonymity,
            org_units=[OrgUnitRead(id=u.id, name=u.name, parent_id=u.parent_id) for u in organisation.org_units],
        )


class ContractCreate(BaseModel):
    """A contract with its priced products."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID = Field(description="Client organisation.")
    products: list[ContractProduct] = Field(min_length=1, max_length=50, description="Priced products.")
    period_start: date = Field(description="First day.")
    period_end: date = Field(description="Last day (inclusive).")


class ContractCreated(BaseModel):
    id: uuid.UUID = Field(description="Contract id.")


@router.post(
    "/client-organisations",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientOrganisationRead,
    tags=["client organisations"],
    responses=_errors(401, 403, 409, 422, 503),
)
async def create_client_organisation(
    body: ClientOrganisationCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ClientOrganisationRead:
    """Onboard a client organisation (provider admins); the other services learn of it by event."""
    organisation = await register_client_organisation(
        RegisterClientOrganisation(
            name=body.name,
            kvk_number=body.kvk_number,
            account_manager_id=body.account_manager_id,
            k_anonymity=body.k_anonymity,
            org_units=[unit.to_unit() for unit in body.org_units],
        ),
        principal=principal,
        uow=uow,
    )
    return ClientOrganisationRead.of(organisation)


@router.get(
    "/client-organisations",
    response_model=list[ClientOrganisationRead],
    tags=["client organisations"],
    responses=_errors(401, 403),
)
async def read_client_organisations(principal: CurrentPrincipal, uow: UowFactoryDep) -> list[ClientOrganisationRead]:
    """The client organisations the caller may see."""
    return [ClientOrganisationRead.of(o) for o in await list_organisations(principal=principal, uow=uow)]


@router.get(
    "/client-organisations/{tenant_id}",
    response_model=ClientOrganisationRead,
    tags=["client organisations"],
    responses=_errors(401, 404),
)
async def read_client_organisation(
    tenant_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ClientOrganisationRead:
    """One client organisation, if the caller may see it."""
    return ClientOrganisationRead.of(await get_organisation(tenant_id, principal=principal, uow=uow))


@router.post(
    "/client-organisations/{tenant_id}/org-units",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientOrganisationRead,
    tags=["client organisations"],
    responses=_errors(401, 403, 404, 422),
)
async def create_org_unit(
    tenant_id: uuid.UUID, body: OrgUnitCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ClientOrganisationRead:
    """Add a department or location."""
    return ClientOrganisationRead.of(await add_org_unit(tenant_id, body.to_unit(), principal=principal, uow=uow))


@router.post(
    "/contracts",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractCreated,
    tags=["contracts"],
    responses=_errors(401, 403, 422),
)
async def create_contract_route(
    body: ContractCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ContractCreated:
    """Record a contract (provider admins)."""
    contract_id = await create_contract(
        CreateContract(
            tenant_id=body.tenant_id,
            products=body.products,
            period_start=body.period_start,
            period_end=body.period_end,
        ),
        principal=principal,
        uow=uow,
    )
    return ContractCreated(id=contract_id)
