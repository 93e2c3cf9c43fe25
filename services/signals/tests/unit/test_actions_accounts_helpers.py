"""The pure parts of management-action effects, observations and the account view: windows, subtrees,
disclosure to the caller, pooling across organisations, bundle burn-down."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.contracts.events.billing import ContractProduct
from bmw.contracts.taxonomy import Category, ProductKind, Role, SignalKind, VatRate
from bmw.servicekit.auth import Principal
from bmw.servicekit.tenants import OrgUnitRow
from bmw.signals.adapters.aggregates import CellKey
from bmw.signals.application.accounts import burn_down, percent, product_use
from bmw.signals.application.actions import (
    MIN_ORGANISATIONS,
    SPAN_WEEKS,
    CategoryComparison,
    compare_categories,
    describe,
    is_tenant_facing,
    plan_weeks,
    pool_report,
    rate_view,
    subtree,
    tree_nodes,
    view_effects,
    window_cells,
    years_before,
)
from bmw.signals.application.observations import ObservationRow
from bmw.signals.domain.codes import Bottleneck, ManagementActionType
from bmw.signals.domain.effects import ActionEffect, compare_before_after
from bmw.signals.domain.suppression import Cell

K = 5
MONDAY = date(2026, 3, 2)


def unit(name: str, parent: OrgUnitRow | None = None) -> OrgUnitRow:
    return OrgUnitRow(id=uuid.uuid4(), name=name, parent_id=parent.id if parent else None, employees=None)


def week(offset: int) -> date:
    return MONDAY + timedelta(weeks=offset)


# -- subtree and weeks ---------------------------------------------------------------------------------------------


def test_a_subtree_holds_the_unit_and_everything_below_it_and_survives_a_cycle() -> None:
    top = unit("Operations")
    middle = unit("Logistics", top)
    leaf = unit("Night shift", middle)
    other = unit("Finance")
    assert subtree([top, middle, leaf, other], middle.id) == {middle.id, leaf.id}
    assert subtree([top, middle, leaf, other], top.id) == {top.id, middle.id, leaf.id}
    looped = OrgUnitRow(id=top.id, name="Operations", parent_id=leaf.id, employees=None)
    assert subtree([looped, middle, leaf], middle.id) == {top.id, middle.id, leaf.id}


def test_the_weeks_are_cut_to_completed_weeks_and_to_the_first_data() -> None:
    action = week(0)
    plan = plan_weeks(action, current_week=week(5), first_data_week=week(-4))
    assert plan.weeks[0] == week(-4) and plan.weeks[-1] == week(4)
    assert (plan.weeks_before, plan.weeks_after, plan.too_early, plan.final) == (4, 5, False, False)
    full = plan_weeks(action, current_week=week(30), first_data_week=week(-40))
    assert (full.weeks[0], full.weeks[-1]) == (week(-SPAN_WEEKS), week(SPAN_WEEKS - 1))
    assert full.final is True
    early = plan_weeks(action, current_week=week(3), first_data_week=week(-20))
    assert (early.weeks_after, early.too_early) == (3, True)
    future = plan_weeks(week(2), current_week=week(1), first_data_week=week(-20))
    assert future.weeks_after == 0
    assert plan_weeks(action, current_week=week(5), first_data_week=None).weeks == []


def test_years_before_keeps_the_day_and_moves_a_leap_day() -> None:
    assert years_before(date(2026, 5, 17), 3) == date(2023, 5, 17)
    assert years_before(date(2028, 2, 29), 3) == date(2025, 2, 28)


# -- comparing -----------------------------------------------------------------------------------------------------


def test_categories_are_compared_over_the_units_subtree_against_the_rest_of_the_organisation() -> None:
    logistics = unit("Logistics")
    north = unit("North", logistics)
    finance = unit("Finance")
    cells: dict[CellKey, int] = {}
    for offset in range(-SPAN_WEEKS, SPAN_WEEKS):
        cells[(finance.id, "workload_stress", week(offset))] = 1
        if offset >= 0:
            cells[(north.id, "workload_stress", week(offset))] = 2
    cells[(logistics.id, "workload_stress", week(-1))] = 4
    cells[(uuid.uuid4(), "workload_stress", week(3))] = 50  # a unit no longer in the tree
    cells[(finance.id, "grief", week(2))] = 3  # only outside the unit: not listed
    plan = plan_weeks(week(0), current_week=week(SPAN_WEEKS), first_data_week=week(-30))
    [stress] = compare_categories(cells, plan, units=[logistics, north, finance], action_unit=logistics.id)
    assert stress.category is Category.WORKLOAD_STRESS
    assert (stress.unit.before_count, stress.unit.after_count) == (4, 24)
    assert stress.comparison is not None and stress.did is not None
    assert (stress.comparison.before_count, stress.comparison.after_count) == (12, 12)
    assert stress.own_before == {str(logistics.id): 4, str(finance.id): 12}
    assert stress.own_after == {str(north.id): 24, str(finance.id): 12}
    assert stress.unit.rate_ratio == pytest.approx(6.0)

    whole = compare_categories(cells, plan, units=[logistics, north, finance], action_unit=None)
    assert [c.category for c in whole] == [Category.WORKLOAD_STRESS, Category.GRIEF]
    assert all(c.comparison is None and c.did is None for c in whole)
    assert (whole[0].unit.before_count, whole[0].unit.after_count) == (16, 36)


def test_nothing_is_compared_without_weeks_on_both_sides() -> None:
    only = unit("Only")
    cells: dict[CellKey, int] = {(only.id, "career", week(-2)): 5}
    plan = plan_weeks(week(0), current_week=week(0), first_data_week=week(-5))
    assert compare_categories(cells, plan, units=[only], action_unit=only.id) == []


# -- what a caller may see -----------------------------------------------------------------------------------------


def test_a_parent_minus_its_visible_child_never_reveals_a_hidden_sibling() -> None:
    parent = unit("Parent")
    big, small = unit("Big", parent), unit("Small", parent)
    nodes = tree_nodes([parent, big, small])
    own = {str(big.id): 6, str(small.id): 1}
    parent_cell, _ = window_cells(nodes, own, parent.id, K)
    big_cell, _ = window_cells(nodes, own, big.id, K)
    small_cell, _ = window_cells(nodes, own, small.id, K)
    assert small_cell.suppressed
    assert parent_cell.suppressed or big_cell.suppressed  # 7 - 6 would be the hidden 1


@given(st.lists(st.integers(min_value=0, max_value=12), min_size=3, max_size=3))
def test_no_published_unit_or_rest_of_the_organisation_is_a_small_number(counts: list[int]) -> None:
    top = unit("Top")
    child, other = unit("Child", top), unit("Other")
    nodes = tree_nodes([top, child, other])
    own = dict(zip((str(top.id), str(child.id), str(other.id)), counts, strict=True))
    for action_unit in (top.id, child.id, other.id):
        shown, rest = window_cells(nodes, own, action_unit, K)
        assert rest is not None
        for cell in (shown, rest):
            assert cell.count is None or cell.count == 0 or cell.count >= K
    total, none = window_cells(nodes, own, None, K)
    assert none is None
    assert total.count is None or total.count == 0 or total.count >= K


def test_a_client_sees_a_ratio_only_with_both_counts_and_staff_see_it_regardless() -> None:
    comparison = compare_before_after([1] * 12, [0, 1] * 6)
    hidden, shown = Cell(count=None, suppressed=True), Cell(count=12, suppressed=False)
    client = rate_view(comparison, shown, hidden, ratio_needs_counts=True)
    assert client.ratio_withheld and client.rate_ratio is None and client.p_value is None
    assert client.before_count == 12 and client.after_count is None and client.rate_after is None
    staff = rate_view(comparison, shown, hidden, ratio_needs_counts=False)
    assert not staff.ratio_withheld and staff.rate_ratio == pytest.approx(0.5)
    assert staff.after_count is None


def _comparison(unit_id: str, before: list[int], after: list[int]) -> CategoryComparison:
    return CategoryComparison(
        category=Category.CONFLICT_MANAGER,
        unit=compare_before_after(before, after),
        comparison=None,
        did=None,
        own_before={unit_id: sum(before)},
        own_after={unit_id: sum(after)},
    )


def test_a_client_sees_nothing_before_the_windows_are_final_and_no_hidden_count_in_any_sentence() -> None:
    team = unit("Team")
    raw = _comparison(str(team.id), [0] * 11 + [2], [1] * 6)
    nodes = tree_nodes([team])
    provisional = plan_weeks(week(0), current_week=week(6), first_data_week=week(-20))
    assert view_effects([raw], nodes=nodes, action_unit=None, k=K, tenant_facing=True, plan=provisional) == []
    [staff] = view_effects([raw], nodes=nodes, action_unit=None, k=K, tenant_facing=False, plan=provisional)
    assert staff.unit.before_count is None and staff.unit.after_count == 6
    assert staff.unit.rate_ratio is not None
    assert "2 referrals" not in staff.explanation and staff.explanation.startswith("Counts under 5")

    final = plan_weeks(week(0), current_week=week(12), first_data_week=week(-20))
    small = _comparison(str(team.id), [0] * 11 + [2], [0] * 11 + [3])
    [client] = view_effects([small], nodes=nodes, action_unit=None, k=K, tenant_facing=True, plan=final)
    assert client.unit.ratio_withheld and client.unit.before_count is None
    assert not any(str(n) in client.explanation for n in (2, 3))


def test_an_early_comparison_says_so() -> None:
    team = unit("Team")
    raw = _comparison(str(team.id), [1] * 12, [2, 3])
    plan = plan_weeks(week(0), current_week=week(2), first_data_week=week(-20))
    shown = Cell(count=12, suppressed=False)
    view = rate_view(raw.unit, shown, Cell(count=5, suppressed=False), ratio_needs_counts=True)
    text = describe(raw, view, None, k=K, plan=plan)
    assert text.startswith("Too early to judge: 2 completed weeks after the action so far")


def test_tokens_with_a_tenant_bound_role_get_the_clients_view() -> None:
    def principal(*roles: Role) -> Principal:
        return Principal(subject="s", roles=frozenset(roles), tenant_id=uuid.uuid4())

    assert is_tenant_facing(principal(Role.CLIENT_CONTACT))
    assert is_tenant_facing(principal(Role.INTEGRATION))
    assert is_tenant_facing(principal(Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT))
    assert not is_tenant_facing(principal(Role.ACCOUNT_MANAGER))
    assert not is_tenant_facing(principal(Role.SOCIAL_WORKER))


# -- across organisations ------------------------------------------------------------------------------------------


def test_the_pooled_report_needs_three_organisations_and_pools_per_category() -> None:
    action_type = ManagementActionType.INDIVIDUAL_TALKS_HELD
    two = {Category.DISMISSAL: [ActionEffect("a", -0.7, 0.2), ActionEffect("b", -0.5, 0.3)]}
    not_yet = pool_report(action_type, two)
    assert not not_yet.enough_organisations and not_yet.categories == []
    assert not_yet.note is not None and str(MIN_ORGANISATIONS) in not_yet.note

    effects = {
        Category.DISMISSAL: [ActionEffect(t, -0.9, 0.05) for t in ("a", "b", "c")],
        Category.GRIEF: [ActionEffect("a", 0.1, 0.5), ActionEffect("b", 0.2, 0.5)],
    }
    report = pool_report(action_type, effects)
    assert report.enough_organisations
    dismissal, grief = report.categories
    assert dismissal.category is Category.DISMISSAL and dismissal.effect is not None
    assert dismissal.effect.tenants == 3 and dismissal.effect.verdict.value == "helps"
    assert grief.effect is None and "Not enough organisations" in grief.explanation


# -- observations --------------------------------------------------------------------------------------------------


def test_an_observation_supports_the_signal_kinds_of_its_bottleneck() -> None:
    row = ObservationRow(
        org_unit_id=uuid.uuid4(), bottleneck=Bottleneck.WORKLOAD_AFTER_STAFF_CUTS, week=MONDAY, severity=3
    )
    assert row.supports == {SignalKind.STRESS_SURGE, SignalKind.BURNOUT_RISK_CLUSTER}


# -- the account view ----------------------------------------------------------------------------------------------


def test_a_bundle_burns_down_week_by_week_and_projects_when_it_runs_out() -> None:
    start, end = date(2026, 1, 7), date(2026, 12, 31)  # a Wednesday; 359 days
    use = {date(2026, 1, 8): Decimal(4), date(2026, 1, 20): Decimal("6.50")}
    burn = burn_down(
        product_code="HOURS-40",
        included=Decimal(40),
        period_start=start,
        period_end=end,
        daily_use=use,
        today=date(2026, 2, 5),
    )
    assert [w.week for w in burn.weeks] == [date(2026, 1, 5) + timedelta(weeks=i) for i in range(5)]
    assert [w.used for w in burn.weeks] == [
        Decimal(4),
        Decimal(4),
        Decimal("10.50"),
        Decimal("10.50"),
        Decimal("10.50"),
    ]
    # the plan at the end of the first week: 5 of 359 days (7 to 11 January) of 40 hours
    assert burn.weeks[0].planned == (Decimal(40) * 5 / 359).quantize(Decimal("0.01"))
    assert (burn.used, burn.remaining, burn.exhausted_on) == (Decimal("10.50"), Decimal("29.50"), None)
    # 10.5 hours in 30 days: 29.5 more take 84.3 days, so 85 whole days after 5 February
    assert burn.projected_exhaustion == date(2026, 2, 5) + timedelta(days=85)
    assert burn.runs_out_before_renewal is True


def test_a_used_up_bundle_names_the_day_and_an_unused_one_projects_nothing() -> None:
    start, end = date(2026, 1, 1), date(2026, 6, 30)
    spent = burn_down(
        product_code="H",
        included=Decimal(10),
        period_start=start,
        period_end=end,
        daily_use={date(2026, 1, 5): Decimal(6), date(2026, 1, 9): Decimal(6)},
        today=date(2026, 1, 20),
    )
    assert (spent.exhausted_on, spent.projected_exhaustion, spent.remaining) == (date(2026, 1, 9), None, Decimal(0))
    assert spent.runs_out_before_renewal is True
    idle = burn_down(
        product_code="H",
        included=Decimal(10),
        period_start=start,
        period_end=end,
        daily_use={},
        today=date(2026, 1, 20),
    )
    assert (idle.projected_exhaustion, idle.runs_out_before_renewal) == (None, None)
    with pytest.raises(ValueError, match="positive"):
        burn_down(product_code="H", included=Decimal(0), period_start=start, period_end=end, daily_use={}, today=end)


def test_product_use_counts_only_a_bundle_against_its_included_hours() -> None:
    bundle = ContractProduct(
        code="HOURS-40",
        kind=ProductKind.HOUR_BUNDLE,
        unit_price_cents=9500,
        vat_rate=VatRate.STANDARD,
        included_quantity=Decimal(40),
    )
    workshop = ContractProduct(
        code="WS", kind=ProductKind.WORKSHOP_PER_SESSION, unit_price_cents=100000, vat_rate=VatRate.STANDARD
    )
    lines = product_use([bundle, workshop], {"HOURS-40": Decimal("30.25"), "WS": Decimal(2)})
    assert [(line.code, line.used, line.included, line.percent_used) for line in lines] == [
        ("HOURS-40", Decimal("30.25"), Decimal(40), 75.6),
        ("WS", Decimal(2), None, None),
    ]
    assert percent(Decimal(1), Decimal(3)) == 33.3
