"""Detection quality of the signals detectors on synthetic organisations (issue 6, DESIGN §3 signals).

    .venv/bin/python bench/signals_quality.py              # 40 seeds, ~half a minute
    .venv/bin/python bench/signals_quality.py --seeds 200  # the figures in bench/README.md

For every seed, one synthetic client organisation (``bmw.signals.domain.simulation``) is generated twice:
with injected episodes, and with the same background noise but no episode. The detectors replay every
unit over the evaluation year (after two years of history):

- **recall**: an episode counts as found when a signal of its kind is raised in its unit within its
  first ``--horizon`` weeks (default 3: the onset week and the two after it, delay 0–2);
- **delay**: weeks from onset to that signal (0 = raised at the end of the onset week);
- **false alarms**: every signal (any kind) raised on the episode-free data, per unit per year.

Results are grouped by the referrals an episode really added in its first three weeks and by unit size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from bmw.signals.domain.detection import DetectorConfig, OrgBaseline, detect
from bmw.signals.domain.simulation import SimulationConfig, simulate_organisation

ADDED_BINS = ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 7), (8, 11), (12, 15), (16, 10_000))
UNIT_BINS = ((20, 49), (50, 149), (150, 400))


def _label(bounds: tuple[int, int]) -> str:
    lo, hi = bounds
    if hi >= 10_000:
        return f"≥ {lo}"
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _bin(value: int, bins: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    return next(b for b in bins if b[0] <= value <= b[1])


@dataclass(frozen=True)
class Outcome:
    """One injected episode and what the detectors made of it."""

    kind: str
    employees: int
    size: float
    added_first_3_weeks: int
    delay: int | None
    found: bool


@dataclass(frozen=True)
class Row:
    added: str
    unit: str
    episodes: int
    recall: float
    median_delay: float | None


@dataclass
class Result:
    outcomes: list[Outcome] = field(default_factory=list)
    alarms: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unit_years: dict[str, float] = field(default_factory=lambda: defaultdict(float))


def run(seeds: int, horizon: int, config: DetectorConfig, sim: SimulationConfig) -> Result:
    result = Result()
    eval_years = (sim.weeks - sim.history_weeks) / 52
    for seed in track(range(seeds), description="simulating and detecting", transient=True):
        organisation = simulate_organisation(seed, sim)
        org = OrgBaseline(organisation.units)
        for episode in organisation.episodes:
            unit = next(u for u in organisation.units if u.unit_id == episode.unit_id)
            signals = detect(unit, config=config, org=org, actions=organisation.actions, first_week=sim.history_weeks)
            onset = unit.index(episode.onset)
            delays = [d for s in signals if s.kind is episode.kind and (d := unit.index(s.raised_week) - onset) >= 0]
            delay = min(delays) if delays else None
            result.outcomes.append(
                Outcome(
                    kind=episode.kind.value,
                    employees=episode.employees,
                    size=episode.size,
                    added_first_3_weeks=episode.added_first_3_weeks,
                    delay=delay,
                    found=delay is not None and delay < horizon,
                )
            )
        quiet = simulate_organisation(seed, sim, with_episodes=False)
        quiet_org = OrgBaseline(quiet.units)
        for unit in quiet.units:
            raised = len(detect(unit, config=config, org=quiet_org, first_week=sim.history_weeks))
            for label in (_label(_bin(unit.employees, UNIT_BINS)), "all"):
                result.alarms[label] += raised
                result.unit_years[label] += eval_years
    return result


def summarise(outcomes: list[Outcome]) -> list[Row]:
    groups: dict[tuple[tuple[int, int], tuple[int, int]], list[Outcome]] = defaultdict(list)
    everything = (0, 10_000)
    for outcome in outcomes:
        added = _bin(outcome.added_first_3_weeks, ADDED_BINS)
        groups[(added, everything)].append(outcome)
        groups[(added, _bin(outcome.employees, UNIT_BINS))].append(outcome)
    rows = []
    for (added, unit), members in sorted(groups.items()):
        delays = [m.delay for m in members if m.found and m.delay is not None]
        rows.append(
            Row(
                added=_label(added),
                unit="all" if unit == everything else _label(unit),
                episodes=len(members),
                recall=sum(1 for m in members if m.found) / len(members),
                median_delay=statistics.median(delays) if delays else None,
            )
        )
    return rows


def target(outcomes: list[Outcome]) -> tuple[int, float]:
    """Recall for the issue's target group: ≥ 8 added in 3 weeks, unit of ≥ 50 employees."""
    members = [o for o in outcomes if o.added_first_3_weeks >= 8 and o.employees >= 50]
    return len(members), (sum(1 for o in members if o.found) / len(members)) if members else float("nan")


