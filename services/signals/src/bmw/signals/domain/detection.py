"""Explainable, count-based detection of organisational trouble per org unit (DESIGN §3 signals).

Every detector looks at the weekly referral counts of one org unit in one category group (a
*reorganisation wave* is ``reorganisation_uncertainty`` + ``dismissal``, a *leadership conflict
cluster* is ``conflict_manager``, ...) and asks one question a social worker can check by hand:

    "Is the number of referrals in the last 1, 2 or 3 weeks improbably high for this unit?"

**Baseline.** The unit's weekly rate is estimated from its own past weeks (``baseline_weeks`` of
them, ending ``guard_weeks`` before the tested window so that a slow start of the rise does not raise
its own baseline), shrunk towards the organisation's per-employee rate × the unit's employees. The
shrinkage is an empirical-Bayes gamma–Poisson prior worth ``prior_weeks`` weeks of data: a unit with a
short or empty history is judged by the organisation's rate, a unit with years of history by its own.

**Test.** The count in the window is compared with a negative binomial whose mean is the baseline rate
× the window's length and whose size combines the uncertainty of the estimate (the gamma posterior's
shape) with the week-to-week over-dispersion of referrals (``dispersion``). The upper-tail p-value
``P(X ≥ observed)`` must be at most ``alpha`` and the window must hold at least ``min_count``
referrals. A one-sided Poisson CUSUM beside it picks up gradual rises that no short window shows.

No week is tested before ``min_history_weeks`` weeks of (unit and organisation) history precede it.

**Life cycle.** A raised signal keeps the baseline it was raised against. While it is open no other
signal of that kind is raised for the unit; it resolves after ``resolve_after_weeks`` consecutive weeks
within that baseline (each week's count at or below the baseline's ``resolve_quantile``), after which
``cooldown_weeks`` pass before the same kind can be raised again for the unit.

**Known change points.** A recorded management action (``"reorganisation announced"``) does not
suppress a signal: it is attached to the evidence as context that explains the rise.

Pure Python (``math`` only), deterministic, no I/O: adapters build :class:`UnitSeries` from the weekly
aggregates and persist :class:`DetectorState` and :class:`Signal`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from bmw.contracts.taxonomy import Category, DetectionMethod, SignalKind

# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetectorSpec:
    """Which categories a detector kind adds up."""

    kind: SignalKind
    categories: frozenset[Category]


DEFAULT_SPECS: tuple[DetectorSpec, ...] = (
    # DESIGN §3 also names workload_stress for a reorganisation wave; it is left to the stress surge
    # detector so that a stress surge is not reported as a reorganisation (and the wave's baseline stays
    # low enough to see a rise of a few referrals a week).
    DetectorSpec(
        SignalKind.REORGANISATION_WAVE,
        frozenset({Category.REORGANISATION_UNCERTAINTY, Category.DISMISSAL}),
    ),
    DetectorSpec(SignalKind.STRESS_SURGE, frozenset({Category.WORKLOAD_STRESS})),
    DetectorSpec(SignalKind.BURNOUT_RISK_CLUSTER, frozenset({Category.BURNOUT_RISK})),
    DetectorSpec(SignalKind.LEADERSHIP_CONFLICT_CLUSTER, frozenset({Category.CONFLICT_MANAGER})),
    DetectorSpec(SignalKind.NEW_WAYS_OF_WORKING_STRAIN, frozenset({Category.NEW_WAYS_OF_WORKING})),
)


@dataclass(frozen=True)
class UnitSeries:
    """Dense weekly referral counts of one org unit: ``counts[c][i]`` is week ``start + 7·i days``.

    A category that is missing counts as all zeros. ``employees`` is the unit's current headcount.
    ``active_from`` is the first week (index) of the unit's own history: a unit created (or imported)
    later than the organisation's series start has zeros before it that are not history.
    """

    unit_id: str
    employees: int
    start: date
    counts: Mapping[Category, Sequence[int]]
    active_from: int = 0

    def __post_init__(self) -> None:
        if self.start.weekday() != 0:
            raise ValueError("start must be a Monday")
        if self.employees <= 0:
            raise ValueError("employees must be positive")
        lengths = {len(values) for values in self.counts.values()}
        if len(lengths) > 1:
            raise ValueError("every category must cover the same weeks")
        if any(value < 0 for values in self.counts.values() for value in values):
            raise ValueError("a count cannot be negative")

    @property
    def weeks(self) -> int:
        return max((len(values) for values in self.counts.values()), default=0)

    def week(self, index: int) -> date:
        return self.start + timedelta(weeks=index)

    def index(self, week: date) -> int:
        return (week - self.start).days // 7

    def group(self, categories: frozenset[Category]) -> list[int]:
        """Weekly sums over the given categories."""
        total = [0] * self.weeks
        for category in categories:
            for i, value in enumerate(self.counts.get(category, ())):
                total[i] += value
        return total


class OrgBaseline:
    """The organisation's referral rate per employee per week, per category group, over any weeks.

    Built once from all units of a client organisation (their series must share ``start``); queries are
    O(units) through prefix sums.
    """

    def __init__(self, units: Sequence[UnitSeries]) -> None:
        starts = {unit.start for unit in units}
        if len(starts) > 1:
            raise ValueError("all units of an organisation must share the same start week")
        self.start: date | None = next(iter(starts), None)
        self._units = list(units)
        self._prefix: dict[frozenset[Category], list[list[int]]] = {}
        # Every scope of an organisation asks for the same few (group, period) rates, week after week: a replay
        # of 5 detectors × 20 units × 40 weeks asks some 4,000 times for about 200 distinct rates.
        self._rates: dict[tuple[frozenset[Category], int, int], float | None] = {}

    def _prefixes(self, categories: frozenset[Category]) -> list[list[int]]:
        if categories not in self._prefix:
            prefixes = []
            for unit in self._units:
                running = [0]
                for value in unit.group(categories):
                    running.append(running[-1] + value)
                prefixes.append(running)
            self._prefix[categories] = prefixes
        return self._prefix[categories]

    def rate_per_employee(self, categories: frozenset[Category], first: int, end: int) -> float | None:
        """Referrals per employee per week in weeks ``[first, end)``; None without data."""
        key = (categories, first, end)
        if key in self._rates:
            return self._rates[key]
        referrals = 0
        employee_weeks = 0
        for unit, prefix in zip(self._units, self._prefixes(categories), strict=True):
            lo, hi = max(0, first, unit.active_from), min(end, len(prefix) - 1)
            if hi > lo:
                referrals += prefix[hi] - prefix[lo]
                employee_weeks += unit.employees * (hi - lo)
        rate = referrals / employee_weeks if employee_weeks else None
        self._rates[key] = rate
        return rate


@dataclass(frozen=True)
class ManagementAction:
    """What management did and when, a known change point ("reorganisation announced" in a week).

    ``unit_id`` None means the whole organisation; ``explains`` the signal kinds the action makes
    expected (empty: any kind).
    """

    week: date
    action: str
    unit_id: str | None = None
    explains: frozenset[SignalKind] = frozenset()


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of the detectors; defaults tuned on ``bench/signals_quality.py``."""

    windows: tuple[int, ...] = (1, 2, 3)
    alpha: float = 0.002
    min_count: int = 3
    baseline_weeks: int = 52
    guard_weeks: int = 2
    min_history_weeks: int = 8
    prior_weeks: float = 26.0
    dispersion: float = 4.0
    fallback_rate_per_employee: float = 0.10 / 52 * 0.1
    cusum_ratio: float = 2.0
    cusum_min_shift: float = 0.5
    cusum_threshold: float = 9.0
    cusum_min_count: int = 5
    resolve_after_weeks: int = 3
    resolve_quantile: float = 0.9
    cooldown_weeks: int = 6
    context_weeks: int = 13

    def __post_init__(self) -> None:
        if not self.windows or min(self.windows) < 1:
            raise ValueError("windows must be positive week counts")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must lie in (0, 1)")
        if self.min_count < 1 or self.baseline_weeks < 1 or self.prior_weeks <= 0 or self.dispersion <= 0:
            raise ValueError("min_count, baseline_weeks, prior_weeks and dispersion must be positive")


