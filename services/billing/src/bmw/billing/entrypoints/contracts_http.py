"""Contracts and their usage over HTTP.

Provider admins create, end and renew contracts; admins read all of them, account managers those of their
portfolio, client contacts (and integrations with the scope ``usage:read``) their own organisation's. Usage is
shown as totals per product: hours, sessions, cases and fees, never a line per person or per case.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bmw.billing.application.contracts import (
    ContractUsage,
    CreateContract,
    ProductUsage,
    contract_usage,
    create_contract,
    end_contract,
    get_contract,
    list_contracts,
    notify_expiring_contracts,
    renew_contract,
    today_in_amsterdam,
)
from bmw.billing.application.metering import HeldUsage, list_held_usage
from bmw.billing.domain.contracts import DEFAULT_RENEWAL_MONTHS, Contract, ContractStatus, InvoicingPeriod, Product
from bmw.billing.settings import settings_of
from bmw.contracts.events.base import Code, Decimal2
from bmw.contracts.taxonomy import ProductKind, VatRate
from bmw.servicekit.deps import CurrentPrincipal, RuntimeDep, UowFactoryDep
from bmw.servicekit.errors import error_responses

router = APIRouter()

Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ExemptionReason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
ContractId = Annotated[uuid.UUID, Path(description="Id of the contract.")]


class ContractProductCreate(BaseModel):
    """One priced product of a contract. Money in euro cents excluding VAT."""

    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="Product code from the provider's catalogue, unique within the contract.")
    kind: ProductKind = Field(description="How the product is priced and metered; at most one product per kind.")
    unit_price_cents: int = Field(
        ge=0,
        le=100_000_000,
        description="Price per unit in euro cents: per employee per year (subscription), per hour (bundle, "
        "secondment), per case (trajectory), per session or participant (workshop), per occurrence (fees).",
    )
    vat_rate: VatRate = Field(description="VAT rate: 21, 9, 0 or exempt.")
    vat_exemption_reason: ExemptionReason | None = Field(
        default=None,
        description="Why the product is exempt from VAT (shown on the invoice); required when vat_rate is exempt, "
        "not allowed otherwise.",
    )
    included_quantity: Decimal2 | None = Field(
        default=None, gt=0, description="Hours in an hour bundle (strippenkaart); required for a bundle only."
    )
    overage_unit_price_cents: int | None = Field(
        default=None,
        ge=0,
        le=100_000_000,
        description="Price per hour beyond a bundle, or per consult beyond a subscription's sessions per employee. "
        "Without it scheduling refuses such bookings (an intake beyond a bundle is billed at the bundle's price).",
    )
    sessions_per_employee_per_year: int | None = Field(
        default=None, gt=0, le=1000, description="Subscription entitlement: consults per employee per calendar year."
    )

    def to_product(self) -> Product:
        return Product(
            code=self.code,
            kind=self.kind,
            unit_price_cents=self.unit_price_cents,
            vat_rate=self.vat_rate,
            vat_exemption_reason=self.vat_exemption_reason,
            included_quantity=self.included_quantity,
            overage_unit_price_cents=self.overage_unit_price_cents,
            sessions_per_employee_per_year=self.sessions_per_employee_per_year,
        )


class ContractCreate(BaseModel):
    """A contract of a client organisation with its priced products."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID = Field(description="The client organisation.")
    products: list[ContractProductCreate] = Field(min_length=1, max_length=50, description="Priced products.")
    period_start: date = Field(description="First day (Europe/Amsterdam).")
    period_end: date = Field(description="Last day (inclusive); not before period_start.")
    buyer_reference: Reference | None = Field(
        default=None, description="The reference the client requires on its invoices (EN 16931 BT-10)."
    )
    purchase_order: Reference | None = Field(
        default=None, description="The client's purchase order number for its invoices (EN 16931 BT-13)."
    )
    employees: int | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Employees the subscription per employee is billed for (give it with a subscription: without "
        "it the subscription is not invoiced); only allowed with a subscription.",
    )
    invoicing_period: InvoicingPeriod = Field(
        default=InvoicingPeriod.MONTH, description="How often the client is invoiced: month or quarter."
    )
    auto_renew: bool = Field(
        default=False, description="Renews itself for renewal_months shortly before it ends (no expiry notice then)."
    )
    renewal_months: int = Field(
        default=DEFAULT_RENEWAL_MONTHS, ge=1, le=120, description="Length of a renewal period in months."
    )
    indexation_percent: Decimal2 = Field(
        default=Decimal(0),
        gt=-100,
        le=100,
        description='Yearly price indexation, applied to every price at renewal, e.g. "3.50".',
    )


