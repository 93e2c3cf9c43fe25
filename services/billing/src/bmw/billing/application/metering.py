"""Metering: billable events from scheduling and intake become usage against the client's contract, exactly once.

Each event is applied once (the consumer's inbox, in the same transaction) and its usage is keyed by the source
event id (unique with the portion, so a retry cannot add a second row either). What an event meters to is decided
by :mod:`bmw.billing.domain.metering` under the contracts in force on the day of the activity; without any
contract in force the usage is *held* (listed by ``GET /usage/held``) and metered when a contract covering that
day is created. Every metered row publishes ``billing.usage.recorded.v1``; a bundle crossing 80 % and 100 % of
its included hours publishes ``billing.contract.threshold_reached.v1`` once each.

Per tenant, metering and contract changes are serialised with a transaction-scoped advisory lock, so that a held
row cannot slip past a contract being created at the same moment and two events cannot both take the last
hour of a bundle.

For the billing run: :func:`billable_usage` reads the open usage of a period, :func:`mark_usage_invoiced` marks
it invoiced in the run's transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.billing.adapters.tables import (
    BILLABLE_ACTIVITY,
    CONTRACT_THRESHOLDS,
    CONTRACTS,
    OVERAGE_BOOKINGS,
    USAGE,
)
from bmw.billing.domain.contracts import Contract, ContractStatus, InvoicingPeriod, Product, day_bounds
from bmw.billing.domain.metering import (
    BillableActivity,
    Charge,
    Portion,
    Unit,
    UsageStatus,
    activity_of,
    correct_secondment,
    meter,
    thresholds_reached,
)
from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.base import EventData
from bmw.contracts.events.billing import ContractThresholdReached, UsageRecorded
from bmw.contracts.events.intake import ClientErased
from bmw.contracts.events.scheduling import AppointmentBooked
from bmw.contracts.taxonomy import ProductKind, Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)

#: Namespace of billing's advisory locks (the first key of pg_advisory_xact_lock(int, int)).
_TENANT_LOCK_SPACE = 5_001

#: Data of a source event that billing has no use for and does not keep.
_NOT_KEPT = frozenset({"employee_login"})


async def lock_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Serialise metering and contract changes of one client organisation until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:space, hashtext(:tenant))"),
        {"space": _TENANT_LOCK_SPACE, "tenant": str(tenant_id)},
    )


def contract_of(row: Any, *, renewal_id: uuid.UUID | None = None) -> Contract:
    """A contract from its row."""
    return Contract(
        id=row.id,
        tenant_id=row.tenant_id,
        products=tuple(Product.from_json(p) for p in row.products),
        period_start=row.period_start,
        period_end=row.period_end,
        status=ContractStatus(row.status),
        buyer_reference=row.buyer_reference,
        purchase_order=row.purchase_order,
        employees=row.employees,
        invoicing_period=InvoicingPeriod(row.invoicing_period),
        auto_renew=row.auto_renew,
        renewal_months=row.renewal_months,
        indexation_percent=Decimal(row.indexation_percent),
        renewed_from_id=row.renewed_from_id,
        renewal_id=renewal_id,
        ended_at=row.ended_at,
        created_at=row.created_at,
    )


async def contracts_in_force(session: AsyncSession, tenant_id: uuid.UUID, day: date) -> list[Contract]:
    """The client's contracts whose period covers a day (ended ones keep their actual period)."""
    rows = await session.execute(
        select(CONTRACTS)
        .where(CONTRACTS.c.tenant_id == tenant_id, CONTRACTS.c.period_start <= day, CONTRACTS.c.period_end >= day)
        .order_by(CONTRACTS.c.period_start, CONTRACTS.c.id)
    )
    return [contract_of(row) for row in rows]


# -- consuming ----------------------------------------------------------------------------------------------


async def record_activity(uow: UnitOfWork, event: CloudEvent, data: EventData) -> None:
    """Keep the event's facts (ids, kinds, durations; a pseudonym at most) so held usage can be metered later."""
    kept = {key: value for key, value in data.model_dump(mode="json").items() if key not in _NOT_KEPT}
    await uow.session.execute(
        insert(BILLABLE_ACTIVITY)
        .values(
            source_event_id=event.id,
            tenant_id=event.tenantid,
            event_type=event.type,
            occurred_at=event.time,
            data=kept,
        )
        .on_conflict_do_nothing(index_elements=[BILLABLE_ACTIVITY.c.source_event_id])
    )


