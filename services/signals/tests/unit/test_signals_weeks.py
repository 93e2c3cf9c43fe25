"""ISO weeks in Europe/Amsterdam: the unit of every aggregate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.signals.domain.weeks import week_start

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_a_wednesday_belongs_to_the_week_of_the_monday_before() -> None:
    assert week_start(datetime(2026, 3, 4, 12, 0, tzinfo=UTC)) == date(2026, 3, 2)


def test_a_monday_starts_its_own_week() -> None:
    assert week_start(datetime(2026, 3, 2, 0, 0, tzinfo=AMSTERDAM)) == date(2026, 3, 2)


def test_sunday_evening_in_amsterdam_still_belongs_to_the_week_before() -> None:
    assert week_start(datetime(2026, 3, 8, 23, 59, tzinfo=AMSTERDAM)) == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("moment", "monday"),
    [
        # summer (UTC+2): Sunday 22:30 and 23:30 UTC are Monday 00:30 and 01:30 in Amsterdam
        (datetime(2026, 6, 7, 23, 30, tzinfo=UTC), date(2026, 6, 8)),
        (datetime(2026, 6, 7, 22, 30, tzinfo=UTC), date(2026, 6, 8)),
        (datetime(2026, 6, 7, 21, 30, tzinfo=UTC), date(2026, 6, 1)),
        # winter (UTC+1): Sunday 23:30 UTC is Monday 00:30, 22:30 UTC is still Sunday 23:30
        (datetime(2026, 1, 11, 23, 30, tzinfo=UTC), date(2026, 1, 12)),
        (datetime(2026, 1, 11, 22, 30, tzinfo=UTC), date(2026, 1, 5)),
    ],
    ids=["summer-2330", "summer-2230", "summer-2130", "winter-2330", "winter-2230"],
)
def test_the_week_follows_the_amsterdam_calendar_not_utc(moment: datetime, monday: date) -> None:
    assert week_start(moment) == monday


def test_a_week_can_start_in_the_previous_year() -> None:
    assert week_start(datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) == date(2025, 12, 29)


def test_the_week_of_a_clock_change_starts_on_its_monday() -> None:
    assert week_start(datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == date(2026, 3, 23)
    assert week_start(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == date(2026, 10, 19)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        week_start(datetime(2026, 3, 4, 12, 0))


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, AMSTERDAM, ZoneInfo("America/Los_Angeles"), ZoneInfo("Pacific/Auckland")]),
    )
)
def test_the_week_start_is_the_monday_on_or_before_the_amsterdam_date(moment: datetime) -> None:
    monday = week_start(moment)
    local_day = moment.astimezone(AMSTERDAM).date()

    assert monday.weekday() == 0
    assert monday <= local_day < monday + timedelta(days=7)
    assert monday.isocalendar()[:2] == local_day.isocalendar()[:2]
