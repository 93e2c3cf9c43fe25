"""Events produced by the billing service, the system of record for client organisations.

Money is integer euro cents; quantities are exact decimals. Nothing here names a person.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from bmw.contracts.events.base import Code, Decimal2, EventData, WireModel, event
from bmw.contracts.taxonomy import ProductKind, VatRate

# -- client organisations -----------------------------------------------------------------------


class OrgUnit(WireModel):
    """A department or location of a client organisation."""

    id: uuid.UUID = Field(description="Id of the org unit.")
    name: str = Field(
        min_length=1,
        max_length=200,
        description="Name of the department or location (an organisation's unit, never a person).",
    )
    parent_id: uuid.UUID | None = Field(default=None, description="Parent unit in the org tree.")
    kind: Literal["department", "location"] = Field(
        default="department",
        description="What the unit is: a department (organisational) or a location (a site, e.g. for on-site "
        "work); absent in events from before units had a kind, which were departments.",
    )
    employees: int | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Number of employees in the unit (headcount, own employees only, not its sub-units); none "
        "when the client has not given it. Signals uses it to judge a unit's referral rate against its size.",
    )


@event("billing.client.registered.v1")
class ClientRegistered(EventData):
    """A client organisation (tenant) was onboarded; other services keep a local read copy."""

    tenant_id: uuid.UUID = Field(description="Id of the client organisation (tenant).")
    name: str = Field(min_length=1, max_length=200, description="Legal name of the client organisation.")
    kvk_number: str | None = Field(default=None, description="Dutch Chamber of Commerce number.")
    org_units: list[OrgUnit] = Field(default_factory=list, description="Departments and locations.")
    account_manager_id: str | None = Field(default=None, description="Subject id of the account manager.")
    k_anonymity: int = Field(default=5, ge=5, description="Small-cell threshold; configurable upward only.")


@event("billing.client.updated.v1")
class ClientUpdated(EventData):
    """A client organisation's profile or org units changed; carries the full new profile."""

    tenant_id: uuid.UUID = Field(description="Id of the client organisation (tenant).")
    name: str = Field(min_length=1, max_length=200, description="Legal name of the client organisation.")
    kvk_number: str | None = Field(default=None, description="Dutch Chamber of Commerce number.")
    org_units: list[OrgUnit] = Field(default_factory=list, description="Departments and locations, complete.")
    account_manager_id: str | None = Field(default=None, description="Subject id of the account manager.")
    k_anonymity: int = Field(default=5, ge=5, description="Small-cell threshold; configurable upward only.")


# -- contracts ----------------------------------------------------------------------------------


class ContractProduct(WireModel):
    """One priced product of a contract."""

    code: Code = Field(description="Product code from the provider's catalogue, e.g. HOURS-40.")
    kind: ProductKind = Field(description="How the product is priced and metered.")
    unit_price_cents: int = Field(ge=0, description="Price per unit, excluding VAT, in euro cents.")
    vat_rate: VatRate = Field(description="VAT rate of the product.")
    included_quantity: Decimal2 | None = Field(
        default=None, gt=0, description="Prepaid units of an hour bundle (strippenkaart); none for other kinds."
    )
    overage_unit_price_cents: int | None = Field(
        default=None,
        ge=0,
        description="Price per unit beyond the included quantity, in euro cents; none means no overage: "
        "scheduling refuses bookings beyond the bundle.",
    )
    sessions_per_employee_per_year: int | None = Field(
        default=None,
        gt=0,
        description="Entitlement of a subscription: consults one employee may have per calendar year; none for "
        "no limit.",
    )


class _ContractData(EventData):
    contract_id: uuid.UUID = Field(description="Id of the contract.")
    products: list[ContractProduct] = Field(min_length=1, description="The contract's priced products.")
    period_start: dt.date = Field(description="First day of the contract period.")
    period_end: dt.date = Field(description="Last day of the contract period (inclusive).")

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.period_end < self.period_start:
            raise ValueError("period_end lies before period_start")
        return self


@event("billing.contract.activated.v1")
class ContractActivated(_ContractData):
    """A contract took effect; metering books usage against it from period_start."""


@event("billing.contract.ended.v1")
class ContractEnded(_ContractData):
    """A contract ended (at its period end or early); period_end is the actual last day."""


@event("billing.contract.threshold_reached.v1")
class ContractThresholdReached(EventData):
    """A bundle product of a contract reached 80 % or 100 % of its included quantity."""

    contract_id: uuid.UUID = Field(description="Id of the contract.")
    product_code: Code = Field(description="Code of the bundle product.")
    percent: Literal[80, 100] = Field(description="Share of the included quantity now used.")


@event("billing.contract.expiring.v1")
class ContractExpiring(EventData):
    """A contract ends within the notice window (90 days) and has no renewal yet."""

    contract_id: uuid.UUID = Field(description="Id of the contract.")
    end_date: dt.date = Field(description="Last day of the contract period.")


# -- metering and invoicing ---------------------------------------------------------------------


@event("billing.usage.recorded.v1")
class UsageRecorded(EventData):
    """Metering turned a source event into a usage record, exactly once per source event."""

    usage_id: uuid.UUID = Field(description="Id of the usage record.")
    contract_id: uuid.UUID = Field(description="The contract the usage is booked against.")
    product_code: Code = Field(description="Code of the contract product consumed.")
    quantity: Decimal2 = Field(gt=0, description="Units consumed (hours, sessions, participants, ...).")
    occurred_at: AwareDatetime = Field(description="When the metered activity happened; decides the period.")
    source_event_id: uuid.UUID = Field(description="Id of the event the usage was derived from.")


@event("billing.invoice.issued.v1")
class InvoiceIssued(EventData):
    """An invoice or credit note was issued. It is never edited afterwards."""

    invoice_id: uuid.UUID = Field(description="Id of the invoice.")
    number: str = Field(pattern=r"^[0-9]{4}-[0-9]{6}$", description="Gapless number per year, e.g. 2026-000123.")
    issue_date: dt.date = Field(description="Date of issue.")
    net_cents: int = Field(description="Total excluding VAT in euro cents; negative for a credit note.")
    vat_cents: int = Field(description="Total VAT in euro cents; negative for a credit note.")
    gross_cents: int = Field(description="Total including VAT in euro cents; net plus VAT.")
    currency: Literal["EUR"] = Field(default="EUR", description="Currency of every amount.")
    corrects_invoice_id: uuid.UUID | None = Field(
        default=None, description="For a credit note, the invoice it corrects; none for an invoice."
    )

    @model_validator(mode="after")
    def _totals_add_up(self) -> Self:
        if self.gross_cents != self.net_cents + self.vat_cents:
            raise ValueError("gross_cents must equal net_cents + vat_cents")
        amounts = (self.net_cents, self.vat_cents, self.gross_cents)
        if self.corrects_invoice_id is None and any(a < 0 for a in amounts):
            raise ValueError("an invoice has no negative totals; correct it with a credit note")
        if self.corrects_invoice_id is not None and any(a > 0 for a in amounts):
            raise ValueError("a credit note has no positive totals")
        return self