async def meter_event(uow: UnitOfWork, event: CloudEvent, data: EventData) -> None:
    """Consumer of the billable events: keep the activity and meter it (once: the inbox runs in this transaction)."""
    await record_activity(uow, event, data)
    activity = activity_of(event.type, data.model_dump(mode="json"), event_time=event.time)
    if activity is None:
        return
    await lock_tenant(uow.session, event.tenantid)
    await _meter(uow, tenant_id=event.tenantid, source_event_id=event.id, source_time=event.time, activity=activity)


async def remember_overage_booking(uow: UnitOfWork, event: CloudEvent, data: AppointmentBooked) -> None:
    """scheduling.appointment.booked.v1: remember a booking beyond a subscription's sessions (billed if held)."""
    if data.overage:
        await uow.session.execute(
            insert(OVERAGE_BOOKINGS)
            .values(appointment_id=data.appointment_id, tenant_id=event.tenantid)
            .on_conflict_do_nothing(index_elements=[OVERAGE_BOOKINGS.c.appointment_id])
        )


async def forget_client(uow: UnitOfWork, event: CloudEvent, data: ClientErased) -> None:
    """intake.client.erased.v1: usage rows and kept activity lose the person's pseudonym; the usage stays."""
    session = uow.session
    await session.execute(
        update(USAGE)
        .where(USAGE.c.tenant_id == event.tenantid, USAGE.c.client_ref == data.client_ref)
        .values(client_ref=None, updated_at=func.now())
    )
    await session.execute(
        update(BILLABLE_ACTIVITY)
        .where(
            BILLABLE_ACTIVITY.c.tenant_id == event.tenantid,
            BILLABLE_ACTIVITY.c.data["client_ref"].astext == data.client_ref,
        )
        .values(data=BILLABLE_ACTIVITY.c.data.op("-")("client_ref"))
    )


# -- metering -----------------------------------------------------------------------------------------------


async def _meter(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    source_event_id: uuid.UUID,
    source_time: datetime,
    activity: BillableActivity,
) -> None:
    session = uow.session
    if activity.correction_key is not None:
        earlier = (
            await session.execute(
                select(USAGE)
                .where(USAGE.c.tenant_id == tenant_id, USAGE.c.correction_key == activity.correction_key)
                .order_by(USAGE.c.created_at, USAGE.c.id)
                .with_for_update()
            )
        ).all()
        if earlier:
            await _correct(uow, earlier, source_event_id=source_event_id, source_time=source_time, activity=activity)
            return
    contracts = await contracts_in_force(session, tenant_id, activity.day)
    used = await _bundle_used(session, contracts)
    booked_as_overage = activity.appointment_id is not None and bool(
        await session.scalar(select(func.count()).where(OVERAGE_BOOKINGS.c.appointment_id == activity.appointment_id))
    )
    outcome = meter(activity, contracts, bundle_used=used, booked_as_overage=booked_as_overage)
    base = {
        "tenant_id": tenant_id,
        "activity": activity.activity.value,
        "occurred_at": activity.occurred_at,
        "source_event_id": source_event_id,
        "source_time": source_time,
        "case_id": activity.case_id,
        "client_ref": activity.client_ref,
        "correction_key": activity.correction_key,
    }
    if outcome.held:
        await session.execute(
            insert(USAGE)
            .values(
                id=uuid.uuid4(),
                unit=activity.unit.value,
                quantity=activity.quantity,
                status=UsageStatus.HELD.value,
                portion=Portion.BASE.value,
                **base,
            )
            .on_conflict_do_nothing()
        )
        logger.info("usage of %s held: no contract in force on %s", activity.activity.value, activity.day)
        return
    for charge in outcome.charges:
        await _insert_charge(uow, charge, base, occurred_at=activity.occurred_at)
    await _check_thresholds(uow, tenant_id, contracts, outcome.charges, used)


