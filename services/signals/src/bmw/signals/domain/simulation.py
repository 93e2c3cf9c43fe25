"""A seeded synthetic client organisation: weekly referral counts per org unit × category with known
episodes, to measure what the detectors find (``bench/signals_quality.py``) and to demo them.

The noise is meant to look like corporate social work: a client's employees reach it at a yearly rate of
5–15 % (``utilisation``), spread over the categories by :data:`CATEGORY_SHARES`, so most unit × category ×
week cells hold 0 or 1. On top of that:

- each unit has a lasting propensity (gamma, mean 1, shape ``unit_shape``): some departments simply
  refer more than the organisation's average;
- each unit-week has a gamma multiplier (mean 1, shape ``week_shape``) shared by its categories —
  busy weeks — which makes the counts over-dispersed (gamma–Poisson);
- each unit drifts: its log-rate changes linearly by a normal amount (sd ``trend_sd``) per year;
- seasonality: summer holidays (ISO weeks 28–34) ×0.6, Christmas week ×0.5, January ×1.25.

Episodes add referrals to one unit in one category group from an ``onset`` week on; their ``size`` is
the expected number added in the first three weeks (ramping up 25 % / 35 % / 40 %), then the rise goes
on for ``tail_weeks`` at the third week's level, fading. A reorganisation episode comes with a
recorded "reorganisation announced" :class:`ManagementAction` one or two weeks before its onset.

Pure Python (``random``), deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from bmw.contracts.taxonomy import Category, SignalKind
from bmw.signals.domain.detection import ManagementAction, UnitSeries

CATEGORY_SHARES: dict[Category, float] = {
    Category.WORKLOAD_STRESS: 0.18,
    Category.BURNOUT_RISK: 0.10,
    Category.CONFLICT_MANAGER: 0.07,
    Category.CONFLICT_COLLEAGUES: 0.07,
    Category.REORGANISATION_UNCERTAINTY: 0.04,
    Category.DISMISSAL: 0.02,
    Category.NEW_WAYS_OF_WORKING: 0.03,
    Category.UNDESIRABLE_BEHAVIOUR: 0.03,
    Category.CAREER: 0.06,
    Category.ABSENCE_REINTEGRATION: 0.08,
    Category.FINANCES: 0.08,
    Category.RELATIONSHIP_FAMILY: 0.10,
    Category.GRIEF: 0.05,
    Category.INFORMAL_CARE: 0.03,
    Category.ADDICTION: 0.02,
    Category.HOUSING: 0.01,
    Category.OTHER: 0.03,
}

EPISODE_MIX: dict[SignalKind, dict[Category, float]] = {
    SignalKind.REORGANISATION_WAVE: {Category.REORGANISATION_UNCERTAINTY: 0.6, Category.DISMISSAL: 0.4},
    SignalKind.STRESS_SURGE: {Category.WORKLOAD_STRESS: 1.0},
    SignalKind.BURNOUT_RISK_CLUSTER: {Category.BURNOUT_RISK: 1.0},
    SignalKind.LEADERSHIP_CONFLICT_CLUSTER: {Category.CONFLICT_MANAGER: 1.0},
    SignalKind.NEW_WAYS_OF_WORKING_STRAIN: {Category.NEW_WAYS_OF_WORKING: 1.0},
}

RAMP = (0.25, 0.35, 0.40)


@dataclass(frozen=True)
class SimulationConfig:
    """Shape of a synthetic organisation. ``weeks`` in total; episodes start after ``history_weeks``."""

    weeks: int = 156
    history_weeks: int = 104
    start: date = date(2024, 1, 1)
    units: tuple[int, int] = (4, 10)
    employees: tuple[int, int] = (20, 400)
    utilisation: tuple[float, float] = (0.05, 0.15)
    unit_shape: float = 6.0
    week_shape: float = 5.0
    trend_sd: float = 0.25
    episode_kinds: tuple[SignalKind, ...] = (
        SignalKind.REORGANISATION_WAVE,
        SignalKind.LEADERSHIP_CONFLICT_CLUSTER,
        SignalKind.STRESS_SURGE,
    )
    episode_sizes: tuple[float, ...] = (2, 4, 6, 8, 12, 16)
    tail_weeks: int = 5

    def __post_init__(self) -> None:
        if self.start.weekday() != 0:
            raise ValueError("start must be a Monday")
        if not 0 < self.history_weeks < self.weeks - 3:
            raise ValueError("history_weeks must leave room for episodes")


@dataclass(frozen=True)
class Episode:
    """Ground truth: what was injected where, and how many referrals it really added per week."""

    kind: SignalKind
    unit_id: str
    employees: int
    onset: date
    size: float
    added: tuple[int, ...]
    """Referrals added in the weeks ``onset, onset + 1, …``."""

    @property
    def added_first_3_weeks(self) -> int:
        return sum(self.added[:3])


@dataclass(frozen=True)
class SimulatedOrganisation:
    """The synthetic organisation: its units' series, the injected episodes and recorded actions."""

    seed: int
    start: date
    units: tuple[UnitSeries, ...]
    episodes: tuple[Episode, ...]
    actions: tuple[ManagementAction, ...]
    utilisation: float
    history_weeks: int


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal above 50; means here are small)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    k, product = 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def seasonality(week: date) -> float:
    """Multiplier of the referral rate in a week: summer holidays lower, January higher."""
    iso_week = week.isocalendar().week
    if 28 <= iso_week <= 34:
        return 0.6
    if iso_week >= 52 or iso_week == 1:
        return 0.5
    if 2 <= iso_week <= 5:
        return 1.25
    return 1.0


