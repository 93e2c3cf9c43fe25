"""Before/after comparisons of management actions: exact rate ratios, difference in differences, pooling.

Expected values are worked out in the tests from the definitions (binomial sums with ``math.comb``,
closed forms where a tail has one term, the DerSimonian–Laird formulas by hand), never copied from the
code under test; simulations check that the intervals cover the truth as often as they promise.
"""

from __future__ import annotations

import math
import random
import re
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmw.signals.domain.effects import (
    ActionEffect,
    Verdict,
    clopper_pearson_log_odds,
    compare_before_after,
    difference_in_differences,
    explain,
    normal_quantile,
    pool,
    windows,
)

Z_975 = 1.959963984540054  # Φ⁻¹(0.975), the textbook 1.96 to full precision


def binomial_probability(k: int, n: int, p: float) -> float:
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


def upper_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k), summed term by term from the definition."""
    return math.fsum(binomial_probability(j, n, p) for j in range(k, n + 1))


def lower_tail(k: int, n: int, p: float) -> float:
    """P(X ≤ k), summed term by term from the definition."""
    return math.fsum(binomial_probability(j, n, p) for j in range(k + 1))


def proportion(ratio: float, before_weeks: int, after_weeks: int) -> float:
    """The binomial ``p`` of a rate ratio: the share of referrals expected after, given the total."""
    return after_weeks * ratio / (before_weeks + after_weeks * ratio)


def spread(total: int, weeks: int) -> list[int]:
    """Weekly counts adding up to ``total`` (the tests depend only on the sum and the number of weeks)."""
    counts = [total // weeks] * weeks
    for i in range(total % weeks):
        counts[i] += 1
    return counts


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's multiplication method: exact for the small weekly means used here."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# --------------------------------------------------------------------------------------------------
# One unit, before vs after: the conditional exact binomial
# --------------------------------------------------------------------------------------------------


def test_no_referrals_on_either_side_says_nothing() -> None:
    result = compare_before_after([0] * 12, [0] * 12)

    assert result.rate_ratio is None
    assert (result.ci_low, result.ci_high) == (0.0, math.inf)
    assert result.p_value == 1.0
    assert (result.rate_before, result.rate_after) == (0.0, 0.0)


def test_equal_counts_over_equal_weeks_give_ratio_one_and_p_one() -> None:
    result = compare_before_after(spread(10, 12), spread(10, 12))

    assert result.rate_ratio == 1.0
    assert result.p_value == 1.0
    # 10 of 20 at p = 1/2 is symmetric: the interval is symmetric on the log scale
    assert result.ci_low * result.ci_high == pytest.approx(1.0, rel=1e-9)
    assert result.ci_low < 1.0 < result.ci_high


def test_exact_p_value_is_twice_the_smaller_binomial_tail() -> None:
    # 2 before, 10 after in equal windows: given 12 referrals, after ~ Bin(12, 1/2)
    # P(X ≤ 2) = (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 79 / 4096
    expected = 2 * Fraction(1 + 12 + 66, 2**12)

    result = compare_before_after(spread(2, 12), spread(10, 12))

    assert result.p_value == pytest.approx(float(expected), rel=1e-12)
    assert result.rate_ratio == 5.0


def test_clopper_pearson_matches_the_published_interval_for_3_of_10() -> None:
    # R's binom.test(3, 10)$conf.int: 0.06673951 0.65245285
    low, high = clopper_pearson_log_odds(3, 10, confidence=0.95)
    p_low, p_high = 1 / (1 + math.exp(-low)), 1 / (1 + math.exp(-high))

    assert p_low == pytest.approx(0.06673951, abs=1e-8)
    assert p_high == pytest.approx(0.65245285, abs=1e-8)


def test_rate_ratio_interval_solves_the_clopper_pearson_definition_by_brute_force() -> None:
    # unequal windows: 5 referrals in 20 weeks before, 7 in the 8 weeks after
    result = compare_before_after(spread(5, 20), spread(7, 8))
    n = 12

    assert result.rate_ratio == pytest.approx((7 / 8) / (5 / 20))
    # the ends of the interval, mapped back to p, leave exactly 2.5 % in each tail
    assert upper_tail(7, n, proportion(result.ci_low, 20, 8)) == pytest.approx(0.025, rel=1e-8)
    assert lower_tail(7, n, proportion(result.ci_high, 20, 8)) == pytest.approx(0.025, rel=1e-8)
    null = proportion(1.0, 20, 8)
    assert result.p_value == pytest.approx(min(1.0, 2 * min(lower_tail(7, n, null), upper_tail(7, n, null))))


def test_counts_in_the_hundreds_stay_exact_and_approach_the_normal_approximation() -> None:
    result = compare_before_after([300], [400])

    assert upper_tail(400, 700, proportion(result.ci_low, 1, 1)) == pytest.approx(0.025, rel=1e-6)
    assert lower_tail(400, 700, proportion(result.ci_high, 1, 1)) == pytest.approx(0.025, rel=1e-6)
    # with this much data the exact interval is close to Wald's on the log scale
    log_ratio, standard_error = math.log(400 / 300), math.sqrt(1 / 300 + 1 / 400)
    assert result.ci_low == pytest.approx(math.exp(log_ratio - Z_975 * standard_error), rel=0.01)
    assert result.ci_high == pytest.approx(math.exp(log_ratio + Z_975 * standard_error), rel=0.01)


def test_nothing_before_gives_no_ratio_but_a_closed_form_lower_bound() -> None:
    # 0 before, 5 after in equal windows: P(X ≥ 5 | n = 5) = p^5 = 0.025
    p = 0.025 ** (1 / 5)

    result = compare_before_after([0] * 12, spread(5, 12))

    assert result.rate_ratio is None
    assert result.ci_high == math.inf
    assert result.ci_low == pytest.approx(p / (1 - p), rel=1e-9)
    assert result.p_value == pytest.approx(2 * 0.5**5)


def test_nothing_after_gives_ratio_zero_and_a_closed_form_upper_bound() -> None:
    # 6 before in 12 weeks, 0 after in 6: P(X ≤ 0 | n = 6) = (1 − p)^6 = 0.025, ratio = p/(1−p) · 12/6
    p = 1 - 0.025 ** (1 / 6)

    result = compare_before_after(spread(6, 12), [0] * 6)

    assert result.rate_ratio == 0.0
    assert result.ci_low == 0.0
    assert result.ci_high == pytest.approx(p / (1 - p) * 2, rel=1e-9)
    assert result.p_value == pytest.approx(2 * (2 / 3) ** 6)


def test_a_higher_confidence_gives_a_wider_interval() -> None:
    narrow = compare_before_after(spread(8, 12), spread(15, 12), confidence=0.9)
    wide = compare_before_after(spread(8, 12), spread(15, 12), confidence=0.99)

    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high
    assert wide.p_value == narrow.p_value


@pytest.mark.parametrize(
    ("before", "after", "confidence", "message"),
    [
        ([], [1, 2], 0.95, "before window holds no weeks"),
        ([1], [], 0.95, "after window holds no weeks"),
        ([1, -1], [1], 0.95, "negative"),
        ([1], [1], 1.0, "confidence"),
    ],
)
def test_bad_input_is_refused(before: list[int], after: list[int], confidence: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_before_after(before, after, confidence=confidence)


weekly_counts = st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=26)


@settings(max_examples=150, deadline=None)
@given(before=weekly_counts, after=weekly_counts)
def test_the_interval_holds_the_estimate_and_agrees_with_the_p_value(before: list[int], after: list[int]) -> None:
    result = compare_before_after(before, after)

    assert 0.0 <= result.ci_low <= result.ci_high
    if result.rate_ratio is not None:
        assert result.ci_low <= result.rate_ratio * (1 + 1e-9)
        assert result.rate_ratio <= result.ci_high * (1 + 1e-9)
    # the p-value belongs to the test the interval inverts (away from the boundary, where bisection decides)
    if result.p_value < 0.05 * (1 - 1e-6):
        assert not result.ci_low <= 1.0 <= result.ci_high
    if result.p_value > 0.05 * (1 + 1e-6):
        assert result.ci_low <= 1.0 <= result.ci_high


@settings(max_examples=100, deadline=None)
@given(before=weekly_counts, after=weekly_counts)
def test_swapping_before_and_after_inverts_the_ratio(before: list[int], after: list[int]) -> None:
    forward = compare_before_after(before, after)
    backward = compare_before_after(after, before)

    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9)
    if forward.ci_high < math.inf:
        assert backward.ci_low == pytest.approx(1 / forward.ci_high, rel=1e-9)
    else:
        assert backward.ci_low == 0.0
    if forward.rate_ratio is not None and backward.rate_ratio is not None:
        assert forward.rate_ratio * backward.rate_ratio == pytest.approx(1.0)


@pytest.mark.parametrize(("weekly_rate", "true_ratio", "seed"), [(1.0, 1.5, 1), (2.0, 0.6, 2), (0.5, 1.0, 3)])
def test_the_exact_interval_covers_the_true_ratio_as_often_as_promised(
    weekly_rate: float, true_ratio: float, seed: int
) -> None:
    rng = random.Random(seed)
    covered = 0
    for _ in range(400):
        before = [poisson(rng, weekly_rate) for _ in range(12)]
        after = [poisson(rng, weekly_rate * true_ratio) for _ in range(12)]
        result = compare_before_after(before, after)
        covered += result.ci_low <= true_ratio <= result.ci_high

    # exact intervals are conservative with discrete counts: at least nominal, but not uselessly wide
    assert 0.93 <= covered / 400 <= 0.99


def test_normal_quantile_matches_known_values() -> None:
    assert normal_quantile(0.975) == pytest.approx(Z_975, abs=1e-12)
    assert normal_quantile(0.5) == pytest.approx(0.0, abs=1e-12)
    # Φ(1) = (1 + erf(1/√2)) / 2
    assert normal_quantile((1 + math.erf(1 / math.sqrt(2))) / 2) == pytest.approx(1.0, abs=1e-12)


# --------------------------------------------------------------------------------------------------
# Against a comparison unit: ratio of rate ratios
# --------------------------------------------------------------------------------------------------


def test_difference_in_differences_by_hand() -> None:
    # unit 12 → 24, comparison 36 → 36 (12 weeks each): 2 / 1 = 2, var = 1/12 + 1/24 + 1/36 + 1/36
    standard_error = math.sqrt(1 / 12 + 1 / 24 + 1 / 36 + 1 / 36)

    result = difference_in_differences(spread(12, 12), spread(24, 12), spread(36, 12), spread(36, 12))

    assert result.ratio == pytest.approx(2.0)
    assert result.standard_error == pytest.approx(standard_error)
    assert result.ci_low == pytest.approx(2.0 * math.exp(-Z_975 * standard_error))
    assert result.ci_high == pytest.approx(2.0 * math.exp(Z_975 * standard_error))
    assert result.p_value == pytest.approx(math.erfc(math.log(2.0) / standard_error / math.sqrt(2)))
    assert not result.continuity_corrected
    assert result.unit.rate_ratio == 2.0
    assert result.comparison.rate_ratio == 1.0


def test_a_change_everyone_shared_cancels_out() -> None:
    # both double: the unit did nothing special
    result = difference_in_differences(spread(6, 12), spread(12, 12), spread(30, 12), spread(60, 12))

    assert result.ratio == pytest.approx(1.0)
    assert result.p_value == pytest.approx(1.0)


def test_a_zero_count_is_corrected_by_one_half_everywhere() -> None:
    # unit 12 → 0, comparison 36 → 36: with 0.5 added, (0.5 / 12.5) / (36.5 / 36.5) = 0.04
    standard_error = math.sqrt(1 / 12.5 + 1 / 0.5 + 1 / 36.5 + 1 / 36.5)

    result = difference_in_differences(spread(12, 12), [0] * 12, spread(36, 12), spread(36, 12))

    assert result.continuity_corrected
    assert result.ratio == 0.0  # the plain ratio is still reported
    assert result.log_ratio == pytest.approx(math.log(0.04))
    assert result.standard_error == pytest.approx(standard_error)
    assert result.ci_low == pytest.approx(0.04 * math.exp(-Z_975 * standard_error))
    assert result.ci_high == pytest.approx(0.04 * math.exp(Z_975 * standard_error))


@pytest.mark.parametrize(
    ("unit_before", "unit_after", "comparison_before", "comparison_after"),
    [(0, 0, 10, 12), (5, 7, 0, 0)],
)
def test_a_side_without_referrals_gives_no_information(
    unit_before: int, unit_after: int, comparison_before: int, comparison_after: int
) -> None:
    result = difference_in_differences(
        spread(unit_before, 12), spread(unit_after, 12), spread(comparison_before, 12), spread(comparison_after, 12)
    )

    assert result.ratio is None
    assert result.log_ratio is None
    assert (result.ci_low, result.ci_high, result.p_value) == (0.0, math.inf, 1.0)


def test_the_ratio_is_undefined_when_the_comparison_unit_dropped_to_zero() -> None:
    result = difference_in_differences(spread(5, 12), spread(7, 12), spread(9, 12), [0] * 12)

    assert result.ratio is None
    assert result.log_ratio is not None
    assert result.ci_low < math.exp(result.log_ratio) < result.ci_high


@settings(max_examples=100, deadline=None)
@given(unit_before=weekly_counts, unit_after=weekly_counts, other_before=weekly_counts, other_after=weekly_counts)
def test_the_did_interval_holds_its_estimate(
    unit_before: list[int], unit_after: list[int], other_before: list[int], other_after: list[int]
) -> None:
    result = difference_in_differences(unit_before, unit_after, other_before, other_after)

    if result.log_ratio is None:
        assert (result.ci_low, result.ci_high) == (0.0, math.inf)
        return
    assert result.ci_low <= math.exp(result.log_ratio) <= result.ci_high
    if not result.continuity_corrected:
        assert result.ratio == pytest.approx(math.exp(result.log_ratio))
    assert (result.p_value < 0.05) == (not result.ci_low <= 1.0 <= result.ci_high)


@pytest.mark.parametrize(("unit_rate", "comparison_rate", "seed"), [(1.0, 3.0, 11), (2.0, 2.0, 12)])
def test_the_did_interval_covers_the_true_ratio_roughly_as_promised(
    unit_rate: float, comparison_rate: float, seed: int
) -> None:
    # everyone rises by 1.2; the unit by 1.5 on top of its own, so the true ratio of ratios is 1.25
    rng = random.Random(seed)
    covered = 0
    for _ in range(400):
        result = difference_in_differences(
            [poisson(rng, unit_rate) for _ in range(12)],
            [poisson(rng, unit_rate * 1.5) for _ in range(12)],
            [poisson(rng, comparison_rate) for _ in range(12)],
            [poisson(rng, comparison_rate * 1.2) for _ in range(12)],
        )
        covered += result.ci_low <= 1.25 <= result.ci_high

    assert 0.93 <= covered / 400 <= 0.99


# --------------------------------------------------------------------------------------------------
# Across actions and tenants
# --------------------------------------------------------------------------------------------------


def test_an_action_effect_is_the_log_rate_ratio_and_its_poisson_variance() -> None:
    effect = ActionEffect.from_comparison("tenant-a", compare_before_after(spread(4, 12), spread(9, 6)))

    assert effect is not None
    assert effect.tenant_id == "tenant-a"
    assert effect.log_ratio == pytest.approx(math.log((9 / 6) / (4 / 12)))
    assert effect.variance == pytest.approx(1 / 4 + 1 / 9)


def test_an_action_effect_with_a_zero_count_is_corrected_and_one_without_referrals_is_dropped() -> None:
    corrected = ActionEffect.from_comparison("t", compare_before_after([0] * 12, spread(3, 12)))
    empty = ActionEffect.from_comparison("t", compare_before_after([0] * 12, [0] * 12))

    assert corrected is not None
    assert corrected.log_ratio == pytest.approx(math.log(3.5 / 0.5))
    assert corrected.variance == pytest.approx(1 / 0.5 + 1 / 3.5)
    assert empty is None


def test_an_action_effect_from_a_did_comparison_uses_its_wald_estimate() -> None:
    did = difference_in_differences(spread(12, 12), spread(24, 12), spread(36, 12), spread(36, 12))

    effect = ActionEffect.from_comparison("t", did)

    assert effect is not None
    assert effect.log_ratio == pytest.approx(math.log(2.0))
    assert effect.variance == pytest.approx(1 / 12 + 1 / 24 + 1 / 36 + 1 / 36)


def test_an_action_effect_needs_a_positive_finite_variance() -> None:
    with pytest.raises(ValueError, match="variance"):
        ActionEffect("t", 0.1, 0.0)
    with pytest.raises(ValueError, match="log_ratio"):
        ActionEffect("t", math.inf, 1.0)


def test_fewer_than_three_tenants_are_never_pooled_however_many_actions() -> None:
    effects = [ActionEffect(f"tenant-{i % 2}", -0.5, 0.1) for i in range(20)]

    assert pool(effects) is None
    assert pool([]) is None
    assert pool([*effects, ActionEffect("tenant-2", -0.5, 0.1)]) is not None
    assert pool(effects, min_tenants=2) is not None


def test_identical_effects_have_no_heterogeneity() -> None:
    effects = [ActionEffect(tenant, -0.4, variance) for tenant, variance in [("a", 0.2), ("b", 0.5), ("c", 1.0)]]

    pooled = pool(effects)

    assert pooled is not None
    assert pooled.tau_squared == 0.0
    assert pooled.i_squared == 0.0
    assert pooled.log_ratio == pytest.approx(-0.4)
    assert pooled.standard_error == pytest.approx(math.sqrt(1 / (1 / 0.2 + 1 / 0.5 + 1 / 1.0)))
    assert (pooled.actions, pooled.tenants) == (3, 3)


def test_dersimonian_laird_by_hand() -> None:
    # y = 0, 0, 3 with variance 1: fixed mean 1, Q = 1 + 1 + 4 = 6, C = 3 − 3/3 = 2,
    # τ² = (6 − 2) / 2 = 2, I² = (6 − 2) / 6; random weights 1/3 each: mean 1, SE = 1
    effects = [ActionEffect("a", 0.0, 1.0), ActionEffect("b", 0.0, 1.0), ActionEffect("c", 3.0, 1.0)]

    pooled = pool(effects)

    assert pooled is not None
    assert pooled.q == pytest.approx(6.0)
    assert pooled.tau_squared == pytest.approx(2.0)
    assert pooled.i_squared == pytest.approx(2 / 3)
    assert pooled.log_ratio == pytest.approx(1.0)
    assert pooled.standard_error == pytest.approx(1.0)
    assert pooled.ratio == pytest.approx(math.e)
    assert pooled.ci_low == pytest.approx(math.exp(1.0 - Z_975))
    assert pooled.ci_high == pytest.approx(math.exp(1.0 + Z_975))
    assert pooled.verdict is Verdict.UNCLEAR


def test_several_actions_of_one_tenant_count_as_one_tenant() -> None:
    effects = [ActionEffect("a", 0.1, 0.3), ActionEffect("a", 0.2, 0.3), ActionEffect("b", 0.0, 0.3)]
    effects.append(ActionEffect("c", -0.1, 0.3))

    pooled = pool(effects)

    assert pooled is not None
    assert (pooled.actions, pooled.tenants) == (4, 3)


@pytest.mark.parametrize(
    ("log_ratio", "variance", "verdict"),
    [
        (math.log(0.6), 0.05, Verdict.HELPS),
        (math.log(1.7), 0.05, Verdict.HURTS),
        (math.log(0.9), 0.5, Verdict.UNCLEAR),
    ],
)
def test_the_verdict_follows_the_interval(log_ratio: float, variance: float, verdict: Verdict) -> None:
    pooled = pool([ActionEffect(tenant, log_ratio, variance) for tenant in "abcd"])

    assert pooled is not None
    assert pooled.verdict is verdict
    assert pooled.verdict == verdict.value  # a plain string for the API
    if verdict is Verdict.HELPS:
        assert pooled.ci_high < 1.0
    elif verdict is Verdict.HURTS:
        assert pooled.ci_low > 1.0
    else:
        assert pooled.ci_low <= 1.0 <= pooled.ci_high


def test_pooled_actions_that_help_are_found_and_their_interval_covers_the_truth() -> None:
    # 20 actions at 5 tenants, each cutting the weekly rate of 1 referral to 0.7
    rng = random.Random(21)
    covered, helps = 0, 0
    for _ in range(100):
        effects = []
        for i in range(20):
            comparison = compare_before_after(
                [poisson(rng, 1.0) for _ in range(12)], [poisson(rng, 0.7) for _ in range(12)]
            )
            effect = ActionEffect.from_comparison(f"tenant-{i % 5}", comparison)
            if effect is not None:
                effects.append(effect)
        pooled = pool(effects)
        assert pooled is not None
        covered += pooled.ci_low <= 0.7 <= pooled.ci_high
        helps += pooled.verdict is Verdict.HELPS

    assert 0.9 <= covered / 100 <= 1.0
    assert helps >= 70  # about 88 % power at this size


# --------------------------------------------------------------------------------------------------
# Windows around an action
# --------------------------------------------------------------------------------------------------

MONDAYS = [date(2025, 1, 6) + timedelta(weeks=i) for i in range(40)]
COUNTS = list(range(40))  # the count of week i is i, so a window shows which weeks it took


def test_windows_take_span_weeks_each_side_and_the_action_week_counts_as_after() -> None:
    before, after = windows(MONDAYS, COUNTS, MONDAYS[20], span=12)

    assert before == list(range(8, 20))
    assert after == list(range(20, 32))


def test_an_action_on_a_wednesday_belongs_to_its_own_week() -> None:
    wednesday = MONDAYS[20] + timedelta(days=2)

    assert windows(MONDAYS, COUNTS, wednesday, span=3) == ([17, 18, 19], [20, 21, 22])


def test_windows_are_cut_to_the_data() -> None:
    assert windows(MONDAYS, COUNTS, MONDAYS[3], span=12) == ([0, 1, 2], list(range(3, 15)))
    assert windows(MONDAYS, COUNTS, MONDAYS[35], span=12) == (list(range(23, 35)), list(range(35, 40)))
    # an action long after the data: the weeks before it are not in the data either
    assert windows(MONDAYS, COUNTS, MONDAYS[-1] + timedelta(weeks=30)) == ([], [])
    assert windows(MONDAYS, COUNTS, MONDAYS[0] - timedelta(weeks=2), span=4) == ([], [0, 1])
    assert windows([], [], MONDAYS[0]) == ([], [])


def test_windows_refuse_gaps_and_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="consecutive"):
        windows([MONDAYS[0], MONDAYS[2]], [1, 1], MONDAYS[1])
    with pytest.raises(ValueError, match="same length"):
        windows(MONDAYS[:3], [1, 2], MONDAYS[1])
    with pytest.raises(ValueError, match="span"):
        windows(MONDAYS, COUNTS, MONDAYS[1], span=0)


# --------------------------------------------------------------------------------------------------
# Plain language
# --------------------------------------------------------------------------------------------------


def test_explain_a_change_that_could_be_chance() -> None:
    result = compare_before_after(spread(12, 12), spread(21, 12))

    text = explain(result)

    assert result.p_value > 0.05
    assert text.startswith("12 referrals in the 12 weeks before, 21 in the 12 after: 1.8× (95 % CI ")
    assert text.endswith("which could be chance.")
    # the interval in the text is the computed one, rounded to two figures
    shown = re.search(r"CI ([0-9.]+)–([0-9.]+)\)", text)
    assert shown is not None
    assert float(shown[1]) == pytest.approx(result.ci_low, rel=0.06)
    assert float(shown[2]) == pytest.approx(result.ci_high, rel=0.06)


def test_explain_a_change_unlikely_to_be_chance_still_names_other_causes() -> None:
    text = explain(compare_before_after(spread(12, 12), spread(36, 12)))

    assert "3.0×" in text
    assert "unlikely to be chance" in text
    assert "other changes in the same weeks" in text


def test_explain_the_undefined_cases() -> None:
    assert explain(compare_before_after([0] * 12, [0] * 12)) == (
        "No referrals in the 12 weeks before or after: nothing to compare."
    )
    nothing_before = explain(compare_before_after([0] * 12, spread(5, 12)))
    assert "up from none, so no ratio" in nothing_before
    assert "or more" in nothing_before
    assert explain(compare_before_after([1], [0])).startswith("1 referral in the week before, 0 in the week after: 0×")


def test_explain_a_comparison_unit() -> None:
    text = explain(difference_in_differences(spread(12, 12), spread(24, 12), spread(36, 12), spread(36, 12)))
    corrected = explain(difference_in_differences(spread(12, 12), [0] * 12, spread(36, 12), spread(36, 12)))

    assert "in the comparison unit: 36 before, 36 after (1.0×)" in text
    assert "Relative to the comparison unit: 2.0×" in text
    assert "could be chance" in text
    assert "about 0.04× with 0.5 added to each count" in corrected


def test_explain_a_pooled_effect_gives_its_verdict() -> None:
    helps = pool([ActionEffect(tenant, math.log(0.6), 0.05) for tenant in "abcd"])
    unclear = pool([ActionEffect(tenant, math.log(0.9), 0.5) for tenant in "abc"])
    assert helps is not None
    assert unclear is not None

    assert explain(helps).startswith("Across 4 actions at 4 organisations: 0.6×")
    assert "it helps: fewer referrals afterwards" in explain(helps)
    assert "unclear" in explain(unclear)