class ContractProductRead(BaseModel):
    """A priced product of a contract."""

    code: str = Field(description="Product code.")
    kind: ProductKind = Field(description="How the product is priced and metered.")
    unit_price_cents: int = Field(description="Price per unit in euro cents, excluding VAT.")
    vat_rate: VatRate = Field(description="VAT rate.")
    vat_exemption_reason: str | None = Field(description="Why the product is exempt from VAT, if it is.")
    included_quantity: Decimal2 | None = Field(description="Hours in an hour bundle.")
    overage_unit_price_cents: int | None = Field(description="Price per unit beyond what is included.")
    sessions_per_employee_per_year: int | None = Field(description="Consults per employee per calendar year.")

    @classmethod
    def of(cls, product: Product) -> ContractProductRead:
        return cls(
            code=product.code,
            kind=product.kind,
            unit_price_cents=product.unit_price_cents,
            vat_rate=product.vat_rate,
            vat_exemption_reason=product.vat_exemption_reason,
            included_quantity=product.included_quantity,
            overage_unit_price_cents=product.overage_unit_price_cents,
            sessions_per_employee_per_year=product.sessions_per_employee_per_year,
        )


class ContractRead(BaseModel):
    """A contract of a client organisation."""

    id: uuid.UUID = Field(description="Contract id.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    status: ContractStatus = Field(description="active, or ended (early, by a provider admin).")
    period_start: date = Field(description="First day.")
    period_end: date = Field(description="Last day (inclusive); the actual last day of an ended contract.")
    products: list[ContractProductRead] = Field(description="Priced products.")
    buyer_reference: str | None = Field(description="The client's reference for its invoices.")
    purchase_order: str | None = Field(description="The client's purchase order number.")
    employees: int | None = Field(description="Employees a subscription per employee is billed for.")
    invoicing_period: InvoicingPeriod = Field(description="month or quarter.")
    auto_renew: bool = Field(description="Whether it renews itself.")
    renewal_months: int = Field(description="Length of a renewal period in months.")
    indexation_percent: Decimal2 = Field(description="Price indexation applied at renewal, in percent.")
    renewed_from_id: uuid.UUID | None = Field(description="The contract this one renews, if any.")
    renewal_id: uuid.UUID | None = Field(description="The contract that renews this one, if any.")
    ended_at: datetime | None = Field(description="When it was ended early, if it was.")

    @classmethod
    def of(cls, contract: Contract) -> ContractRead:
        return cls(
            id=contract.id,
            tenant_id=contract.tenant_id,
            status=contract.status,
            period_start=contract.period_start,
            period_end=contract.period_end,
            products=[ContractProductRead.of(p) for p in contract.products],
            buyer_reference=contract.buyer_reference,
            purchase_order=contract.purchase_order,
            employees=contract.employees,
            invoicing_period=contract.invoicing_period,
            auto_renew=contract.auto_renew,
            renewal_months=contract.renewal_months,
            indexation_percent=contract.indexation_percent,
            renewed_from_id=contract.renewed_from_id,
            renewal_id=contract.renewal_id,
            ended_at=contract.ended_at,
        )


class ContractEnd(BaseModel):
    """End a contract early."""

    model_config = ConfigDict(extra="forbid")

    end_date: date = Field(description="The new last day (inclusive), within the contract period.")


class ContractRenew(BaseModel):
    """Renew a contract for the period after it."""

    model_config = ConfigDict(extra="forbid")

    renewal_months: int | None = Field(
        default=None, ge=1, le=120, description="Length of the new period in months; default the contract's own."
    )
    indexation_percent: Decimal2 | None = Field(
        default=None, gt=-100, le=100, description="Indexation of every price; default the contract's own."
    )


class ProductUsageRead(BaseModel):
    """A product's metered usage in the window: totals only, never per person or per case."""

    code: str = Field(description="Product code.")
    kind: ProductKind = Field(description="Product kind.")
    vat_rate: VatRate = Field(description="VAT rate of the product.")
    unit: str = Field(description="What the quantity counts: hour, session, participant, case or occurrence.")
    quantity: Decimal2 = Field(description="Units used within what the contract includes or prices normally.")
    amount_cents: int = Field(description="Their price in euro cents excluding VAT (rounded half up).")
    overage_quantity: Decimal2 = Field(description="Units beyond a bundle or a subscription's sessions.")
    overage_amount_cents: int = Field(description="Their price in euro cents excluding VAT (rounded half up).")
    invoiced_amount_cents: int = Field(description="Part of the amounts already invoiced.")
    included_quantity: Decimal2 | None = Field(description="Hours in the bundle, for an hour bundle.")
    bundle_hours_used: Decimal2 | None = Field(
        description="For an hour bundle: hours used over the whole contract period, whatever the window."
    )

    @classmethod
    def of(cls, usage: ProductUsage) -> ProductUsageRead:
        return cls(
            code=usage.product.code,
            kind=usage.product.kind,
            vat_rate=usage.product.vat_rate,
            unit=usage.unit,
            quantity=usage.quantity,
            amount_cents=usage.amount_cents,
            overage_quantity=usage.overage_quantity,
            overage_amount_cents=usage.overage_amount_cents,
            invoiced_amount_cents=usage.invoiced_amount_cents,
            included_quantity=usage.product.included_quantity,
            bundle_hours_used=usage.bundle_hours_used,
        )


class ContractUsageRead(BaseModel):
    """A contract's usage per product in a window of days."""

    contract_id: uuid.UUID = Field(description="The contract.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    period_from: date = Field(description="First day of the window.")
    period_to: date = Field(description="Last day of the window (inclusive).")
    products: list[ProductUsageRead] = Field(description="One entry per product of the contract.")
    computed_at: datetime = Field(description="When the totals were computed (UTC).")

    @classmethod
    def of(cls, usage: ContractUsage) -> ContractUsageRead:
        return cls(
            contract_id=usage.contract.id,
            tenant_id=usage.contract.tenant_id,
            period_from=usage.first,
            period_to=usage.last,
            products=[ProductUsageRead.of(p) for p in usage.products],
            computed_at=usage.computed_at,
        )


class HeldUsageRead(BaseModel):
    """Activity on a day no contract of the client organisation covered: held until one does."""

    id: uuid.UUID = Field(description="Id of the usage record.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    activity: str = Field(description="What happened, e.g. appointment_completed or secondment_hours.")
    unit: str = Field(description="What the quantity counts.")
    quantity: Decimal2 = Field(description="How much (hours, participants, occurrences, cases).")
    occurred_at: datetime = Field(description="When it happened: a contract covering this day meters it.")
    source_event_id: uuid.UUID = Field(description="The event it came from.")
    held_since: datetime = Field(description="When it was held.")

    @classmethod
    def of(cls, held: HeldUsage) -> HeldUsageRead:
        return cls(
            id=held.id,
            tenant_id=held.tenant_id,
            activity=held.activity,
            unit=held.unit,
            quantity=held.quantity,
            occurred_at=held.occurred_at,
            source_event_id=held.source_event_id,
            held_since=held.held_since,
        )


@router.post(
    "/contracts",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
    tags=["contracts"],
    responses=error_responses(401, 403, 409, 422),
)
async def create_contract_route(
    body: ContractCreate, principal: CurrentPrincipal, uow: UowFactoryDep, runtime: RuntimeDep
) -> ContractRead:
    """Record a contract (provider admins); 409 when it overlaps a contract with a product of the same kind.

    Publishes billing.contract.activated.v1 and meters the client's held usage on the days it covers. A contract
    that already ends within the notice window is announced as expiring at once, not at the next daily run.
    """
    contract = await create_contract(
        CreateContract(
            tenant_id=body.tenant_id,
            products=[p.to_product() for p in body.products],
            period_start=body.period_start,
            period_end=body.period_end,
            buyer_reference=body.buyer_reference,
            purchase_order=body.purchase_order,
            employees=body.employees,
            invoicing_period=body.invoicing_period,
            auto_renew=body.auto_renew,
            renewal_months=body.renewal_months,
            indexation_percent=body.indexation_percent,
        ),
        principal=principal,
        uow=uow,
    )
    notice_days = settings_of(runtime).contract_expiry_notice_days
    await notify_expiring_contracts(uow=uow, today=today_in_amsterdam(), notice_days=notice_days)
    return ContractRead.of(contract)


@router.get(
    "/contracts",
    response_model=list[ContractRead],
    tags=["contracts"],
    responses=error_responses(401, 403, 422),
)
async def read_contracts(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID | None, Query(description="Only this client organisation's contracts.")] = None,
) -> list[ContractRead]:
    """The contracts the caller may read (admins all, account managers their portfolio, clients their own)."""
    return [ContractRead.of(c) for c in await list_contracts(principal=principal, uow=uow, tenant_id=tenant_id)]


@router.get(
    "/contracts/{contract_id}",
    response_model=ContractRead,
    tags=["contracts"],
    responses=error_responses(401, 403, 404, 422),
)
async def read_contract(contract_id: ContractId, principal: CurrentPrincipal, uow: UowFactoryDep) -> ContractRead:
    """One contract, if the caller may read it."""
    return ContractRead.of(await get_contract(contract_id, principal=principal, uow=uow))


@router.post(
    "/contracts/{contract_id}/end",
    response_model=ContractRead,
    tags=["contracts"],
    responses=error_responses(401, 403, 404, 409, 422),
)
async def end_contract_route(
    contract_id: ContractId, body: ContractEnd, principal: CurrentPrincipal, uow: UowFactoryDep
) -> ContractRead:
    """End a contract early (provider admins); publishes billing.contract.ended.v1 with the new last day.

    409 when it has ended already or when usage after the new last day is metered against it.
    """
    return ContractRead.of(await end_contract(contract_id, end_date=body.end_date, principal=principal, uow=uow))


@router.post(
    "/contracts/{contract_id}/renew",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
    tags=["contracts"],
    responses=error_responses(401, 403, 404, 409, 422),
)
async def renew_contract_route(
    contract_id: ContractId, principal: CurrentPrincipal, uow: UowFactoryDep, body: ContractRenew | None = None
) -> ContractRead:
    """Renew a contract for the period after it (provider admins): the new contract is returned.

    Every price is indexed by the indexation percentage (exact, rounded half up to whole cents); publishes
    billing.contract.activated.v1 for the new period. 409 when it is renewed already or has ended early.
    """
    renew = body or ContractRenew()
    renewal = await renew_contract(
        contract_id,
        principal=principal,
        uow=uow,
        months=renew.renewal_months,
        indexation_percent=renew.indexation_percent,
    )
    return ContractRead.of(renewal)


@router.get(
    "/contracts/{contract_id}/usage",
    response_model=ContractUsageRead,
    tags=["usage"],
    responses=error_responses(401, 403, 404, 422),
)
async def read_contract_usage(
    contract_id: ContractId,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    period_from: Annotated[
        date | None,
        Query(
            alias="from",
            description="First day of the window; default the contract's first day. A client organisation's "
            "window starts on the first of a month (whole months, as its invoices).",
        ),
    ] = None,
    period_to: Annotated[
        date | None,
        Query(
            alias="to",
            description="Last day of the window; default the contract's last day. A client organisation's "
            "window ends on the last day of a month.",
        ),
    ] = None,
) -> ContractUsageRead:
    """A contract's usage per product: quantities and amounts (totals only, no line per person or per case)."""
    usage = await contract_usage(contract_id, principal=principal, uow=uow, first=period_from, last=period_to)
    return ContractUsageRead.of(usage)


@router.get(
    "/usage/held",
    response_model=list[HeldUsageRead],
    tags=["usage"],
    responses=error_responses(401, 403, 422),
)
async def read_held_usage(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID | None, Query(description="Only this client organisation's.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, oldest first.")] = 500,
) -> list[HeldUsageRead]:
    """Usage held because no contract covered its day (provider admins): billable once a contract does."""
    held = await list_held_usage(principal=principal, uow=uow, tenant_id=tenant_id, limit=limit)
    return [HeldUsageRead.of(h) for h in held]
