"""The synthetic organisation generator: deterministic, realistic in scale, honest ground truth."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bmw.contracts.taxonomy import Category, SignalKind
from bmw.signals.domain.detection import OrgBaseline, detect
from bmw.signals.domain.simulation import (
    CATEGORY_SHARES,
    EPISODE_MIX,
    SimulationConfig,
    seasonality,
    simulate_organisation,
)


def test_category_shares_add_up_to_one() -> None:
    assert sum(CATEGORY_SHARES.values()) == pytest.approx(1.0)
    assert set(CATEGORY_SHARES) == set(Category)


def test_the_same_seed_gives_the_same_organisation() -> None:
    assert simulate_organisation(7) == simulate_organisation(7)
    assert simulate_organisation(7).units != simulate_organisation(8).units


def test_units_have_realistic_sizes_and_most_cells_hold_zero_or_one() -> None:
    config = SimulationConfig()
    cells = 0
    small = 0
    referrals = 0.0
    employees = 0.0
    for seed in range(5):
        organisation = simulate_organisation(seed, config, with_episodes=False)
        assert config.units[0] <= len(organisation.units) <= config.units[1]
        for unit in organisation.units:
            assert config.employees[0] <= unit.employees <= config.employees[1]
            for values in unit.counts.values():
                cells += len(values)
                small += sum(1 for value in values if value <= 1)
                referrals += sum(values)
            employees += unit.employees * config.weeks / 52
    assert small / cells > 0.97
    # yearly utilisation of the organisations lies in the 5–15 % band (a little spread from the noise)
    assert 0.04 < referrals / employees < 0.17


def test_episode_free_data_has_the_same_background_and_no_ground_truth() -> None:
    with_episodes = simulate_organisation(3)
    quiet = simulate_organisation(3, with_episodes=False)

    assert quiet.episodes == ()
    assert quiet.actions == ()
    assert [u.employees for u in quiet.units] == [u.employees for u in with_episodes.units]
    added = sum(sum(e.added) for e in with_episodes.episodes)
    total = sum(sum(sum(v) for v in u.counts.values()) for u in with_episodes.units)
    background = sum(sum(sum(v) for v in u.counts.values()) for u in quiet.units)
    assert total - background == added


def test_episodes_start_after_the_history_and_are_recorded_with_what_they_added() -> None:
    config = SimulationConfig()
    organisation = simulate_organisation(11, config)
    history_end = config.start + timedelta(weeks=config.history_weeks)

    assert {e.kind for e in organisation.episodes} == set(config.episode_kinds)
    for episode in organisation.episodes:
        assert episode.onset >= history_end
        assert episode.size in config.episode_sizes
        assert len(episode.added) == 3 + config.tail_weeks
        assert set(EPISODE_MIX[episode.kind]) <= set(Category)
    [reorganisation] = [e for e in organisation.episodes if e.kind is SignalKind.REORGANISATION_WAVE]
    [announced] = organisation.actions
    assert announced.unit_id == reorganisation.unit_id
    assert announced.week < reorganisation.onset


def test_seasonality_lowers_summer_and_raises_january() -> None:
    assert seasonality(date(2025, 7, 28)) < 1.0 < seasonality(date(2025, 1, 13))
    assert seasonality(date(2025, 3, 10)) == 1.0


def test_a_large_episode_is_detected_with_the_announcement_as_context() -> None:
    config = SimulationConfig(episode_sizes=(16,), units=(6, 6), employees=(100, 200))
    organisation = simulate_organisation(5, config)
    org = OrgBaseline(organisation.units)
    [episode] = [e for e in organisation.episodes if e.kind is SignalKind.REORGANISATION_WAVE]
    unit = next(u for u in organisation.units if u.unit_id == episode.unit_id)

    signals = [
        s
        for s in detect(unit, org=org, actions=organisation.actions, first_week=config.history_weeks)
        if s.kind is SignalKind.REORGANISATION_WAVE and s.raised_week >= episode.onset
    ]

    assert signals
    assert signals[0].raised_week <= episode.onset + timedelta(weeks=2)
    assert [a.action for a in signals[0].evidence.context] == ["reorganisation announced"]
