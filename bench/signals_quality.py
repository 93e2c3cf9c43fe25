"""Detection quality of the signals detectors on synthetic organisations (issue 6, DESIGN §3 signals).

    .venv/bin/python bench/signals_quality.py              # 40 seeds, ~10 s
    .venv/bin/python bench/signals_quality.py --seeds 200  # the figures in bench/README.md

For every seed, one synthetic client organisation (``bmw.signals.domain.simulation``) is generated twice:
with injected episodes, and with the same background noise but no episode. The detectors replay every
unit over the evaluation year (after two years of history):

- **recall**: an episode counts as found when a signal of its kind is raised in its unit within its
  first ``--horizon`` weeks (default 3: the onset week and the two after it, delay 0–2);
- **delay**: weeks from onset to that signal (0 = raised at the end of the onset week);
- **false alarms**: every signal (any kind) raised on the episode-free data, per unit per year.

Results are grouped by the referrals an episode really added in its first three weeks and by unit size.
The measuring itself is ``bmw.signals.application.quality`` (also behind ``bmw signals quality``); this
script prints it, and with ``--output`` writes it as JSON and charts it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bmw.signals.application.quality import ALL, UNIT_BINS, Result, Row, label, report, run, summarise, target
from bmw.signals.domain.detection import DetectorConfig
from bmw.signals.domain.simulation import SimulationConfig


def measure(seeds: int, horizon: int, config: DetectorConfig, sim: SimulationConfig, console: Console) -> Result:
    """``quality.run`` behind a progress bar that disappears when it is done."""
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("simulating and detecting", total=seeds)
        return run(seeds, horizon, config, sim, progress=lambda done: bar.update(task, completed=done))


def chart(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for unit in [ALL, *(label(b) for b in UNIT_BINS)]:
        points = [r for r in rows if r.unit == unit and r.episodes >= 5]
        if points:
            ax.plot(
                [r.added for r in points],
                [r.recall for r in points],
                marker="o",
                label="all units" if unit == ALL else f"units of {unit} employees",
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
    result = measure(args.seeds, args.horizon, config, sim, console)
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
    rates = result.false_alarm_rates()
    for name in [*(label(b) for b in UNIT_BINS), ALL]:
        alarms.add_row(
            name, f"{result.unit_years[name]:.0f}", str(result.alarms[name]), f"{rates.get(name, math.nan):.3f}"
        )
    console.print(alarms)

    n_target, recall_target = target(result.outcomes)
    console.print(
        f"Target group (≥ 8 added in 3 weeks, unit ≥ 50): recall {recall_target:.3f} over {n_target} episodes "
        f"(target ≥ 0.9); false alarms {rates[ALL]:.3f} per unit per year (target ≤ 0.5). {seconds:.0f} s."
    )
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        data = report(result, seeds=args.seeds, horizon=args.horizon, config=config, sim=sim, seconds=seconds)
        (args.output / "signals_quality.json").write_text(json.dumps(data, indent=2, default=str))
        chart(rows, args.output / "signals_quality.png")
        console.print(f"wrote {args.output / 'signals_quality.json'} and {args.output / 'signals_quality.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
