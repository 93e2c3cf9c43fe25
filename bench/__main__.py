"""``python -m bench``: the messaging backbone benchmark on embedded PostgreSQL and Tansu."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.infra import embedded_infrastructure
from bench.messaging import TOPICS, MessagingBenchmark, Results, Settings
from bench.report import machine_info, print_table, write_chart, write_json

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
            "Benchmark the messaging backbone (outbox, relay, idempotent consumer, end-to-end latency) on the "
            "embedded PostgreSQL and Tansu broker, each figure next to a raw aiokafka baseline measured in the "
            "same run. Starts and stops its own infrastructure in a temporary directory."
        ),
        epilog=(
            "Writes latest.json and latest.png to the output directory; they are committed only deliberately. "
            "See bench/README.md for what is measured and how to read the ratios."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--events", type=positive, default=Settings.events, metavar="N", help="events per throughput phase"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run: 2,000 events, 500 single-event transactions, 200 + 40 latency samples (overrides the sizes)",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, metavar="DIR", help="where latest.json and latest.png go"
    )
    parser.add_argument(
        "--single-events",
        type=positive,
        default=Settings.single_events,
        metavar="N",
        help="events written one per transaction",
    )
    parser.add_argument(
        "--latency-events",
        type=positive,
        default=Settings.latency_events,
        metavar="N",
        help="events committed one by one at --rate for the latency percentiles (then 100 more at 10/s)",
    )
    parser.add_argument(
        "--rate", type=float, default=Settings.latency_rate, help="offered rate of the latency phase, events/s"
    )
    parser.add_argument(
        "--partitions", type=positive, default=Settings.partitions, help="partitions per topic (services use 12)"
    )
    parser.add_argument("--no-chart", action="store_true", help="skip latest.png")
    arguments = parser.parse_args(argv)
    if arguments.rate <= 0:
        parser.error("--rate must be positive")
    if arguments.latency_events < 2:
        parser.error("--latency-events needs at least 2 samples for percentiles")
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


async def _until_terminated(work: Coroutine[Any, Any, Results]) -> Results:
    """Run ``work``; SIGTERM cancels it like Ctrl-C does, so every ``finally`` (clients, consumers) runs."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    settings = settings_from(arguments)
    console = Console()
    if not console.is_terminal:  # piped or logged: keep the table on one line per figure
        console = Console(width=150)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # SIGTERM stops the run like Ctrl-C (inside the event loop: see _until_terminated); the infrastructure's
    # context managers then stop both servers.
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
    try:
        with contextlib.ExitStack() as stack:
            with console.status("starting embedded PostgreSQL and Tansu"):
                infra = stack.enter_context(embedded_infrastructure(topics=TOPICS, partitions=settings.partitions))
            machine = machine_info(infra.postgres_version)
            console.print(
                f"[dim]PostgreSQL {infra.postgres_version} and Tansu at {infra.bootstrap_servers}; "
                f"{settings.events:,} events, {settings.partitions} partitions[/]"
            )
            progress = Progress(
                TextColumn("{task.description:<44}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )
            with progress:
                benchmark = MessagingBenchmark(settings, infra.database_url, infra.bootstrap_servers, progress)
                results = asyncio.run(_until_terminated(benchmark.run()))
            stack.enter_context(console.status("stopping PostgreSQL and Tansu"))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[yellow]interrupted; the embedded PostgreSQL and broker are stopped[/]")
        return 130
    seconds = time.perf_counter() - started
    machine["load_average_1m"] = {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)}

    print_table(console, results, settings, machine)
    json_path = output / "latest.json"
    write_json(json_path, results, settings, machine, started_at, seconds)
    written = [json_path]
    if not arguments.no_chart:
        chart_path = output / "latest.png"
        write_chart(chart_path, results, settings, machine, started_at)
        written.append(chart_path)
    console.print(f"[dim]{seconds:.0f} s; wrote {', '.join(str(p) for p in written)}[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