# --------------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """What a unit's weekly count in a category group is expected to be, and how it was estimated."""

    weekly_rate: float
    size: float
    """Negative-binomial size per week (smaller = more over-dispersed)."""
    period_weeks: int
    """Weeks in the baseline period (the organisation's rate is taken over all of them)."""
    unit_weeks: int
    """Weeks of the unit's own history in the period (fewer when it is new: ``active_from``)."""
    unit_referrals: int
    org_rate_per_employee: float
    prior_weeks: float
    first_week: date
    end_week: date
    """First week after the baseline period (exclusive)."""


@dataclass(frozen=True)
class Evidence:
    """Everything needed to explain (and recompute) why a signal was raised."""

    categories: tuple[Category, ...]
    weeks: tuple[date, ...]
    counts: tuple[int, ...]
    observed: int
    expected: float
    baseline: Baseline
    method: DetectionMethod
    p_value: float | None
    score: float
    threshold: float
    min_count: int
    context: tuple[ManagementAction, ...] = ()

    def explain(self) -> str:
        """One sentence in plain language (counts are internal; suppress before showing to a tenant)."""
        if len(self.weeks) == 1:
            span = f"the week of {self.weeks[0].isoformat()}"
        else:
            span = f"the weeks of {self.weeks[0].isoformat()} to {self.weeks[-1].isoformat()}"
        expected = f"{self.expected:.2g}" if self.expected < 1 else f"{self.expected:.1f}"
        if self.method is DetectionMethod.CUSUM:
            test = f"a gradual rise (CUSUM score {self.score:.1f} ≥ {self.threshold:.1f})"
        else:
            test = f"p = {self.p_value:.2g} ≤ {self.threshold:.2g} (negative binomial upper tail)"
        text = f"{self.observed} referrals in {span} where {expected} were expected: {test}."
        if self.context:
            actions = "; ".join(
                f"{action.action.replace('_', ' ')} ({action.week.isoformat()})" for action in self.context
            )
            text += f" Known change point: {actions}."
        return text


