"""``bmw signals``: the signals detectors on synthetic client organisations, and their measured quality.

A thin layer over :mod:`bmw.signals.domain.simulation` and :mod:`bmw.signals.application.quality`; pure
Python, no running stack needed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bmw.contracts.taxonomy import Category
from bmw.signals.application import quality
from bmw.signals.domain.detection import DetectorConfig, Signal
from bmw.signals.domain.simulation import SimulatedOrganisation, SimulationConfig, simulate_organisation
from bmw.signals.domain.weeks import week_start

signals_app = typer.Typer(
    help="Signals' detectors on synthetic client organisations (issue 6): generate one, or measure their quality "
    "over many. Pure Python, no running stack needed.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

# --------------------------------------------------------------------------------------------------
# bmw signals: synthetic client organisations and the detectors' measured quality (issue 6)
# --------------------------------------------------------------------------------------------------

EVALUATION_WEEKS = 52
"""The last year of a simulated series: episodes start in it, and the detectors are replayed over it."""

IMPORT_COLUMNS = ("week", "org_unit", "category", "count", "employees")
"""The columns of a signals history import file (``bmw.signals.domain.history``)."""


class SeriesFormat(StrEnum):
    """How ``bmw signals simulate`` prints an organisation."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


WeekShape = Annotated[
    float,
    typer.Option(
        "--week-shape",
        help="Gamma shape of the busy-week multiplier (mean 1) of each unit-week: lower means burstier, more "
        "over-dispersed weekly counts.",
        min=0.01,
    ),
]
TrendSd = Annotated[
    float,
    typer.Option("--trend-sd", help="Standard deviation of each unit's yearly drift of its log-rate.", min=0.0),
]
Utilisation = Annotated[
    tuple[float, float],
    typer.Option(
        "--utilisation",
        help="Range, low high, of the yearly share of employees that reaches social work (drawn per organisation).",
    ),
]
Alpha = Annotated[
    float,
    typer.Option("--alpha", help="p-value threshold of the detectors' window test (negative-binomial upper tail)."),
]
MinCount = Annotated[
    int, typer.Option("--min-count", help="Fewest referrals in a window that can raise a signal.", min=1)
]
Horizon = Annotated[
    int,
    typer.Option(
        "--horizon",
        help="An episode counts as found when a signal of its kind is raised in its unit within this many weeks "
        "of its onset (3: the onset week and the two after it).",
        min=1,
    ),
]

SIMULATE_HELP = (
    "Generate ONE synthetic client organisation and print its weekly referral counts per org unit × category, "
    "with the episodes injected into it.\n\n"
    "[bold]--format table[/] (the default) summarises every unit (employees, referrals per year, signals raised) "
    "and every episode (onset, unit, kind, size), with what the detectors found when replayed over the evaluation "
    "year: the week the signal was raised, its delay and its p-value.\n\n"
    "[bold]--format csv[/] and [bold]json[/] print every unit × category × week as a signals history import file "
    '(columns week, org_unit, category, count, employees; JSON as [bold]{"rows": [...]}[/]); the episodes, the '
    "ground truth, go to standard error (or to standard output with [bold]--output[/]). For a file that can be "
    "imported today, add [bold]--ending-last-week[/] and [bold]--unit-names[/] with the organisation's units."
)


def _detector_config(alpha: float, min_count: int) -> DetectorConfig:
    try:
        return DetectorConfig(alpha=alpha, min_count=min_count)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--alpha") from None


def _check_utilisation(utilisation: tuple[float, float]) -> None:
    low, high = utilisation
    if not 0 < low <= high < 1:
        raise typer.BadParameter(f"{low} {high}: expected 0 < low ≤ high < 1", param_hint="--utilisation")


def _series_start(start: str | None, *, ending_last_week: bool, weeks: int) -> date:
    """The first Monday of the series: given, derived from today, or the benchmark's default."""
    if start is not None and ending_last_week:
        raise typer.BadParameter("give either --start or --ending-last-week, not both", param_hint="--start")
    if ending_last_week:
        return week_start(datetime.now(UTC)) - timedelta(weeks=weeks)
    if start is None:
        return SimulationConfig.start
    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(f"{start!r} is not an ISO date such as 2024-01-01", param_hint="--start") from None
    if first.weekday() != 0:
        monday = first - timedelta(days=first.weekday())
        raise typer.BadParameter(
            f"{start} is a {first.strftime('%A')}; a week starts on a Monday ({monday.isoformat()})",
            param_hint="--start",
        )
    return first


