"""How the detection job sees a client organisation: own series for units, subtree series for parents,
and the resolution rule against the frozen baseline."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

from bmw.contracts.taxonomy import Category, SignalKind
from bmw.servicekit.tenants import OrgUnitRow
from bmw.signals.application.detection import _returned_to_baseline, build_scopes, evidence_json
from bmw.signals.domain.detection import DetectorConfig, ManagementAction, OrgBaseline, UnitSeries, detect
from bmw.signals.domain.narrative import summary

START = date(2025, 1, 6)
ROOT, CHILD_A, CHILD_B = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
UNITS = [
    OrgUnitRow(ROOT, "Operations", None, 20),
    OrgUnitRow(CHILD_A, "Warehouse", ROOT, 120),
    OrgUnitRow(CHILD_B, "Transport", ROOT, None),
]


def test_a_parent_is_judged_on_its_whole_subtree_and_units_on_their_own_referrals() -> None:
    cells = {
        (ROOT, Category.DISMISSAL.value, START): 1,
        (CHILD_A, Category.DISMISSAL.value, START): 2,
        (CHILD_A, Category.DISMISSAL.value, START + timedelta(weeks=1)): 4,
        (CHILD_B, Category.WORKLOAD_STRESS.value, START): 3,
    }
    scopes, org = build_scopes(UNITS, cells, start=START, weeks=3, default_employees=50)
    by_id = {scope.unit_id: scope for scope in scopes}
    assert by_id[ROOT].series.counts[Category.DISMISSAL] == [3, 4, 0]
    assert by_id[ROOT].series.counts[Category.WORKLOAD_STRESS] == [3, 0, 0]
    assert by_id[ROOT].series.employees == 20 + 120 + 50  # Transport has no headcount: the default
    assert by_id[ROOT].descendants == {CHILD_A, CHILD_B}
    assert by_id[CHILD_A].series.counts[Category.DISMISSAL] == [2, 4, 0]
    assert by_id[CHILD_A].descendants == frozenset()
    # The organisation's rate counts every referral once (own series), not once per ancestor.
    rate = org.rate_per_employee(frozenset({Category.DISMISSAL}), 0, 3)
    assert rate is not None
    assert abs(rate - 7 / ((20 + 120 + 50) * 3)) < 1e-12


def test_counts_of_a_unit_that_left_the_tree_are_still_counted_for_the_organisation() -> None:
    gone = uuid.uuid4()
    scopes, _ = build_scopes(UNITS, {(gone, "dismissal", START): 2}, start=START, weeks=1, default_employees=50)
    assert gone in {scope.unit_id for scope in scopes}


def test_cells_outside_the_window_or_with_unknown_categories_are_ignored() -> None:
    cells = {(CHILD_A, "dismissal", START - timedelta(weeks=1)): 5, (CHILD_A, "not_a_category", START): 5}
    scopes, _ = build_scopes(UNITS, cells, start=START, weeks=2, default_employees=50)
    assert all(sum(sum(v) for v in scope.series.counts.values()) == 0 for scope in scopes)


def test_a_signal_resolves_only_after_enough_completed_weeks_within_the_frozen_baseline() -> None:
    config = DetectorConfig()
    baseline = {"weekly_rate": 0.5, "size": 4.0}
    assert not _returned_to_baseline([0, 0], baseline, config)  # too few weeks yet
    assert _returned_to_baseline([5, 0, 1, 0], baseline, config)
    assert not _returned_to_baseline([0, 0, 6], baseline, config)


def _wave() -> tuple[UnitSeries, OrgBaseline]:
    quiet = [0, 1, 0, 0, 0, 1, 0, 0] * 8
    counts = {Category.REORGANISATION_UNCERTAINTY: [*quiet, 5, 6]}
    unit = UnitSeries(unit_id=str(CHILD_A), employees=120, start=START, counts=counts)
    return unit, OrgBaseline([unit])


def test_stored_evidence_explains_with_counts_and_summarises_without() -> None:
    unit, org = _wave()
    action = ManagementAction(week=START + timedelta(weeks=62), action="reorganisation_announced")
    [signal] = [s for s in detect(unit, org=org, actions=[action]) if s.kind is SignalKind.REORGANISATION_WAVE]
    stored = evidence_json(signal, unit_name="Warehouse", scope="own", employees=120, observations=[])
    assert stored["observed"] == sum(stored["counts"]) >= 5
    assert str(stored["observed"]) in stored["explanation"]
    assert stored["baseline"]["period_weeks"] >= 8
    text = summary(signal.kind, "Warehouse", signal.evidence)
    assert text == stored["summary"]
    assert "Warehouse" in text and "reorganisation announced" in text
    assert not re.search(r"\d", re.sub(r"\d{4}-\d{2}-\d{2}", "", text))


def test_every_management_action_type_names_the_signal_kinds_it_explains() -> None:
    from bmw.signals.domain.codes import ACTION_EXPLAINS, ManagementActionType

    assert set(ACTION_EXPLAINS) == set(ManagementActionType)
    assert all(ACTION_EXPLAINS.values())


def test_the_weeks_of_an_earlier_real_signal_leave_the_baseline() -> None:
    from bmw.signals.domain.detection import DEFAULT_SPECS, estimate_baseline, window_p_value

    spec = next(s for s in DEFAULT_SPECS if s.kind is SignalKind.REORGANISATION_WAVE)
    history = [0] * 60
    for week in range(20, 24):
        history[week] = 5  # an episode half a year ago
    history += [4]  # this week
    unit = UnitSeries(unit_id="u", employees=80, start=START, counts={Category.DISMISSAL: history})
    org = OrgBaseline([unit])
    config = DetectorConfig()
    plain = estimate_baseline(unit, spec.categories, end=58, org=org, config=config)
    cleaned = estimate_baseline(
        unit, spec.categories, end=58, org=org, config=config, excluded=frozenset(range(20, 24))
    )
    assert cleaned.unit_referrals == plain.unit_referrals - 20
    assert cleaned.unit_weeks == plain.unit_weeks - 4
    assert cleaned.weekly_rate < plain.weekly_rate
    assert window_p_value(4, cleaned, 1, config) < window_p_value(4, plain, 1, config)
    # Replayed: with the episode excluded the new rise is a signal, with it in the baseline it hides.
    found = detect(unit, org=org, specs=[spec], first_week=60, excluded={spec.kind: frozenset(range(20, 24))})
    assert [s.raised_week for s in found] == [unit.week(60)]


def test_episode_weeks_run_from_the_first_evidence_week_to_the_resolution() -> None:
    from types import SimpleNamespace

    from bmw.signals.application.detection import _episode_weeks, _excluded

    row = SimpleNamespace(
        org_unit_id=CHILD_A,
        kind="reorganisation_wave",
        raised_week=START + timedelta(weeks=3),
        resolved_week=START + timedelta(weeks=6),
        weeks=[(START + timedelta(weeks=2)).isoformat(), (START + timedelta(weeks=3)).isoformat()],
    )
    still_open = SimpleNamespace(
        org_unit_id=CHILD_B, kind="stress_surge", raised_week=START + timedelta(weeks=9), resolved_week=None, weeks=[]
    )
    past = _episode_weeks([row, still_open], start=START, current=START + timedelta(weeks=10))
    assert past[(CHILD_A, SignalKind.REORGANISATION_WAVE)] == {2, 3, 4, 5, 6}
    assert past[(CHILD_B, SignalKind.STRESS_SURGE)] == {9, 10}
    # A parent's baseline leaves out its children's episodes too.
    assert _excluded(past, {ROOT, CHILD_A, CHILD_B}, SignalKind.REORGANISATION_WAVE) == {2, 3, 4, 5, 6}