@dataclass(frozen=True)
class Signal:
    """A detected rise in one unit: raised in ``raised_week``; ``resolved_week`` None while open."""

    unit_id: str
    kind: SignalKind
    raised_week: date
    evidence: Evidence
    resolved_week: date | None = None

    @property
    def open(self) -> bool:
        return self.resolved_week is None


@dataclass(frozen=True)
class DetectorState:
    """What a detector remembers about one unit × kind between weeks (persist it, or replay)."""

    open_signal: Signal | None = None
    weeks_within_baseline: int = 0
    cusum: float = 0.0
    cusum_count: int = 0
    cusum_weeks: tuple[int, ...] = ()
    last_resolved_index: int | None = None


@dataclass(frozen=True)
class WeekOutcome:
    """The result of evaluating one week: the new state, and the signal raised or resolved (if any)."""

    state: DetectorState
    raised: Signal | None = None
    resolved: Signal | None = None


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------


def negative_binomial_sf(observed: int, *, mean: float, size: float) -> float:
    """``P(X ≥ observed)`` for a negative binomial with the given mean and size (gamma–Poisson).

    Summed over the upper tail directly (no ``1 − CDF`` cancellation), so tiny p-values stay exact.
    """
    if observed <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    p = size / (size + mean)
    q = 1.0 - p
    # log pmf(observed) = lgamma(k + r) − lgamma(r) − lgamma(k + 1) + r·log p + k·log q
    log_term = (
        math.lgamma(observed + size)
        - math.lgamma(size)
        - math.lgamma(observed + 1)
        + size * math.log(p)
        + observed * math.log(q)
    )
    term = math.exp(log_term)
    total = 0.0
    k = observed
    while True:
        total += term
        term *= (k + size) / (k + 1) * q
        k += 1
        if term <= 1e-17 * total and k > mean + size:
            break
        if term == 0.0 or k > observed + 100_000:
            break
    return min(1.0, total)


def negative_binomial_quantile(probability: float, *, mean: float, size: float) -> int:
    """Smallest ``x`` with ``P(X ≤ x) ≥ probability``."""
    if mean <= 0:
        return 0
    x = 0
    while 1.0 - negative_binomial_sf(x + 1, mean=mean, size=size) < probability:
        x += 1
    return x