def simulate_organisation(
    seed: int, config: SimulationConfig | None = None, *, with_episodes: bool = True
) -> SimulatedOrganisation:
    """One synthetic organisation for a seed. ``with_episodes=False`` gives the same noise without any
    episode (the same seed yields the same units, sizes and background counts)."""
    config = config or SimulationConfig()
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    utilisation = rng.uniform(*config.utilisation)
    n_units = rng.randint(*config.units)
    lo, hi = config.employees
    sizes = [round(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for _ in range(n_units)]
    propensity = [rng.gammavariate(config.unit_shape, 1 / config.unit_shape) for _ in range(n_units)]
    trends = [rng.gauss(0.0, config.trend_sd) / 52 for _ in range(n_units)]
    weeks = [config.start + timedelta(weeks=i) for i in range(config.weeks)]
    season = [seasonality(week) for week in weeks]

    counts: list[dict[Category, list[int]]] = []
    for u in range(n_units):
        per_week = sizes[u] * utilisation / 52 * propensity[u]
        cells: dict[Category, list[int]] = {category: [] for category in CATEGORY_SHARES}
        for i in range(config.weeks):
            busy = rng.gammavariate(config.week_shape, 1 / config.week_shape)
            mean = per_week * season[i] * busy * math.exp(trends[u] * (i - config.weeks / 2))
            for category, share in CATEGORY_SHARES.items():
                cells[category].append(poisson(rng, mean * share))
        counts.append(cells)

    # Episodes are drawn from their own generator so that episode-free data has the same background.
    episode_rng = random.Random(seed * 7919 + 17)  # noqa: S311
    episodes: list[Episode] = []
    actions: list[ManagementAction] = []
    if with_episodes:
        last_onset = config.weeks - 3 - config.tail_weeks
        units_left = list(range(n_units))
        episode_rng.shuffle(units_left)
        for kind in config.episode_kinds:
            if not units_left:
                break
            u = units_left.pop()
            onset = episode_rng.randint(config.history_weeks, last_onset)
            size = episode_rng.choice(config.episode_sizes)
            means = [size * share for share in RAMP]
            means += [size * RAMP[-1] * (1 - (t + 1) / (config.tail_weeks + 1)) for t in range(config.tail_weeks)]
            added: list[int] = []
            for offset, mean in enumerate(means):
                week_added = 0
                for category, share in EPISODE_MIX[kind].items():
                    extra = poisson(episode_rng, mean * share)
                    counts[u][category][onset + offset] += extra
                    week_added += extra
                added.append(week_added)
            unit_id = f"unit-{u}"
            episodes.append(
                Episode(
                    kind=kind, unit_id=unit_id, employees=sizes[u], onset=weeks[onset], size=size, added=tuple(added)
                )
            )
            if kind is SignalKind.REORGANISATION_WAVE:
                announced = weeks[onset - episode_rng.randint(1, 2)]
                actions.append(
                    ManagementAction(
                        week=announced,
                        action="reorganisation announced",
                        unit_id=unit_id,
                        explains=frozenset({SignalKind.REORGANISATION_WAVE, SignalKind.STRESS_SURGE}),
                    )
                )

    units = tuple(
        UnitSeries(unit_id=f"unit-{u}", employees=sizes[u], start=config.start, counts=counts[u])
        for u in range(n_units)
    )
    return SimulatedOrganisation(
        seed=seed,
        start=config.start,
        units=units,
        episodes=tuple(episodes),
        actions=tuple(actions),
        utilisation=utilisation,
        history_weeks=config.history_weeks,
    )
