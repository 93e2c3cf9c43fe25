"""Count-based detectors on hand-made series: found, not found, cool-down, resolution, evidence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmw.contracts.taxonomy import Category, DetectionMethod, SignalKind
from bmw.signals.domain.detection import (
    DEFAULT_SPECS,
    CapacityRule,
    DetectorConfig,
    DetectorState,
    ManagementAction,
    OrgBaseline,
    Signal,
    UnitSeries,
    capacity_shortfall,
    detect,
    estimate_baseline,
    evaluate_week,
    negative_binomial_quantile,
    negative_binomial_sf,
    window_p_value,
)

START = date(2025, 1, 6)  # a Monday
REORG = next(spec for spec in DEFAULT_SPECS if spec.kind is SignalKind.REORGANISATION_WAVE)
CONFLICT = next(spec for spec in DEFAULT_SPECS if spec.kind is SignalKind.LEADERSHIP_CONFLICT_CLUSTER)

# a quiet background: one reorganisation referral every 13 weeks, one conflict every 26
QUIET = [1 if i % 13 == 5 else 0 for i in range(60)]


def unit_with(counts: dict[Category, list[int]], *, employees: int = 120, unit_id: str = "finance") -> UnitSeries:
    return UnitSeries(unit_id=unit_id, employees=employees, start=START, counts=counts)


def series(tail: list[int], *, background: list[int] = QUIET) -> list[int]:
    return [*background, *tail]


def reorg_unit(tail: list[int]) -> UnitSeries:
    values = series(tail)
    return unit_with({Category.REORGANISATION_UNCERTAINTY: values, Category.DISMISSAL: [0] * len(values)})


def reorg_signals(
    unit: UnitSeries, *, config: DetectorConfig | None = None, actions: Sequence[ManagementAction] = ()
) -> list[Signal]:
    signals = detect(unit, first_week=len(QUIET), config=config, actions=actions)
    return [s for s in signals if s.kind is SignalKind.REORGANISATION_WAVE]


def test_a_clear_wave_is_found_in_the_week_it_becomes_improbable() -> None:
    unit = reorg_unit([0, 2, 3, 4, 1, 0, 0, 0, 0])

    [signal] = reorg_signals(unit)

    # week +1 holds only 2 referrals (below the minimum count); weeks +1 and +2 hold 5
    assert signal.raised_week == unit.week(len(QUIET) + 2)
    assert signal.unit_id == "finance"
    assert signal.evidence.method is DetectionMethod.NEGATIVE_BINOMIAL_TAIL
    assert signal.evidence.observed >= 3


def test_flat_noise_at_the_baseline_rate_raises_nothing() -> None:
    assert reorg_signals(reorg_unit(QUIET[:52])) == []


def test_a_wave_below_the_minimum_count_is_not_raised_however_improbable() -> None:
    # two referrals in a unit that has had none for a year: improbable, but fewer than min_count=3
    values = [0] * 60 + [1, 1, 0, 0, 0, 0]
    unit = unit_with({Category.CONFLICT_MANAGER: values})
    config = DetectorConfig()
    p = window_p_value(2, estimate_baseline(unit, CONFLICT.categories, end=58, org=None, config=config), 2, config)

    assert p < config.alpha
    assert [s for s in detect(unit, first_week=60) if s.kind is SignalKind.LEADERSHIP_CONFLICT_CLUSTER] == []


def test_no_second_signal_of_the_same_kind_while_open_or_cooling_down() -> None:
    config = DetectorConfig(resolve_after_weeks=3, cooldown_weeks=6)
    # a wave (open while it lasts), quiet for the 3 weeks it takes to resolve, a second wave inside the
    # cool-down (ignored), and a third after it (raised)
    unit = reorg_unit([3, 2, 0, 0, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 2])

    signals = reorg_signals(unit, config=config)

    assert [unit.index(s.raised_week) - len(QUIET) for s in signals] == [0, 17]
    assert signals[0].resolved_week == unit.week(len(QUIET) + 4)
    # without the cool-down the second wave is raised too
    no_cooldown = reorg_signals(unit, config=DetectorConfig(cooldown_weeks=0))
    assert [unit.index(s.raised_week) - len(QUIET) for s in no_cooldown] == [0, 6, 17]


def test_a_signal_resolves_after_three_weeks_within_baseline() -> None:
    unit = reorg_unit([4, 3, 0, 0, 0, 0])

    [signal] = reorg_signals(unit)

    assert signal.raised_week == unit.week(len(QUIET))
    assert signal.resolved_week == unit.week(len(QUIET) + 4)
    assert not signal.open


def test_a_signal_stays_open_while_the_unit_stays_above_baseline() -> None:
    [signal] = reorg_signals(reorg_unit([4, 3, 2, 3, 2, 3, 2]))

    assert signal.open


def test_evidence_is_complete_and_recomputable() -> None:
    unit = reorg_unit([0, 3, 3])
    [signal] = reorg_signals(unit)
    evidence = signal.evidence
    config = DetectorConfig()

    assert evidence.categories == (Category.DISMISSAL, Category.REORGANISATION_UNCERTAINTY)
    assert len(evidence.weeks) == len(evidence.counts) >= 1
    assert evidence.weeks[-1] == signal.raised_week
    assert (
        evidence.observed
        == sum(evidence.counts)
        == sum(unit.group(REORG.categories)[unit.index(w)] for w in evidence.weeks)
    )
    assert evidence.p_value is not None
    assert evidence.p_value <= evidence.threshold == config.alpha
    assert evidence.score == pytest.approx(-math.log10(evidence.p_value))
    assert evidence.min_count == config.min_count
    baseline = evidence.baseline
    assert baseline.weekly_rate > 0
    assert evidence.expected == pytest.approx(baseline.weekly_rate * len(evidence.weeks))
    assert baseline.end_week <= evidence.weeks[0] - timedelta(weeks=config.guard_weeks)
    assert window_p_value(evidence.observed, baseline, len(evidence.weeks), config) == pytest.approx(evidence.p_value)
    assert "referrals in" in evidence.explain()


def test_a_known_change_point_is_attached_as_context_not_suppressed() -> None:
    unit = reorg_unit([0, 2, 3, 4])
    announced = ManagementAction(
        week=unit.week(len(QUIET) - 1),
        action="reorganisation announced",
        unit_id="finance",
        explains=frozenset({SignalKind.REORGANISATION_WAVE}),
    )
    elsewhere = ManagementAction(week=unit.week(len(QUIET) - 1), action="reorganisation announced", unit_id="sales")

    [signal] = reorg_signals(unit, actions=[announced, elsewhere])

    assert signal.evidence.context == (announced,)
    assert "reorganisation announced" in signal.evidence.explain()


def test_a_unit_without_history_is_judged_by_the_organisations_rate() -> None:
    config = DetectorConfig()
    weeks = 60
    # the rest of the organisation: 1,000 employees with about 1 reorganisation referral a week
    others = unit_with(
        {Category.REORGANISATION_UNCERTAINTY: [1] * weeks, Category.DISMISSAL: [0] * weeks},
        employees=1000,
        unit_id="rest",
    )
    new = unit_with(
        {Category.REORGANISATION_UNCERTAINTY: [0] * weeks, Category.DISMISSAL: [0] * weeks},
        employees=100,
        unit_id="new",
    )
    org = OrgBaseline([others, new])

    baseline = estimate_baseline(new, REORG.categories, end=0, org=org, config=config)
    assert baseline.unit_weeks == baseline.period_weeks == 0
    assert baseline.weekly_rate == pytest.approx(100 * baseline.org_rate_per_employee)
    # the longer the unit's own quiet history, the further its rate falls below the organisation's
    later = estimate_baseline(new, REORG.categories, end=52, org=org, config=config)
    assert later.weekly_rate < baseline.weekly_rate


def test_a_high_baseline_unit_needs_more_than_the_minimum_count() -> None:
    busy = [3] * 60
    unit = unit_with({Category.CONFLICT_MANAGER: [*busy, 4, 3, 4]}, employees=400)
    assert [s for s in detect(unit, first_week=60) if s.kind is SignalKind.LEADERSHIP_CONFLICT_CLUSTER] == []


def test_a_gradual_rise_is_caught_by_the_cusum() -> None:
    # 6 weekly referrals on average, then 9 a week: no 1–3 week window is improbable enough at alpha 1e-9,
    # the accumulated excess is
    config = DetectorConfig(alpha=1e-9)
    background = [6, 5, 7, 6, 6, 5, 7, 6] * 8
    unit = unit_with({Category.WORKLOAD_STRESS: [*background, *([9] * 12)]}, employees=400)

    signals = [s for s in detect(unit, config=config, first_week=64) if s.kind is SignalKind.STRESS_SURGE]

    assert len(signals) == 1
    assert signals[0].evidence.method is DetectionMethod.CUSUM
    assert signals[0].evidence.score >= config.cusum_threshold
    assert signals[0].evidence.p_value is None


def test_evaluate_week_streams_the_same_signals_as_detect() -> None:
    unit = reorg_unit([0, 2, 3, 4, 1, 0, 0, 0, 0])
    state = DetectorState()
    raised = []
    for index in range(len(QUIET), unit.weeks):
        outcome = evaluate_week(unit, index, spec=REORG, state=state, config=DetectorConfig())
        state = outcome.state
        if outcome.raised:
            raised.append(outcome.raised)

    assert [s.raised_week for s in raised] == [s.raised_week for s in reorg_signals(unit)]


def test_capacity_shortfall_is_a_plain_threshold() -> None:
    assert capacity_shortfall([0, 1, 1], start=START, index=2) is None
    signal = capacity_shortfall([0, 1, 2], start=START, index=2, rule=CapacityRule(weeks=2, min_unschedulable=3))
    assert signal is not None
    assert signal.kind is SignalKind.CAPACITY_SHORTFALL
    assert signal.evidence.counts == (1, 2)
    assert signal.evidence.method is DetectionMethod.THRESHOLD


def test_series_must_be_well_formed() -> None:
    with pytest.raises(ValueError, match="Monday"):
        UnitSeries(unit_id="u", employees=10, start=date(2025, 1, 7), counts={})
    with pytest.raises(ValueError, match="same weeks"):
        UnitSeries(unit_id="u", employees=10, start=START, counts={Category.GRIEF: [1], Category.OTHER: [1, 2]})
    with pytest.raises(ValueError, match="negative"):
        UnitSeries(unit_id="u", employees=10, start=START, counts={Category.GRIEF: [-1]})


@pytest.mark.parametrize(("mean", "size"), [(0.1, 0.5), (1.0, 4.0), (5.0, 2.0), (20.0, 50.0)])
def test_negative_binomial_tail_matches_a_direct_sum(mean: float, size: float) -> None:
    p = size / (size + mean)

    def pmf(k: int) -> float:
        return math.exp(
            math.lgamma(k + size) - math.lgamma(size) - math.lgamma(k + 1) + size * math.log(p) + k * math.log(1 - p)
        )

    for observed in (0, 1, 3, 10):
        expected = 1.0 - sum(pmf(k) for k in range(observed))
        assert negative_binomial_sf(observed, mean=mean, size=size) == pytest.approx(expected, abs=1e-12)
    quantile = negative_binomial_quantile(0.9, mean=mean, size=size)
    assert sum(pmf(k) for k in range(quantile + 1)) >= 0.9 > sum(pmf(k) for k in range(quantile))


counts = st.lists(st.integers(min_value=0, max_value=6), min_size=3, max_size=3)
history = st.lists(st.integers(min_value=0, max_value=3), min_size=20, max_size=60)


@settings(max_examples=60, deadline=None)
@given(history=history, window=counts, extra=counts)
def test_adding_referrals_to_the_window_never_lowers_the_score(
    history: list[int], window: list[int], extra: list[int]
) -> None:
    def best_score(tail: list[int]) -> float:
        unit = unit_with({Category.CONFLICT_MANAGER: [*history, *tail]})
        config = DetectorConfig()
        end = len(history) - config.guard_weeks
        baseline = estimate_baseline(unit, CONFLICT.categories, end=end, org=None, config=config)
        return -math.log10(window_p_value(sum(tail), baseline, len(tail), config))

    more = [a + b for a, b in zip(window, extra, strict=True)]
    assert best_score(more) >= best_score(window) - 1e-9


@settings(max_examples=40, deadline=None)
@given(rate=st.integers(min_value=0, max_value=4), employees=st.integers(min_value=20, max_value=400))
def test_a_series_that_equals_its_baseline_never_raises(rate: int, employees: int) -> None:
    values = [rate] * 100
    units = [unit_with(dict.fromkeys(spec.categories, values), employees=employees) for spec in DEFAULT_SPECS]
    for unit in units:
        assert detect(unit, org=OrgBaseline([unit])) == []


def test_weeks_before_a_unit_existed_are_not_its_history() -> None:
    config = DetectorConfig()
    weeks = 60
    others = unit_with(
        {Category.REORGANISATION_UNCERTAINTY: [1] * weeks, Category.DISMISSAL: [0] * weeks},
        employees=1000,
        unit_id="rest",
    )
    zeros = {Category.REORGANISATION_UNCERTAINTY: [0] * weeks, Category.DISMISSAL: [0] * weeks}
    old = unit_with(zeros, employees=100, unit_id="old")
    new = UnitSeries(unit_id="new", employees=100, start=START, counts=zeros, active_from=50)
    org = OrgBaseline([others, new])

    judged_by_org = estimate_baseline(new, REORG.categories, end=52, org=org, config=config)
    judged_by_itself = estimate_baseline(old, REORG.categories, end=52, org=org, config=config)

    assert judged_by_org.unit_weeks == 2
    assert judged_by_org.period_weeks == judged_by_itself.period_weeks == 52
    assert judged_by_org.weekly_rate > judged_by_itself.weekly_rate
