"""Unit and property tests for ``bmw.scheduling.domain.availability``."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bmw.scheduling.domain.availability import (
    AMSTERDAM,
    Absence,
    Busy,
    Interval,
    WorkingHours,
    earliest_slot,
    free_slots,
    is_public_holiday,
    is_working_day,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)

OFFICE = WorkingHours.parse(
    {day: [["09:00", "12:30"], ["13:00", "17:00"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")}
)
"""Weekdays 09:00-12:30 and 13:00-17:00: with 60-minute slots on a 15-minute grid, 11 + 13 a day."""

SLOTS_PER_OFFICE_DAY = 24


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, fold: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=AMSTERDAM, fold=fold)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


def slots(
    *,
    hours: WorkingHours = OFFICE,
    busy: list[Interval] | None = None,
    absences: list[Interval] | None = None,
    start: datetime,
    end: datetime,
    duration: timedelta = HOUR,
    buffer: timedelta = timedelta(minutes=15),
    notice: timedelta = timedelta(hours=2),
    now: datetime = LONG_AGO,
    step: timedelta = timedelta(minutes=15),
) -> list[datetime]:
    return free_slots(
        hours=hours,
        busy=busy or [],
        absences=absences or [],
        window_start=start,
        window_end=end,
        duration=duration,
        buffer=buffer,
        minimum_notice=notice,
        now=now,
        step=step,
    )


def per_local_day(found: list[datetime]) -> dict[date, list[time]]:
    days: dict[date, list[time]] = {}
    for slot in found:
        wall = slot.astimezone(AMSTERDAM)
        days.setdefault(wall.date(), []).append(wall.time())
    return days


# --------------------------------------------------------------------------------------------
# WorkingHours, Absence, Busy
# --------------------------------------------------------------------------------------------


def test_working_hours_parse_and_as_json_round_trip() -> None:
    data = {"monday": [["13:00", "17:00"], ["09:00", "12:30"]], "Friday": [["08:30", "12:00"]], "sunday": []}

    hours = WorkingHours.parse(data)

    assert hours.intervals(0) == ((time(9), time(12, 30)), (time(13), time(17)))
    assert hours.intervals(4) == ((time(8, 30), time(12)),)
    assert hours.intervals(6) == ()
    assert hours.as_json() == {
        "monday": [["09:00", "12:30"], ["13:00", "17:00"]],
        "friday": [["08:30", "12:00"]],
    }
    assert WorkingHours.parse(hours.as_json()) == hours
    assert hash(WorkingHours.parse(hours.as_json())) == hash(hours)


def test_working_hours_is_read_only() -> None:
    with pytest.raises(TypeError):
        OFFICE.days[5] = ((time(9), time(10)),)  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tuesday": [["09:00", "12:00"], ["11:30", "13:00"]]}, "tuesday: interval 11:30-13:00 overlaps"),
        ({"wednesday": [["12:00", "09:00"]]}, "wednesday: interval 12:00-09:00 must start before it ends"),
        ({"thursday": [["10:00", "10:00"]]}, "thursday: interval 10:00-10:00 must start before it ends"),
        ({"friday": [["9h", "12:00"]]}, "friday: '9h' is not a time of day"),
        ({"saturday": [["09:00"]]}, "saturday: an interval is a [start, end] pair"),
        ({"funday": [["09:00", "12:00"]]}, "unknown weekday 'funday'"),
        ({"monday": [["09:00+01:00", "12:00"]]}, "monday: '09:00+01:00' must be a local wall-clock time"),
    ],
)
def test_working_hours_rejects_invalid_input(data: dict[str, list[list[str]]], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        WorkingHours.parse(data)


def test_working_hours_constructor_validates_weekday_and_intervals() -> None:
    with pytest.raises(ValueError, match="weekday must be an int from 0"):
        WorkingHours({7: ((time(9), time(10)),)})
    with pytest.raises(ValueError, match="sunday: interval 10:00-09:00"):
        WorkingHours({6: ((time(10), time(9)),)})
    assert WorkingHours({0: ((time(13), time(14)), (time(9), time(13)))}).intervals(0) == (
        (time(9), time(13)),
        (time(13), time(14)),
    )


def test_absence_and_busy_are_aware_utc_intervals() -> None:
    absence = Absence(local(2026, 7, 1, 9), local(2026, 7, 1, 12), reason="dentist")
    assert absence.start == utc(2026, 7, 1, 7)
    assert absence.start.tzinfo is UTC
    assert absence.as_interval() == (utc(2026, 7, 1, 7), utc(2026, 7, 1, 10))
    assert Busy(local(2026, 1, 5, 9), local(2026, 1, 5, 10)).as_interval() == (utc(2026, 1, 5, 8), utc(2026, 1, 5, 9))

    with pytest.raises(ValueError, match="timezone-aware"):
        Absence(datetime(2026, 7, 1, 9), local(2026, 7, 1, 12))
    with pytest.raises(ValueError, match="must start before it ends"):
        Busy(local(2026, 7, 1, 12), local(2026, 7, 1, 12))


def test_working_days_follow_hours_and_dutch_holidays() -> None:
    assert is_public_holiday(date(2026, 4, 27))  # King's Day
    assert is_public_holiday(date(2026, 5, 14))  # Ascension Day
    assert not is_public_holiday(date(2026, 4, 28))
    assert is_working_day(date(2026, 4, 28), OFFICE)
    assert not is_working_day(date(2026, 4, 27), OFFICE)
    assert not is_working_day(date(2026, 5, 2), OFFICE)  # a Saturday without hours
    assert is_working_day(date(2026, 5, 2), WorkingHours.parse({"saturday": [["10:00", "12:00"]]}))


# --------------------------------------------------------------------------------------------
# free_slots: hand-made cases
# --------------------------------------------------------------------------------------------


def test_a_normal_week() -> None:
    found = slots(start=local(2026, 2, 2), end=local(2026, 2, 9))  # Monday to Monday

    days = per_local_day(found)
    assert sorted(days) == [date(2026, 2, d) for d in range(2, 7)]  # no weekend
    for walls in days.values():
        assert walls == [time(9, m) for m in (0, 15, 30, 45)] + [
            time(h, m) for h in (10, 11) for m in (0, 15, 30, 45) if (h, m) <= (11, 30)
        ] + [time(h, m) for h in range(13, 17) for m in (0, 15, 30, 45) if (h, m) <= (16, 0)]
        assert len(walls) == SLOTS_PER_OFFICE_DAY
    assert found[0] == utc(2026, 2, 2, 8)  # 09:00 CET
    assert found[-1] == utc(2026, 2, 6, 15)  # Friday 16:00 CET
    assert all(slot.tzinfo is UTC for slot in found)


@pytest.mark.parametrize(
    ("holiday", "next_day"),
    [(date(2026, 4, 27), date(2026, 4, 28)), (date(2026, 5, 14), date(2026, 5, 15))],
    ids=["kings-day", "ascension-day"],
)
def test_public_holidays_have_no_slots(holiday: date, next_day: date) -> None:
    found = slots(start=local(2026, holiday.month, holiday.day), end=local(2026, next_day.month, next_day.day + 1))

    days = per_local_day(found)
    assert holiday not in days
    assert len(days[next_day]) == SLOTS_PER_OFFICE_DAY


def test_buffer_around_an_appointment() -> None:
    appointment = (local(2026, 2, 3, 10), local(2026, 2, 3, 11))

    found = slots(
        busy=[appointment],
        start=local(2026, 2, 3),
        end=local(2026, 2, 4),
        duration=timedelta(minutes=45),
        buffer=timedelta(minutes=15),
    )

    morning = [t for t in per_local_day(found)[date(2026, 2, 3)] if t < time(12, 30)]
    # Before: must end by 09:45. After: may start at 11:15 and must end by 12:30.
    assert morning == [time(9, 0), time(11, 15), time(11, 30), time(11, 45)]


def test_zero_buffer_allows_back_to_back() -> None:
    found = slots(
        busy=[(local(2026, 2, 3, 10), local(2026, 2, 3, 11))],
        start=local(2026, 2, 3, 9),
        end=local(2026, 2, 3, 12),
        buffer=timedelta(0),
        step=HOUR,
    )

    assert found == [local(2026, 2, 3, 9).astimezone(UTC), local(2026, 2, 3, 11).astimezone(UTC)]


def test_busy_and_absence_objects_are_accepted() -> None:
    meeting = Busy(local(2026, 2, 3, 10), local(2026, 2, 3, 11))
    leave = Absence(local(2026, 2, 4), local(2026, 2, 5), reason="leave")
    as_objects = free_slots(
        hours=OFFICE,
        busy=[meeting],
        absences=[leave],
        window_start=local(2026, 2, 2),
        window_end=local(2026, 2, 7),
        duration=HOUR,
        now=LONG_AGO,
    )

    assert as_objects == slots(
        busy=[meeting.as_interval()], absences=[leave.as_interval()], start=local(2026, 2, 2), end=local(2026, 2, 7)
    )
    assert date(2026, 2, 4) not in per_local_day(as_objects)


def test_minimum_notice() -> None:
    now = local(2026, 2, 2, 8, 50)

    found = slots(start=local(2026, 2, 2), end=local(2026, 2, 3), now=now, notice=timedelta(hours=2))

    assert found[0] == local(2026, 2, 2, 11).astimezone(UTC)  # 10:50 rounds up to the 11:00 grid point
    assert slots(start=local(2026, 2, 2), end=local(2026, 2, 3), now=local(2026, 2, 2, 7))[0] == (
        local(2026, 2, 2, 9).astimezone(UTC)  # now + notice exactly on a slot: included
    )


def test_the_whole_slot_must_fit_in_the_window() -> None:
    found = slots(start=local(2026, 2, 2, 9, 5), end=local(2026, 2, 2, 10, 30))

    assert found == [local(2026, 2, 2, 9, 15).astimezone(UTC), local(2026, 2, 2, 9, 30).astimezone(UTC)]


def test_an_absence_removes_slots() -> None:
    sick = (local(2026, 2, 3), local(2026, 2, 4))
    dentist = (local(2026, 2, 5, 11), local(2026, 2, 5, 12))

    found = slots(absences=[sick, dentist], start=local(2026, 2, 2), end=local(2026, 2, 7), buffer=timedelta(0))

    days = per_local_day(found)
    assert date(2026, 2, 3) not in days
    assert len(days[date(2026, 2, 2)]) == SLOTS_PER_OFFICE_DAY
    thursday = days[date(2026, 2, 5)]
    assert time(10, 0) in thursday
    assert time(10, 0) in thursday  # ends when the absence starts: absences get no buffer
    assert [t for t in thursday if time(10, 0) < t < time(13, 0)] == []  # 11:30 would end inside lunch
    assert time(13, 0) in thursday


def test_step_grid_is_anchored_at_the_start_of_the_interval() -> None:
    hours = WorkingHours.parse({"monday": [["09:10", "11:00"]]})

    found = slots(
        hours=hours,
        start=local(2026, 2, 2),
        end=local(2026, 2, 3),
        duration=timedelta(minutes=30),
        step=timedelta(minutes=30),
    )

    assert per_local_day(found)[date(2026, 2, 2)] == [time(9, 10), time(9, 40), time(10, 10)]


@pytest.mark.parametrize(
    ("before", "after", "utc_before", "utc_after"),
    [
        (date(2026, 3, 27), date(2026, 3, 30), utc(2026, 3, 27, 8), utc(2026, 3, 30, 7)),  # spring forward
        (date(2026, 10, 23), date(2026, 10, 26), utc(2026, 10, 23, 7), utc(2026, 10, 26, 8)),  # fall back
    ],
    ids=["spring-forward-29-march", "fall-back-25-october"],
)
def test_dst_weekends_neither_shift_nor_lose_slots(
    before: date, after: date, utc_before: datetime, utc_after: datetime
) -> None:
    found = slots(start=local(before.year, before.month, before.day), end=local(after.year, after.month, after.day + 1))

    days = per_local_day(found)
    assert sorted(days) == [before, after]
    assert days[before] == days[after]  # same local wall times, same count
    assert len(days[after]) == SLOTS_PER_OFFICE_DAY
    first_before = next(s for s in found if s.astimezone(AMSTERDAM).date() == before)
    first_after = next(s for s in found if s.astimezone(AMSTERDAM).date() == after)
    assert (first_before, first_after) == (utc_before, utc_after)


NIGHT = WorkingHours.parse({"sunday": [["00:00", "06:00"]]})


def test_spring_forward_night_produces_no_slot_at_a_nonexistent_time() -> None:
    found = slots(hours=NIGHT, start=local(2026, 3, 29), end=local(2026, 3, 30), step=HOUR)

    walls = [s.astimezone(AMSTERDAM).time() for s in found]
    assert walls == [time(0), time(1), time(3), time(4), time(5)]  # 02:00 does not exist; 5 real hours
    assert found == [
        utc(2026, 3, 28, 23),
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 2),
        utc(2026, 3, 29, 3),
    ]

    quarter = slots(hours=NIGHT, start=local(2026, 3, 29), end=local(2026, 3, 30))
    assert all(s.astimezone(AMSTERDAM).hour != 2 for s in quarter)
    assert len(quarter) == len(set(quarter)) == 4 * 5 - 3  # starts 00:00-05:00 minus 02:00-02:45


def test_fall_back_night_has_no_duplicates() -> None:
    found = slots(hours=NIGHT, start=local(2026, 10, 25), end=local(2026, 10, 26), step=HOUR)

    # 00:00 CEST .. 05:00 CET: seven real hours, 02:00 happens twice (once in CEST, once in CET).
    assert found == [utc(2026, 10, 24, 22) + k * HOUR for k in range(7)]
    assert len(set(found)) == len(found)
    assert [s.astimezone(AMSTERDAM).time() for s in found] == [
        time(0),
        time(1),
        time(2),
        time(2),
        time(3),
        time(4),
        time(5),
    ]


def test_fall_back_slot_must_stay_inside_the_wall_clock_interval() -> None:
    hours = WorkingHours.parse({"sunday": [["00:00", "02:30"]]})

    found = slots(
        hours=hours,
        start=local(2026, 10, 25),
        end=local(2026, 10, 26),
        step=timedelta(minutes=30),
        duration=timedelta(minutes=30),
    )

    # 02:00-02:30 happens twice and fits both times; 02:30 CEST onwards the clock is past 02:30.
    assert found == [
        local(2026, 10, 25, 0).astimezone(UTC),
        local(2026, 10, 25, 0, 30).astimezone(UTC),
        local(2026, 10, 25, 1).astimezone(UTC),
        local(2026, 10, 25, 1, 30).astimezone(UTC),
        local(2026, 10, 25, 2, fold=0).astimezone(UTC),
        local(2026, 10, 25, 2, fold=1).astimezone(UTC),
    ]


def test_earliest_slot() -> None:
    busy = [(local(2026, 2, 2, 9), local(2026, 2, 2, 17))]
    first = earliest_slot(
        hours=OFFICE,
        busy=busy,
        absences=[],
        window_start=local(2026, 2, 2),
        window_end=local(2026, 2, 9),
        duration=HOUR,
        now=LONG_AGO,
    )
    assert first == local(2026, 2, 3, 9).astimezone(UTC)
    assert first == slots(busy=busy, start=local(2026, 2, 2), end=local(2026, 2, 9))[0]

    nothing = earliest_slot(
        hours=OFFICE,
        busy=[],
        absences=[],
        window_start=local(2026, 2, 7),
        window_end=local(2026, 2, 9),
        duration=HOUR,
        now=LONG_AGO,
    )
    assert nothing is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"window_start": datetime(2026, 2, 2)},
        {"window_end": datetime(2026, 2, 9)},
        {"now": datetime(2026, 1, 1)},
        {"busy": [(datetime(2026, 2, 3, 9), local(2026, 2, 3, 10))]},
        {"absences": [(local(2026, 2, 3, 9), datetime(2026, 2, 3, 10))]},
        {"busy": [(local(2026, 2, 3, 10), local(2026, 2, 3, 9))]},
        {"duration": timedelta(0)},
        {"step": timedelta(0)},
        {"buffer": timedelta(minutes=-1)},
        {"minimum_notice": timedelta(minutes=-1)},
    ],
)
def test_invalid_arguments_raise_value_error(overrides: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "hours": OFFICE,
        "busy": [],
        "absences": [],
        "window_start": local(2026, 2, 2),
        "window_end": local(2026, 2, 9),
        "duration": HOUR,
        "now": LONG_AGO,
    } | overrides
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies per case
        free_slots(**arguments)  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # noqa: PT011
        earliest_slot(**arguments)  # type: ignore[arg-type]


def test_empty_or_inverted_window_gives_no_slots() -> None:
    assert slots(start=local(2026, 2, 3), end=local(2026, 2, 3)) == []
    assert slots(start=local(2026, 2, 4), end=local(2026, 2, 3)) == []


# --------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------

FIVE = timedelta(minutes=5)


@dataclass(frozen=True)
class Scenario:
    hours: WorkingHours
    busy: tuple[Interval, ...]
    absences: tuple[Interval, ...]
    window_start: datetime
    window_end: datetime
    duration: timedelta
    buffer: timedelta
    minimum_notice: timedelta
    now: datetime
    step: timedelta

    def run(self) -> list[datetime]:
        return free_slots(
            hours=self.hours,
            busy=self.busy,
            absences=self.absences,
            window_start=self.window_start,
            window_end=self.window_end,
            duration=self.duration,
            buffer=self.buffer,
            minimum_notice=self.minimum_notice,
            now=self.now,
            step=self.step,
        )


def _quarter(index: int) -> time:
    return time(index // 4, index % 4 * 15)


@st.composite
def _day_hours(draw: st.DrawFn, last_quarter: int = 95) -> tuple[tuple[time, time], ...]:
    points = sorted(draw(st.lists(st.integers(0, last_quarter), unique=True, max_size=4)))
    return tuple((_quarter(a), _quarter(b)) for a, b in zip(points[::2], points[1::2], strict=False))


working_hours = st.builds(
    lambda days: WorkingHours(dict(enumerate(days))),
    st.lists(_day_hours(), min_size=7, max_size=7),
)

# Dates around both 2026 DST changes and the spring holidays are drawn often; anything else too.
interesting_dates = st.sampled_from(
    [
        *(date(2026, 3, d) for d in (27, 28, 29)),  # spring forward on Sunday 29 March
        *(date(2026, 10, d) for d in (23, 24, 25)),  # fall back on Sunday 25 October
        date(2026, 4, 26),  # the day before King's Day
        date(2026, 5, 13),  # the day before Ascension Day
    ]
)
window_dates = st.one_of(interesting_dates, st.dates(date(2026, 1, 1), date(2027, 12, 31)))


@st.composite
def _intervals(draw: st.DrawFn, anchor: datetime, span: timedelta, max_size: int) -> tuple[Interval, ...]:
    result: list[Interval] = []
    for _ in range(draw(st.integers(0, max_size))):
        offset = draw(st.integers(-180, int(span / MINUTE) + 180)) * MINUTE
        length = draw(st.integers(1, 6 * 60)) * MINUTE
        result.append((anchor + offset, anchor + offset + length))
    return tuple(result)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    day = draw(window_dates)
    minutes_after_midnight = draw(st.one_of(st.just(0), st.integers(0, 1439)))
    window_start = (datetime.combine(day, time(0), tzinfo=AMSTERDAM) + minutes_after_midnight * MINUTE).astimezone(UTC)
    span = draw(st.integers(1, 3 * 24 * 60)) * MINUTE
    return Scenario(
        hours=draw(working_hours),
        busy=draw(_intervals(window_start, span, 8)),
        absences=draw(_intervals(window_start, span, 3)),
        window_start=window_start,
        window_end=window_start + span,
        duration=draw(st.integers(1, 36)) * FIVE,
        buffer=draw(st.integers(0, 30)) * MINUTE,
        minimum_notice=draw(st.integers(0, 4 * 60)) * MINUTE,
        now=window_start + draw(st.integers(-3 * 24 * 60, 24 * 60)) * MINUTE,
        step=draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60, 90])) * MINUTE,
    )


PROPERTY_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _overlaps(start: datetime, end: datetime, other: Interval, widen: timedelta = timedelta(0)) -> bool:
    return start < other[1] + widen and other[0] - widen < end


@cache
def _dutch_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("NL", years=year))


def _dutch_holiday(day: date) -> bool:
    return day in _dutch_holidays(day.year)


def _working_interval_of(scenario: Scenario, start: datetime) -> tuple[time, time] | None:
    """Independent check: the interval whose wall-clock span holds ``[start, start + duration)``.

    Every boundary in the scenarios is on a 5-minute grid, so sampling every 5 minutes is exact.
    """
    day = start.astimezone(AMSTERDAM).date()
    if _dutch_holiday(day):
        return None
    for interval in scenario.hours.intervals(day.weekday()):
        samples = (start + k * FIVE for k in range(scenario.duration // FIVE))
        walls = [sample.astimezone(AMSTERDAM) for sample in samples]
        if all(wall.date() == day and interval[0] <= wall.time() < interval[1] for wall in walls):
            return interval
    return None


def _on_grid(scenario: Scenario, start: datetime, interval: tuple[time, time]) -> bool:
    wall = start.astimezone(AMSTERDAM)
    return (
        wall.replace(tzinfo=None, fold=0) - datetime.combine(wall.date(), interval[0])
    ) % scenario.step == timedelta(0)


def _is_free(scenario: Scenario, start: datetime) -> bool:
    end = start + scenario.duration
    return not any(_overlaps(start, end, busy, scenario.buffer) for busy in scenario.busy) and not any(
        _overlaps(start, end, absence) for absence in scenario.absences
    )


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_slots_respect_every_rule(scenario: Scenario) -> None:
    found = scenario.run()

    assert found == sorted(set(found)), "sorted and unique"
    for start in found:
        assert start.tzinfo is UTC
        assert start >= scenario.window_start
        assert start >= scenario.now + scenario.minimum_notice
        assert start + scenario.duration <= scenario.window_end
        assert _is_free(scenario, start), "overlaps a busy interval (with buffer) or an absence"
        interval = _working_interval_of(scenario, start)
        assert interval is not None, "outside working hours or on a holiday"
        assert _on_grid(scenario, start, interval)


def _reference_slots(scenario: Scenario) -> list[datetime]:
    """Brute force: try every 5-minute moment in the window against the rules one by one."""
    earliest = max(scenario.window_start, scenario.now + scenario.minimum_notice)
    candidate = earliest + (-(earliest - datetime(2000, 1, 1, tzinfo=UTC)) % FIVE)
    expected: list[datetime] = []
    while candidate + scenario.duration <= scenario.window_end:
        interval = _working_interval_of(scenario, candidate)
        if interval is not None and _on_grid(scenario, candidate, interval) and _is_free(scenario, candidate):
            expected.append(candidate)
        candidate += FIVE
    return expected


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_matches_a_brute_force_reference(scenario: Scenario) -> None:
    assert scenario.run() == _reference_slots(scenario)


@st.composite
def dst_nights(draw: st.DrawFn) -> Scenario:
    """Sunday night hours within 00:00-06:00 on the 2026 spring-forward or fall-back Sunday."""
    day = draw(st.sampled_from([date(2026, 3, 29), date(2026, 10, 25)]))
    window_start = datetime.combine(day, time(0), tzinfo=AMSTERDAM).astimezone(UTC)
    window_end = datetime.combine(day, time(12), tzinfo=AMSTERDAM).astimezone(UTC)
    return Scenario(
        hours=WorkingHours({6: draw(_day_hours(last_quarter=24))}),
        busy=draw(_intervals(window_start, window_end - window_start, 1)),
        absences=(),
        window_start=window_start,
        window_end=window_end,
        duration=draw(st.integers(1, 24)) * FIVE,
        buffer=draw(st.integers(0, 30)) * MINUTE,
        minimum_notice=timedelta(0),
        now=window_start,
        step=draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60, 90])) * MINUTE,
    )


@PROPERTY_SETTINGS
@given(dst_nights())
def test_property_dst_nights_match_the_reference(scenario: Scenario) -> None:
    found = scenario.run()

    assert found == _reference_slots(scenario)
    assert len(set(found)) == len(found)
    if scenario.window_start.astimezone(AMSTERDAM).month == 3:  # 02:00-02:59 does not exist that night
        assert all(slot.astimezone(AMSTERDAM).hour != 2 for slot in found)


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_property_more_busy_time_never_adds_a_slot(scenario: Scenario, data: st.DataObject) -> None:
    extra = data.draw(_intervals(scenario.window_start, scenario.window_end - scenario.window_start, 1))
    extra_absence = data.draw(_intervals(scenario.window_start, scenario.window_end - scenario.window_start, 1))
    before = set(scenario.run())

    with_busy = set(replace(scenario, busy=scenario.busy + extra).run())
    with_absence = set(replace(scenario, absences=scenario.absences + extra_absence).run())

    assert with_busy <= before
    assert with_absence <= before
    for start, end in extra:
        assert not any(_overlaps(s, s + scenario.duration, (start, end), scenario.buffer) for s in with_busy)


@PROPERTY_SETTINGS
@given(scenarios())
def test_property_earliest_slot_is_the_first_free_slot(scenario: Scenario) -> None:
    found = scenario.run()

    first = earliest_slot(
        hours=scenario.hours,
        busy=scenario.busy,
        absences=scenario.absences,
        window_start=scenario.window_start,
        window_end=scenario.window_end,
        duration=scenario.duration,
        buffer=scenario.buffer,
        minimum_notice=scenario.minimum_notice,
        now=scenario.now,
        step=scenario.step,
    )

    assert first == (found[0] if found else None)


@PROPERTY_SETTINGS
@given(scenarios(), st.data())
def test_property_extra_hours_add_only_free_slots_inside_them(scenario: Scenario, data: st.DataObject) -> None:
    extra = data.draw(_intervals(scenario.window_start, scenario.window_end - scenario.window_start, 3))
    weekly = scenario.run()
    found = free_slots(
        hours=scenario.hours,
        busy=scenario.busy,
        absences=scenario.absences,
        extra=extra,
        window_start=scenario.window_start,
        window_end=scenario.window_end,
        duration=scenario.duration,
        buffer=scenario.buffer,
        minimum_notice=scenario.minimum_notice,
        now=scenario.now,
        step=scenario.step,
    )
    assert found == sorted(set(found)), "sorted and unique"
    assert set(weekly) <= set(found), "extra hours never take a weekly slot away"
    for start in set(found) - set(weekly):
        end = start + scenario.duration
        assert _covered(start, end, extra), "an added slot lies inside extra hours (touching ones join)"
        assert _is_free(scenario, start), "an added slot overlaps a busy interval (with buffer) or an absence"
        assert start >= max(scenario.window_start, scenario.now + scenario.minimum_notice)
        assert end <= scenario.window_end


def _covered(start: datetime, end: datetime, intervals: tuple[Interval, ...]) -> bool:
    """Whether [start, end) lies inside the union of the intervals (checked minute by minute)."""
    moment = start
    while moment < end:
        if not any(low <= moment < high for low, high in intervals):
            return False
        moment += MINUTE
    return True


def test_extra_hours_on_a_saturday_and_a_holiday_are_bookable() -> None:
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=AMSTERDAM)
    christmas = datetime(2026, 12, 25, 10, 0, tzinfo=AMSTERDAM)
    common = {
        "hours": WorkingHours.parse({"monday": [["09:00", "17:00"]]}),
        "busy": [(saturday.astimezone(UTC), (saturday + timedelta(hours=1)).astimezone(UTC))],
        "absences": [],
        "extra": [(saturday, saturday + timedelta(hours=3)), (christmas, christmas + timedelta(hours=1))],
        "duration": timedelta(minutes=45),
        "now": datetime(2026, 12, 1, tzinfo=UTC),
    }
    slots = free_slots(window_start=saturday, window_end=saturday + timedelta(days=21), **common)  # type: ignore[arg-type]
    local = [s.astimezone(AMSTERDAM).strftime("%m-%d %H:%M") for s in slots if s.astimezone(AMSTERDAM).weekday() >= 4]
    assert local[:3] == ["12-05 11:15", "12-05 11:30", "12-05 11:45"], "after the 10:00-11:00 booking and its buffer"
    assert "12-25 10:00" in local and "12-25 10:15" in local and "12-25 10:30" not in local
