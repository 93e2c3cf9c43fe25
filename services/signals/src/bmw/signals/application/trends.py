"""Trends: referrals per org unit × category for a client organisation, with small cells suppressed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import ReferralReceived
from bmw.contracts.taxonomy import Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError, InvalidInput
from bmw.servicekit.tenants import k_anonymity, org_unit_names
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory
from bmw.signals.adapters.aggregates import count_referral, referral_totals
from bmw.signals.domain.suppression import disclose
from bmw.signals.domain.weeks import week_start

MAX_PERIOD = timedelta(days=3 * 366)


@dataclass(frozen=True)
class TrendCell:
    org_unit_id: uuid.UUID
    org_unit_name: str | None
    category: str
    count: int | None
    suppressed: bool


@dataclass(frozen=True)
class TrendReport:
    tenant_id: uuid.UUID
    period_from: date
    period_to: date
    k: int
    cells: list[TrendCell]


async def record_referral(uow: UnitOfWork, event: CloudEvent, data: ReferralReceived) -> None:
    """Count a received referral in its week; the inbox makes this happen once per event."""
    await count_referral(
        uow.session,
        tenant_id=event.tenantid,
        org_unit_id=data.org_unit_id,
        category=data.category.value,
        week=week_start(data.received_at),
    )


async def trends(
    *,
    tenant_id: uuid.UUID,
    period_from: date,
    period_to: date,
    principal: Principal,
    uow: UnitOfWorkFactory,
    default_k: int,
) -> TrendReport:
    """Counts over the ISO weeks that overlap the period; every cell under k is suppressed."""
    principal.require_role(
        Role.CLIENT_CONTACT, Role.INTEGRATION, Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER
    )
    principal.require_tenant(tenant_id)
    if period_from > period_to:
        raise InvalidInput(
            "the period ends before it starts",
            fields=[FieldError(path="query.to", message="must not be before 'from'")],
        )
    if period_to - period_from > MAX_PERIOD:
        raise InvalidInput(
            "the period is longer than three years",
            fields=[FieldError(path="query.to", message="at most three years after 'from'")],
        )
    first_week = period_from - timedelta(days=period_from.weekday())
    async with uow(tenant_id=tenant_id) as work:
        k = await k_anonymity(work.session, tenant_id, default_k)
        names = await org_unit_names(work.session, tenant_id)
        totals = await referral_totals(work.session, tenant_id=tenant_id, first_week=first_week, last_week=period_to)
    cells = []
    for org_unit_id, category, count in totals:
        cell = disclose(count, k)
        cells.append(TrendCell(org_unit_id, names.get(org_unit_id), category, cell.count, cell.suppressed))
    return TrendReport(tenant_id=tenant_id, period_from=period_from, period_to=period_to, k=k, cells=cells)