async def _insert_charge(
    uow: UnitOfWork,
    charge: Charge,
    base: dict[str, Any],
    *,
    occurred_at: datetime,
    corrects: uuid.UUID | None = None,
) -> None:
    usage_id = uuid.uuid4()
    inserted = await uow.session.scalar(
        insert(USAGE)
        .values(
            id=usage_id,
            contract_id=charge.contract_id,
            product_code=charge.product_code,
            kind=charge.kind.value,
            unit=charge.unit.value,
            quantity=charge.quantity,
            unit_price_cents=charge.unit_price_cents,
            overage=charge.overage,
            portion=charge.portion.value,
            status=UsageStatus.OPEN.value,
            corrects_usage_id=corrects,
            **base,
        )
        .on_conflict_do_nothing()
        .returning(USAGE.c.id)
    )
    if inserted is None:
        return  # this portion of this source event is metered already
    if charge.quantity > 0:
        await _announce(uow, usage_id, charge, base["tenant_id"], occurred_at, base["source_event_id"])


async def _announce(
    uow: UnitOfWork,
    usage_id: uuid.UUID,
    charge: Charge,
    tenant_id: uuid.UUID,
    occurred_at: datetime,
    source_event_id: uuid.UUID,
) -> None:
    await uow.emit(
        UsageRecorded(
            usage_id=usage_id,
            contract_id=charge.contract_id,
            product_code=charge.product_code,
            quantity=charge.quantity,
            occurred_at=occurred_at,
            source_event_id=source_event_id,
        ),
        tenant_id=tenant_id,
        subject=str(usage_id),
    )


async def _bundle_used(session: AsyncSession, contracts: Sequence[Contract]) -> dict[uuid.UUID, Decimal]:
    """Bundle hours metered so far (included and overage) per contract with a bundle."""
    with_bundle = [c.id for c in contracts if c.product_of(ProductKind.HOUR_BUNDLE) is not None]
    if not with_bundle:
        return {}
    rows = await session.execute(
        select(USAGE.c.contract_id, func.coalesce(func.sum(USAGE.c.quantity), 0))
        .where(USAGE.c.contract_id.in_(with_bundle), USAGE.c.kind == ProductKind.HOUR_BUNDLE.value)
        .group_by(USAGE.c.contract_id)
    )
    used = {contract_id: Decimal(0) for contract_id in with_bundle}
    used.update({contract_id: Decimal(total) for contract_id, total in rows})
    return used


async def _check_thresholds(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    contracts: Sequence[Contract],
    charges: Sequence[Charge],
    used_before: dict[uuid.UUID, Decimal],
) -> None:
    """Announce each bundle threshold once: the table's primary key decides who announces."""
    for contract in contracts:
        bundle = contract.product_of(ProductKind.HOUR_BUNDLE)
        added = sum(
            (c.quantity for c in charges if c.contract_id == contract.id and c.kind is ProductKind.HOUR_BUNDLE),
            Decimal(0),
        )
        if bundle is None or bundle.included_quantity is None or added == 0:
            continue
        used = used_before.get(contract.id, Decimal(0)) + added
        for percent in thresholds_reached(included=bundle.included_quantity, used=used):
            first = await uow.session.scalar(
                insert(CONTRACT_THRESHOLDS)
                .values(contract_id=contract.id, product_code=bundle.code, percent=percent)
                .on_conflict_do_nothing()
                .returning(CONTRACT_THRESHOLDS.c.percent)
            )
            if first is not None:
                await uow.emit(
                    ContractThresholdReached(contract_id=contract.id, product_code=bundle.code, percent=percent),
                    tenant_id=tenant_id,
                    subject=str(contract.id),
                )


