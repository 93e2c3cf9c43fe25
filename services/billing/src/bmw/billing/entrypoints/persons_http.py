"""The rights of the person over HTTP: what billing holds under a pseudonym (right of access)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bmw.billing.application import persons as use
from bmw.billing.domain.metering import Activity, Unit, UsageStatus
from bmw.contracts.events.base import Decimal2
from bmw.contracts.pseudonyms import ClientRef
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import error_responses

router = APIRouter(tags=["rights of the person"])


class PersonUsageRead(BaseModel):
    """A usage row linked to the person: what was metered, when, under which contract, where it was billed."""

    id: uuid.UUID = Field(description="Usage row id.")
    tenant_id: uuid.UUID = Field(description="The client organisation that is billed.")
    activity: Activity = Field(description="What happened: a case opened, an appointment completed, ...")
    occurred_at: datetime = Field(description="When it happened (UTC); decides the contract and the period.")
    quantity: Decimal2 = Field(description="How much was metered, in `unit`.")
    unit: Unit = Field(description="What the quantity counts: hour, session, participant, case or occurrence.")
    status: UsageStatus = Field(description="open (not yet invoiced), held (no contract yet) or invoiced.")
    contract_id: uuid.UUID | None = Field(description="The contract it was metered under; null while held.")
    product_code: str | None = Field(description="The contract's product; null while held.")
    unit_price_cents: int | None = Field(description="Price per unit at the time in euro cents, excl. VAT.")
    overage: bool = Field(description="Beyond what the contract includes.")
    case_id: uuid.UUID | None = Field(description="The case, for a trajectory billed per case.")
    invoice_id: uuid.UUID | None = Field(description="The invoice it is on, once invoiced.")
    invoice_number: str | None = Field(description="That invoice's number, once issued (e.g. 2026-000123).")
    source_event_id: uuid.UUID = Field(description="The event it was metered from.")

    @classmethod
    def of(cls, found: use.PersonUsage) -> PersonUsageRead:
        return cls.model_validate(found, from_attributes=True)


class PersonActivityRead(BaseModel):
    """An event billing kept because it may be billable, linked to the person."""

    source_event_id: uuid.UUID = Field(description="The event's id.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    event_type: str = Field(description="The event's type, e.g. `intake.case.opened.v1`.")
    occurred_at: datetime = Field(description="When it happened (UTC).")
    received_at: datetime = Field(description="When billing received it (UTC).")
    facts: dict[str, Any] = Field(
        description="The event's data as billing keeps it: ids, kinds, times, durations and the pseudonym; never "
        "a name or contact detail (an employee's login digest is not kept)."
    )

    @classmethod
    def of(cls, found: use.PersonActivity) -> PersonActivityRead:
        return cls.model_validate(found, from_attributes=True)


class PersonDataRead(BaseModel):
    """Everything billing holds that is linked to one pseudonym; empty lists when it holds nothing (never known,
    erased, or past retention: billing keeps no register of persons to tell these apart)."""

    client_ref: str = Field(description="The pseudonym asked about.")
    exported_at: datetime = Field(description="When this export was made (UTC).")
    usage: list[PersonUsageRead] = Field(
        description="Usage of the person's cases (the case itself, and its appointments), oldest first."
    )
    activity: list[PersonActivityRead] = Field(description="The kept events behind that usage, oldest first.")
    not_included: str = Field(
        default="invoices and usage statements, which name no person: they show aggregates and case ids only",
        description="What billing holds that is not the person's, and so is not here.",
    )

    @classmethod
    def of(cls, found: use.PersonData) -> PersonDataRead:
        return cls(
            client_ref=found.client_ref,
            exported_at=found.exported_at,
            usage=[PersonUsageRead.of(row) for row in found.usage],
            activity=[PersonActivityRead.of(row) for row in found.activity],
        )


@router.get("/persons/{client_ref}/export", response_model=PersonDataRead, responses=error_responses(401, 403, 422))
async def export_person(client_ref: ClientRef, principal: CurrentPrincipal, uow: UowFactoryDep) -> PersonDataRead:
    """Right of access (provider admins): everything billing holds under the pseudonym; empty when nothing."""
    return PersonDataRead.of(await use.export_person(client_ref, principal=principal, uow=uow))
