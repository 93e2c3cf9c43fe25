"""The account view: one client organisation as its account manager needs it (DESIGN §3 signals, issue 6).

Contract use against entitlement, the burn-down of hour bundles (*strippenkaart*) with the date they run out
at the present pace, the renewal date, open signals and the opportunity pipeline, and what the provider
delivered (workshops, secondment hours). It is a commercial view and holds **no case data**: no referral
counts, no signal counts or evidence, only the signal's kind, unit and week once a social worker confirmed it
(or it needs no review). Workshop participants are people, so they obey small-cell suppression here too.

Account managers see the organisations of their portfolio, provider admins all. Any other organisation is
"not found", exactly like one that does not exist: the answer never tells which client organisations exist.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.events.billing import ContractProduct
from bmw.contracts.taxonomy import OpportunityStage, ProductKind, Role, SignalKind
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import NotFound
from bmw.servicekit.tenants import CLIENT_ORGANISATIONS, k_anonymity, org_unit_names
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.aggregates import metric_series, secondment_hours
from bmw.signals.adapters.tables import CONTRACT_USAGE, CONTRACTS, OPPORTUNITIES, SIGNALS
from bmw.signals.application.actions import monday, today_in_amsterdam, years_before
from bmw.signals.application.trends import add_months, month_of_week, month_weeks
from bmw.signals.domain.codes import ReviewStatus
from bmw.signals.domain.suppression import Cell, disclose

_NOT_FOUND = "no such client organisation"
#: Signals an account manager may act on: confirmed by a social worker, or commercial ones that need no review.
SHOWN_REVIEW_STATUSES = (ReviewStatus.CONFIRMED.value, ReviewStatus.NOT_REQUIRED.value)
CLOSED_STAGES = (OpportunityStage.WON.value, OpportunityStage.LOST.value)
CENT = Decimal("0.01")


# -- pure parts ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductUse:
    """Use of one contract product this contract period; ``included`` only for an hour bundle."""

    code: str
    kind: ProductKind
    used: Decimal
    included: Decimal | None
    percent_used: float | None


@dataclass(frozen=True)
class BurnDownWeek:
    """One ISO week of a bundle: the use up to its end, and the even-pace plan for the same moment."""

    week: date
    used: Decimal
    planned: Decimal


@dataclass(frozen=True)
class BurnDown:
    """An hour bundle's consumption over the contract period.

    ``exhausted_on`` is the day the use reached the included hours; until then ``projected_exhaustion`` is
    the day it will at the pace so far (a straight line from the period's start), None without use.
    """

    product_code: str
    included: Decimal
    used: Decimal
    remaining: Decimal
    weeks: list[BurnDownWeek]
    exhausted_on: date | None
    projected_exhaustion: date | None
    runs_out_before_renewal: bool | None


def percent(used: Decimal, included: Decimal) -> float:
    """Share used, in percent with one decimal."""
    return float((used / included * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def product_use(products: Sequence[ContractProduct], used: Mapping[str, Decimal]) -> list[ProductUse]:
    """Every product of a contract with its use; an hour bundle against its included quantity."""
    lines = []
    for product in products:
        quantity = used.get(product.code, Decimal(0))
        included = product.included_quantity if product.kind is ProductKind.HOUR_BUNDLE else None
        lines.append(
            ProductUse(
                code=product.code,
                kind=product.kind,
                used=quantity,
                included=included,
                percent_used=percent(quantity, included) if included else None,
            )
        )
    return lines


def burn_down(
    *,
    product_code: str,
    included: Decimal,
    period_start: date,
    period_end: date,
    daily_use: Mapping[date, Decimal],
    today: date,
) -> BurnDown:
    """Cumulative use per ISO week from the period's start to this week, against an even pace, and when the
    bundle runs out at the pace so far."""
    if included <= 0:
        raise ValueError("an hour bundle includes a positive quantity")
    period_days = (period_end - period_start).days + 1
    last_day = min(today, period_end)
    weeks = []
    week = monday(period_start)
    while week <= last_day:
        end_of_week = week + timedelta(days=6)
        used = sum((q for day, q in daily_use.items() if day <= end_of_week), Decimal(0))
        elapsed = min(max((min(end_of_week, period_end) - period_start).days + 1, 0), period_days)
        planned = (included * elapsed / period_days).quantize(CENT, rounding=ROUND_HALF_UP)
        weeks.append(BurnDownWeek(week=week, used=used, planned=planned))
        week += timedelta(weeks=1)
    total = sum(daily_use.values(), Decimal(0))
    exhausted_on = None
    running = Decimal(0)
    for day in sorted(daily_use):
        running += daily_use[day]
        if running >= included:
            exhausted_on = day
            break
    projected = None
    if exhausted_on is None and total > 0 and last_day >= period_start:
        # at the average pace so far: (included - total) / (total / elapsed) days, without a rounded pace
        elapsed = (last_day - period_start).days + 1
        projected = last_day + timedelta(days=math.ceil((included - total) * elapsed / total))
    ends = exhausted_on or projected
    return BurnDown(
        product_code=product_code,
        included=included,
        used=total,
        remaining=max(included - total, Decimal(0)),
        weeks=weeks,
        exhausted_on=exhausted_on,
        projected_exhaustion=projected,
        runs_out_before_renewal=None if ends is None else ends <= period_end,
    )


# -- the account view ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractOverview:
    id: uuid.UUID
    period_start: date
    period_end: date
    renewal_date: date
    days_to_renewal: int
    products: list[ProductUse]
    burn_downs: list[BurnDown]


@dataclass(frozen=True)
class OpenSignal:
    id: uuid.UUID
    kind: SignalKind
    org_unit_id: uuid.UUID | None
    org_unit_name: str | None
    raised_week: date
    review_status: ReviewStatus


@dataclass(frozen=True)
class PipelineStage:
    stage: OpportunityStage
    opportunities: int
    estimated_value_cents: int


@dataclass(frozen=True)
class WorkshopsDelivered:
    """Sessions of one theme; participants are people, so fewer than k are not shown."""

    theme: str
    sessions: int
    participants: int | None
    participants_suppressed: bool


@dataclass(frozen=True)
class AccountView:
    tenant_id: uuid.UUID
    name: str
    as_of: date
    k: int
    contracts: list[ContractOverview]
    open_signals: list[OpenSignal]
    pipeline: list[PipelineStage]
    open_opportunity_value_cents: int
    workshops_since: date
    workshops_until: date
    workshops: list[WorkshopsDelivered]
    secondment_hours_last_12_months: Decimal
    contract_period_start: date | None
    secondment_hours_this_contract_period: Decimal | None


def _require_account_reader(principal: Principal) -> None:
    principal.require_role(Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN)


def _may_see(principal: Principal, tenant_id: uuid.UUID) -> bool:
    if principal.has_role(Role.PROVIDER_ADMIN):
        return True
    return principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio


@dataclass(frozen=True)
class _Contract:
    id: uuid.UUID
    tenant_id: uuid.UUID
    products: tuple[ContractProduct, ...]
    period_start: date
    period_end: date


async def _active_contracts(session: AsyncSession, tenant_ids: Sequence[uuid.UUID]) -> list[_Contract]:
    rows = await session.execute(
        select(CONTRACTS)
        .where(CONTRACTS.c.tenant_id.in_(tenant_ids), CONTRACTS.c.status == "active")
        .order_by(CONTRACTS.c.period_end, CONTRACTS.c.id)
    )
    return [
        _Contract(
            id=row.id,
            tenant_id=row.tenant_id,
            products=tuple(ContractProduct.model_validate(product) for product in row.products),
            period_start=row.period_start,
            period_end=row.period_end,
        )
        for row in rows
    ]


async def _used(session: AsyncSession, contract_ids: Sequence[uuid.UUID]) -> dict[tuple[uuid.UUID, str], Decimal]:
    rows = await session.execute(
        select(CONTRACT_USAGE.c.contract_id, CONTRACT_USAGE.c.product_code, func.sum(CONTRACT_USAGE.c.quantity))
        .where(CONTRACT_USAGE.c.contract_id.in_(contract_ids))
        .group_by(CONTRACT_USAGE.c.contract_id, CONTRACT_USAGE.c.product_code)
    )
    return {(contract_id, code): Decimal(total) for contract_id, code, total in rows}


async def _daily_use(session: AsyncSession, contract_id: uuid.UUID, product_code: str) -> dict[date, Decimal]:
    """Use per Europe/Amsterdam day: the burn-down's weeks are the client's calendar weeks."""
    day = cast(func.timezone("Europe/Amsterdam", CONTRACT_USAGE.c.occurred_at), Date)
    rows = await session.execute(
        select(day, func.sum(CONTRACT_USAGE.c.quantity))
        .where(CONTRACT_USAGE.c.contract_id == contract_id, CONTRACT_USAGE.c.product_code == product_code)
        .group_by(day)
    )
    return {row[0]: Decimal(row[1]) for row in rows}


def _current(contracts: Sequence[_Contract], today: date) -> _Contract | None:
    """The active contract whose period holds today (the latest started, if several)."""
    running = [c for c in contracts if c.period_start <= today <= c.period_end]
    return max(running, key=lambda c: (c.period_start, str(c.id)), default=None)


async def account_view(
    *, tenant_id: uuid.UUID, principal: Principal, uow: UnitOfWorkFactory, default_k: int, today: date | None = None
) -> AccountView:
    """One client organisation for its account manager; never any case data."""
    _require_account_reader(principal)
    if not _may_see(principal, tenant_id):
        raise NotFound(_NOT_FOUND)
    day = today or today_in_amsterdam()
    async with uow(tenant_id=tenant_id) as work:
        session = work.session
        name = (
            await session.execute(
                select(CLIENT_ORGANISATIONS.c.name).where(CLIENT_ORGANISATIONS.c.tenant_id == tenant_id)
            )
        ).scalar_one_or_none()
        if name is None:
            raise NotFound(_NOT_FOUND)
        k = await k_anonymity(session, tenant_id, default_k)
        names = await org_unit_names(session, tenant_id)
        contracts = await _active_contracts(session, [tenant_id])
        used = await _used(session, [c.id for c in contracts])
        overviews = []
        for contract in contracts:
            burn_downs = []
            for product in contract.products:
                if product.kind is ProductKind.HOUR_BUNDLE and product.included_quantity:
                    burn_downs.append(
                        burn_down(
                            product_code=product.code,
                            included=product.included_quantity,
                            period_start=contract.period_start,
                            period_end=contract.period_end,
                            daily_use=await _daily_use(session, contract.id, product.code),
                            today=day,
                        )
                    )
            overviews.append(
                ContractOverview(
                    id=contract.id,
                    period_start=contract.period_start,
                    period_end=contract.period_end,
                    renewal_date=contract.period_end,
                    days_to_renewal=(contract.period_end - day).days,
                    products=product_use(
                        contract.products, {code: q for (cid, code), q in used.items() if cid == contract.id}
                    ),
                    burn_downs=burn_downs,
                )
            )
        signals = await _open_signals(session, tenant_id, names)
        pipeline = await _pipeline(session, tenant_id)
        since = years_before(day, 1) + timedelta(days=1)
        months = workshop_months(day)
        workshops = await _workshops(session, tenant_id, months, k)
        current = _current(contracts, day)
        hours_year = await secondment_hours(session, tenant_id=tenant_id, since=since)
        hours_period = (
            await secondment_hours(session, tenant_id=tenant_id, since=current.period_start) if current else None
        )
    return AccountView(
        tenant_id=tenant_id,
        name=name,
        as_of=day,
        k=k,
        contracts=overviews,
        open_signals=signals,
        pipeline=pipeline,
        open_opportunity_value_cents=sum(
            s.estimated_value_cents for s in pipeline if s.stage.value not in CLOSED_STAGES
        ),
        workshops_since=month_weeks(months[0])[0],
        workshops_until=month_weeks(months[-1])[1],
        workshops=workshops,
        secondment_hours_last_12_months=hours_year,
        contract_period_start=current.period_start if current else None,
        secondment_hours_this_contract_period=hours_period,
    )


async def _open_signals(
    session: AsyncSession, tenant_id: uuid.UUID, names: Mapping[uuid.UUID, str]
) -> list[OpenSignal]:
    rows = await session.execute(
        select(SIGNALS.c.id, SIGNALS.c.kind, SIGNALS.c.org_unit_id, SIGNALS.c.raised_week, SIGNALS.c.review_status)
        .where(
            SIGNALS.c.tenant_id == tenant_id,
            SIGNALS.c.status == "open",
            SIGNALS.c.review_status.in_(SHOWN_REVIEW_STATUSES),
        )
        .order_by(SIGNALS.c.raised_week.desc(), SIGNALS.c.kind)
    )
    return [
        OpenSignal(
            id=row.id,
            kind=SignalKind(row.kind),
            org_unit_id=row.org_unit_id,
            org_unit_name=names.get(row.org_unit_id) if row.org_unit_id is not None else None,
            raised_week=row.raised_week,
            review_status=ReviewStatus(row.review_status),
        )
        for row in rows
    ]


async def _pipeline(session: AsyncSession, tenant_id: uuid.UUID) -> list[PipelineStage]:
    rows = await session.execute(
        select(OPPORTUNITIES.c.stage, func.count(), func.coalesce(func.sum(OPPORTUNITIES.c.estimated_value_cents), 0))
        .where(OPPORTUNITIES.c.tenant_id == tenant_id)
        .group_by(OPPORTUNITIES.c.stage)
    )
    found = {stage: (int(count), int(value)) for stage, count, value in rows}
    return [
        PipelineStage(stage=stage, opportunities=found[stage.value][0], estimated_value_cents=found[stage.value][1])
        for stage in OpportunityStage
        if stage.value in found
    ]


#: Completed calendar months the workshop figures cover.
WORKSHOP_MONTHS = 12


def workshop_months(day: date) -> tuple[date, ...]:
    """The :data:`WORKSHOP_MONTHS` last calendar months whose weeks have all ended by ``day`` (a week belongs to its
    Thursday's month, as in the trends), oldest first."""
    this_week = monday(day)
    last = month_of_week(this_week)
    while month_weeks(last)[1] >= this_week:
        last = add_months(last, -1)
    return tuple(add_months(last, offset) for offset in range(1 - WORKSHOP_MONTHS, 1))


async def _workshops(
    session: AsyncSession, tenant_id: uuid.UUID, months: Sequence[date], k: int
) -> list[WorkshopsDelivered]:
    """Sessions and participants per theme over whole completed months. The window moves a month at a time, so two
    views differ by whole months: the participants are shown only when every month's count is 0 or at least k, and
    no difference of two views can come out as a number of fewer than k people."""
    first, last = month_weeks(months[0])[0], month_weeks(months[-1])[1]
    sessions = await metric_series(session, tenant_id=tenant_id, metric="workshops_delivered", first_week=first)
    participants = await metric_series(session, tenant_id=tenant_id, metric="workshop_participants", first_week=first)
    found = []
    for theme in sorted(sessions):
        delivered = sum(value for week, value in sessions[theme].items() if week <= last)
        if delivered == 0:
            continue
        per_month: dict[date, int] = defaultdict(int)
        for week, value in participants.get(theme, {}).items():
            if week <= last:
                per_month[month_of_week(week)] += value
        if all(count == 0 or count >= k for count in per_month.values()):
            people = disclose(sum(per_month.values()), k)
        else:
            people = Cell(count=None, suppressed=True)  # a month of fewer than k: the total would give it away
        found.append(
            WorkshopsDelivered(
                theme=theme, sessions=delivered, participants=people.count, participants_suppressed=people.suppressed
            )
        )
    return found


# -- the portfolio -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortfolioLine:
    """One client organisation of the portfolio in a line."""

    tenant_id: uuid.UUID
    name: str
    renewal_date: date | None
    days_to_renewal: int | None
    bundle_percent_used: float | None
    open_signals: int
    open_opportunity_value_cents: int


async def portfolio(*, principal: Principal, uow: UnitOfWorkFactory, today: date | None = None) -> list[PortfolioLine]:
    """The caller's client organisations (admins: all), the nearest renewal first."""
    _require_account_reader(principal)
    day = today or today_in_amsterdam()
    async with uow() as work:
        session = work.session
        query = select(CLIENT_ORGANISATIONS.c.tenant_id, CLIENT_ORGANISATIONS.c.name)
        if not principal.has_role(Role.PROVIDER_ADMIN):
            query = query.where(CLIENT_ORGANISATIONS.c.tenant_id.in_(principal.portfolio))
        organisations = {row.tenant_id: row.name for row in await session.execute(query)}
        tenant_ids = list(organisations)
        if not tenant_ids:
            return []
        contracts = await _active_contracts(session, tenant_ids)
        used = await _used(session, [c.id for c in contracts])
        signals = await _count_by_tenant(
            session,
            select(SIGNALS.c.tenant_id, func.count())
            .where(
                SIGNALS.c.tenant_id.in_(tenant_ids),
                SIGNALS.c.status == "open",
                SIGNALS.c.review_status.in_(SHOWN_REVIEW_STATUSES),
            )
            .group_by(SIGNALS.c.tenant_id),
        )
        values = await _count_by_tenant(
            session,
            select(OPPORTUNITIES.c.tenant_id, func.coalesce(func.sum(OPPORTUNITIES.c.estimated_value_cents), 0))
            .where(OPPORTUNITIES.c.tenant_id.in_(tenant_ids), OPPORTUNITIES.c.stage.not_in(CLOSED_STAGES))
            .group_by(OPPORTUNITIES.c.tenant_id),
        )
    by_tenant: dict[uuid.UUID, list[_Contract]] = defaultdict(list)
    for contract in contracts:
        by_tenant[contract.tenant_id].append(contract)
    lines = [
        _line(tenant_id, name, by_tenant[tenant_id], used, signals.get(tenant_id, 0), values.get(tenant_id, 0), day)
        for tenant_id, name in organisations.items()
    ]
    return sorted(lines, key=lambda line: (line.renewal_date or date.max, line.name.casefold(), str(line.tenant_id)))


async def _count_by_tenant(session: AsyncSession, query: Any) -> dict[uuid.UUID, int]:
    return {tenant_id: int(value) for tenant_id, value in await session.execute(query)}


def _line(
    tenant_id: uuid.UUID,
    name: str,
    contracts: Sequence[_Contract],
    used: Mapping[tuple[uuid.UUID, str], Decimal],
    open_signals: int,
    open_value: int,
    today: date,
) -> PortfolioLine:
    upcoming = [c.period_end for c in contracts if c.period_end >= today]
    renewal = min(upcoming, default=None) or min((c.period_end for c in contracts), default=None)
    included = Decimal(0)
    consumed = Decimal(0)
    for contract in contracts:
        for product in contract.products:
            if product.kind is ProductKind.HOUR_BUNDLE and product.included_quantity:
                included += product.included_quantity
                consumed += used.get((contract.id, product.code), Decimal(0))
    return PortfolioLine(
        tenant_id=tenant_id,
        name=name,
        renewal_date=renewal,
        days_to_renewal=(renewal - today).days if renewal else None,
        bundle_percent_used=percent(consumed, included) if included else None,
        open_signals=open_signals,
        open_opportunity_value_cents=open_value,
    )