def _unit_names(unit_names: str | None, units: int | None) -> list[str] | None:
    if unit_names is None:
        return None
    names = [name.strip() for name in unit_names.split(",") if name.strip()]
    if not names:
        raise typer.BadParameter("no names given", param_hint="--unit-names")
    if len({name.casefold() for name in names}) != len(names):
        # the history import looks units up by name, case-insensitively
        raise typer.BadParameter("names must differ (case-insensitively)", param_hint="--unit-names")
    if units is not None and units != len(names):
        raise typer.BadParameter(f"{len(names)} names for --units {units}", param_hint="--unit-names")
    return names


def _import_rows(
    organisation: SimulatedOrganisation, names: dict[str, str], *, skip_zeros: bool
) -> Iterator[dict[str, str | int]]:
    """Every unit × category × week as a history import row, week by week."""
    weeks = max(unit.weeks for unit in organisation.units)
    for index in range(weeks):
        week = (organisation.start + timedelta(weeks=index)).isoformat()
        for unit in organisation.units:
            for category in Category:
                values = unit.counts.get(category)
                count = values[index] if values is not None else 0
                if count or not skip_zeros:
                    yield {
                        "week": week,
                        "org_unit": names[unit.unit_id],
                        "category": category.value,
                        "count": count,
                        "employees": unit.employees,
                    }


def _import_file(rows: Iterator[dict[str, str | int]], output_format: SeriesFormat) -> tuple[str, int]:
    """The rows as CSV or as JSON ``{"rows": [...]}`` with one row per line, and how many there are."""
    if output_format is SeriesFormat.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=IMPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        written = 0
        for row in rows:
            writer.writerow(row)
            written += 1
        return buffer.getvalue(), written
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    return '{"rows": [\n' + ",\n".join(lines) + "\n]}\n", len(lines)


def _episode_lines(organisation: SimulatedOrganisation, names: dict[str, str]) -> list[str]:
    lines = [
        f"episode: {episode.kind.value} in {names[episode.unit_id]} ({episode.employees} employees), onset "
        f"{episode.onset.isoformat()}, size {episode.size:g} (expected in 3 weeks), added per week "
        f"{', '.join(str(added) for added in episode.added)}"
        for episode in organisation.episodes
    ]
    lines += [
        f"management action: {action.action} in {names.get(action.unit_id or '', 'the whole organisation')}, "
        f"week {action.week.isoformat()}"
        for action in organisation.actions
    ]
    return lines or ["no episodes"]


def _words(code: str) -> str:
    """A taxonomy code as words (``stress_surge`` → ``stress surge``), so that a narrow table can wrap it."""
    return code.replace("_", " ")


def _p_value(signal: Signal) -> str:
    """The window test's p-value, or the CUSUM's score for a gradual rise (which has no p-value)."""
    evidence = signal.evidence
    return f"CUSUM {evidence.score:.1f}" if evidence.p_value is None else f"{evidence.p_value:.1e}"


