"""The parts of ``make bench`` that decide what a run says: whether a consumer kept up, whether a target is met,
what a profile's hot spots are, and which suites the command line chose. The benchmarks themselves never run in
``make test`` (speed targets belong in ``make bench``)."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.__main__ import SUITES, parse_arguments
from bench.pipeline import GROUP_TOPICS, PROCESSES, Answer, Step, figures_of, hot_spots
from bench.report import write_results
from bench.suite import Figure, SuiteResult, Target


def step_with(lags: list[int], *, produced_per_second: int = 100, rate: float = 50.0) -> Step:
    step = Step(rate=rate, seconds=len(lags))
    for second, lag in enumerate(lags):
        step.lag.append(
            {
                "t": float(second),
                "lags": dict.fromkeys(GROUP_TOPICS, lag),
                "produced": dict.fromkeys(GROUP_TOPICS, second * produced_per_second),
            }
        )
    return step


def test_a_group_whose_lag_stays_within_two_seconds_of_its_input_keeps_up() -> None:
    step = step_with([0, 40, 120, 80, 150, 90, 60, 110, 130])

    assert all(step.group_kept_up().values())


def test_a_group_whose_lag_keeps_growing_falls_behind() -> None:
    step = step_with([0, 100, 200, 300, 400, 500, 600, 700, 800])

    assert not any(step.group_kept_up().values())


def test_a_step_kept_up_only_when_the_gateway_accepted_nearly_everything_and_nothing_failed() -> None:
    step = step_with([0, 10, 10, 10, 10, 10], rate=10)
    accepted = Answer(due=0.0, answered=0.01, answered_wall=0.0, referral_id=uuid.uuid4(), kind="accepted")
    step.answers = [accepted] * 60
    assert step.kept_up()

    step.answers = [accepted] * 59 + [Answer(0.0, 0.1, 0.0, None, "ServiceUnavailable")]
    assert not step.kept_up(), "a failed request"

    step.answers = [accepted] * 50
    assert not step.kept_up(), "fewer than 97 % accepted"


def test_the_sustained_rate_and_a_referrals_cost_come_from_the_highest_step_that_kept_up() -> None:
    accepted = Answer(due=0.0, answered=0.01, answered_wall=0.0, referral_id=uuid.uuid4(), kind="accepted")
    overloaded = step_with([0, 100, 200, 300, 400, 500], rate=50)  # the ramp's first rate: fell behind
    overloaded.answers = [accepted] * 100 + [Answer(0.0, 20.0, 0.0, None, "ServiceUnavailable")] * 200
    descents = []
    for rate, cpu in ((25.0, 900.0), (12.5, 30.0), (6.25, 12.0)):  # halved until one kept up, and once more
        step = (
            step_with([0, 10, 10, 10, 10, 10], rate=rate) if rate < 20 else step_with([0, 900, 1800, 2700], rate=rate)
        )
        step.answers = [accepted] * round(rate * step.seconds)
        step.cpu = dict.fromkeys(PROCESSES, cpu)
        descents.append(step)
    overloaded.cpu = dict.fromkeys(PROCESSES, 5000.0)
    measured = {"steps": [overloaded, *descents], "raw": {}, "bare": {}, "idle": dict.fromkeys(PROCESSES, 100.0),
                "profiles": {}}  # fmt: skip

    _, targets, details = figures_of(measured)

    [sustained] = [target for target in targets if target.key == "pipeline.sustained_rate"]
    assert sustained.value == 12.5 and not sustained.met
    assert "at 12.5/s" in sustained.note, "the cost of a referral where the system kept up, not where it drowned"
    assert [step["offered_per_second"] for step in details["steps"]] == [50, 25, 12.5, 6.25]


@pytest.mark.parametrize(
    ("value", "higher_is_better", "met"),
    [(210.0, True, True), (190.0, True, False), (90.0, False, True), (110.0, False, False), (math.nan, False, False)],
)
def test_a_target_is_met_on_its_own_side_of_the_limit(value: float, higher_is_better: bool, met: bool) -> None:
    limit = 200.0 if higher_is_better else 100.0
    target = Target(key="k", text="t", value=value, limit=limit, unit="u", higher_is_better=higher_is_better)

    assert target.met is met
    assert target.as_dict()["met"] is met


def test_a_figures_ratio_is_subject_over_baseline_and_absent_without_a_baseline() -> None:
    figure = Figure("k", "g", "n", "ms", value=30.0, baseline=10.0, baseline_name="b", higher_is_better=False, count=1)
    assert figure.as_dict()["ratio"] == 3.0
    empty = Figure("k", "g", "n", "ms", value=30.0, baseline=0.0, baseline_name="b", higher_is_better=False, count=1)
    assert empty.as_dict()["ratio"] is None


def test_hot_spots_count_each_of_our_functions_once_per_sample_and_self_time_by_package() -> None:
    collapsed = "\n".join(
        [
            "run (asyncio/base_events.py:600);process (servicekit/messaging.py:110);"
            "_apply (servicekit/messaging.py:206);execute (sqlalchemy/engine.py:10) 6",
            "run (asyncio/base_events.py:600);process (servicekit/messaging.py:110);"
            "decode (contracts/envelope.py:50) 2",
            "run (asyncio/base_events.py:600);select (selectors.py:1) 2",
        ]
    )

    found = hot_spots(collapsed)

    assert found["samples"] == 10
    assert dict(found["on_stack"])["bmw.servicekit.messaging.process"] == 0.8
    assert dict(found["on_stack"])["bmw.servicekit.messaging._apply"] == 0.6
    assert dict(found["self_by_package"]) == {"sqlalchemy": 0.6, "bmw.contracts": 0.2, "stdlib": 0.2}


def test_the_command_line_runs_every_suite_unless_told_and_refuses_an_unknown_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse_arguments([]).suites == list(SUITES)
    assert parse_arguments(["--only", "pipeline,billing"]).suites == ["billing", "pipeline"]

    with pytest.raises(SystemExit) as stopped:
        parse_arguments(["--only", "pipline"])

    assert stopped.value.code == 2
    assert "unknown suite pipline" in capsys.readouterr().err


def test_merge_keeps_the_suites_not_run_now_and_replaces_the_ones_that_were(tmp_path: Path) -> None:
    path = tmp_path / "latest.json"
    target = Target(key="t", text="t", value=1.0, limit=2.0, unit="u", higher_is_better=False)
    first = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
    write_results(path, [SuiteResult("billing", "B", targets=[target])], {}, {}, first, 1.0, quick=False)
    write_results(
        path, [SuiteResult("pipeline", "P")], {}, {}, first + timedelta(hours=1), 1.0, quick=False, merge=True
    )
    write_results(
        path, [SuiteResult("pipeline", "P2")], {}, {}, first + timedelta(hours=2), 1.0, quick=True, merge=True
    )

    document = json.loads(path.read_text())

    assert sorted(document["suites"]) == ["billing", "pipeline"]
    assert document["suites"]["billing"]["timestamp"] == "2026-11-28T17:00:00+00:00"
    assert document["suites"]["pipeline"]["title"] == "P2"
    assert document["targets"] == [target.as_dict() | {"suite": "billing"}]

    write_results(path, [SuiteResult("pipeline", "P3")], {}, {}, first, 1.0, quick=False)
    assert sorted(json.loads(path.read_text())["suites"]) == ["pipeline"], "without merge the file is the run's alone"
