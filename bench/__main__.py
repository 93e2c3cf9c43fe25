"""``python -m bench`` (``make bench``): every benchmark suite, one after another, each on infrastructure of its own.

Suites: ``billing`` (the month-end billing run), ``signals`` (recomputation and incremental updating), ``messaging``
(the kit's outbox, relay and consumer), ``gateway`` (dashboard and portfolio queries) and ``pipeline`` (referrals
through the whole system at a ramp of rates, and each process's footprint). Each figure stands next to a baseline
measured in the same run; the targets of issue 10 are checked at the end. Writes ``latest.json`` (and a PNG per
suite) to the output directory.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.messaging import Settings
from bench.report import machine_info, print_suite, print_targets, write_results
from bench.suite import SuiteOptions, SuiteResult

#: The suites in the order they run: the ones on infrastructure of their own first, the whole stack last.
SUITES = ("billing", "signals", "messaging", "gateway", "pipeline")
MODULES = {"messaging": "bench.backbone"}

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results"


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmark the BMW backend on embedded PostgreSQL and the Tansu broker: the billing run, signals' "
            "recomputation and incremental updating, the messaging backbone, the gateway's dashboard and portfolio "
            "queries, and referrals through the whole pipeline with each process's footprint. Every figure stands "
            "next to a baseline measured in the same run; the issue's targets are checked at the end. Each suite "
            "starts and stops its own infrastructure in a temporary directory."
        ),
        epilog=(
            "Writes latest.json and one PNG per suite to the output directory; they are committed only "
            "deliberately. See bench/README.md for what is measured and how to read the ratios. Exit status: 0 when "
            "every suite ran (a missed target is reported, not an error, unless --strict), 1 with --strict when a "
            "target is missed, 2 on bad options, 3 when a suite failed, 130 when interrupted."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--only",
        metavar="SUITE[,SUITE]",
        default=",".join(SUITES),
        help=f"the suites to run, of {', '.join(SUITES)}",
    )
    parser.add_argument(
        "--events", type=positive, default=Settings.events, metavar="N", help="messaging: events per throughput phase"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run of every suite (messaging: 2,000 events; pipeline: 8 s steps up to 200/s; billing: 100 and "
        "1,000 organisations; signals: 50 organisations); overrides the sizes",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="DIR",
        help="where latest.json, the charts and profiles go",
    )
    parser.add_argument(
        "--single-events",
        type=positive,
        default=Settings.single_events,
        metavar="N",
        help="messaging: events written one per transaction",
    )
    parser.add_argument(
        "--latency-events",
        type=positive,
        default=Settings.latency_events,
        metavar="N",
        help="messaging: events committed one by one at --rate for the latency percentiles (then 100 more at 10/s)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=Settings.latency_rate,
        help="messaging: offered rate of the latency phase, events/s",
    )
    parser.add_argument(
        "--partitions",
        type=positive,
        default=Settings.partitions,
        help="messaging: partitions per topic (services use 12)",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the charts")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other suites of the output directory's latest.json (each suite records when it ran) and "
        "replace only those run now",
    )
    arguments = parser.parse_args(argv)
    if arguments.rate <= 0:
        parser.error("--rate must be positive")
    if arguments.latency_events < 2:
        parser.error("--latency-events needs at least 2 samples for percentiles")
    chosen = [name.strip() for name in arguments.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SUITES]
    if unknown or not chosen:
        parser.error(f"--only: unknown suite {', '.join(unknown) or '(none)'}; choose from {', '.join(SUITES)}")
    arguments.suites = [name for name in SUITES if name in chosen]
    return arguments


def settings_from(arguments: argparse.Namespace) -> Settings:
    settings = Settings(
        events=arguments.events,
        single_events=arguments.single_events,
        latency_events=arguments.latency_events,
        latency_rate=arguments.rate,
        partitions=arguments.partitions,
    )
    if arguments.quick:
        settings = replace(
            settings, events=2_000, single_events=500, latency_events=200, latency_low_events=40, quick=True
        )
    return settings


def run_suite(name: str, options: SuiteOptions) -> SuiteResult:
    module = importlib.import_module(MODULES.get(name, f"bench.{name}"))
    result: SuiteResult = module.run(options)
    return result


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    console = Console()
    if not console.is_terminal:  # piped or logged: keep the tables on one line per figure
        console = Console(width=160)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # SIGTERM stops the run like Ctrl-C; every suite's context managers then stop what they started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    output: Path = arguments.output
    output.mkdir(parents=True, exist_ok=True)

    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        console.print(
            f"[yellow]load average {load_before[0]:.2f} before the run: something else is busy on this machine, "
            "and the figures will show it[/]"
        )
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    results: list[SuiteResult] = []
    failed: dict[str, str] = {}
    progress = Progress(
        TextColumn("{task.description:<56}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        with progress:
            for name in arguments.suites:
                options = SuiteOptions(
                    quick=arguments.quick,
                    output=output,
                    progress=progress,
                    console=console,
                    charts=not arguments.no_chart,
                    extra={"messaging_settings": settings_from(arguments)},
                )
                try:
                    results.append(run_suite(name, options))
                except (KeyboardInterrupt, asyncio.CancelledError):
                    raise
                except Exception as error:  # one suite's failure is reported; the others still run
                    logging.getLogger("bench").exception("suite %s failed", name)
                    failed[name] = f"{type(error).__name__}: {error}"
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[yellow]interrupted; the embedded PostgreSQL, broker and services are stopped[/]")
        return 130
    seconds = time.perf_counter() - started
    machine = machine_info()
    machine["load_average_1m"] = {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)}

    for result in results:
        print_suite(console, result)
    print_targets(console, results)
    for name, reason in failed.items():
        console.print(f"[red]suite {name} failed: {reason}[/]")
    path = output / "latest.json"
    write_results(path, results, failed, machine, started_at, seconds, quick=arguments.quick, merge=arguments.merge)
    charts = [str(output / chart) for result in results for chart in result.charts]
    console.print(f"[dim]{seconds:.0f} s; wrote {', '.join([str(path), *charts])}[/]")
    if failed:
        return 3
    missed = [target for result in results for target in result.targets if not target.met]
    return 1 if arguments.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