def _simulation_tables(
    console: Console,
    organisation: SimulatedOrganisation,
    names: dict[str, str],
    config: DetectorConfig,
    horizon: int,
) -> None:
    """The readable summary of one organisation and what the detectors made of it."""
    signals = quality.replay(organisation, config)
    found = quality.findings(organisation, signals=signals)
    weeks = max(unit.weeks for unit in organisation.units)
    history_end = organisation.start + timedelta(weeks=organisation.history_weeks)
    last = organisation.start + timedelta(weeks=weeks - 1)
    console.print(
        f"[bold]Seed {organisation.seed}[/]: {len(organisation.units)} org units, "
        f"{sum(u.employees for u in organisation.units)} employees, reached at {organisation.utilisation:.1%} a "
        f"year. Weeks {organisation.start.isoformat()} – {last.isoformat()}: {organisation.history_weeks} weeks of "
        f"history, then the evaluation year from {history_end.isoformat()}."
    )

    episode_of = {finding.episode.unit_id: finding.episode for finding in found}
    units = Table(title="Org units", caption="signals: raised in the evaluation year, of any kind")
    for column in ("org unit", "employees", "referrals / year", "reach / year", "episode", "signals"):
        units.add_column(
            column, justify="left" if column in ("org unit", "episode") else "right", no_wrap=column != "episode"
        )
    for unit in organisation.units:
        per_year = sum(sum(values) for values in unit.counts.values()) / weeks * 52
        episode = episode_of.get(unit.unit_id)
        units.add_row(
            names[unit.unit_id],
            str(unit.employees),
            f"{per_year:.1f}",
            f"{per_year / unit.employees:.1%}",
            _words(episode.kind.value) if episode else "–",
            str(len(signals[unit.unit_id])),
        )
    console.print(units)

    if found:
        table = Table(
            title="Episodes, and what the detectors found",
            caption=f"size: expected referrals in the first 3 weeks; added: the real ones, week by week; delay: weeks "
            f"from onset to the signal (found when below {horizon})",
            box=box.SIMPLE_HEAD,
            padding=(0, 1, 0, 0),  # eight columns that fit in 80 characters
            pad_edge=False,
        )
        for column in ("kind", "unit", "onset", "size", "added", "raised", "delay", "p-value"):
            table.add_column(
                column,
                justify="right" if column in ("size", "delay", "p-value") else "left",
                no_wrap=column not in ("kind", "unit"),
                min_width={"kind": 14, "unit": 6}.get(column),
            )
        for finding in found:
            episode = finding.episode
            signal_ = finding.signal
            if finding.delay is None:
                delay = "[red]missed[/]"
            elif finding.found(horizon):
                delay = f"[green]{finding.delay}[/]"
            else:
                delay = f"[yellow]{finding.delay} late[/]"
            table.add_row(
                _words(episode.kind.value),
                names[episode.unit_id],
                episode.onset.isoformat(),
                f"{episode.size:g}",
                f"{'+'.join(str(a) for a in episode.added[:3])}={episode.added_first_3_weeks}",
                signal_.raised_week.isoformat() if signal_ else "–",
                delay,
                _p_value(signal_) if signal_ else "–",
            )
        console.print(table)
        for action in organisation.actions:
            where = names.get(action.unit_id or "", "the whole organisation")
            console.print(f"Known change point: {action.action} in {where}, week {action.week.isoformat()}.")
    else:
        console.print("No episodes injected (--no-episodes).")

    matched = {id(finding.signal) for finding in found if finding.signal is not None}
    others = [signal_ for unit_signals in signals.values() for signal_ in unit_signals if id(signal_) not in matched]
    if others:
        table = Table(title="Other signals in the evaluation year (false alarms, or an episode's later ones)")
        for column in ("org unit", "kind", "raised", "resolved", "p-value", "referrals"):
            table.add_column(
                column,
                justify="right" if column in ("p-value", "referrals") else "left",
                no_wrap=column in ("raised", "resolved", "p-value"),
            )
        for signal_ in sorted(others, key=lambda s: (s.raised_week, s.unit_id, s.kind.value)):
            table.add_row(
                names[signal_.unit_id],
                _words(signal_.kind.value),
                signal_.raised_week.isoformat(),
                signal_.resolved_week.isoformat() if signal_.resolved_week else "open",
                _p_value(signal_),
                f"{signal_.evidence.observed} in {len(signal_.evidence.weeks)} wk, "
                f"{signal_.evidence.expected:.2g} expected",
            )
        console.print(table)
    else:
        console.print("No other signals in the evaluation year.")