def estimate_baseline(
    unit: UnitSeries,
    categories: frozenset[Category],
    *,
    end: int,
    org: OrgBaseline | None,
    config: DetectorConfig,
    group: Sequence[int] | None = None,
    excluded: frozenset[int] = frozenset(),
) -> Baseline:
    """The unit's weekly rate from weeks ``[end − baseline_weeks, end)``, shrunk towards the org's.

    Weeks in ``excluded`` (those of an earlier, real signal of the same kind) are left out of the unit's own
    history: an episode the provider already acted on is not the unit's normal level.

    Gamma prior with mean ``org rate × employees`` worth ``prior_weeks`` weeks; posterior shape
    ``α₀ + referrals``, rate ``prior_weeks + weeks``. The per-week negative-binomial size combines the
    posterior's uncertainty with ``config.dispersion``: ``1/size = 1/shape + 1/dispersion``. Weeks before
    ``unit.active_from`` count for the organisation's rate only.
    """
    values = group if group is not None else unit.group(categories)
    return _as_baseline(unit, config, _estimate(unit, categories, values, end, org, config, excluded))


_Estimate = tuple[int, int, int, int, float, float, float]
"""first, end, unit_weeks, unit_referrals, org_rate, weekly_rate, size: a :class:`Baseline` before it is built."""


def _estimate(
    unit: UnitSeries,
    categories: frozenset[Category],
    values: Sequence[int],
    end: int,
    org: OrgBaseline | None,
    config: DetectorConfig,
    excluded: frozenset[int],
) -> _Estimate:
    """The arithmetic of :func:`estimate_baseline`. A replay needs a baseline every week for the CUSUM but keeps
    one only when it raises a signal, so it builds the :class:`Baseline` (and its two dates) only then."""
    first = max(0, end - config.baseline_weeks)
    end = max(first, min(end, len(values)))
    own_first = min(end, max(first, unit.active_from))
    unit_weeks = end - own_first
    unit_referrals = sum(values[own_first:end])
    if excluded:  # a few episode weeks: take them out rather than walk the whole period
        left_out = [i for i in excluded if own_first <= i < end]
        unit_weeks -= len(left_out)
        unit_referrals -= sum(values[i] for i in left_out)
    org_rate = org.rate_per_employee(categories, first, end) if org is not None else None
    if org_rate is None or org_rate <= 0:
        org_rate = config.fallback_rate_per_employee * len(categories)
    prior_mean = org_rate * unit.employees
    shape = prior_mean * config.prior_weeks + unit_referrals
    rate = config.prior_weeks + unit_weeks
    weekly = shape / rate
    size = 1.0 / (1.0 / max(shape, 1e-9) + 1.0 / config.dispersion)
    return first, end, unit_weeks, unit_referrals, org_rate, weekly, size


def _as_baseline(unit: UnitSeries, config: DetectorConfig, estimate: _Estimate) -> Baseline:
    first, end, unit_weeks, unit_referrals, org_rate, weekly, size = estimate
    return Baseline(
        weekly_rate=weekly,
        size=size,
        period_weeks=end - first,
        unit_weeks=unit_weeks,
        unit_referrals=unit_referrals,
        org_rate_per_employee=org_rate,
        prior_weeks=config.prior_weeks,
        first_week=unit.week(first),
        end_week=unit.week(end),
    )


def window_size(baseline: Baseline, weeks: int, config: DetectorConfig) -> float:
    """Negative-binomial size of a ``weeks``-long sum: estimation error is shared by all weeks,
    the week-to-week over-dispersion averages out partly (independent weeks add their sizes)."""
    estimation = max(baseline.weekly_rate * (config.prior_weeks + baseline.unit_weeks), 1e-9)
    return 1.0 / (1.0 / estimation + 1.0 / (config.dispersion * weeks))


def window_p_value(observed: int, baseline: Baseline, weeks: int, config: DetectorConfig) -> float:
    """Upper-tail p-value of ``observed`` referrals in a ``weeks``-long window."""
    return negative_binomial_sf(observed, mean=baseline.weekly_rate * weeks, size=window_size(baseline, weeks, config))


def score(p_value: float) -> float:
    """``−log10 p``: higher is more surprising."""
    return -math.log10(max(p_value, 1e-300))


# --------------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------------


def _context(
    actions: Sequence[ManagementAction], unit_id: str, kind: SignalKind, week: date, config: DetectorConfig
) -> tuple[ManagementAction, ...]:
    earliest = week - timedelta(weeks=config.context_weeks)
    return tuple(
        action
        for action in sorted(actions, key=lambda a: a.week)
        if earliest <= action.week <= week
        and (action.unit_id is None or action.unit_id == unit_id)
        and (not action.explains or kind in action.explains)
    )


