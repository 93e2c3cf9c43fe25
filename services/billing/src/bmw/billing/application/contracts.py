"""Contracts: what a client organisation buys, for which period, at which prices (see domain.contracts).

Provider admins create, end early and renew contracts; each change publishes ``billing.contract.activated.v1``
(with the products and their entitlements, which scheduling uses to refuse or mark overage bookings) or
``billing.contract.ended.v1``. Creating a contract meters the usage held for its client on the days it covers.
Admins read every contract, account managers those of their portfolio, client contacts and integrations with
the scope ``usage:read`` their own organisation's.

A daily job renews self-renewing contracts shortly before they end and announces, once, the others that end
within 90 days without a renewal (``billing.contract.expiring.v1``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.billing.adapters.tables import CONTRACT_EXPIRY_NOTICES, CONTRACTS, ORGANISATIONS, USAGE
from bmw.billing.application.metering import (
    UsageTotal,
    attach_held_usage,
    bundle_hours_used,
    contract_of,
    lock_tenant,
    usage_totals,
)
from bmw.billing.domain.contracts import (
    AMSTERDAM,
    DEFAULT_RENEWAL_MONTHS,
    EXPIRY_NOTICE_DAYS,
    Contract,
    ContractStatus,
    InvoicingPeriod,
    Problem,
    Product,
    auto_renewal_due,
    clashes,
    day_bounds,
    expiry_notice_due,
    product_problems,
    renewed,
    round_cents,
)
from bmw.contracts.events.billing import ContractActivated, ContractEnded, ContractExpiring, ContractProduct
from bmw.contracts.taxonomy import ProductKind, Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)

#: The integration scope that reads a client organisation's contracts and usage.
USAGE_SCOPE = "usage:read"

_NOT_FOUND = "contract not found"


def today_in_amsterdam() -> date:
    return datetime.now(AMSTERDAM).date()


# -- access -------------------------------------------------------------------------------------------------


def _require_reader(principal: Principal) -> None:
    principal.require_role(Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT, Role.INTEGRATION)
    if principal.roles == {Role.INTEGRATION} and USAGE_SCOPE not in principal.scopes:
        raise Forbidden(f"this integration lacks the scope {USAGE_SCOPE}")


def _whole_months(principal: Principal, first: date | None, last: date | None) -> list[FieldError]:
    """A client organisation's usage windows are whole calendar months (DESIGN §2 rule 2).

    Usage totals count events of people: a no-show fee is one person who did not come, a trajectory one person's
    case. Over a day or a week, a window gives the client a count of one or two people on dates it can put names
    to, and two windows a day apart give a single day. Whole months are the grid the invoices (a month or a
    quarter of them) and the trends are published on; windows of whole months differ by whole months only.
    Provider staff ask any window.
    """
    if not principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION, Role.EMPLOYEE):
        return []
    problems = []
    if first is not None and first.day != 1:
        problems.append(FieldError(path="query.from", message="must be the first day of a month"))
    if last is not None and (last + timedelta(days=1)).day != 1:
        problems.append(FieldError(path="query.to", message="must be the last day of a month"))
    return problems


def may_read(principal: Principal, tenant_id: uuid.UUID) -> bool:
    """Whether the caller may read a client organisation's contracts and usage."""
    if principal.has_role(Role.PROVIDER_ADMIN):
        return True
    if principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio:
        return True
    if principal.tenant_id != tenant_id:
        return False
    if principal.has_role(Role.CLIENT_CONTACT):
        return True
    return principal.has_role(Role.INTEGRATION) and USAGE_SCOPE in principal.scopes


# -- creating -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateContract:
    """Record a contract of a client organisation."""

    tenant_id: uuid.UUID
    products: Sequence[Product]
    period_start: date
    period_end: date
    buyer_reference: str | None = None
    purchase_order: str | None = None
    employees: int | None = None
    invoicing_period: InvoicingPeriod = InvoicingPeriod.MONTH
    auto_renew: bool = False
    renewal_months: int = DEFAULT_RENEWAL_MONTHS
    indexation_percent: Decimal = field(default_factory=lambda: Decimal(0))


def _refuse(problems: Sequence[Problem], message: str) -> None:
    if problems:
        raise InvalidInput(message, fields=[FieldError(path=f"body.{p.path}", message=p.message) for p in problems])


