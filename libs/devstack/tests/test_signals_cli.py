"""``bmw signals simulate`` and ``bmw signals quality`` (CliRunner, pure Python, no infrastructure)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from bmw.contracts.taxonomy import Category
from bmw.devstack.cli import app
from bmw.signals.application import quality
from bmw.signals.domain.detection import DetectorConfig
from bmw.signals.domain.simulation import SimulationConfig, simulate_organisation
from bmw.signals.domain.weeks import week_start

runner = CliRunner()
HEADER = ["week", "org_unit", "category", "count", "employees"]
CODES = {category.value for category in Category}


def simulate(*arguments: str) -> tuple[str, str]:
    """Run ``bmw signals simulate``; its stdout and stderr (it must succeed)."""
    result = runner.invoke(app, ["signals", "simulate", *arguments])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == HEADER
    return list(reader)


def test_csv_is_a_history_import_file_of_every_unit_category_and_week() -> None:
    stdout, stderr = simulate("--seed", "3", "--format", "csv")
    rows = csv_rows(stdout)
    organisation = simulate_organisation(3)
    assert len(rows) == len(organisation.units) * len(Category) * SimulationConfig.weeks
    for row in rows:
        assert row["category"] in CODES
        assert row["count"].isdigit()  # a non-negative integer
        assert int(row["employees"]) > 0
        assert date.fromisoformat(row["week"]).weekday() == 0
    assert min(row["week"] for row in rows) == SimulationConfig.start.isoformat()
    assert {row["org_unit"] for row in rows} == {unit.unit_id for unit in organisation.units}
    total = sum(sum(sum(values) for values in unit.counts.values()) for unit in organisation.units)
    assert sum(int(row["count"]) for row in rows) == total
    # the ground truth goes to stderr, out of the import file
    assert stderr.count("episode: ") == len(organisation.episodes) == 3
    for episode in organisation.episodes:
        assert f"{episode.kind.value} in {episode.unit_id}" in stderr
        assert f"onset {episode.onset.isoformat()}" in stderr


def test_json_parses_and_holds_the_same_rows_as_csv() -> None:
    stdout, _ = simulate("--seed", "3", "--format", "json", "--skip-zeros")
    rows = json.loads(stdout)["rows"]
    dense = csv_rows(simulate("--seed", "3", "--format", "csv")[0])
    expected: list[dict[str, str | int]] = [
        {**row, "count": int(row["count"]), "employees": int(row["employees"])} for row in dense if row["count"] != "0"
    ]
    assert rows == expected
    assert all(set(row) == set(HEADER) for row in rows)


def test_unit_names_and_a_series_that_ends_last_week(tmp_path: Path) -> None:
    before = week_start(datetime.now(UTC)) - timedelta(weeks=1)
    output = tmp_path / "history.csv"
    stdout, stderr = simulate(
        "--seed",
        "5",
        "--unit-names",
        "Logistiek, Planning,Finance,HR",
        "--ending-last-week",
        "--weeks",
        "100",
        "--format",
        "csv",
        "--output",
        str(output),
    )
    after = week_start(datetime.now(UTC)) - timedelta(weeks=1)
    rows = csv_rows(output.read_text(encoding="utf-8"))
    assert f"wrote {len(rows)} rows to {output}" in stdout
    assert "episode: " in stdout  # with --output the ground truth is on stdout
    assert stderr == ""
    assert {row["org_unit"] for row in rows} == {"Logistiek", "Planning", "Finance", "HR"}
    weeks = sorted({date.fromisoformat(row["week"]) for row in rows})
    assert len(weeks) == 100
    assert weeks[-1] in {before, after}  # a run across midnight on Sunday moves the week
    assert weeks[-1] - weeks[0] == timedelta(weeks=99)


def test_without_episodes_the_background_stays() -> None:
    quiet, stderr = simulate("--seed", "3", "--no-episodes", "--format", "csv")
    noisy, _ = simulate("--seed", "3", "--format", "csv")
    background = sum(int(row["count"]) for row in csv_rows(quiet))
    added = sum(sum(episode.added) for episode in simulate_organisation(3).episodes)
    assert background + added == sum(int(row["count"]) for row in csv_rows(noisy))
    assert "no episodes" in stderr


def test_the_table_shows_units_and_what_the_detectors_found() -> None:
    stdout, _ = simulate("--seed", "3")
    organisation = simulate_organisation(3)
    for heading in ("Org units", "Episodes, and what the detectors found", "reorganisation announced"):
        assert heading in stdout
    for unit in organisation.units:
        assert unit.unit_id in stdout
    findings = quality.findings(organisation)
    assert findings
    for finding in findings:
        assert finding.episode.onset.isoformat() in stdout
        if finding.signal is not None:
            assert finding.signal.raised_week.isoformat() in stdout
            assert finding.signal.evidence.p_value is not None
            assert f"{finding.signal.evidence.p_value:.1e}" in stdout


def test_invalid_options_are_refused_with_a_reason() -> None:
    result = runner.invoke(app, ["signals", "simulate", "--seed", "1", "--start", "2024-01-03"])
    assert result.exit_code == 2
    assert "Monday" in result.output
    result = runner.invoke(app, ["signals", "simulate", "--seed", "1", "--units", "3", "--unit-names", "A,B"])
    assert result.exit_code == 2
    assert "--unit-names" in result.output
    result = runner.invoke(app, ["signals", "quality", "--seeds", "1", "--utilisation", "0.5", "0.1"])
    assert result.exit_code == 2
    assert "--utilisation" in result.output


def test_quality_prints_tables_and_exits_by_the_targets(tmp_path: Path) -> None:
    report = tmp_path / "quality.json"
    result = runner.invoke(app, ["signals", "quality", "--seeds", "2", "--json", str(report)])
    assert result.exit_code in (0, 1), result.output
    measured = quality.run(2, 3, DetectorConfig(), SimulationConfig())
    met = quality.targets_met(measured)
    assert result.exit_code == (0 if met else 1)
    assert "Recall within 3 weeks of onset: 2 seeds" in result.output
    assert "False alarms" in result.output
    assert f"Targets {'met' if met else 'not met'}" in result.output
    written = json.loads(report.read_text(encoding="utf-8"))
    assert written["seeds"] == 2
    assert written["targets_met"] is met
    assert written["false_alarms"] == dict(measured.alarms)


def test_quality_fails_when_the_detectors_cry_wolf() -> None:
    # alpha 0.3 and a single referral raise signals on pure noise: far above 0.5 false alarms per unit-year
    result = runner.invoke(app, ["signals", "quality", "--seeds", "2", "--alpha", "0.3", "--min-count", "1"])
    assert result.exit_code == 1, result.output
    assert "Targets not met" in result.output


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["signals", "--help"])
    assert result.exit_code == 0
    assert "simulate" in result.output and "quality" in result.output
    result = runner.invoke(app, ["signals", "simulate", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in (
        "--seed",
        "--units",
        "--unit-names",
        "--weeks",
        "--start",
        "--ending-last-week",
        "--no-episodes",
        "--episode-size",
        "--format",
        "--skip-zeros",
        "--output",
        "--horizon",
        "--week-shape",
        "--utilisation",
        "--alpha",
    ):
        assert option in result.output
    result = runner.invoke(app, ["signals", "quality", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in ("--seeds", "--horizon", "--json", "--alpha", "--min-count", "--trend-sd"):
        assert option in result.output