def evaluate_week(
    unit: UnitSeries,
    index: int,
    *,
    spec: DetectorSpec,
    state: DetectorState,
    config: DetectorConfig,
    org: OrgBaseline | None = None,
    actions: Sequence[ManagementAction] = (),
    group: Sequence[int] | None = None,
    excluded: frozenset[int] = frozenset(),
) -> WeekOutcome:
    """Evaluate one detector on the unit's week ``index`` (all weeks up to it are known).

    Call it once per completed week, in order, with the state it returned last time. ``group`` may pass
    the precomputed weekly sums of ``spec.categories`` (an optimisation for replays).
    """
    values = group if group is not None else unit.group(spec.categories)
    if not 0 <= index < len(values):
        raise ValueError("week index outside the series")
    count = values[index]

    if state.open_signal is not None:
        frozen = state.open_signal.evidence.baseline
        limit = negative_binomial_quantile(config.resolve_quantile, mean=frozen.weekly_rate, size=frozen.size)
        within = state.weeks_within_baseline + 1 if count <= limit else 0
        if within >= config.resolve_after_weeks:
            resolved = replace(state.open_signal, resolved_week=unit.week(index))
            return WeekOutcome(state=DetectorState(last_resolved_index=index), resolved=resolved)
        return WeekOutcome(state=replace(state, weeks_within_baseline=within))

    cooling = state.last_resolved_index is not None and index - state.last_resolved_index <= config.cooldown_weeks

    # The window test: each window [index − w + 1, index] against a baseline ending guard_weeks earlier.
    best: tuple[float, int, Baseline] | None = None
    for weeks in config.windows:
        first = index - weeks + 1
        if first < 0:
            continue
        observed = sum(values[first : index + 1])
        if observed < config.min_count:
            continue
        baseline = estimate_baseline(
            unit,
            spec.categories,
            end=first - config.guard_weeks,
            org=org,
            config=config,
            group=values,
            excluded=excluded,
        )
        if baseline.period_weeks < config.min_history_weeks:
            continue
        p = window_p_value(observed, baseline, weeks, config)
        if best is None or p < best[0]:
            best = (p, weeks, baseline)

    # The CUSUM, against the baseline that ends guard_weeks before this week.
    estimate = _estimate(unit, spec.categories, values, index - config.guard_weeks, org, config, excluded)
    if estimate[1] - estimate[0] < config.min_history_weeks:
        return WeekOutcome(state=state)
    lam0 = max(estimate[5], 1e-6)
    lam1 = max(lam0 * config.cusum_ratio, lam0 + config.cusum_min_shift)
    step = count * math.log(lam1 / lam0) - (lam1 - lam0)
    cusum = state.cusum + step
    # The state is built directly (dataclasses.replace is several times slower), and kept as it is when the CUSUM
    # stays at zero: most weeks of most units, where referrals are rare.
    if cusum <= 0:
        if state.cusum == 0.0 and state.cusum_count == 0 and not state.cusum_weeks:
            new_state = state
        else:
            new_state = DetectorState(
                open_signal=state.open_signal,
                weeks_within_baseline=state.weeks_within_baseline,
                last_resolved_index=state.last_resolved_index,
            )
    else:
        new_state = DetectorState(
            open_signal=state.open_signal,
            weeks_within_baseline=state.weeks_within_baseline,
            cusum=cusum,
            cusum_count=state.cusum_count + count,
            cusum_weeks=(*state.cusum_weeks, index),
            last_resolved_index=state.last_resolved_index,
        )

    if cooling:
        return WeekOutcome(state=new_state)

    evidence: Evidence | None = None
    if best is not None and best[0] <= config.alpha:
        p, weeks, baseline = best
        indices = range(index - weeks + 1, index + 1)
        counts = tuple(values[i] for i in indices)
        evidence = Evidence(
            categories=tuple(sorted(spec.categories)),
            weeks=tuple(unit.week(i) for i in indices),
            counts=counts,
            observed=sum(counts),
            expected=baseline.weekly_rate * weeks,
            baseline=baseline,
            method=DetectionMethod.NEGATIVE_BINOMIAL_TAIL,
            p_value=p,
            score=score(p),
            threshold=config.alpha,
            min_count=config.min_count,
        )
    elif new_state.cusum >= config.cusum_threshold and new_state.cusum_count >= config.cusum_min_count:
        cusum_baseline = _as_baseline(unit, config, estimate)
        indices_run = new_state.cusum_weeks
        counts = tuple(values[i] for i in indices_run)
        evidence = Evidence(
            categories=tuple(sorted(spec.categories)),
            weeks=tuple(unit.week(i) for i in indices_run),
            counts=counts,
            observed=sum(counts),
            expected=cusum_baseline.weekly_rate * len(indices_run),
            baseline=cusum_baseline,
            method=DetectionMethod.CUSUM,
            p_value=None,
            score=new_state.cusum,
            threshold=config.cusum_threshold,
            min_count=config.cusum_min_count,
        )
    if evidence is None:
        return WeekOutcome(state=new_state)

    week = unit.week(index)
    evidence = replace(evidence, context=_context(actions, unit.unit_id, spec.kind, week, config))
    signal = Signal(unit_id=unit.unit_id, kind=spec.kind, raised_week=week, evidence=evidence)
    return WeekOutcome(state=DetectorState(open_signal=signal), raised=signal)