def chart(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for unit in ["all", *(_label(b) for b in UNIT_BINS)]:
        points = [r for r in rows if r.unit == unit and r.episodes >= 5]
        if points:
            ax.plot(
                [r.added for r in points],
                [r.recall for r in points],
                marker="o",
                label="all units" if unit == "all" else f"units of {unit} employees",
            )
    ax.axhline(0.9, color="grey", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("referrals added by the episode in its first 3 weeks")
    ax.set_ylabel("recall within 3 weeks of onset")
    ax.set_title("Signals detection: recall vs episode size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40, help="organisations to simulate (default 40)")
    parser.add_argument("--horizon", type=int, default=3, help="weeks from onset that count as found (default 3)")
    parser.add_argument(
        "--alpha", type=float, default=DetectorConfig.alpha, help="p-value threshold of the window test"
    )
    parser.add_argument("--min-count", type=int, default=DetectorConfig.min_count, help="minimum referrals in a window")
    parser.add_argument(
        "--week-shape",
        type=float,
        default=SimulationConfig.week_shape,
        help="gamma shape of busy weeks (lower: noisier)",
    )
    parser.add_argument("--trend-sd", type=float, default=SimulationConfig.trend_sd, help="sd of units' yearly drift")
    parser.add_argument(
        "--utilisation", type=float, nargs=2, default=SimulationConfig.utilisation, help="yearly reach, low high"
    )
    parser.add_argument("--output", type=Path, default=None, help="write JSON and PNG into this directory")
    args = parser.parse_args(argv)
    config = DetectorConfig(alpha=args.alpha, min_count=args.min_count)
    sim = SimulationConfig(week_shape=args.week_shape, trend_sd=args.trend_sd, utilisation=tuple(args.utilisation))
    console = Console()
    started = time.monotonic()
    result = run(args.seeds, args.horizon, config, sim)
    seconds = time.monotonic() - started
    rows = summarise(result.outcomes)

    table = Table(
        title=f"Recall within {args.horizon} weeks of onset ({args.seeds} seeds, {len(result.outcomes)} episodes)"
    )
    for column in ("added in first 3 weeks", "unit employees", "episodes", "recall", "median delay (weeks)"):
        table.add_column(column, justify="right")
    for row in rows:
        delay = "–" if row.median_delay is None else f"{row.median_delay:g}"
        table.add_row(row.added, row.unit, str(row.episodes), f"{row.recall:.2f}", delay)
    console.print(table)

    alarms = Table(title="False alarms on episode-free data (all detector kinds)")
    for column in ("unit employees", "unit-years", "alarms", "per unit per year"):
        alarms.add_column(column, justify="right")
    rates = {label: result.alarms[label] / years for label, years in result.unit_years.items()}
    for label in [*(_label(b) for b in UNIT_BINS), "all"]:
        alarms.add_row(label, f"{result.unit_years[label]:.0f}", str(result.alarms[label]), f"{rates[label]:.3f}")
    console.print(alarms)

    n_target, recall_target = target(result.outcomes)
    console.print(
        f"Target group (≥ 8 added in 3 weeks, unit ≥ 50): recall {recall_target:.3f} over {n_target} episodes "
        f"(target ≥ 0.9); false alarms {rates['all']:.3f} per unit per year (target ≤ 0.5). {seconds:.0f} s."
    )
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        report = {
            "seeds": args.seeds,
            "horizon": args.horizon,
            "detector_config": asdict(config),
            "simulation_config": asdict(sim),
            "rows": [asdict(row) for row in rows],
            "target": {"episodes": n_target, "recall": recall_target},
            "false_alarms_per_unit_year": rates,
            "false_alarms": dict(result.alarms),
            "unit_years": dict(result.unit_years),
            "seconds": seconds,
        }
        (args.output / "signals_quality.json").write_text(json.dumps(report, indent=2, default=str))
        chart(rows, args.output / "signals_quality.png")
        console.print(f"wrote {args.output / 'signals_quality.json'} and {args.output / 'signals_quality.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
