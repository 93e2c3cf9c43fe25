"""The detection-quality measurement behind ``bench/signals_quality.py`` and ``bmw signals quality``."""

from __future__ import annotations

import json
import math

import pytest

from bmw.signals.application import quality
from bmw.signals.application.quality import Outcome, Result
from bmw.signals.domain.detection import DetectorConfig
from bmw.signals.domain.simulation import SimulationConfig, simulate_organisation

SEEDS = 3


@pytest.fixture(scope="module")
def measured() -> tuple[Result, list[int]]:
    """One three-seed run with the default settings, and what its progress hook saw."""
    calls: list[int] = []
    result = quality.run(SEEDS, 3, DetectorConfig(), SimulationConfig(), progress=calls.append)
    return result, calls


def outcome(*, added: int, employees: int, delay: int | None, horizon: int = 3) -> Outcome:
    return Outcome(
        kind="stress_surge",
        employees=employees,
        size=8.0,
        added_first_3_weeks=added,
        delay=delay,
        found=delay is not None and delay < horizon,
    )


def test_the_progress_hook_is_called_once_per_seed_with_the_seeds_done(measured: tuple[Result, list[int]]) -> None:
    _, calls = measured
    assert calls == [1, 2, 3]


def test_a_run_measures_every_episode_and_every_unit_year(measured: tuple[Result, list[int]]) -> None:
    result, _ = measured
    organisations = [simulate_organisation(seed) for seed in range(SEEDS)]
    assert len(result.outcomes) == sum(len(o.episodes) for o in organisations)
    # the evaluation year is 52 of the 156 weeks: one unit-year per unit and seed
    assert result.unit_years[quality.ALL] == pytest.approx(sum(len(o.units) for o in organisations))
    by_size = [quality.label(bounds) for bounds in quality.UNIT_BINS]
    assert sum(result.alarms[name] for name in by_size) == result.alarms[quality.ALL]
    assert sum(result.unit_years[name] for name in by_size) == pytest.approx(result.unit_years[quality.ALL])


def test_recall_delays_and_rates_are_sensible(measured: tuple[Result, list[int]]) -> None:
    result, _ = measured
    rows = quality.summarise(result.outcomes)
    assert rows
    for row in rows:
        assert 0.0 <= row.recall <= 1.0
        assert row.episodes >= 1
        assert row.median_delay is None or 0 <= row.median_delay < 3
    assert sum(row.episodes for row in rows if row.unit == quality.ALL) == len(result.outcomes)
    for found in (o for o in result.outcomes if o.found):
        assert found.delay is not None and 0 <= found.delay < 3
    rates = result.false_alarm_rates()
    assert all(rate >= 0 for rate in rates.values())
    episodes, recall = quality.target(result.outcomes)
    assert episodes == sum(1 for o in result.outcomes if o.added_first_3_weeks >= 8 and o.employees >= 50)
    assert math.isnan(recall) if episodes == 0 else 0.0 <= recall <= 1.0


def test_a_run_is_deterministic_for_its_seeds(measured: tuple[Result, list[int]]) -> None:
    result, _ = measured
    again = quality.run(SEEDS, 3, DetectorConfig(), SimulationConfig())
    assert again.outcomes == result.outcomes
    assert dict(again.alarms) == dict(result.alarms)
    assert dict(again.unit_years) == dict(result.unit_years)


def test_a_stricter_horizon_finds_no_more_episodes(measured: tuple[Result, list[int]]) -> None:
    result, _ = measured
    strict = quality.run(SEEDS, 1, DetectorConfig(), SimulationConfig())
    assert [o.delay for o in strict.outcomes] == [o.delay for o in result.outcomes]
    assert [o.found for o in strict.outcomes] == [o.delay == 0 for o in result.outcomes]


def test_findings_of_one_organisation_agree_with_the_run(measured: tuple[Result, list[int]]) -> None:
    result, _ = measured
    organisation = simulate_organisation(0)
    findings = quality.findings(organisation)
    first_seed = result.outcomes[: len(organisation.episodes)]
    assert [f.delay for f in findings] == [o.delay for o in first_seed]
    assert [f.found(3) for f in findings] == [o.found for o in first_seed]
    for finding in findings:
        if finding.signal is not None:
            assert finding.signal.kind is finding.episode.kind
            assert finding.signal.unit_id == finding.episode.unit_id
            assert finding.signal.raised_week >= finding.episode.onset


def test_summarise_groups_by_added_referrals_and_unit_size() -> None:
    outcomes = [
        outcome(added=9, employees=60, delay=1),
        outcome(added=10, employees=120, delay=None),
        outcome(added=9, employees=300, delay=0),
        outcome(added=2, employees=30, delay=4),  # raised, but too late to count
    ]
    rows = {(row.added, row.unit): row for row in quality.summarise(outcomes)}
    assert rows[("8–11", "all")].episodes == 3
    assert rows[("8–11", "all")].recall == pytest.approx(2 / 3)
    assert rows[("8–11", "all")].median_delay == pytest.approx(0.5)
    assert rows[("8–11", "50–149")].recall == pytest.approx(0.5)
    assert rows[("8–11", "150–400")].recall == pytest.approx(1.0)
    assert rows[("2", "20–49")].recall == 0.0
    assert rows[("2", "20–49")].median_delay is None
    assert ("8–11", "20–49") not in rows


def test_labels_of_the_bins() -> None:
    assert [quality.label(bounds) for bounds in quality.ADDED_BINS][-4:] == ["6–7", "8–11", "12–15", "≥ 16"]
    assert quality.bin_of(40, quality.ADDED_BINS) == (16, 10_000)
    assert quality.unit_size_label(50) == "50–149"


def test_targets_need_both_the_recall_and_few_false_alarms() -> None:
    found = [outcome(added=8, employees=50, delay=0) for _ in range(9)]
    missed = outcome(added=8, employees=50, delay=None)
    quiet = Result(outcomes=[*found, missed], alarms={quality.ALL: 1}, unit_years={quality.ALL: 10.0})
    assert quality.targets_met(quiet)

    noisy = Result(outcomes=quiet.outcomes, alarms={quality.ALL: 6}, unit_years={quality.ALL: 10.0})
    assert not quality.targets_met(noisy)

    poor = Result(outcomes=[*found[:8], missed, missed], alarms={quality.ALL: 0}, unit_years={quality.ALL: 10.0})
    assert not quality.targets_met(poor)

    # small episodes and small units are outside the target group: nothing shown, so not met
    untargeted = [outcome(added=7, employees=400, delay=0), outcome(added=16, employees=49, delay=0)]
    unshown = Result(outcomes=untargeted, alarms={quality.ALL: 0}, unit_years={quality.ALL: 10.0})
    assert quality.target(unshown.outcomes)[0] == 0
    assert not quality.targets_met(unshown)


def test_the_report_holds_every_figure_and_serialises(measured: tuple[Result, list[int]]) -> None:
    result, _ = measured
    config, sim = DetectorConfig(), SimulationConfig()
    report = quality.report(result, seeds=SEEDS, horizon=3, config=config, sim=sim, seconds=1.5)
    decoded = json.loads(json.dumps(report, default=str))
    assert decoded["seeds"] == SEEDS
    assert decoded["detector_config"]["alpha"] == config.alpha
    assert decoded["simulation_config"]["start"] == sim.start.isoformat()
    assert len(decoded["rows"]) == len(quality.summarise(result.outcomes))
    assert decoded["false_alarms"][quality.ALL] == result.alarms[quality.ALL]
    assert decoded["target"]["episodes"] == quality.target(result.outcomes)[0]
