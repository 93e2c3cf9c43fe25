"""What management actions do: before/after comparisons of referral rates, honest about chance (DESIGN §3).

A client contact records "reorganisation announced in Logistics" in a week; the product then compares the
unit's weekly referral counts (per category group) in the weeks before with the weeks from the action on,
and — where one exists — with a comparison unit (the rest of the organisation) over the same weeks. Across
tenants, per action type, the comparisons are pooled into "which actions help, which hurt".

Counts are small (0–3 a week per unit × category), so the uncertainty is the message as much as the
estimate. Three methods, each the standard one for its question and each checkable by hand:

**One unit, before vs after** (:func:`compare_before_after`). Before: ``a`` referrals in ``t0`` weeks;
after: ``b`` in ``t1`` weeks; Poisson rates ``λ0``, ``λ1``, rate ratio ``r = λ1 / λ0``. Given the total
``n = a + b``, the after count is binomial, ``b ~ Bin(n, p)`` with ``p = t1·r / (t0 + t1·r)``, whatever the
(unknown) base rate. That makes the inference *exact*: the Clopper–Pearson interval for ``p`` maps to an
interval for ``r`` (``r = p / (1 − p) · t0 / t1``) that covers the truth at least as often as promised,
and the two-sided p-value for ``r = 1`` is twice the smaller binomial tail — the test the interval inverts,
so "p < 0.05" and "the 95 % interval excludes 1" never disagree in a sentence. The beta quantiles behind
Clopper–Pearson are found by bisection on binomial tail sums in log space (exact for 0–3 a week and
accurate for counts in the thousands).

**Unit against a comparison unit** (:func:`difference_in_differences`). The ratio of the two rate ratios
removes what happened to everyone (a holiday season, a new referral route). Its interval is Wald on the
log scale (``var = 1/a₁ + 1/b₁ + 1/a₂ + 1/b₂``), with 0.5 added to all four counts when one is zero.

**Across actions and tenants** (:func:`pool`). Each comparison becomes an :class:`ActionEffect` (log rate
ratio and its variance) and the effects of one action type are pooled with the DerSimonian–Laird random
effects model: actions differ in their true effect (a reorganisation done well, one done badly), and
τ² says how much. A pooled effect is only produced from at least ``min_tenants`` distinct tenants, so no
single client organisation's result can be read across tenants (DESIGN §2 rules 2 and 3).

A before/after comparison shows *that* the rate changed, not *why*; :func:`explain` says so.

The counts in these results are raw: tenant-facing output must pass small-cell suppression
(:mod:`bmw.signals.domain.suppression`) first.

Pure Python (``math`` only), deterministic, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise

# --------------------------------------------------------------------------------------------------
# Numerical building blocks: log-space binomial tails, their inversion, the normal quantile
# --------------------------------------------------------------------------------------------------

# Bisection stops when the bracket on the log-odds scale is this narrow: a relative precision of about
# 1e-10 on the rate ratio, far below anything shown.
_LOG_ODDS_TOLERANCE = 1e-10


def _log_sigmoid(x: float) -> float:
    """``log(1 / (1 + e^-x))`` without overflow for large ``|x|``."""
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


def _safe_exp(x: float) -> float:
    """``e^x`` that saturates at infinity instead of raising OverflowError."""
    return math.inf if x > 709.0 else math.exp(x)


@lru_cache(maxsize=64)
def _log_binomial_coefficients(n: int) -> tuple[float, ...]:
    """``log C(n, j)`` for ``j = 0..n``: a bisection evaluates the same tail some fifty times."""
    log_n_factorial = math.lgamma(n + 1)
    return tuple(log_n_factorial - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in range(n + 1))


def _log_binomial_tail(k: int, n: int, log_odds: float, *, upper: bool) -> float:
    """``log P(X ≥ k)`` (upper) or ``log P(X ≤ k)`` (lower) for ``X ~ Bin(n, p)``, ``p = sigmoid(log_odds)``.

    The tail is summed term by term rather than taken as one minus the other tail, so that a tail of
    1e-20 is not lost to cancellation; each term is scaled by the tail's largest (the binomial is unimodal,
    so that is the term nearest the mode) so that none underflows.
    """
    # log pmf(j) = log C(n, j) + j·log p + (n − j)·log q = log C(n, j) + j·log_odds + n·log q
    coefficients = _log_binomial_coefficients(n)
    first, last = (k, n) if upper else (0, k)
    mode = min(n, math.floor((n + 1) / (1 + math.exp(-log_odds)))) if log_odds > -700 else 0
    peak = min(max(mode, first), last)
    shift = coefficients[peak] + peak * log_odds
    total = math.fsum(
        math.exp(coefficient + j * log_odds - shift)
        for j, coefficient in enumerate(coefficients[first : last + 1], start=first)
    )
    return shift + n * _log_sigmoid(-log_odds) + math.log(total)


def _solve_increasing(function: Callable[[float], float], target: float) -> float:
    """The ``x`` where an increasing ``function`` crosses ``target``, by bracketing and bisection."""
    low, high = -1.0, 1.0
    while function(low) > target:
        low *= 2.0
    while function(high) < target:
        high *= 2.0
    while high - low > _LOG_ODDS_TOLERANCE * max(1.0, abs(low), abs(high)):
        middle = (low + high) / 2.0
        if middle in (low, high):  # no float left between them
            break
        if function(middle) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def clopper_pearson_log_odds(successes: int, trials: int, *, confidence: float) -> tuple[float, float]:
    """Clopper–Pearson interval for a binomial proportion, on the log-odds scale (may be ±inf).

    The lower end is the ``p`` with ``P(X ≥ successes) = α/2``, the upper end the ``p`` with
    ``P(X ≤ successes) = α/2`` — the definition, solved by bisection, instead of beta quantiles.
    """
    _check_confidence(confidence)
    if not 0 <= successes <= trials:
        raise ValueError("successes must lie between 0 and trials")
    log_half_alpha = math.log((1.0 - confidence) / 2.0)
    low = -math.inf
    if successes > 0:
        low = _solve_increasing(
            lambda log_odds: _log_binomial_tail(successes, trials, log_odds, upper=True), log_half_alpha
        )
    high = math.inf
    if successes < trials:
        # the lower tail falls as p rises, so its negation rises
        high = _solve_increasing(
            lambda log_odds: -_log_binomial_tail(successes, trials, log_odds, upper=False), -log_half_alpha
        )
    return low, high


def normal_quantile(probability: float) -> float:
    """The standard normal quantile ``Φ⁻¹(probability)``, by bisection on ``math.erfc``."""
    if not 0.0 < probability < 1.0:
        raise ValueError("probability must lie in (0, 1)")
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        if 0.5 * math.erfc(-middle / math.sqrt(2.0)) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def _two_sided_normal_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie in (0, 1)")


def _check_counts(counts: Sequence[int], name: str) -> None:
    if not counts:
        raise ValueError(f"the {name} window holds no weeks: there is nothing to compare")
    if any(count < 0 for count in counts):
        raise ValueError("a count cannot be negative")


# --------------------------------------------------------------------------------------------------
# One unit: before vs after
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateComparison:
    """Referrals per week before and after an action, their ratio and its exact uncertainty.

    ``rate_ratio`` is ``rate_after / rate_before``, None when there were no referrals before (the ratio is
    then infinite or 0/0). ``ci_low``/``ci_high`` bound the rate ratio (0 and inf are honest answers:
    0 referrals before and 3 after says "at least this much more", nothing about how much). ``p_value``
    is the exact two-sided p-value for "the rate did not change".
    """

    before_count: int
    before_weeks: int
    after_count: int
    after_weeks: int
    rate_before: float
    rate_after: float
    rate_ratio: float | None
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float

    @property
    def total(self) -> int:
        return self.before_count + self.after_count


def compare_before_after(before: Sequence[int], after: Sequence[int], *, confidence: float = 0.95) -> RateComparison:
    """Compare weekly referral counts before and after an action with the conditional exact binomial test."""
    _check_confidence(confidence)
    _check_counts(before, "before")
    _check_counts(after, "after")
    a, b = sum(before), sum(after)
    t0, t1 = len(before), len(after)
    n = a + b
    # r = odds · t0/t1, so on the log scale the interval for p maps by a shift
    shift = math.log(t0 / t1)
    low_log_odds, high_log_odds = clopper_pearson_log_odds(b, n, confidence=confidence)
    ci_low = 0.0 if low_log_odds == -math.inf else _safe_exp(low_log_odds + shift)
    ci_high = math.inf if high_log_odds == math.inf else _safe_exp(high_log_odds + shift)
    # under "no change" p = t1 / (t0 + t1): log-odds log(t1/t0)
    null_log_odds = -shift
    lower_tail = math.exp(_log_binomial_tail(b, n, null_log_odds, upper=False))
    upper_tail = math.exp(_log_binomial_tail(b, n, null_log_odds, upper=True))
    p_value = min(1.0, 2.0 * min(lower_tail, upper_tail))
    rate_before, rate_after = a / t0, b / t1
    return RateComparison(
        before_count=a,
        before_weeks=t0,
        after_count=b,
        after_weeks=t1,
        rate_before=rate_before,
        rate_after=rate_after,
        # from the integers, so that 10 in 12 weeks against 2 in 12 is exactly 5
        rate_ratio=(b * t0) / (a * t1) if a > 0 else None,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        confidence=confidence,
    )


# --------------------------------------------------------------------------------------------------
# Unit against a comparison unit: ratio of rate ratios
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiDComparison:
    """The unit's rate ratio relative to a comparison unit's over the same weeks (difference in differences).

    ``ratio`` is ``unit.rate_ratio / comparison.rate_ratio`` from the plain counts, None when undefined
    (no referrals in the unit before, or none in the comparison unit before or after). ``log_ratio`` and
    ``standard_error`` are the Wald estimate the interval and p-value come from: with 0.5 added to each
    count when one is zero (``continuity_corrected``), so a ratio of 0 can sit below its interval. When
    either unit has no referrals at all there is no information: interval 0..inf, p = 1.
    """

    unit: RateComparison
    comparison: RateComparison
    ratio: float | None
    log_ratio: float | None
    standard_error: float | None
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float
    continuity_corrected: bool


def difference_in_differences(
    unit_before: Sequence[int],
    unit_after: Sequence[int],
    comparison_before: Sequence[int],
    comparison_after: Sequence[int],
    *,
    confidence: float = 0.95,
) -> DiDComparison:
    """Compare a unit's before/after change with a comparison unit's: the ratio of rate ratios, Wald CI."""
    unit = compare_before_after(unit_before, unit_after, confidence=confidence)
    comparison = compare_before_after(comparison_before, comparison_after, confidence=confidence)
    ratio = None
    if unit.rate_ratio is not None and comparison.rate_ratio is not None and comparison.rate_ratio > 0:
        ratio = unit.rate_ratio / comparison.rate_ratio
    if unit.total == 0 or comparison.total == 0:
        return DiDComparison(
            unit=unit,
            comparison=comparison,
            ratio=ratio,
            log_ratio=None,
            standard_error=None,
            ci_low=0.0,
            ci_high=math.inf,
            p_value=1.0,
            confidence=confidence,
            continuity_corrected=False,
        )
    counts = (unit.before_count, unit.after_count, comparison.before_count, comparison.after_count)
    corrected = min(counts) == 0
    a1, b1, a2, b2 = (count + 0.5 if corrected else float(count) for count in counts)
    log_ratio = (
        math.log(b1 / unit.after_weeks)
        - math.log(a1 / unit.before_weeks)
        - math.log(b2 / comparison.after_weeks)
        + math.log(a2 / comparison.before_weeks)
    )
    standard_error = math.sqrt(1 / a1 + 1 / b1 + 1 / a2 + 1 / b2)
    z = normal_quantile(0.5 + confidence / 2.0)
    return DiDComparison(
        unit=unit,
        comparison=comparison,
        ratio=ratio,
        log_ratio=log_ratio,
        standard_error=standard_error,
        ci_low=_safe_exp(log_ratio - z * standard_error),
        ci_high=_safe_exp(log_ratio + z * standard_error),
        p_value=_two_sided_normal_p(log_ratio / standard_error),
        confidence=confidence,
        continuity_corrected=corrected,
    )


# --------------------------------------------------------------------------------------------------
# Across actions and tenants: DerSimonian–Laird random effects
# --------------------------------------------------------------------------------------------------


class Verdict(StrEnum):
    """What an action type does to referrals, only when the interval says so."""

    HELPS = "helps"  # the whole interval below 1: fewer referrals afterwards
    HURTS = "hurts"  # the whole interval above 1: more referrals afterwards
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class ActionEffect:
    """One action's effect for pooling: its log rate ratio and that estimate's variance."""

    tenant_id: str
    log_ratio: float
    variance: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.log_ratio):
            raise ValueError("log_ratio must be finite")
        if not (math.isfinite(self.variance) and self.variance > 0):
            raise ValueError("variance must be positive and finite")

    @classmethod
    def from_comparison(cls, tenant_id: str, comparison: RateComparison | DiDComparison) -> ActionEffect | None:
        """The effect of one comparison; None when it carries no information (no referrals at all).

        Before/after: ``log((b/t1) / (a/t0))`` with variance ``1/a + 1/b``, 0.5 added to both counts when
        one is zero. Against a comparison unit: the Wald log ratio of rate ratios and its variance.
        An action with no referrals on one side is dropped rather than given a made-up estimate, as
        meta-analyses drop double-zero studies: given its total (0) it says nothing about the ratio.
        """
        if isinstance(comparison, DiDComparison):
            if comparison.log_ratio is None or comparison.standard_error is None:
                return None
            return cls(tenant_id, comparison.log_ratio, comparison.standard_error**2)
        if comparison.total == 0:
            return None
        correction = 0.5 if min(comparison.before_count, comparison.after_count) == 0 else 0.0
        a, b = comparison.before_count + correction, comparison.after_count + correction
        log_ratio = math.log(b / comparison.after_weeks) - math.log(a / comparison.before_weeks)
        return cls(tenant_id, log_ratio, 1 / a + 1 / b)


@dataclass(frozen=True)
class PooledEffect:
    """The pooled rate ratio of one action type across actions and tenants (random effects).

    ``tau_squared`` is the between-action variance of the true log ratios; ``i_squared`` the share of the
    spread between actions that is not chance (0..1); ``q`` Cochran's heterogeneity statistic.
    """

    ratio: float
    log_ratio: float
    standard_error: float
    ci_low: float
    ci_high: float
    p_value: float
    tau_squared: float
    i_squared: float
    q: float
    actions: int
    tenants: int
    confidence: float
    verdict: Verdict


def pool(effects: Sequence[ActionEffect], *, min_tenants: int = 3, confidence: float = 0.95) -> PooledEffect | None:
    """Pool the effects of one action type (DerSimonian–Laird); None below ``min_tenants`` distinct tenants."""
    _check_confidence(confidence)
    if min_tenants < 1:
        raise ValueError("min_tenants must be at least 1")
    tenants = len({effect.tenant_id for effect in effects})
    if not effects or tenants < min_tenants:
        return None
    weights = [1.0 / effect.variance for effect in effects]
    total_weight = math.fsum(weights)
    fixed = math.fsum(w * e.log_ratio for w, e in zip(weights, effects, strict=True)) / total_weight
    q = math.fsum(w * (e.log_ratio - fixed) ** 2 for w, e in zip(weights, effects, strict=True))
    degrees_of_freedom = len(effects) - 1
    scale = total_weight - math.fsum(w * w for w in weights) / total_weight
    # the method-of-moments τ², truncated at 0; one action (or equal weights summing to nothing) has none
    tau_squared = max(0.0, (q - degrees_of_freedom) / scale) if scale > 0 else 0.0
    i_squared = max(0.0, (q - degrees_of_freedom) / q) if q > 0 else 0.0
    random_weights = [1.0 / (effect.variance + tau_squared) for effect in effects]
    random_total = math.fsum(random_weights)
    log_ratio = math.fsum(w * e.log_ratio for w, e in zip(random_weights, effects, strict=True)) / random_total
    standard_error = math.sqrt(1.0 / random_total)
    z = normal_quantile(0.5 + confidence / 2.0)
    ci_low = _safe_exp(log_ratio - z * standard_error)
    ci_high = _safe_exp(log_ratio + z * standard_error)
    verdict = Verdict.HELPS if ci_high < 1.0 else Verdict.HURTS if ci_low > 1.0 else Verdict.UNCLEAR
    return PooledEffect(
        ratio=_safe_exp(log_ratio),
        log_ratio=log_ratio,
        standard_error=standard_error,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=_two_sided_normal_p(log_ratio / standard_error),
        tau_squared=tau_squared,
        i_squared=i_squared,
        q=q,
        actions=len(effects),
        tenants=tenants,
        confidence=confidence,
        verdict=verdict,
    )


# --------------------------------------------------------------------------------------------------
# Windows around an action
# --------------------------------------------------------------------------------------------------


def windows(
    weeks: Sequence[date], counts: Sequence[int], action_week: date, *, span: int = 12
) -> tuple[list[int], list[int]]:
    """The counts of the ``span`` weeks before the action's week and of ``span`` weeks from it on.

    The action's own week counts as after: an announcement on a Wednesday already drives that week's
    referrals. ``action_week`` may be any day of its week. Windows are cut to the weeks in the data
    (and may come back empty). ``weeks`` must be consecutive: a missing week could mean "no referrals"
    or "no data", and the number of weeks is the exposure the rates divide by.
    """
    if span < 1:
        raise ValueError("span must be at least one week")
    if len(weeks) != len(counts):
        raise ValueError("weeks and counts must have the same length")
    if any(later - earlier != timedelta(weeks=1) for earlier, later in pairwise(weeks)):
        raise ValueError("weeks must be consecutive, one week apart")
    if not weeks:
        return [], []
    # the first day of the action's week on the data's own week grid
    anchor = weeks[0] + timedelta(weeks=(action_week - weeks[0]).days // 7)
    first, end = anchor - timedelta(weeks=span), anchor + timedelta(weeks=span)
    before = [count for week, count in zip(weeks, counts, strict=True) if first <= week < anchor]
    after = [count for week, count in zip(weeks, counts, strict=True) if anchor <= week < end]
    return before, after


# --------------------------------------------------------------------------------------------------
# Plain language
# --------------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    """Two significant figures in plain notation (1.8, 0.95, 12, 0.0023): more would claim false precision."""
    if value == 0:
        return "0"
    if value >= 9.95:
        return f"{value:.0f}"
    decimals = max(1, 1 - math.floor(math.log10(value)))
    text = f"{value:.{decimals}f}"
    # 0.90 reads as 0.9; 2.0 keeps its decimal so that a ratio looks like one
    return text.rstrip("0") if decimals > 1 else text


def _interval(low: float, high: float, confidence: float) -> str:
    level = f"{confidence * 100:g} % CI"
    if high == math.inf and low == 0:
        return f"{level}: anything from 0 upward"
    if high == math.inf:
        return f"{level} {_number(low)} or more"
    return f"{level} {_number(low)}–{_number(high)}"


def _referrals(count: int) -> str:
    return f"{count} referral" if count == 1 else f"{count} referrals"


def _weeks(weeks: int, when: str, *, with_word: bool) -> str:
    if weeks == 1:
        return f"the week {when}"
    return f"the {weeks} weeks {when}" if with_word else f"the {weeks} {when}"


def _counts(comparison: RateComparison) -> str:
    before = f"{_referrals(comparison.before_count)} in {_weeks(comparison.before_weeks, 'before', with_word=True)}"
    # "21 in the 12 after" reads naturally only when both windows are equally long
    same = comparison.before_weeks == comparison.after_weeks
    after = f"{comparison.after_count} in {_weeks(comparison.after_weeks, 'after', with_word=not same)}"
    return f"{before}, {after}"


def _chance(p_value: float, confidence: float) -> str:
    # the p-values here belong to the test the interval inverts: p ≥ α exactly when the interval holds 1
    if p_value >= 1.0 - confidence:
        return "which could be chance"
    return f"which is unlikely to be chance alone (p = {p_value:.2g})"


def _explain_rate(comparison: RateComparison) -> str:
    counts = _counts(comparison)
    if comparison.total == 0:
        before = _weeks(comparison.before_weeks, "before", with_word=True)
        return f"No referrals in {before} or after: nothing to compare."
    interval = _interval(comparison.ci_low, comparison.ci_high, comparison.confidence)
    chance = _chance(comparison.p_value, comparison.confidence)
    if comparison.rate_ratio is None:
        return f"{counts}: up from none, so no ratio ({interval}), {chance}."
    sentence = f"{counts}: {_number(comparison.rate_ratio)}× ({interval}), {chance}"
    if comparison.p_value < 1.0 - comparison.confidence:
        sentence += "; other changes in the same weeks may explain it as well as the action"
    return sentence + "."


def _explain_did(comparison: DiDComparison) -> str:
    unit, other = comparison.unit, comparison.comparison
    unit_ratio = f" ({_number(unit.rate_ratio)}×)" if unit.rate_ratio is not None else ""
    other_ratio = f" ({_number(other.rate_ratio)}×)" if other.rate_ratio is not None else ""
    head = (
        f"In the unit: {_counts(unit)}{unit_ratio}; in the comparison unit: "
        f"{other.before_count} before, {other.after_count} after{other_ratio}"
    )
    if comparison.log_ratio is None:
        return f"{head}: too few referrals to compare the two."
    interval = _interval(comparison.ci_low, comparison.ci_high, comparison.confidence)
    # the Wald estimate is the plain ratio unless a count is zero; then the interval belongs to the corrected
    # estimate, and a plain "0×" would sit outside it
    estimate = f"{_number(math.exp(comparison.log_ratio))}×"
    if comparison.continuity_corrected:
        estimate = f"about {estimate} with 0.5 added to each count because one is zero"
    chance = _chance(comparison.p_value, comparison.confidence)
    return f"{head}. Relative to the comparison unit: {estimate} ({interval}), {chance}."


def _explain_pooled(effect: PooledEffect) -> str:
    tenants = "organisation" if effect.tenants == 1 else "organisations"
    actions = "action" if effect.actions == 1 else "actions"
    interval = _interval(effect.ci_low, effect.ci_high, effect.confidence)
    head = f"Across {effect.actions} {actions} at {effect.tenants} {tenants}: {_number(effect.ratio)}× ({interval})"
    if effect.verdict is Verdict.HELPS:
        verdict = "it helps: fewer referrals afterwards"
    elif effect.verdict is Verdict.HURTS:
        verdict = "it hurts: more referrals afterwards"
    else:
        verdict = "unclear: the data are compatible with no effect"
    spread = ""
    if effect.i_squared >= 0.5:
        spread = f"; the effect varies a lot between actions (I² = {effect.i_squared * 100:.0f} %)"
    return f"{head}; {verdict}{spread}."


def explain(comparison: RateComparison | DiDComparison | PooledEffect) -> str:
    """One plain-language sentence with the counts, the ratio, its interval and whether it could be chance."""
    if isinstance(comparison, RateComparison):
        return _explain_rate(comparison)
    if isinstance(comparison, DiDComparison):
        return _explain_did(comparison)
    return _explain_pooled(comparison)