def detect(
    unit: UnitSeries,
    *,
    config: DetectorConfig | None = None,
    org: OrgBaseline | None = None,
    actions: Sequence[ManagementAction] = (),
    specs: Sequence[DetectorSpec] = DEFAULT_SPECS,
    first_week: int = 0,
    excluded: Mapping[SignalKind, frozenset[int]] | None = None,
) -> list[Signal]:
    """Replay every detector over the unit's weeks ``first_week…`` and return all signals raised,
    with ``resolved_week`` set on those that resolved (ordered by week, then kind). ``excluded`` names, per
    kind, the week indexes of earlier real signals to leave out of the unit's baseline."""
    config = config or DetectorConfig()
    signals: list[Signal] = []
    for spec in specs:
        values = unit.group(spec.categories)
        state = DetectorState()
        open_at: int | None = None
        for index in range(first_week, len(values)):
            outcome = evaluate_week(
                unit,
                index,
                spec=spec,
                state=state,
                config=config,
                org=org,
                actions=actions,
                group=values,
                excluded=(excluded or {}).get(spec.kind, frozenset()),
            )
            state = outcome.state
            if outcome.raised is not None:
                signals.append(outcome.raised)
                open_at = len(signals) - 1
            if outcome.resolved is not None and open_at is not None:
                signals[open_at] = outcome.resolved
                open_at = None
    signals.sort(key=lambda s: (s.raised_week, s.kind.value))
    return signals


# --------------------------------------------------------------------------------------------------
# Capacity shortfall: a plain threshold rule on unschedulable intakes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityRule:
    """Raise when at least ``min_unschedulable`` intakes could not be scheduled in ``weeks`` weeks."""

    weeks: int = 2
    min_unschedulable: int = 3


def capacity_shortfall(
    unschedulable: Sequence[int], *, start: date, index: int, rule: CapacityRule | None = None, unit_id: str = ""
) -> Signal | None:
    """A capacity-shortfall signal for week ``index`` of an organisation's unschedulable-intake counts."""
    rule = rule or CapacityRule()
    first = max(0, index - rule.weeks + 1)
    counts = tuple(unschedulable[first : index + 1])
    if sum(counts) < rule.min_unschedulable:
        return None
    weeks = tuple(start + timedelta(weeks=i) for i in range(first, index + 1))
    baseline = Baseline(
        weekly_rate=0.0,
        size=math.inf,
        period_weeks=0,
        unit_weeks=0,
        unit_referrals=0,
        org_rate_per_employee=0.0,
        prior_weeks=0.0,
        first_week=weeks[0],
        end_week=weeks[0],
    )
    evidence = Evidence(
        categories=(),
        weeks=weeks,
        counts=counts,
        observed=sum(counts),
        expected=0.0,
        baseline=baseline,
        method=DetectionMethod.THRESHOLD,
        p_value=None,
        score=float(sum(counts)),
        threshold=float(rule.min_unschedulable),
        min_count=rule.min_unschedulable,
    )
    return Signal(unit_id=unit_id, kind=SignalKind.CAPACITY_SHORTFALL, raised_week=weeks[-1], evidence=evidence)
