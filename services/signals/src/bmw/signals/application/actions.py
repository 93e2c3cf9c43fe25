"""Management actions and what followed them (DESIGN §3 signals, issue 6).

Client contacts and account managers record what management did in an org unit, and when ("reorganisation
announced in Logistics on 1 March"). An action serves twice:

- as a **known change point** for the detectors (:func:`known_change_points`): a reorganisation announcement
  makes a following rise expected, and the signal's evidence says so;
- as the start of a **before/after comparison** (:func:`action_effects`): per help-request category, the
  referrals of the unit (with everything below it) in the 12 completed weeks before the action's week against
  those from that week on, beside the same comparison for the rest of the organisation (difference in
  differences). Pooled per action type across client organisations (:func:`action_type_effects`), that is the
  provider's practical knowledge of which management actions help and which hurt.

Small-cell suppression (DESIGN §2 rule 2) applies to every count shown, for every caller, including derived
numbers:

- a client organisation (client contact, integration), and its account manager, gets its comparisons on the trends'
  monthly grid (:func:`month_plan`, :class:`~bmw.signals.application.trends.MonthGrid`): the three calendar months
  before the action's month against the action's month and the two after it, each count the sum of the month cells
  the trends publish, shown only when every one of them is shown, and only once the last month has ended. Weekly
  windows leaked: two 12-week windows a week apart differ by one week leaving and one coming in (a week of a month
  the trends show as zero turns that into a single week's count), and a window minus the visible months inside it is
  the part of a hidden month it covers. Sums of published cells reveal neither;
- provider admins and social workers get the 12 completed weeks before the action's week and the 12 from it on, from
  the first completed week after it, each window's counts published as :func:`protect_tree` publishes the org tree
  over that window (the unit's subtree total; the rest of the organisation only when the total and the unit are both
  shown), so two actions on a parent and its child in the same week cannot be subtracted into a hidden number;
- a rate ratio with one of its two counts reveals the other, so a client organisation sees a ratio, its interval
  and p-value only when every count behind it is shown; provider staff see the ratios in any case (they judge the
  evidence) but never a hidden count;
- no sentence calls a hidden count "fewer than k": a count hidden as a complement can be large, and a label that
  tells the small ones from the complements pins them (``domain.suppression``).

The pooled report names no client organisation and exists only from three of them on.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.taxonomy import Category, Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.db import set_tenant
from bmw.servicekit.errors import FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.idempotency import Idempotency, claim, remember
from bmw.servicekit.tenants import CLIENT_ORGANISATIONS, OrgUnitRow, k_anonymity, org_unit_exists, org_units
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.aggregates import CellKey, first_week_with_data, mark_dirty, weekly_cells
from bmw.signals.adapters.tables import IDEMPOTENCY_KEYS, MANAGEMENT_ACTIONS
from bmw.signals.application.trends import MonthGrid, add_months, month_of_week, month_weeks
from bmw.signals.domain.codes import ACTION_EXPLAINS, ManagementActionType
from bmw.signals.domain.detection import ManagementAction
from bmw.signals.domain.effects import (
    ActionEffect,
    DiDComparison,
    PooledEffect,
    RateComparison,
    compare_before_after,
    difference_in_differences,
    explain,
    pool,
    windows,
)
from bmw.signals.domain.suppression import Cell, UnitNode, disclose, protect_tree
from bmw.signals.domain.weeks import AMSTERDAM

#: Weeks compared on either side of the action's week (provider staff).
SPAN_WEEKS = 12
#: Calendar months a client organisation's comparison takes before the action's month, and from it on.
SPAN_MONTHS = 3
#: Fewer completed weeks after the action than this and the comparison is "too early" to judge.
MIN_WEEKS_AFTER = 4
#: The pooled report needs actions from at least this many client organisations (none can be singled out).
MIN_ORGANISATIONS = 3
#: How far back an action may be recorded, in years: the comparisons need weekly history of that age at most.
MAX_YEARS_BACK = 3
#: How far ahead an action may be recorded: an announced date ("the move is on 1 June").
MAX_DAYS_AHEAD = 90
CONFIDENCE = 0.95

RECORDERS = (Role.CLIENT_CONTACT, Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN)
READERS = (Role.CLIENT_CONTACT, Role.INTEGRATION, Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)
PROVIDER_STAFF = (Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)

_NOT_FOUND = "no such management action"


def today_in_amsterdam() -> date:
    return datetime.now(AMSTERDAM).date()


def monday(day: date) -> date:
    """The Monday of the ISO week a day falls in."""
    return day - timedelta(days=day.weekday())


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# -- recording and listing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordAction:
    """Record what management did in an org unit (None: the whole organisation) and on which day."""

    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID | None
    action_type: ManagementActionType
    occurred_on: date


@dataclass(frozen=True)
class RecordedAction:
    """A recorded management action; ``week`` is the Monday of the week it took place in."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID | None
    org_unit_name: str | None
    action_type: ManagementActionType
    occurred_on: date
    week: date
    recorded_by: str
    recorded_at: datetime