async def create_contract(command: CreateContract, *, principal: Principal, uow: UnitOfWorkFactory) -> Contract:
    """Record a contract, announce it (billing.contract.activated.v1) and meter the usage held for its days."""
    principal.require_role(Role.PROVIDER_ADMIN)
    problems = product_problems(command.products, employees=command.employees)
    if command.period_end < command.period_start:
        problems.insert(0, Problem("period_end", "must not be before period_start"))
    _refuse(problems, "the contract is not valid: see fields")
    contract = Contract(
        id=uuid.uuid4(),
        tenant_id=command.tenant_id,
        products=tuple(command.products),
        period_start=command.period_start,
        period_end=command.period_end,
        buyer_reference=command.buyer_reference,
        purchase_order=command.purchase_order,
        employees=command.employees,
        invoicing_period=command.invoicing_period,
        auto_renew=command.auto_renew,
        renewal_months=command.renewal_months,
        indexation_percent=command.indexation_percent,
    )
    async with uow(tenant_id=command.tenant_id) as work:
        known = await work.session.scalar(select(ORGANISATIONS.c.id).where(ORGANISATIONS.c.id == command.tenant_id))
        if known is None:
            raise InvalidInput(
                "unknown client organisation",
                fields=[FieldError(path="body.tenant_id", message="no such client organisation")],
            )
        stored = await _activate(work, contract, created_by=principal.subject)
        await work.commit()
    return stored


async def _activate(work: UnitOfWork, contract: Contract, *, created_by: str | None) -> Contract:
    """Insert a contract after the overlap check, announce it, and attach the held usage it now covers."""
    session = work.session
    await lock_tenant(session, contract.tenant_id)
    others = [
        contract_of(row)
        for row in await session.execute(
            select(CONTRACTS).where(
                CONTRACTS.c.tenant_id == contract.tenant_id,
                CONTRACTS.c.period_start <= contract.period_end,
                CONTRACTS.c.period_end >= contract.period_start,
            )
        )
    ]
    found = clashes(contract.kinds, contract.period_start, contract.period_end, others)
    if found:
        positions = {product.kind: index for index, product in enumerate(contract.products)}
        raise Conflict(
            "the client organisation already has a contract with the same product kind in this period",
            fields=[
                FieldError(
                    path=f"body.products.{positions[kind]}.kind",
                    message=f"contract {other.id} ({other.period_start} to {other.period_end}) has a "
                    f"{kind.value} product too",
                )
                for other, kind in found
            ],
            contract_ids=sorted({str(other.id) for other, _ in found}),
        )
    await session.execute(
        insert(CONTRACTS).values(
            id=contract.id,
            tenant_id=contract.tenant_id,
            products=[product.to_json() for product in contract.products],
            period_start=contract.period_start,
            period_end=contract.period_end,
            status=contract.status.value,
            buyer_reference=contract.buyer_reference,
            purchase_order=contract.purchase_order,
            employees=contract.employees,
            invoicing_period=contract.invoicing_period.value,
            auto_renew=contract.auto_renew,
            renewal_months=contract.renewal_months,
            indexation_percent=contract.indexation_percent,
            renewed_from_id=contract.renewed_from_id,
            created_by=created_by,
        )
    )
    await work.emit(
        ContractActivated(
            contract_id=contract.id,
            products=[_wire(product) for product in contract.products],
            period_start=contract.period_start,
            period_end=contract.period_end,
        ),
        tenant_id=contract.tenant_id,
        subject=str(contract.id),
    )
    attached = await attach_held_usage(work, contract)
    if attached:
        logger.info("contract %s metered %d held usage records", contract.id, attached)
    stored = await _load(session, contract.id)
    if stored is None:  # pragma: no cover - inserted above in this transaction
        raise RuntimeError("contract vanished inside its own transaction")
    return stored


def _wire(product: Product) -> ContractProduct:
    """A product as billing.contract.activated.v1 carries it (entitlements included; no exemption text)."""
    return ContractProduct(
        code=product.code,
        kind=product.kind,
        unit_price_cents=product.unit_price_cents,
        vat_rate=product.vat_rate,
        included_quantity=product.included_quantity,
        overage_unit_price_cents=product.overage_unit_price_cents,
        sessions_per_employee_per_year=product.sessions_per_employee_per_year,
    )


# -- reading ------------------------------------------------------------------------------------------------


