"""Entitlement-aware booking: a local copy of billing's contracts, and the check a booking goes through."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, extract, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import ContractActivated, ContractEnded
from bmw.contracts.taxonomy import AppointmentKind
from bmw.scheduling.adapters.tables import APPOINTMENTS, CONTRACTS
from bmw.scheduling.domain.availability import AMSTERDAM
from bmw.scheduling.domain.entitlements import (
    BUNDLE_KINDS,
    EntitlementExceeded,
    Product,
    Usage,
    Verdict,
    check,
    needs_employee,
)
from bmw.servicekit.errors import Conflict, FieldError, InvalidInput
from bmw.servicekit.uow import UnitOfWork


async def remember_contract(uow: UnitOfWork, event: CloudEvent, data: ContractActivated) -> None:
    """billing.contract.activated.v1: keep the products, so bookings can be checked against them."""
    await _keep(uow, event, data, ended=False)


async def end_contract(uow: UnitOfWork, event: CloudEvent, data: ContractEnded) -> None:
    """billing.contract.ended.v1: the contract covers nothing after its actual last day."""
    await _keep(uow, event, data, ended=True)


async def _keep(uow: UnitOfWork, event: CloudEvent, data: ContractActivated | ContractEnded, *, ended: bool) -> None:
    values = {
        "period_start": data.period_start,
        "period_end": data.period_end,
        "products": [product.model_dump(mode="json") for product in data.products],
        "ended": ended,
    }
    await uow.session.execute(
        insert(CONTRACTS)
        .values(id=data.contract_id, tenant_id=event.tenantid, **values)
        .on_conflict_do_update(index_elements=[CONTRACTS.c.id], set_=values)
    )


def _counted() -> object:
    """Appointments that use an entitlement: booked, held, missed, or cancelled too late."""
    return or_(
        APPOINTMENTS.c.status.in_(("booked", "completed", "no_show")),
        and_(APPOINTMENTS.c.status == "cancelled", APPOINTMENTS.c.late_cancellation.is_(True)),
    )


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=AMSTERDAM)


async def entitlement_verdict(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: AppointmentKind,
    start: datetime,
    duration: timedelta,
    client_ref: str | None,
) -> Verdict:
    """Check a booking against the contracts in force on its day; 409 when it exceeds an entitlement.

    The contracts' rows are locked for the rest of the transaction, so that two bookings at once cannot both
    take the last hour of a bundle.
    """
    day = start.astimezone(AMSTERDAM).date()
    contracts = (
        await session.execute(
            select(CONTRACTS)
            .where(CONTRACTS.c.tenant_id == tenant_id, CONTRACTS.c.period_start <= day, CONTRACTS.c.period_end >= day)
            .order_by(CONTRACTS.c.period_start)
            .with_for_update()
        )
    ).all()
    verdict = Verdict.WITHIN
    for contract in contracts:
        products = [Product.of(p) for p in contract.products]
        if needs_employee(products, kind) and client_ref is None:
            raise InvalidInput(
                "this organisation's contract limits consults per employee: give the case the consult is for",
                fields=[FieldError(path="body.case_id", message="required under a per-employee session limit")],
            )
        window = (_local_midnight(contract.period_start), _local_midnight(contract.period_end + timedelta(days=1)))
        hours_used = await session.scalar(
            select(
                func.coalesce(func.sum(extract("epoch", APPOINTMENTS.c.ends_at - APPOINTMENTS.c.starts_at)), 0)
            ).where(
                APPOINTMENTS.c.tenant_id == tenant_id,
                APPOINTMENTS.c.kind.in_([k.value for k in BUNDLE_KINDS]),
                APPOINTMENTS.c.starts_at >= window[0],
                APPOINTMENTS.c.starts_at < window[1],
                _counted(),  # type: ignore[arg-type]
            )
        )
        sessions: int | None = None
        if client_ref is not None:
            year = (_local_midnight(date(day.year, 1, 1)), _local_midnight(date(day.year + 1, 1, 1)))
            sessions = await session.scalar(
                select(func.count()).where(
                    APPOINTMENTS.c.tenant_id == tenant_id,
                    APPOINTMENTS.c.client_ref == client_ref,
                    APPOINTMENTS.c.kind == AppointmentKind.CONSULT.value,
                    APPOINTMENTS.c.starts_at >= year[0],
                    APPOINTMENTS.c.starts_at < year[1],
                    _counted(),  # type: ignore[arg-type]
                )
            )
        usage = Usage(
            bundle_hours=(Decimal(str(hours_used)) / 3600).quantize(Decimal("0.01")),
            employee_sessions_this_year=sessions,
        )
        hours = (Decimal(int(duration.total_seconds())) / 3600).quantize(Decimal("0.01"))
        try:
            if check(products, kind=kind, hours=hours, usage=usage) is Verdict.OVERAGE:
                verdict = Verdict.OVERAGE
        except EntitlementExceeded as error:
            raise Conflict(str(error), current_state="entitlement_exceeded") from error
    return verdict