def _require_recorder(principal: Principal, tenant_id: uuid.UUID) -> None:
    """Client contacts of the organisation, its account manager, provider admins."""
    principal.require_role(*RECORDERS)
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio:
        return
    if principal.has_role(Role.CLIENT_CONTACT) and principal.tenant_id == tenant_id:
        return
    raise Forbidden("not allowed for this client organisation")


def _date_problems(occurred_on: date, today: date) -> list[FieldError]:
    earliest, latest = years_before(today, MAX_YEARS_BACK), today + timedelta(days=MAX_DAYS_AHEAD)
    if occurred_on < earliest:
        return [FieldError(path="body.occurred_on", message=f"must not lie before {earliest} (three years back)")]
    if occurred_on > latest:
        return [FieldError(path="body.occurred_on", message=f"must not lie after {latest} (90 days ahead)")]
    return []


def _action(row: Row[Any], names: Mapping[uuid.UUID, str]) -> RecordedAction:
    org_unit_id = row.org_unit_id
    return RecordedAction(
        id=row.id,
        tenant_id=row.tenant_id,
        org_unit_id=org_unit_id,
        org_unit_name=names.get(org_unit_id) if org_unit_id is not None else None,
        action_type=ManagementActionType(row.action_type),
        occurred_on=row.occurred_on,
        week=monday(row.occurred_on),
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def _organisation_known(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    row = await session.execute(
        select(CLIENT_ORGANISATIONS.c.tenant_id).where(CLIENT_ORGANISATIONS.c.tenant_id == tenant_id)
    )
    return row.first() is not None


async def record_action(
    command: RecordAction,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    idempotency: Idempotency | None = None,
    render: Callable[[RecordedAction], dict[str, Any]],
    today: date | None = None,
) -> dict[str, Any]:
    """Store the action and have the organisation's detectors re-run: it is a change point they must know.

    With an ``Idempotency-Key`` a repeat of the same request returns the first answer and records nothing.
    """
    _require_recorder(principal, command.tenant_id)
    problems = _date_problems(command.occurred_on, today or today_in_amsterdam())
    async with uow(tenant_id=command.tenant_id) as work:
        session = work.session
        if idempotency is not None:
            # First, so that a repeat gets the first answer even once the date has left the allowed range.
            answered = await claim(session, IDEMPOTENCY_KEYS, idempotency)
            if answered is not None:
                return answered
        if not await _organisation_known(session, command.tenant_id):
            raise InvalidInput(
                "unknown client organisation",
                fields=[FieldError(path="body.tenant_id", message="no client organisation with this id")],
            )
        if command.org_unit_id is not None and not await org_unit_exists(
            session, command.tenant_id, command.org_unit_id
        ):
            problems.append(FieldError(path="body.org_unit_id", message="no org unit with this id in the organisation"))
        if problems:
            raise InvalidInput(f"invalid input: {', '.join(p.path for p in problems)}", fields=problems)
        stored = await session.execute(
            insert(MANAGEMENT_ACTIONS)
            .values(
                id=uuid.uuid4(),
                tenant_id=command.tenant_id,
                org_unit_id=command.org_unit_id,
                action_type=command.action_type.value,
                occurred_on=command.occurred_on,
                recorded_by=principal.subject,
            )
            .returning(*MANAGEMENT_ACTIONS.c)
        )
        row = stored.one()
        await mark_dirty(session, command.tenant_id)
        names = {u.id: u.name for u in await org_units(session, command.tenant_id)}
        response = render(_action(row, names))
        if idempotency is not None:
            await remember(session, IDEMPOTENCY_KEYS, idempotency, 201, response)
        await work.commit()
    return response


def _require_reader(principal: Principal, tenant_id: uuid.UUID) -> None:
    principal.require_role(*READERS)
    principal.require_tenant(tenant_id)


async def list_actions(*, tenant_id: uuid.UUID, principal: Principal, uow: UnitOfWorkFactory) -> list[RecordedAction]:
    """The organisation's recorded actions, latest first."""
    _require_reader(principal, tenant_id)
    async with uow(tenant_id=tenant_id) as work:
        names = {u.id: u.name for u in await org_units(work.session, tenant_id)}
        rows = await work.session.execute(
            select(MANAGEMENT_ACTIONS)
            .where(MANAGEMENT_ACTIONS.c.tenant_id == tenant_id)
            .order_by(MANAGEMENT_ACTIONS.c.occurred_on.desc(), MANAGEMENT_ACTIONS.c.recorded_at.desc())
        )
        return [_action(row, names) for row in rows]


async def known_change_points(session: AsyncSession, tenant_id: uuid.UUID) -> list[ManagementAction]:
    """The organisation's actions as the detectors see them: a week, a unit and the signal kinds it explains."""
    rows = await session.execute(
        select(MANAGEMENT_ACTIONS.c.org_unit_id, MANAGEMENT_ACTIONS.c.action_type, MANAGEMENT_ACTIONS.c.occurred_on)
        .where(MANAGEMENT_ACTIONS.c.tenant_id == tenant_id)
        .order_by(MANAGEMENT_ACTIONS.c.occurred_on, MANAGEMENT_ACTIONS.c.id)
    )
    points = []
    for org_unit_id, action_type, occurred_on in rows:
        kind = ManagementActionType(action_type)
        points.append(
            ManagementAction(
                week=monday(occurred_on),
                action=kind.value,
                unit_id=str(org_unit_id) if org_unit_id is not None else None,
                explains=ACTION_EXPLAINS.get(kind, frozenset()),
            )
        )
    return points


# -- comparing before and after (pure) -----------------------------------------------------------------------------


def subtree(units: Sequence[OrgUnitRow], root: uuid.UUID) -> frozenset[uuid.UUID]:
    """The unit and every unit below it (through ``parent_id``); safe against a cycle in bad data."""
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for unit in units:
        if unit.parent_id is not None:
            children[unit.parent_id].append(unit.id)
    found = {root}
    waiting = [root]
    while waiting:
        for child in children[waiting.pop()]:
            if child not in found:
                found.add(child)
                waiting.append(child)
    return frozenset(found)


@dataclass(frozen=True)
class WeekPlan:
    """The completed weeks an action is judged on: ``first``..``last`` (Mondays, inclusive), or none."""

    action_week: date
    first: date | None
    last: date | None

    @property
    def weeks(self) -> list[date]:
        if self.first is None or self.last is None or self.last < self.first:
            return []
        return [self.first + timedelta(weeks=i) for i in range((self.last - self.first).days // 7 + 1)]

    @property
    def weeks_before(self) -> int:
        return sum(1 for week in self.weeks if week < self.action_week)

    @property
    def weeks_after(self) -> int:
        return sum(1 for week in self.weeks if week >= self.action_week)

    @property
    def too_early(self) -> bool:
        return self.weeks_after < MIN_WEEKS_AFTER

    @property
    def final(self) -> bool:
        """Both windows complete: the figures no longer change from one week to the next."""
        return self.weeks_before == SPAN_WEEKS and self.weeks_after == SPAN_WEEKS


def plan_weeks(action_week: date, *, current_week: date, first_data_week: date | None) -> WeekPlan:
    """Up to 12 weeks before the action's week and 12 from it on, completed weeks only (the current one runs).

    Weeks before the organisation's first data are left out: they are "no data", not "no referrals", and the
    number of weeks is the exposure a rate divides by.
    """
    if first_data_week is None:
        return WeekPlan(action_week, None, None)
    first = max(action_week - timedelta(weeks=SPAN_WEEKS), first_data_week)
    last = min(action_week + timedelta(weeks=SPAN_WEEKS - 1), current_week - timedelta(weeks=1))
    return WeekPlan(action_week, first, last)


@dataclass(frozen=True)
class CategoryComparison:
    """One category's raw before/after comparison in the unit, and in the rest of the organisation if any.

    ``own_before``/``own_after`` are every unit's own referrals in the two windows: disclosure works on the
    whole tree, so that no two published numbers differ by a hidden one.
    """

    category: Category
    unit: RateComparison
    comparison: RateComparison | None
    did: DiDComparison | None
    own_before: Mapping[str, int]
    own_after: Mapping[str, int]

    def effect(self, tenant_key: str) -> ActionEffect | None:
        """For pooling: against the comparison unit where there is one (it removes what happened to everyone)."""
        return ActionEffect.from_comparison(tenant_key, self.did if self.did is not None else self.unit)


def _category_order(category: Category) -> int:
    return list(Category).index(category)


def compare_categories(
    cells: Mapping[CellKey, int],
    plan: WeekPlan,
    *,
    units: Sequence[OrgUnitRow],
    action_unit: uuid.UUID | None,
    confidence: float = CONFIDENCE,
    span: int = SPAN_WEEKS,
) -> list[CategoryComparison]:
    """Per category with referrals in the action's unit (its subtree; None: the whole organisation), the
    before/after comparison there and, when the organisation has other units, in the rest of it.

    Empty when a side has no completed week. Referrals of a unit no longer in the organisation's tree are left
    out, as the trends leave them out: a total holding a cell no one sees is a derived number about it. ``span``
    is the most weeks a window holds on either side (a client's monthly windows pass their whole plan).
    """
    weeks = plan.weeks
    if plan.weeks_before == 0 or plan.weeks_after == 0:
        return []
    known = {unit.id for unit in units}
    covered = known if action_unit is None else subtree(units, action_unit)
    has_comparison = bool(known - covered)
    index = {week: i for i, week in enumerate(weeks)}
    unit_counts: dict[Category, list[int]] = defaultdict(lambda: [0] * len(weeks))
    other_counts: dict[Category, list[int]] = defaultdict(lambda: [0] * len(weeks))
    own: dict[tuple[Category, bool], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (org_unit_id, category, week), count in cells.items():
        position = index.get(week)
        if position is None or org_unit_id not in known:
            continue
        target = unit_counts if org_unit_id in covered else other_counts
        target[Category(category)][position] += count
        own[(Category(category), week >= plan.action_week)][str(org_unit_id)] += count
    results = []
    for category in sorted(unit_counts, key=_category_order):
        unit_before, unit_after = windows(weeks, unit_counts[category], plan.action_week, span=span)
        if sum(unit_before) + sum(unit_after) == 0:
            continue
        unit = compare_before_after(unit_before, unit_after, confidence=confidence)
        comparison = did = None
        if has_comparison:
            other = other_counts.get(category, [0] * len(weeks))
            other_before, other_after = windows(weeks, other, plan.action_week, span=span)
            did = difference_in_differences(unit_before, unit_after, other_before, other_after, confidence=confidence)
            comparison = did.comparison
        results.append(
            CategoryComparison(
                category=category,
                unit=unit,
                comparison=comparison,
                did=did,
                own_before=dict(own[(category, False)]),
                own_after=dict(own[(category, True)]),
            )
        )
    return results


# -- what a caller may see (pure) ----------------------------------------------------------------------------------

_HIDDEN = Cell(count=None, suppressed=True)


def _bound(value: float) -> float | None:
    """An interval end for JSON: None for an unbounded one (``inf`` has no JSON form)."""
    return None if math.isinf(value) else value


def window_cells(
    nodes: Sequence[UnitNode], own_counts: Mapping[str, int], action_unit: uuid.UUID | None, k: int
) -> tuple[Cell, Cell | None]:
    """The unit's and the rest of the organisation's count in one window, as the org tree may publish them.

    The unit's number is its subtree total in :func:`protect_tree` over the whole tree (the organisation total
    for a whole-organisation action), so an action on a child unit in the same week cannot be subtracted from
    it. The rest is the total minus the unit: shown only when both are, so it reveals nothing they do not.
    """
    disclosure = protect_tree(nodes, {unit: count for unit, count in own_counts.items() if count}, k)
    if action_unit is None:
        return disclosure.total, None
    unit = disclosure.units.get(str(action_unit), _HIDDEN)
    if unit.count is None or disclosure.total.count is None:
        return unit, _HIDDEN
    return unit, disclose(disclosure.total.count - unit.count, k)


@dataclass(frozen=True)
class RateView:
    """A before/after comparison as a caller may see it.

    A hidden count is None (``*_suppressed``); its rate goes with it. ``ratio_withheld`` hides the ratio, its
    interval and p-value (a ratio and one count reveal the other). ``ci_high`` None with the ratio shown means
    no upper bound.
    """

    before_weeks: int
    after_weeks: int
    before_count: int | None
    after_count: int | None
    before_suppressed: bool
    after_suppressed: bool
    rate_before: float | None
    rate_after: float | None
    rate_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    ratio_withheld: bool

    @property
    def counts_shown(self) -> bool:
        return not (self.before_suppressed or self.after_suppressed)


def rate_view(comparison: RateComparison, before: Cell, after: Cell, *, ratio_needs_counts: bool) -> RateView:
    """Show the counts the cells allow (and their rates); withhold the ratio too when ``ratio_needs_counts`` and
    a count behind it is hidden."""
    withheld = ratio_needs_counts and (before.suppressed or after.suppressed)
    return RateView(
        before_weeks=comparison.before_weeks,
        after_weeks=comparison.after_weeks,
        before_count=before.count,
        after_count=after.count,
        before_suppressed=before.suppressed,
        after_suppressed=after.suppressed,
        rate_before=None if before.count is None else comparison.rate_before,
        rate_after=None if after.count is None else comparison.rate_after,
        rate_ratio=None if withheld else comparison.rate_ratio,
        ci_low=None if withheld else comparison.ci_low,
        ci_high=None if withheld else _bound(comparison.ci_high),
        p_value=None if withheld else comparison.p_value,
        ratio_withheld=withheld,
    )


@dataclass(frozen=True)
class DiDView:
    """The unit's rate ratio relative to the comparison unit's, as a caller may see it (see :class:`RateView`)."""

    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    continuity_corrected: bool
    ratio_withheld: bool


def did_view(did: DiDComparison, *, withheld: bool) -> DiDView:
    return DiDView(
        ratio=None if withheld else did.ratio,
        ci_low=None if withheld else did.ci_low,
        ci_high=None if withheld else _bound(did.ci_high),
        p_value=None if withheld else did.p_value,
        continuity_corrected=did.continuity_corrected,
        ratio_withheld=withheld,
    )


def _figure(value: float) -> str:
    return "0" if value == 0 else f"{value:.2g}"


def ratio_sentence(comparison: RateComparison) -> str:
    """The ratio and its interval without the counts behind it, for provider staff when a count is hidden."""
    level = f"{comparison.confidence * 100:g} % CI"
    if math.isinf(comparison.ci_high):
        interval = f"{level} {_figure(comparison.ci_low)} or more"
    else:
        interval = f"{level} {_figure(comparison.ci_low)}–{_figure(comparison.ci_high)}"
    head = "up from none" if comparison.rate_ratio is None else f"{_figure(comparison.rate_ratio)}×"
    chance = (
        "which could be chance"
        if comparison.p_value >= 1.0 - comparison.confidence
        else f"which is unlikely to be chance alone (p = {comparison.p_value:.2g})"
    )
    return f"Rate after vs before: {head} ({interval}), {chance}."


def describe(raw: CategoryComparison, unit: RateView, comparison: RateView | None, *, k: int, plan: WeekPlan) -> str:
    """The plain-language sentence a caller may read: never a count the views hide."""
    prefix = ""
    if plan.too_early:
        weeks = "week" if plan.weeks_after == 1 else "weeks"
        prefix = (
            f"Too early to judge: {plan.weeks_after} completed {weeks} after the action so far "
            f"(at least {MIN_WEEKS_AFTER} needed). "
        )
    if raw.did is not None and comparison is not None and unit.counts_shown and comparison.counts_shown:
        return prefix + explain(raw.did)
    if unit.counts_shown:
        text = explain(raw.unit)
        if raw.did is not None:
            text += " The comparison with the rest of the organisation is left out: a count behind it is suppressed."
        return prefix + text
    if not unit.ratio_withheld:
        return prefix + f"Counts under {k} are not shown. " + ratio_sentence(raw.unit)
    # Not "fewer than k": a count hidden as a complement may be large, and a label telling the two apart pins them.
    return prefix + (
        f"A count before or after the action in this category is suppressed (under {k}, or hidden so that it cannot "
        "be worked out from other numbers): the comparison is not shown, so that no one can be recognised."
    )


# -- one action's effects ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryEffect:
    category: Category
    unit: RateView
    comparison: RateView | None
    difference_in_differences: DiDView | None
    explanation: str


@dataclass(frozen=True)
class ActionEffects:
    """What followed one action, per category, as the caller may see it.

    ``final`` once both windows hold their 12 completed weeks: until then the figures change every week, and
    the client organisation sees none of them (see :func:`view_effects`).
    """

    action: RecordedAction
    k: int
    first_week: date | None
    last_week: date | None
    weeks_before: int
    weeks_after: int
    too_early: bool
    final: bool
    comparison_unit: str | None
    note: str | None
    categories: list[CategoryEffect]


def _note(plan: WeekPlan, first_data_week: date | None, *, withheld_until_final: bool) -> str | None:
    if first_data_week is None:
        return "No referrals recorded for this organisation yet: nothing to compare."
    if plan.weeks_after == 0:
        return "The action's week has not ended yet: nothing to compare so far."
    if plan.weeks_before == 0:
        return "No referral history before the action: nothing to compare it with."
    if withheld_until_final:
        return (
            f"Shown once {SPAN_WEEKS} full weeks of referrals before the action and {SPAN_WEEKS} completed weeks "
            f"after it exist ({plan.weeks_before} and {plan.weeks_after} so far): figures that change from week to "
            "week would, subtracted, reveal single weeks."
        )
    return None


def view_effects(
    comparisons: Sequence[CategoryComparison],
    *,
    nodes: Sequence[UnitNode],
    action_unit: uuid.UUID | None,
    k: int,
    tenant_facing: bool,
    plan: WeekPlan,
) -> list[CategoryEffect]:
    """Suppression for the caller: counts as the org tree may publish them for everyone, ratios too for a
    client organisation, which moreover sees only final windows.

    A window that grows by a week at every look gives, subtracted from the look before, one week's referrals
    in one unit: exactly the small number suppression exists to hide. Before the windows are final (and when
    the organisation lacks 12 weeks of history before the action, which would let a short window be moved
    week by week) a client organisation gets no categories at all, since a category appearing is news too.
    Final weekly windows are still not safe for a client (two a week apart differ by single weeks), so
    :func:`action_effects` gives a client organisation :func:`month_effects` instead.
    """
    if tenant_facing and not plan.final:
        return []
    effects = []
    for raw in comparisons:
        unit_before, rest_before = window_cells(nodes, raw.own_before, action_unit, k)
        unit_after, rest_after = window_cells(nodes, raw.own_after, action_unit, k)
        unit = rate_view(raw.unit, unit_before, unit_after, ratio_needs_counts=tenant_facing)
        comparison = did = None
        if raw.comparison is not None and raw.did is not None and rest_before is not None and rest_after is not None:
            comparison = rate_view(raw.comparison, rest_before, rest_after, ratio_needs_counts=tenant_facing)
            withheld = tenant_facing and not (unit.counts_shown and comparison.counts_shown)
            did = did_view(raw.did, withheld=withheld)
        effects.append(
            CategoryEffect(
                category=raw.category,
                unit=unit,
                comparison=comparison,
                difference_in_differences=did,
                explanation=describe(raw, unit, comparison, k=k, plan=plan),
            )
        )
    return effects


@dataclass(frozen=True)
class MonthPlan:
    """A client organisation's windows: whole months of the trends' grid (a week belongs to its Thursday's month).

    ``before`` the months before the action's month, ``after`` the action's month and those after it (the action's
    month counts as after, as its week does for provider staff). ``final`` once the last month has ended and the
    organisation's referral data reach back to the first month's first week: until then a window would be cut
    short, and its numbers would not be the trends' month cells.
    """

    before: tuple[date, ...]
    after: tuple[date, ...]
    final: bool

    @property
    def first(self) -> date:
        return month_weeks(self.before[0])[0]

    @property
    def split(self) -> date:
        return month_weeks(self.after[0])[0]

    @property
    def last(self) -> date:
        return month_weeks(self.after[-1])[1]

    def weeks(self, current_week: date) -> WeekPlan:
        """The windows' completed weeks as a week plan (split at the action's month)."""
        return WeekPlan(self.split, self.first, min(self.last, current_week - timedelta(weeks=1)))


def month_plan(action_week: date, *, current_week: date, first_data_week: date | None) -> MonthPlan:
    """The client organisation's windows around an action in ``action_week``."""
    month = month_of_week(action_week)
    before = tuple(add_months(month, i) for i in range(-SPAN_MONTHS, 0))
    after = tuple(add_months(month, i) for i in range(SPAN_MONTHS))
    plan = MonthPlan(before, after, final=False)
    final = first_data_week is not None and first_data_week <= plan.first and plan.last < current_week
    return MonthPlan(before, after, final=final)


def _month_note(plan: MonthPlan, first_data_week: date | None) -> str | None:
    if first_data_week is None:
        return "No referrals recorded for this organisation yet: nothing to compare."
    if plan.final:
        return None
    if first_data_week > plan.first:
        return (
            f"No referral history for the {SPAN_MONTHS} months before the action's month: nothing to compare it with."
        )
    return (
        f"Shown once the action's month and the {SPAN_MONTHS - 1} months after it have ended, beside the "
        f"{SPAN_MONTHS} months before it: counts are published per calendar month, as in the trends, so that no "
        "two answers differ by a single week."
    )


def month_effects(
    cells: Mapping[CellKey, int],
    plan: MonthPlan,
    *,
    units: Sequence[OrgUnitRow],
    action_unit: uuid.UUID | None,
    k: int,
) -> list[CategoryEffect]:
    """A client organisation's comparisons: every count a sum of the trends' published month cells.

    ``cells`` must hold every week of the plan's months. The unit's count is its subtree cell (the organisation
    total for a whole-organisation action) summed over the window's months, shown only when every month's cell is;
    the rest of the organisation is the total minus the unit, shown only when both are. What is shown is thereby
    a sum of numbers the trends show, and ratios, intervals and p-values go only with shown counts: nothing here
    tells a client more than the trends do.
    """
    if not plan.final:
        return []
    weeks = plan.weeks(plan.last + timedelta(weeks=1))
    comparisons = compare_categories(cells, weeks, units=units, action_unit=action_unit, span=len(weeks.weeks))
    grid = MonthGrid(units, cells, k)
    effects = []
    for raw in comparisons:
        category = raw.category.value
        unit = rate_view(
            raw.unit,
            grid.sum(plan.before, category, action_unit),
            grid.sum(plan.after, category, action_unit),
            ratio_needs_counts=True,
        )
        comparison = did = None
        if raw.comparison is not None and raw.did is not None:
            rest_before = _rest(grid, plan.before, category, action_unit, k)
            rest_after = _rest(grid, plan.after, category, action_unit, k)
            comparison = rate_view(raw.comparison, rest_before, rest_after, ratio_needs_counts=True)
            did = did_view(raw.did, withheld=not (unit.counts_shown and comparison.counts_shown))
        effects.append(
            CategoryEffect(
                category=raw.category,
                unit=unit,
                comparison=comparison,
                difference_in_differences=did,
                explanation=describe(raw, unit, comparison, k=k, plan=weeks),
            )
        )
    return effects


def _rest(grid: MonthGrid, months: Sequence[date], category: str, action_unit: uuid.UUID | None, k: int) -> Cell:
    """The organisation minus the unit over the months: shown only when both are (and then not under k)."""
    total = grid.sum(months, category, None)
    inside = grid.sum(months, category, action_unit)
    if total.count is None or inside.count is None:
        return _HIDDEN
    return disclose(total.count - inside.count, k)


def is_tenant_facing(principal: Principal) -> bool:
    """A token with any tenant-bound role gets the client organisation's view, whatever else it holds."""
    return principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION, Role.EMPLOYEE) or not principal.has_role(
        *PROVIDER_STAFF
    )


def tree_nodes(units: Sequence[OrgUnitRow]) -> list[UnitNode]:
    """The org tree for :func:`protect_tree`; a parent outside the tree makes a top-level unit."""
    known = {unit.id for unit in units}
    return [
        UnitNode(id=str(unit.id), parent_id=str(unit.parent_id) if unit.parent_id in known else None) for unit in units
    ]


async def action_effects(
    *,
    action_id: uuid.UUID,
    principal: Principal,
    uow: UnitOfWorkFactory,
    default_k: int,
    today: date | None = None,
) -> ActionEffects:
    """Before/after comparisons per category in the action's unit and the rest of the organisation: on the trends'
    monthly grid for a client organisation and its account manager (:func:`month_effects`), over weeks for provider
    admins and social workers."""
    principal.require_role(*READERS)
    current_week = monday(today or today_in_amsterdam())
    # An account manager sees a client's numbers as the client does (DESIGN §2: small cells are hidden from them
    # too): weekly windows a week apart would give away single weeks' counts.
    tenant_facing = is_tenant_facing(principal) or not principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)
    async with uow() as work:
        session = work.session
        row = (await session.execute(select(MANAGEMENT_ACTIONS).where(MANAGEMENT_ACTIONS.c.id == action_id))).first()
        # another organisation's action is "not found", exactly as a missing one
        if row is None or not principal.may_act_for(row.tenant_id):
            raise NotFound(_NOT_FOUND)
        tenant_id = row.tenant_id
        await set_tenant(session, tenant_id)
        units = await org_units(session, tenant_id)
        k = await k_anonymity(session, tenant_id, default_k)
        first_data = await first_week_with_data(session, tenant_id)
        action = _action(row, {u.id: u.name for u in units})
        plan = plan_weeks(action.week, current_week=current_week, first_data_week=first_data)
        months = month_plan(action.week, current_week=current_week, first_data_week=first_data)
        cells: dict[CellKey, int] = {}
        if tenant_facing:
            if months.final:
                cells = await weekly_cells(session, tenant_id=tenant_id, first_week=months.first, last_week=months.last)
        elif plan.first is not None and plan.last is not None and plan.first <= plan.last:
            cells = await weekly_cells(session, tenant_id=tenant_id, first_week=plan.first, last_week=plan.last)
    if tenant_facing:
        shown = months.weeks(current_week)
        return ActionEffects(
            action=action,
            k=k,
            first_week=shown.weeks[0] if shown.weeks else None,
            last_week=shown.weeks[-1] if shown.weeks else None,
            weeks_before=shown.weeks_before,
            weeks_after=shown.weeks_after,
            too_early=shown.too_early,
            final=months.final,
            comparison_unit=_comparison_unit(units, action.org_unit_id),
            note=_month_note(months, first_data),
            categories=month_effects(cells, months, units=units, action_unit=action.org_unit_id, k=k),
        )
    comparisons = compare_categories(cells, plan, units=units, action_unit=action.org_unit_id)
    return ActionEffects(
        action=action,
        k=k,
        first_week=plan.weeks[0] if plan.weeks else None,
        last_week=plan.weeks[-1] if plan.weeks else None,
        weeks_before=plan.weeks_before,
        weeks_after=plan.weeks_after,
        too_early=plan.too_early,
        final=plan.final,
        comparison_unit=_comparison_unit(units, action.org_unit_id),
        note=_note(plan, first_data, withheld_until_final=False),
        categories=view_effects(
            comparisons,
            nodes=tree_nodes(units),
            action_unit=action.org_unit_id,
            k=k,
            tenant_facing=False,
            plan=plan,
        ),
    )


def _comparison_unit(units: Sequence[OrgUnitRow], action_unit: uuid.UUID | None) -> str | None:
    """How the comparison unit reads; None when there is none (a whole-organisation action)."""
    if action_unit is None:
        return None
    others = len({unit.id for unit in units} - subtree(units, action_unit))
    if not others:
        return None
    return f"the rest of the organisation ({others} {'unit' if others == 1 else 'units'})"


# -- across client organisations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PooledCategory:
    category: Category
    effect: PooledEffect | None
    explanation: str


@dataclass(frozen=True)
class ActionTypeReport:
    """What one action type did to referrals, pooled across client organisations; names none of them."""

    action_type: ManagementActionType
    min_organisations: int
    enough_organisations: bool
    categories: list[PooledCategory]
    note: str | None


async def action_type_effects(
    *, action_type: ManagementActionType, principal: Principal, uow: UnitOfWorkFactory, today: date | None = None
) -> ActionTypeReport:
    """Pool every action of the type with at least four completed weeks after it, per category (provider staff)."""
    principal.require_role(*PROVIDER_STAFF)
    if principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION, Role.EMPLOYEE):
        # knowledge across client organisations is the provider's own, never a client's
        raise Forbidden("this report is for provider staff only")
    current_week = monday(today or today_in_amsterdam())
    latest_action_week = current_week - timedelta(weeks=MIN_WEEKS_AFTER)
    effects: dict[Category, list[ActionEffect]] = defaultdict(list)
    # Pooled across every client organisation (an account manager's walls reach only their portfolio); the report
    # names none of them and is the provider staff's alone, checked above.
    async with uow.provider_wide() as work:
        session = work.session
        rows = (
            await session.execute(
                select(MANAGEMENT_ACTIONS)
                .where(
                    MANAGEMENT_ACTIONS.c.action_type == action_type.value,
                    MANAGEMENT_ACTIONS.c.occurred_on < latest_action_week + timedelta(weeks=1),
                )
                .order_by(MANAGEMENT_ACTIONS.c.tenant_id, MANAGEMENT_ACTIONS.c.occurred_on)
            )
        ).all()
        by_tenant: dict[uuid.UUID, list[Row[Any]]] = defaultdict(list)
        for row in rows:
            by_tenant[row.tenant_id].append(row)
        for tenant_id, actions in by_tenant.items():
            units = await org_units(session, tenant_id)
            first_data = await first_week_with_data(session, tenant_id)
            plans = [
                (
                    _action(row, {}),
                    plan_weeks(monday(row.occurred_on), current_week=current_week, first_data_week=first_data),
                )
                for row in actions
            ]
            usable = [(action, plan) for action, plan in plans if plan.weeks_before and not plan.too_early]
            if not usable:
                continue
            first = min(plan.weeks[0] for _, plan in usable)
            last = max(plan.weeks[-1] for _, plan in usable)
            cells = await weekly_cells(session, tenant_id=tenant_id, first_week=first, last_week=last)
            for action, plan in usable:
                comparisons = compare_categories(cells, plan, units=units, action_unit=action.org_unit_id)
                for comparison in comparisons:
                    effect = comparison.effect(str(tenant_id))
                    if effect is not None:
                        effects[comparison.category].append(effect)
    return pool_report(action_type, effects)


def pool_report(
    action_type: ManagementActionType, effects: Mapping[Category, Sequence[ActionEffect]]
) -> ActionTypeReport:
    """Pool per category; below three organisations overall there is no report at all."""
    organisations = {effect.tenant_id for found in effects.values() for effect in found}
    if len(organisations) < MIN_ORGANISATIONS:
        return ActionTypeReport(
            action_type=action_type,
            min_organisations=MIN_ORGANISATIONS,
            enough_organisations=False,
            categories=[],
            note=f"Not enough organisations yet: actions of this type from at least {MIN_ORGANISATIONS} client "
            "organisations, each with four completed weeks after it, are needed.",
        )
    categories = []
    for category in sorted(effects, key=_category_order):
        pooled = pool(effects[category], min_tenants=MIN_ORGANISATIONS, confidence=CONFIDENCE)
        text = (
            explain(pooled)
            if pooled is not None
            else f"Not enough organisations yet for this category (at least {MIN_ORGANISATIONS} needed)."
        )
        categories.append(PooledCategory(category=category, effect=pooled, explanation=text))
    return ActionTypeReport(
        action_type=action_type,
        min_organisations=MIN_ORGANISATIONS,
        enough_organisations=True,
        categories=categories,
        note=None,
    )
