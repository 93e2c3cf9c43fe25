"""Trends: referrals per org unit × category for a client organisation, safe to show to the organisation.

Two rules keep every small cell hidden, whatever a client asks (DESIGN §2 rule 2):

- **A fixed grid in time.** Counts are published per calendar month only (an ISO week belongs to the month
  of its Thursday), never over an arbitrary period: two queries over overlapping periods return the same
  month cells, so subtracting one answer from another reveals nothing. Nothing is summed across months.
- **Secondary suppression in the org tree.** Within a month and a category, every unit's number is its
  subtree's total; a parent total minus its visible children would reveal a hidden child (or the parent's
  own referrals), so ``protect_tree`` hides further cells until no hidden number can be worked out.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from bmw.contracts.taxonomy import Category, Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError, InvalidInput
from bmw.servicekit.tenants import k_anonymity, org_units
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.aggregates import weekly_cells
from bmw.signals.domain.suppression import UnitNode, protect_tree

MAX_MONTHS = 36


@dataclass(frozen=True)
class UnitCell:
    org_unit_id: uuid.UUID
    org_unit_name: str
    parent_id: uuid.UUID | None
    count: int | None
    suppressed: bool


@dataclass(frozen=True)
class CategoryMonth:
    category: Category
    total: int | None
    total_suppressed: bool
    units: list[UnitCell]


@dataclass(frozen=True)
class MonthTrend:
    month: str
    first_week: date
    last_week: date
    categories: list[CategoryMonth]


@dataclass(frozen=True)
class TrendReport:
    tenant_id: uuid.UUID
    period_from: date
    period_to: date
    k: int
    months: list[MonthTrend]


def month_of_week(monday: date) -> date:
    """The first day of the month an ISO week belongs to: the month of its Thursday."""
    thursday = monday + timedelta(days=3)
    return thursday.replace(day=1)


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def month_weeks(first: date) -> tuple[date, date]:
    """The Mondays of the first and last ISO week belonging to the month starting on ``first``."""
    monday = first - timedelta(days=first.weekday())
    if month_of_week(monday) != first:
        monday += timedelta(weeks=1)
    last = _next_month(first) - timedelta(days=1)
    last_monday = last - timedelta(days=last.weekday())
    if month_of_week(last_monday) != first:
        last_monday -= timedelta(weeks=1)
    return monday, last_monday


async def trends(
    *,
    tenant_id: uuid.UUID,
    period_from: date,
    period_to: date,
    principal: Principal,
    uow: UnitOfWorkFactory,
    default_k: int,
) -> TrendReport:
    """The month cells of every ISO week the period touches, small cells (and their revealers) suppressed."""
    principal.require_role(
        Role.CLIENT_CONTACT, Role.INTEGRATION, Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER
    )
    principal.require_tenant(tenant_id)
    if period_from > period_to:
        raise InvalidInput(
            "the period ends before it starts",
            fields=[FieldError(path="query.to", message="must not be before 'from'")],
        )
    # The months of the ISO weeks the period touches (a week belongs to the month of its Thursday).
    first_month = month_of_week(period_from - timedelta(days=period_from.weekday()))
    last_month = month_of_week(period_to - timedelta(days=period_to.weekday()))
    months = [first_month]
    while months[-1] < last_month:
        months.append(_next_month(months[-1]))
        if len(months) > MAX_MONTHS:
            raise InvalidInput(
                "the period is longer than three years",
                fields=[FieldError(path="query.to", message=f"at most {MAX_MONTHS} months after 'from'")],
            )
    first_week = month_weeks(months[0])[0]
    last_week = month_weeks(months[-1])[1]
    async with uow(tenant_id=tenant_id) as work:
        k = await k_anonymity(work.session, tenant_id, default_k)
        units = await org_units(work.session, tenant_id)
        cells = await weekly_cells(work.session, tenant_id=tenant_id, first_week=first_week, last_week=last_week)

    known = {unit.id for unit in units}
    nodes = [
        UnitNode(id=str(unit.id), parent_id=str(unit.parent_id) if unit.parent_id in known else None) for unit in units
    ]
    own: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (unit_id, category, week), count in cells.items():
        if unit_id in known:
            own[(month_of_week(week), category)][str(unit_id)] += count
        # Referrals of a unit no longer in the tree are not shown per unit and not added to any total
        # (a total that includes a cell no one sees is a derived number about it).

    report = []
    for month in months:
        week_from, week_to = month_weeks(month)
        categories = []
        for category in sorted(Category, key=lambda c: c.value):
            counts = own.get((month, category.value))
            if not counts:
                continue
            disclosure = protect_tree(nodes, counts, k)
            categories.append(
                CategoryMonth(
                    category=category,
                    total=disclosure.total.count,
                    total_suppressed=disclosure.total.suppressed,
                    units=[
                        UnitCell(
                            org_unit_id=unit.id,
                            org_unit_name=unit.name,
                            parent_id=unit.parent_id if unit.parent_id in known else None,
                            count=disclosure.units[str(unit.id)].count,
                            suppressed=disclosure.units[str(unit.id)].suppressed,
                        )
                        for unit in units
                    ],
                )
            )
        report.append(
            MonthTrend(month=month.strftime("%Y-%m"), first_week=week_from, last_week=week_to, categories=categories)
        )
    last_day = _next_month(months[-1]) - timedelta(days=1)
    return TrendReport(tenant_id=tenant_id, period_from=months[0], period_to=last_day, k=k, months=report)
