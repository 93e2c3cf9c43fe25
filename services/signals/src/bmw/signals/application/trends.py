"""Trends: referrals per org unit × category for a client organisation, safe to show to the organisation.

Two rules keep every small cell hidden, whatever a client asks (DESIGN §2 rule 2):

- **A fixed grid in time.** Counts are published per calendar month only (an ISO week belongs to the month
  of its Thursday), never over an arbitrary period: two queries over overlapping periods return the same
  month cells, so subtracting one answer from another reveals nothing. Nothing is summed across months.
- **Secondary suppression in the org tree.** Within a month and a category, every unit's number is its
  subtree's total; a parent total minus its visible children would reveal a hidden child (or the parent's
  own referrals), so ``protect_tree`` hides further cells until no hidden number can be worked out.

:class:`MonthGrid` is that grid, and the only source of referral numbers a client organisation gets anywhere in
this service: a management action's before/after counts are sums of its cells (shown only when every cell in the
sum is), and a signal is shown to the organisation only where the cells it speaks of are. Numbers computed from
published numbers reveal nothing the published ones do not; a number over any other span of weeks would (a window
minus the visible months inside it is the part of a hidden month it covers; two windows a week apart differ by
two single weeks). ``services/signals/tests/integration/test_disclosure_attacker.py`` attacks it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from bmw.contracts.taxonomy import Category, Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError, InvalidInput
from bmw.servicekit.tenants import OrgUnitRow, k_anonymity, org_units
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.aggregates import CellKey, weekly_cells
from bmw.signals.domain.suppression import Cell, TreeDisclosure, UnitNode, protect_tree

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


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s (both first days of a month), in order."""
    months = [first]
    while months[-1] < last:
        months.append(_next_month(months[-1]))
    return months


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` months after (or before, when negative) the one starting on ``first``."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


_HIDDEN = Cell(count=None, suppressed=True)

#: Published trees kept per process: a month's tree of one category is the same whoever asks again, until a count, the
#: org tree or k changes, which changes the key. Bounded: at most this many (month, category) trees.
PUBLISHED_TREES_CACHED = 8192


@lru_cache(maxsize=PUBLISHED_TREES_CACHED)
def _published_tree(nodes: tuple[UnitNode, ...], counts: frozenset[tuple[str, int]], k: int) -> TreeDisclosure:
    """:func:`protect_tree`, remembered: it is a pure function of the tree, the own counts and k, and by far the
    dearest part of a trend report (profiled: a search per protected cell, for every month and category)."""
    return protect_tree(nodes, dict(counts), k)


class MonthGrid:
    """The published monthly cells of one client organisation: what the trends show, computed once per month and
    category with :func:`protect_tree`, and what every other tenant-facing referral number is made of.

    ``cells`` must hold every week of the months asked about. Referrals of a unit no longer in the tree are in no
    cell and no total (a total that includes a cell no one sees is a derived number about it).
    """

    def __init__(self, units: Sequence[OrgUnitRow], cells: Mapping[CellKey, int], k: int) -> None:
        self.units = list(units)
        self.k = k
        known = {unit.id for unit in units}
        self.nodes = [
            UnitNode(id=str(unit.id), parent_id=str(unit.parent_id) if unit.parent_id in known else None)
            for unit in units
        ]
        own: dict[tuple[date, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (unit_id, category, week), count in cells.items():
            if unit_id in known:
                own[(month_of_week(week), category)][str(unit_id)] += count
        self._own = own
        self._tree = tuple(self.nodes)
        self._ids = frozenset(str(unit.id) for unit in units)
        self._published: dict[tuple[date, str], TreeDisclosure | None] = {}

    def disclosure(self, month: date, category: str) -> TreeDisclosure | None:
        """The month's published tree of one category; None when it had no referral (every cell is zero)."""
        key = (month, category)
        if key not in self._published:
            counts = self._own.get(key)
            self._published[key] = _published_tree(self._tree, frozenset(counts.items()), self.k) if counts else None
        return self._published[key]

    def cell(self, month: date, category: str, unit: uuid.UUID | None) -> Cell:
        """A unit's subtree cell (None: the organisation total) as published; hidden for a unit not in the tree."""
        disclosure = self.disclosure(month, category)
        if unit is not None and str(unit) not in self._ids:
            return _HIDDEN
        if disclosure is None:
            return Cell(count=0, suppressed=False)
        return disclosure.total if unit is None else disclosure.units[str(unit)]

    def open_to_outside(self, month: date, category: str, unit: uuid.UUID) -> bool:
        """Whether the unit's cell, its ancestors' and the organisation total are all hidden: more referrals in the
        unit would change no published number, so nothing published bounds the unit's count from above."""
        disclosure = self.disclosure(month, category)
        if disclosure is None or str(unit) not in self._ids or not disclosure.total.suppressed:
            return False
        parents = {node.id: node.parent_id for node in self.nodes}
        node: str | None = str(unit)
        while node is not None:
            if not disclosure.units[node].suppressed:
                return False
            node = parents[node]
        return True

    def sum(self, months: Iterable[date], category: str, unit: uuid.UUID | None) -> Cell:
        """A unit's subtree (None: the organisation) over several months: shown only when every month's cell is.

        A sum with one hidden month gives that month (minus the visible ones); with two, their sum, itself a
        number about fewer than k people. Shown, it is the sum of shown numbers and reveals nothing new.
        """
        parts = [self.cell(month, category, unit) for month in months]
        if any(part.count is None for part in parts):
            return _HIDDEN
        return Cell(count=sum(part.count or 0 for part in parts), suppressed=False)


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
    grid = MonthGrid(units, cells, k)

    report = []
    for month in months:
        week_from, week_to = month_weeks(month)
        categories = []
        for category in sorted(Category, key=lambda c: c.value):
            disclosure = grid.disclosure(month, category.value)
            if disclosure is None:
                continue
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