async def _correct(
    uow: UnitOfWork,
    earlier: Sequence[Row[Any]],
    *,
    source_event_id: uuid.UUID,
    source_time: datetime,
    activity: BillableActivity,
) -> None:
    """Secondment hours logged again for the same worker x client x day: the latest log is authoritative."""
    session = uow.session
    latest = max(row.source_time for row in earlier)
    if source_time < latest:
        logger.info("secondment hours of an earlier log arrived after a later one; the later one stands")
        return
    invoiced = [row for row in earlier if row.status == UsageStatus.INVOICED.value]
    pending = [row for row in earlier if row.status != UsageStatus.INVOICED.value]
    plan = correct_secondment(
        hours=activity.quantity,
        invoiced=sum((row.quantity for row in invoiced), Decimal(0)),
        pending=[(row.id, row.quantity) for row in pending],
    )
    if plan.delete:
        await session.execute(delete(USAGE).where(USAGE.c.id.in_(plan.delete)))
    if plan.update is not None:
        row_id, quantity = plan.update
        row = next(row for row in pending if row.id == row_id)
        await session.execute(
            update(USAGE)
            .where(USAGE.c.id == row_id)
            .values(quantity=quantity, source_event_id=source_event_id, source_time=source_time, updated_at=func.now())
        )
        if row.status == UsageStatus.OPEN.value and quantity > 0:
            await _announce(uow, row.id, _charge_of(row, quantity), row.tenant_id, row.occurred_at, source_event_id)
    if plan.insert is not None:
        template = max(invoiced, key=lambda row: row.source_time)
        base = {
            "tenant_id": template.tenant_id,
            "activity": template.activity,
            "occurred_at": template.occurred_at,
            "source_event_id": source_event_id,
            "source_time": source_time,
            "case_id": None,
            "client_ref": None,
            "correction_key": template.correction_key,
        }
        charge = _charge_of(template, plan.insert)
        await _insert_charge(uow, charge, base, occurred_at=template.occurred_at, corrects=template.id)


def _charge_of(row: Row[Any], quantity: Decimal) -> Charge:
    return Charge(
        contract_id=row.contract_id,
        product_code=row.product_code,
        kind=ProductKind(row.kind),
        unit=Unit(row.unit),
        quantity=quantity,
        unit_price_cents=row.unit_price_cents,
        overage=row.overage,
        portion=Portion(row.portion),
    )


async def attach_held_usage(uow: UnitOfWork, contract: Contract) -> int:
    """Meter the client's held usage on the days a new contract covers (in the contract's transaction)."""
    session = uow.session
    start, end = day_bounds(contract.period_start, contract.period_end)
    held = (
        await session.execute(
            select(USAGE)
            .where(
                USAGE.c.tenant_id == contract.tenant_id,
                USAGE.c.status == UsageStatus.HELD.value,
                USAGE.c.occurred_at >= start,
                USAGE.c.occurred_at < end,
            )
            .order_by(USAGE.c.occurred_at, USAGE.c.created_at)
            .with_for_update()
        )
    ).all()
    for row in held:
        source = (
            await session.execute(
                select(BILLABLE_ACTIVITY).where(BILLABLE_ACTIVITY.c.source_event_id == row.source_event_id)
            )
        ).first()
        await session.execute(delete(USAGE).where(USAGE.c.id == row.id))
        activity = (
            None if source is None else activity_of(source.event_type, source.data, event_time=source.occurred_at)
        )
        if activity is None:
            logger.warning("held usage %s has no billable activity kept; dropped", row.id)
            continue
        activity = replace(activity, client_ref=row.client_ref)
        await _meter(
            uow,
            tenant_id=row.tenant_id,
            source_event_id=row.source_event_id,
            source_time=row.source_time,
            activity=activity,
        )
    return len(held)


# -- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageLine:
    """One open usage row, as the billing run needs it (no person in it: the case id is a pseudonymous
    reference of a trajectory)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    contract_id: uuid.UUID
    product_code: str
    kind: ProductKind
    unit: str
    quantity: Decimal
    unit_price_cents: int
    overage: bool
    occurred_at: datetime
    case_id: uuid.UUID | None
    corrects_usage_id: uuid.UUID | None


async def billable_usage(
    session: AsyncSession, *, tenant_id: uuid.UUID, first: date, last: date, lock: bool = True
) -> list[UsageLine]:
    """The open usage of a client organisation on the Europe/Amsterdam days ``first``..``last`` (inclusive),
    locked for the billing run's transaction by default."""
    start, end = day_bounds(first, last)
    query = (
        select(USAGE)
        .where(
            USAGE.c.tenant_id == tenant_id,
            USAGE.c.status == UsageStatus.OPEN.value,
            USAGE.c.occurred_at >= start,
            USAGE.c.occurred_at < end,
        )
        .order_by(USAGE.c.occurred_at, USAGE.c.id)
    )
    rows = (await session.execute(query.with_for_update() if lock else query)).all()
    return [
        UsageLine(
            id=row.id,
            tenant_id=row.tenant_id,
            contract_id=row.contract_id,
            product_code=row.product_code,
            kind=ProductKind(row.kind),
            unit=row.unit,
            quantity=row.quantity,
            unit_price_cents=row.unit_price_cents,
            overage=row.overage,
            occurred_at=row.occurred_at,
            case_id=row.case_id,
            corrects_usage_id=row.corrects_usage_id,
        )
        for row in rows
    ]