def _with_renewal() -> Any:
    renewal = CONTRACTS.alias("renewal")
    return (
        select(CONTRACTS, renewal.c.id.label("renewal_id"))
        .select_from(CONTRACTS.outerjoin(renewal, renewal.c.renewed_from_id == CONTRACTS.c.id))
        .order_by(CONTRACTS.c.tenant_id, CONTRACTS.c.period_start, CONTRACTS.c.id)
    )


async def _load(session: AsyncSession, contract_id: uuid.UUID, *, for_update: bool = False) -> Contract | None:
    query = _with_renewal().where(CONTRACTS.c.id == contract_id)
    row = (await session.execute(query.with_for_update(of=CONTRACTS) if for_update else query)).first()
    return None if row is None else contract_of(row, renewal_id=row.renewal_id)


async def get_contract(contract_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> Contract:
    """One contract, if the caller may read it (404 alike for unknown and not visible)."""
    _require_reader(principal)
    async with uow() as work:
        contract = await _load(work.session, contract_id)
    if contract is None or not may_read(principal, contract.tenant_id):
        raise NotFound(_NOT_FOUND)
    return contract


async def list_contracts(
    *, principal: Principal, uow: UnitOfWorkFactory, tenant_id: uuid.UUID | None = None
) -> list[Contract]:
    """The contracts the caller may read, of one client organisation or of all it may see."""
    _require_reader(principal)
    query = _with_renewal()
    if tenant_id is not None:
        if not may_read(principal, tenant_id):
            raise Forbidden("not allowed for this client organisation")
        query = query.where(CONTRACTS.c.tenant_id == tenant_id)
    elif not principal.has_role(Role.PROVIDER_ADMIN):
        visible = set(principal.portfolio) if principal.has_role(Role.ACCOUNT_MANAGER) else set()
        if principal.tenant_id is not None and may_read(principal, principal.tenant_id):
            visible.add(principal.tenant_id)
        query = query.where(CONTRACTS.c.tenant_id.in_(sorted(visible, key=str)))
    async with uow() as work:
        rows = (await work.session.execute(query)).all()
    return [contract_of(row, renewal_id=row.renewal_id) for row in rows]


# -- ending and renewing ------------------------------------------------------------------------------------


async def end_contract(
    contract_id: uuid.UUID, *, end_date: date, principal: Principal, uow: UnitOfWorkFactory
) -> Contract:
    """End a contract early (provider admins): ``end_date`` becomes its last day (billing.contract.ended.v1)."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with uow() as work:
        session = work.session
        contract = await _load(session, contract_id)
        if contract is None:
            raise NotFound(_NOT_FOUND)
        await lock_tenant(session, contract.tenant_id)
        contract = await _load(session, contract_id, for_update=True)
        if contract is None:  # pragma: no cover - contracts are never deleted
            raise NotFound(_NOT_FOUND)
        if contract.status is ContractStatus.ENDED:
            raise Conflict("the contract has ended already", current_state=contract.status.value)
        if not contract.period_start <= end_date <= contract.period_end:
            raise InvalidInput(
                "the last day must lie within the contract period",
                fields=[
                    FieldError(
                        path="body.end_date",
                        message=f"must lie between {contract.period_start} and {contract.period_end}",
                    )
                ],
            )
        after = day_bounds(end_date, end_date)[1]
        metered_after = await session.scalar(
            select(func.count()).where(USAGE.c.contract_id == contract.id, USAGE.c.occurred_at >= after)
        )
        if metered_after:
            raise Conflict(
                "usage after that day is metered against this contract already",
                fields=[FieldError(path="body.end_date", message="usage after this day exists")],
            )
        await session.execute(
            update(CONTRACTS)
            .where(CONTRACTS.c.id == contract.id)
            .values(status=ContractStatus.ENDED.value, period_end=end_date, ended_at=func.now())
        )
        await work.emit(
            ContractEnded(
                contract_id=contract.id,
                products=[_wire(product) for product in contract.products],
                period_start=contract.period_start,
                period_end=end_date,
            ),
            tenant_id=contract.tenant_id,
            subject=str(contract.id),
        )
        ended = await _load(session, contract.id)
        await work.commit()
    if ended is None:  # pragma: no cover - contracts are never deleted
        raise NotFound(_NOT_FOUND)
    return ended


async def renew_contract(
    contract_id: uuid.UUID,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    months: int | None = None,
    indexation_percent: Decimal | None = None,
) -> Contract:
    """Renew a contract for its next period, prices indexed (billing.contract.activated.v1 for the new one)."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with uow() as work:
        contract = await _load(work.session, contract_id)
        if contract is None:
            raise NotFound(_NOT_FOUND)
        renewal = await _renew(
            work, contract.id, contract.tenant_id, months=months, percent=indexation_percent, by=principal.subject
        )
        await work.commit()
    return renewal


async def _renew(
    work: UnitOfWork,
    contract_id: uuid.UUID,
    tenant_id: uuid.UUID,
    *,
    months: int | None,
    percent: Decimal | None,
    by: str | None,
) -> Contract:
    await lock_tenant(work.session, tenant_id)
    contract = await _load(work.session, contract_id, for_update=True)
    if contract is None:  # pragma: no cover - contracts are never deleted
        raise NotFound(_NOT_FOUND)
    if contract.renewal_id is not None:
        raise Conflict("the contract is renewed already", current_state="renewed", renewal_id=str(contract.renewal_id))
    if contract.status is ContractStatus.ENDED:
        raise Conflict("an ended contract is not renewed: create a new contract", current_state="ended")
    return await _activate(work, renewed(contract, new_id=uuid.uuid4(), months=months, percent=percent), created_by=by)


# -- the daily contract calendar ----------------------------------------------------------------------------


async def renew_due_contracts(*, uow: UnitOfWorkFactory, today: date, lead_days: int) -> list[uuid.UUID]:
    """Renew the self-renewing contracts that end within ``lead_days``; returns the new contracts' ids."""
    async with uow() as work:
        candidates = [
            contract_of(row)
            for row in await work.session.execute(
                _unrenewed().where(
                    CONTRACTS.c.auto_renew.is_(True),
                    CONTRACTS.c.period_end <= today + timedelta(days=lead_days),
                )
            )
        ]
    renewals: list[uuid.UUID] = []
    for contract in candidates:
        if not auto_renewal_due(contract, today, lead_days=lead_days):
            continue
        try:
            async with uow(tenant_id=contract.tenant_id) as work:
                renewal = await _renew(work, contract.id, contract.tenant_id, months=None, percent=None, by=None)
                await work.commit()
        except Conflict as refused:
            logger.warning("contract %s not renewed automatically: %s", contract.id, refused.message)
            continue
        renewals.append(renewal.id)
    return renewals


def _unrenewed() -> Any:
    renewal = CONTRACTS.alias("renewal")
    return select(CONTRACTS).where(
        CONTRACTS.c.status == ContractStatus.ACTIVE.value,
        ~exists().where(renewal.c.renewed_from_id == CONTRACTS.c.id),
    )


async def notify_expiring_contracts(
    *, uow: UnitOfWorkFactory, today: date, notice_days: int = EXPIRY_NOTICE_DAYS
) -> list[uuid.UUID]:
    """Announce, once per contract, those that end within ``notice_days`` without a renewal and without renewing
    themselves (billing.contract.expiring.v1); returns the contracts announced now."""
    async with uow() as work:
        candidates = [
            contract_of(row)
            for row in await work.session.execute(
                _unrenewed().where(
                    CONTRACTS.c.auto_renew.is_(False),
                    CONTRACTS.c.period_end >= today,
                    CONTRACTS.c.period_end <= today + timedelta(days=notice_days),
                    ~exists().where(CONTRACT_EXPIRY_NOTICES.c.contract_id == CONTRACTS.c.id),
                )
            )
        ]
    announced: list[uuid.UUID] = []
    for contract in candidates:
        if not expiry_notice_due(contract, today, notice_days=notice_days):
            continue
        async with uow(tenant_id=contract.tenant_id) as work:
            first = await work.session.scalar(
                pg_insert(CONTRACT_EXPIRY_NOTICES)
                .values(contract_id=contract.id, end_date=contract.period_end)
                .on_conflict_do_nothing()
                .returning(CONTRACT_EXPIRY_NOTICES.c.contract_id)
            )
            if first is None:
                continue  # another instance announced it
            await work.emit(
                ContractExpiring(contract_id=contract.id, end_date=contract.period_end),
                tenant_id=contract.tenant_id,
                subject=str(contract.id),
            )
            await work.commit()
        announced.append(contract.id)
    return announced


async def run_contract_calendar(
    *, uow: UnitOfWorkFactory, today: date | None = None, notice_days: int, lead_days: int
) -> int:
    """The daily job: automatic renewals first (a renewed contract is not expiring), then expiry notices."""
    day = today or today_in_amsterdam()
    renewed_ids = await renew_due_contracts(uow=uow, today=day, lead_days=lead_days)
    announced = await notify_expiring_contracts(uow=uow, today=day, notice_days=notice_days)
    return len(renewed_ids) + len(announced)


# -- usage per contract -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductUsage:
    """A contract product's usage in a window: totals only, never per person or per case."""

    product: Product
    unit: str
    quantity: Decimal
    amount_cents: int
    overage_quantity: Decimal
    overage_amount_cents: int
    invoiced_amount_cents: int
    bundle_hours_used: Decimal | None


@dataclass(frozen=True)
class ContractUsage:
    contract: Contract
    first: date
    last: date
    products: list[ProductUsage]
    computed_at: datetime


#: The unit a product kind's usage counts, for products without usage in the window.
PRODUCT_UNIT: dict[ProductKind, str] = {
    ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR: "session",
    ProductKind.HOUR_BUNDLE: "hour",
    ProductKind.TRAJECTORY_FIXED_PRICE: "case",
    ProductKind.WORKSHOP_PER_SESSION: "session",
    ProductKind.WORKSHOP_PER_PARTICIPANT: "participant",
    ProductKind.SECONDMENT_HOURLY: "hour",
    ProductKind.LATE_CANCELLATION_FEE: "occurrence",
    ProductKind.NO_SHOW_FEE: "occurrence",
}


def _summarise(product: Product, totals: Sequence[UsageTotal], bundle_used: Decimal | None) -> ProductUsage:
    mine = [t for t in totals if t.product_code == product.code]
    base = [t for t in mine if not t.overage]
    over = [t for t in mine if t.overage]
    zero = Decimal(0)
    return ProductUsage(
        product=product,
        unit=mine[0].unit if mine else PRODUCT_UNIT[product.kind],
        quantity=sum((t.quantity for t in base), zero),
        amount_cents=round_cents(sum((t.quantity * t.unit_price_cents for t in base), zero)),
        overage_quantity=sum((t.quantity for t in over), zero),
        overage_amount_cents=round_cents(sum((t.quantity * t.unit_price_cents for t in over), zero)),
        invoiced_amount_cents=round_cents(sum((t.invoiced_quantity * t.unit_price_cents for t in mine), zero)),
        bundle_hours_used=bundle_used if product.kind is ProductKind.HOUR_BUNDLE else None,
    )


async def contract_usage(
    contract_id: uuid.UUID,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    first: date | None = None,
    last: date | None = None,
) -> ContractUsage:
    """A contract's metered usage per product in a window (default: the whole contract period).

    Totals per product only, no per-person or per-case line. A client organisation's window is whole calendar
    months (:func:`_whole_months`): its totals are then those of its invoices' months, which it sees anyway; the
    contract period's own first and last day (the default) are fixed, and no usage lies outside them.
    """
    _require_reader(principal)
    problems = _whole_months(principal, first, last)
    if problems:
        raise InvalidInput("a client organisation's usage window is whole calendar months", fields=problems)
    async with uow() as work:
        contract = await _load(work.session, contract_id)
        if contract is None or not may_read(principal, contract.tenant_id):
            raise NotFound(_NOT_FOUND)
        window_first = first or contract.period_start
        window_last = last or contract.period_end
        if window_last < window_first:
            raise InvalidInput(
                "the window ends before it starts",
                fields=[FieldError(path="query.to", message="must not be before from")],
            )
        totals = await usage_totals(work.session, contract_id=contract.id, first=window_first, last=window_last)
        used = await bundle_hours_used(work.session, contract)
    return ContractUsage(
        contract=contract,
        first=window_first,
        last=window_last,
        products=[_summarise(product, totals, used) for product in contract.products],
        computed_at=datetime.now(UTC),
    )


async def contracts_for_period(
    session: AsyncSession, *, tenant_id: uuid.UUID, first: date, last: date
) -> list[Contract]:
    """The contracts of a client organisation in force on any day of ``first``..``last`` (for the billing run:
    buyer reference, purchase order, subscription employees and prices, VAT rates and exemption reasons)."""
    rows = await session.execute(
        _with_renewal().where(
            CONTRACTS.c.tenant_id == tenant_id, CONTRACTS.c.period_start <= last, CONTRACTS.c.period_end >= first
        )
    )
    return [contract_of(row, renewal_id=row.renewal_id) for row in rows]