@signals_app.command("simulate", help=SIMULATE_HELP)
def signals_simulate(
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            help="Seed of the organisation: the same seed and options give the same organisation (with the "
            "default options, organisation N of `bmw signals quality`).",
            min=0,
            show_default=False,
        ),
    ],
    units: Annotated[
        int | None, typer.Option("--units", help="Number of org units. Default: drawn from 4–10.", min=1)
    ] = None,
    unit_names: Annotated[
        str | None,
        typer.Option(
            "--unit-names",
            help="Comma-separated names of the org units (e.g. those of the client organisation the file is for); "
            "sets the number of units. Default: unit-0, unit-1, …",
        ),
    ] = None,
    employees: Annotated[
        tuple[int, int],
        typer.Option("--employees", help="Range, low high, of the units' employees (drawn log-uniformly)."),
    ] = SimulationConfig.employees,
    weeks: Annotated[
        int,
        typer.Option(
            "--weeks",
            help=f"Weeks in the series: history, then a {EVALUATION_WEEKS}-week evaluation year in which the "
            "episodes start. A history import takes up to 3 years: with --ending-last-week, 155 weeks always fit.",
            min=EVALUATION_WEEKS + 12,
        ),
    ] = SimulationConfig.weeks,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help=f"First week, the ISO date of a Monday. Default {SimulationConfig.start.isoformat()}, as in "
            "`bmw signals quality`.",
            metavar="MONDAY",
            show_default=False,
        ),
    ] = None,
    ending_last_week: Annotated[
        bool,
        typer.Option(
            "--ending-last-week",
            help="Start the series so that it ends with last week (Europe/Amsterdam): every week is then complete "
            "and in the past, as a history import requires. The seasons move with the dates, so the counts differ "
            "from those of the default start.",
        ),
    ] = False,
    episodes: Annotated[
        bool,
        typer.Option(
            "--episodes/--no-episodes",
            help="Inject three episodes (reorganisation wave, leadership conflict, stress surge) into three units; "
            "--no-episodes gives the same background counts without them.",
        ),
    ] = True,
    episode_size: Annotated[
        float | None,
        typer.Option(
            "--episode-size",
            help="Expected referrals each episode adds in its first three weeks. Default: drawn per episode from "
            f"{', '.join(f'{size:g}' for size in SimulationConfig.episode_sizes)}.",
            min=0.0,
        ),
    ] = None,
    output_format: Annotated[
        SeriesFormat,
        typer.Option(
            "--format",
            help="table: a readable summary with what the detectors found; csv or json: a history import file.",
            case_sensitive=False,
        ),
    ] = SeriesFormat.TABLE,
    skip_zeros: Annotated[
        bool,
        typer.Option(
            "--skip-zeros",
            help="csv and json: leave out the cells without referrals (most of them), for a smaller file.",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write to this file instead of standard output.", dir_okay=False),
    ] = None,
    horizon: Horizon = 3,
    week_shape: WeekShape = SimulationConfig.week_shape,
    trend_sd: TrendSd = SimulationConfig.trend_sd,
    utilisation: Utilisation = SimulationConfig.utilisation,
    alpha: Alpha = DetectorConfig.alpha,
    min_count: MinCount = DetectorConfig.min_count,
) -> None:
    """Generate one synthetic organisation and print it (help text: ``SIMULATE_HELP``)."""
    names_given = _unit_names(unit_names, units)
    unit_count = len(names_given) if names_given is not None else units
    _check_utilisation(utilisation)
    if not 0 < employees[0] <= employees[1]:
        raise typer.BadParameter(f"{employees[0]} {employees[1]}: expected 0 < low ≤ high", param_hint="--employees")
    config = _detector_config(alpha, min_count)
    try:
        sim = SimulationConfig(
            weeks=weeks,
            history_weeks=weeks - EVALUATION_WEEKS,
            start=_series_start(start, ending_last_week=ending_last_week, weeks=weeks),
            units=(unit_count, unit_count) if unit_count is not None else SimulationConfig.units,
            employees=employees,
            utilisation=utilisation,
            week_shape=week_shape,
            trend_sd=trend_sd,
            episode_sizes=(episode_size,) if episode_size is not None else SimulationConfig.episode_sizes,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    organisation = simulate_organisation(seed, sim, with_episodes=episodes)
    if names_given is None:
        names = {unit.unit_id: unit.unit_id for unit in organisation.units}
    else:
        names = {unit.unit_id: name for unit, name in zip(organisation.units, names_given, strict=True)}

    if output_format is SeriesFormat.TABLE:
        if output is None:
            _simulation_tables(Console(), organisation, names, config, horizon)
        else:
            with output.open("w", encoding="utf-8") as handle:
                _simulation_tables(Console(file=handle, width=140), organisation, names, config, horizon)
            typer.echo(f"wrote {output}")
        return

    text, written = _import_file(_import_rows(organisation, names, skip_zeros=skip_zeros), output_format)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {written} rows to {output}")
    # The ground truth stays out of the import file; on stderr it does not mix into a redirected stdout.
    for line in _episode_lines(organisation, names):
        typer.echo(line, err=output is None)


def _recall_table(result: quality.Result, horizon: int, seeds: int) -> Table:
    """Recall per episode size (rows) and unit size (columns), as in bench/README.md."""
    rows = quality.summarise(result.outcomes)
    by_group = {(row.added, row.unit): row for row in rows}
    unit_labels = [quality.label(bounds) for bounds in quality.UNIT_BINS]
    table = Table(
        title=f"Recall within {horizon} weeks of onset: {seeds} seeds, {len(result.outcomes)} episodes",
        caption="added: referrals the episode really added in its first 3 weeks; per unit size (employees): recall "
        "(episodes); delay: the median weeks from onset to signal of the found ones",
    )
    table.add_column("added", justify="right")
    table.add_column("episodes", justify="right")
    table.add_column("recall", justify="right")
    for name in unit_labels:
        table.add_column(name, justify="right")
    table.add_column("delay", justify="right")
    for bounds in quality.ADDED_BINS:
        added = quality.label(bounds)
        everything = by_group.get((added, quality.ALL))
        if everything is None:
            continue
        cells = []
        for name in unit_labels:
            row = by_group.get((added, name))
            cells.append("–" if row is None else f"{row.recall:.2f} ({row.episodes})")
        delay = "–" if everything.median_delay is None else f"{everything.median_delay:g}"
        table.add_row(added, str(everything.episodes), f"{everything.recall:.2f}", *cells, delay)
    return table


def _false_alarm_table(result: quality.Result) -> Table:
    table = Table(title="False alarms on the same organisations without episodes")
    for column in ("unit employees", "unit-years", "alarms", "per unit per year"):
        table.add_column(column, justify="right")
    rates = result.false_alarm_rates()
    for name in [*(quality.label(bounds) for bounds in quality.UNIT_BINS), quality.ALL]:
        table.add_row(
            name,
            f"{result.unit_years.get(name, 0.0):.0f}",
            str(result.alarms.get(name, 0)),
            f"{rates[name]:.3f}" if name in rates else "–",
        )
    return table


def _verdict(met: bool) -> str:
    return "[bold green]met[/]" if met else "[bold red]not met[/]"


@signals_app.command("quality")
def signals_quality(
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds",
            help="Organisations to simulate (seeds 0 … N − 1); 200 gives the figures in bench/README.md.",
            min=1,
        ),
    ] = 40,
    horizon: Horizon = 3,
    json_file: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Also write every figure (rows per unit size, both configurations, false alarms) to this file.",
            dir_okay=False,
        ),
    ] = None,
    week_shape: WeekShape = SimulationConfig.week_shape,
    trend_sd: TrendSd = SimulationConfig.trend_sd,
    utilisation: Utilisation = SimulationConfig.utilisation,
    alpha: Alpha = DetectorConfig.alpha,
    min_count: MinCount = DetectorConfig.min_count,
) -> None:
    """Measure the detectors' recall, delay and false alarms on synthetic organisations; exit 1 when issue 6's
    targets (recall ≥ 0.9 for episodes adding ≥ 8 referrals in 3 weeks to units of ≥ 50 employees, ≤ 0.5 false
    alarms per unit per year) are not met."""
    _check_utilisation(utilisation)
    config = _detector_config(alpha, min_count)
    sim = SimulationConfig(week_shape=week_shape, trend_sd=trend_sd, utilisation=utilisation)
    console = Console()
    started = time.monotonic()
    with Progress(
        TextColumn("simulating and detecting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("seeds", total=seeds)
        result = quality.run(seeds, horizon, config, sim, progress=lambda done: bar.update(task, completed=done))
    seconds = time.monotonic() - started
    console.print(_recall_table(result, horizon, seeds))
    console.print(_false_alarm_table(result))

    episodes, recall = quality.target(result.outcomes)
    false_alarms = result.false_alarm_rates().get(quality.ALL, math.nan)
    met = quality.targets_met(result)
    group = (
        f"episodes adding ≥ {quality.TARGET_MIN_ADDED} referrals in 3 weeks to units of "
        f"≥ {quality.TARGET_MIN_EMPLOYEES} employees"
    )
    if episodes:
        console.print(
            f"Recall for {group}: {recall:.3f} over {episodes} episodes (target ≥ {quality.TARGET_RECALL}): "
            f"{_verdict(recall >= quality.TARGET_RECALL)}"
        )
    else:
        console.print(f"No {group} in {seeds} seeds: the recall target is not shown; run more seeds. {_verdict(False)}")
    console.print(
        f"False alarms: {false_alarms:.3f} per unit per year "
        f"(target ≤ {quality.TARGET_FALSE_ALARMS_PER_UNIT_YEAR}): "
        f"{_verdict(false_alarms <= quality.TARGET_FALSE_ALARMS_PER_UNIT_YEAR)}"
    )
    console.print(f"Targets {_verdict(met)} ({seeds} seeds, {seconds:.1f} s).")
    if json_file is not None:
        data = quality.report(result, seeds=seeds, horizon=horizon, config=config, sim=sim, seconds=seconds)
        json_file.write_text(json.dumps({**data, "targets_met": met}, indent=2, default=str), encoding="utf-8")
        console.print(f"wrote {json_file}")
    raise typer.Exit(0 if met else 1)