async def mark_usage_invoiced(session: AsyncSession, *, usage_ids: Sequence[uuid.UUID], invoice_id: uuid.UUID) -> int:
    """Mark open usage rows as invoiced on ``invoice_id`` (in the billing run's transaction); returns how many
    were marked. Rows that are not open (held, or invoiced already) are left alone: compare the count."""
    if not usage_ids:
        return 0
    result = await session.execute(
        update(USAGE)
        .where(USAGE.c.id.in_(list(usage_ids)), USAGE.c.status == UsageStatus.OPEN.value)
        .values(status=UsageStatus.INVOICED.value, invoice_id=invoice_id, updated_at=func.now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UsageTotal:
    """Metered usage of one contract product at one price (overage apart), summed."""

    product_code: str
    kind: ProductKind
    unit: str
    overage: bool
    unit_price_cents: int
    quantity: Decimal
    invoiced_quantity: Decimal


async def usage_totals(session: AsyncSession, *, contract_id: uuid.UUID, first: date, last: date) -> list[UsageTotal]:
    """A contract's metered usage on the days ``first``..``last``, summed per product, overage and price."""
    start, end = day_bounds(first, last)
    invoiced = func.coalesce(
        func.sum(USAGE.c.quantity).filter(USAGE.c.status == UsageStatus.INVOICED.value), Decimal(0)
    )
    rows = await session.execute(
        select(
            USAGE.c.product_code,
            USAGE.c.kind,
            USAGE.c.unit,
            USAGE.c.overage,
            USAGE.c.unit_price_cents,
            func.sum(USAGE.c.quantity).label("quantity"),
            invoiced.label("invoiced_quantity"),
        )
        .where(USAGE.c.contract_id == contract_id, USAGE.c.occurred_at >= start, USAGE.c.occurred_at < end)
        .group_by(USAGE.c.product_code, USAGE.c.kind, USAGE.c.unit, USAGE.c.overage, USAGE.c.unit_price_cents)
        .order_by(USAGE.c.product_code, USAGE.c.overage, USAGE.c.unit_price_cents)
    )
    return [
        UsageTotal(
            product_code=row.product_code,
            kind=ProductKind(row.kind),
            unit=row.unit,
            overage=row.overage,
            unit_price_cents=row.unit_price_cents,
            quantity=Decimal(row.quantity),
            invoiced_quantity=Decimal(row.invoiced_quantity),
        )
        for row in rows
    ]


async def bundle_hours_used(session: AsyncSession, contract: Contract) -> Decimal:
    """All bundle hours metered against a contract so far (included and overage)."""
    return (await _bundle_used(session, [contract])).get(contract.id, Decimal(0))


@dataclass(frozen=True)
class HeldUsage:
    """Activity of a client organisation on a day no contract covered: not billed yet, not forgotten."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    activity: str
    unit: str
    quantity: Decimal
    occurred_at: datetime
    source_event_id: uuid.UUID
    held_since: datetime


async def list_held_usage(
    *, principal: Principal, uow: UnitOfWorkFactory, tenant_id: uuid.UUID | None = None, limit: int = 500
) -> list[HeldUsage]:
    """Held usage, oldest first (provider admins): what needs a contract before it can be billed."""
    principal.require_role(Role.PROVIDER_ADMIN)
    query = select(USAGE).where(USAGE.c.status == UsageStatus.HELD.value)
    if tenant_id is not None:
        query = query.where(USAGE.c.tenant_id == tenant_id)
    async with uow() as work:
        rows = (await work.session.execute(query.order_by(USAGE.c.occurred_at, USAGE.c.id).limit(limit))).all()
    return [
        HeldUsage(
            id=row.id,
            tenant_id=row.tenant_id,
            activity=row.activity,
            unit=row.unit,
            quantity=row.quantity,
            occurred_at=row.occurred_at,
            source_event_id=row.source_event_id,
            held_since=row.created_at,
        )
        for row in rows
    ]
