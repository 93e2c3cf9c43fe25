"""Availability of social workers: weekly working hours, absences and free appointment slots.

Pure domain logic (standard library, ``zoneinfo`` and ``holidays`` only). Working hours are
wall-clock times in Europe/Amsterdam; everything that is a moment in time (appointments,
absences, windows, slots) is a timezone-aware :class:`~datetime.datetime`, and every moment this
module returns is in UTC.

Daylight-saving time
--------------------
Local working intervals are turned into moments with ``datetime.combine(day, t,
tzinfo=AMSTERDAM)`` and compared in UTC, so a 09:00 start stays 09:00 local on both sides of a
change (07:00 UTC in summer, 08:00 UTC in winter). Only hours that cover 02:00-03:00 see the
change itself:

* spring forward (last Sunday of March): local times 02:00-02:59 do not exist and never yield a
  slot; an interval such as 01:00-04:00 is two real hours long that night;
* fall back (last Sunday of October): local times 02:00-02:59 happen twice; each occurrence is a
  different moment, both may yield a slot, and no moment is returned twice. A slot is only
  offered if the worker's wall clock stays inside the working interval for its whole duration.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from typing import TypeAlias
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "AMSTERDAM",
    "WEEKDAY_NAMES",
    "Absence",
    "Busy",
    "Interval",
    "LocalInterval",
    "WorkingHours",
    "earliest_slot",
    "free_slots",
    "is_public_holiday",
    "is_working_day",
    "iter_free_slots",
]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
"""The time zone of all working hours."""

WEEKDAY_NAMES: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""Lower-case English weekday names, indexed like :meth:`datetime.date.weekday` (0 = Monday)."""

Interval: TypeAlias = tuple[datetime, datetime]
"""A half-open interval ``[start, end)`` of timezone-aware moments."""

LocalInterval: TypeAlias = tuple[time, time]
"""A half-open interval ``[start, end)`` of naive local wall-clock times within one day."""


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.tzinfo.utcoffset(moment) is not None


def _require_aware(moment: datetime, what: str) -> datetime:
    """Return ``moment`` in UTC, or raise ``ValueError`` if it is naive."""
    if not _is_aware(moment):
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _require_interval(start: datetime, end: datetime, what: str) -> Interval:
    """Return ``(start, end)`` in UTC after checking awareness and ``start < end``."""
    start_utc = _require_aware(start, f"{what} start")
    end_utc = _require_aware(end, f"{what} end")
    if start_utc >= end_utc:
        raise ValueError(f"{what} must start before it ends, got {start.isoformat()} - {end.isoformat()}")
    return start_utc, end_utc


def _format_time(value: time) -> str:
    if value.second == 0 and value.microsecond == 0:
        return value.isoformat(timespec="minutes")
    return value.isoformat()


def _parse_time(text: str, weekday: str) -> time:
    try:
        value = time.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{weekday}: {text!r} is not a time of day (expected HH:MM)") from exc
    if value.tzinfo is not None:
        raise ValueError(f"{weekday}: {text!r} must be a local wall-clock time without an offset")
    return value


def _check_local_interval(weekday: str, raw: object) -> LocalInterval:
    """Check one ``(start, end)`` pair of naive local times with ``start < end``."""
    if not isinstance(raw, tuple | list) or len(raw) != 2:
        raise ValueError(f"{weekday}: an interval is a (start, end) pair, got {raw!r}")
    start, end = raw
    if not isinstance(start, time) or not isinstance(end, time):
        raise ValueError(f"{weekday}: interval bounds must be datetime.time values, got {raw!r}")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError(f"{weekday}: working hours are naive local times, got {raw!r}")
    if start >= end:
        raise ValueError(f"{weekday}: interval {_format_time(start)}-{_format_time(end)} must start before it ends")
    return start, end


# --------------------------------------------------------------------------------------------
# Value objects
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingHours:
    """A social worker's weekly working hours in Europe/Amsterdam wall-clock time.

    ``days`` maps a weekday (0 = Monday ... 6 = Sunday) to its working intervals ``(start, end)``
    of naive :class:`~datetime.time` values. Within a day every interval must satisfy
    ``start < end`` and the intervals must not overlap (touching is allowed); they are stored
    sorted. Weekdays without intervals, and Dutch public holidays, are not working days.

    The instance is immutable and hashable; ``days`` is a read-only mapping holding only the
    weekdays that have hours.
    """

    days: Mapping[int, tuple[LocalInterval, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        normalised: dict[int, tuple[LocalInterval, ...]] = {}
        for weekday in sorted(self.days):
            key: object = weekday  # checked at run time: callers may pass anything
            if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key <= 6:
                raise ValueError(f"weekday must be an int from 0 (Monday) to 6 (Sunday), got {key!r}")
            name = WEEKDAY_NAMES[weekday]
            intervals = sorted(_check_local_interval(name, raw) for raw in self.days[weekday])
            for (_, previous_end), (next_start, next_end) in pairwise(intervals):
                if next_start < previous_end:
                    raise ValueError(
                        f"{name}: interval {_format_time(next_start)}-{_format_time(next_end)} overlaps "
                        f"the interval ending at {_format_time(previous_end)}"
                    )
            if intervals:
                normalised[weekday] = tuple(intervals)
        object.__setattr__(self, "days", MappingProxyType(normalised))

    def __hash__(self) -> int:
        return hash(tuple(self.days.items()))

    def intervals(self, weekday: int) -> tuple[LocalInterval, ...]:
        """The working intervals of ``weekday`` (0 = Monday), sorted; empty if it has none."""
        return self.days.get(weekday, ())

    @classmethod
    def parse(cls, data: Mapping[str, Sequence[Sequence[str]]]) -> WorkingHours:
        """Build working hours from their JSON form.

        Example: ``{"monday": [["09:00", "12:30"], ["13:00", "17:00"]], "friday": [["09:00", "12:00"]]}``.
        Keys are English weekday names (case-insensitive); missing days and empty lists mean no
        hours. Times are ``HH:MM`` (``HH:MM:SS`` is accepted too).

        Raises:
            ValueError: unknown weekday, malformed pair or time, or invalid intervals.
        """
        days: dict[int, tuple[LocalInterval, ...]] = {}
        for key, pairs in data.items():
            name = key.strip().lower()
            if name not in WEEKDAY_NAMES:
                raise ValueError(f"unknown weekday {key!r}; expected one of {', '.join(WEEKDAY_NAMES)}")
            weekday = WEEKDAY_NAMES.index(name)
            if weekday in days:
                raise ValueError(f"{name}: given more than once")
            intervals: list[LocalInterval] = []
            for pair in pairs:
                if isinstance(pair, str) or len(pair) != 2:
                    raise ValueError(f"{name}: an interval is a [start, end] pair, got {pair!r}")
                intervals.append((_parse_time(pair[0], name), _parse_time(pair[1], name)))
            days[weekday] = tuple(intervals)
        return cls(days)

    def as_json(self) -> dict[str, list[list[str]]]:
        """The JSON form accepted by :meth:`parse` (only weekdays with hours, Monday first)."""
        return {
            WEEKDAY_NAMES[weekday]: [[_format_time(start), _format_time(end)] for start, end in intervals]
            for weekday, intervals in self.days.items()
        }


@dataclass(frozen=True)
class Absence:
    """A period in which a worker is unavailable: leave, sickness or a one-off exception.

    ``start`` and ``end`` must be timezone-aware with ``start < end``; they are stored in UTC.
    ``reason`` is free text for people and has no effect on scheduling.
    """

    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        start, end = _require_interval(self.start, self.end, "absence")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def as_interval(self) -> Interval:
        """The absence as a ``(start, end)`` UTC pair."""
        return self.start, self.end


@dataclass(frozen=True)
class Busy:
    """A period that is already taken, typically an appointment.

    ``start`` and ``end`` must be timezone-aware with ``start < end``; they are stored in UTC.
    Buffers are not part of the interval: :func:`free_slots` widens every busy interval by its
    ``buffer`` parameter.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start, end = _require_interval(self.start, self.end, "busy interval")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def as_interval(self) -> Interval:
        """The busy period as a ``(start, end)`` UTC pair."""
        return self.start, self.end


# --------------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _dutch_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("NL", years=year))


def is_public_holiday(day: date) -> bool:
    """Whether ``day`` is a Dutch public holiday (King's Day, Ascension Day, ...)."""
    return day in _dutch_holidays(day.year)


def is_working_day(day: date, hours: WorkingHours) -> bool:
    """Whether ``day`` has working hours for its weekday and is not a Dutch public holiday."""
    return bool(hours.intervals(day.weekday())) and not is_public_holiday(day)


@dataclass(frozen=True, slots=True)
class _Segment:
    """A stretch ``[start, end)`` (UTC) of one local day during which the UTC offset is constant."""

    start: datetime
    end: datetime
    offset: timedelta


def _offset_at(moment: datetime) -> timedelta:
    offset = moment.astimezone(AMSTERDAM).utcoffset()
    if offset is None:  # pragma: no cover - ZoneInfo always gives aware moments an offset
        raise RuntimeError("Europe/Amsterdam has no UTC offset")
    return offset


@lru_cache(maxsize=1024)
def _day_segments(day: date) -> tuple[_Segment, ...]:
    """Split the local day ``day`` into constant-offset segments (two on a DST day, else one)."""
    start = datetime.combine(day, time(0), tzinfo=AMSTERDAM).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=AMSTERDAM).astimezone(UTC)
    first, last = _offset_at(start), _offset_at(end - timedelta(seconds=1))
    if first == last:
        return (_Segment(start, end, first),)
    # Europe/Amsterdam changes offset at most once a day, on a whole second: find that second.
    low, high = 0, int((end - start).total_seconds()) - 1
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(start + timedelta(seconds=middle)) == first:
            low = middle
        else:
            high = middle
    change = start + timedelta(seconds=high)
    return _Segment(start, change, first), _Segment(change, end, last)


def _wall_to_utc(wall: datetime, offset: timedelta) -> datetime:
    """The UTC moment at which the naive local ``wall`` time is shown under ``offset``."""
    return (wall - offset).replace(tzinfo=UTC)


def _working_pieces(day: date, interval: LocalInterval) -> list[Interval]:
    """The UTC stretches during which the local wall clock of ``day`` is inside ``interval``.

    One stretch on ordinary days and across the spring-forward gap; two when the fall-back
    repeated hour makes the wall clock leave and re-enter the interval.
    """
    wall_start = datetime.combine(day, interval[0])
    wall_end = datetime.combine(day, interval[1])
    pieces: list[Interval] = []
    for segment in _day_segments(day):
        low = max(segment.start, _wall_to_utc(wall_start, segment.offset))
        high = min(segment.end, _wall_to_utc(wall_end, segment.offset))
        if low >= high:
            continue
        if pieces and pieces[-1][1] == low:
            pieces[-1] = (pieces[-1][0], high)
        else:
            pieces.append((low, high))
    return pieces


def _merge(intervals: list[Interval]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


# --------------------------------------------------------------------------------------------
# Free slots
# --------------------------------------------------------------------------------------------


def iter_free_slots(
    *,
    hours: WorkingHours,
    busy: Sequence[Interval | Busy],
    absences: Sequence[Interval | Absence],
    extra: Sequence[Interval] = (),
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
    buffer: timedelta = timedelta(minutes=15),
    minimum_notice: timedelta = timedelta(hours=2),
    now: datetime,
    step: timedelta = timedelta(minutes=15),
) -> Iterator[datetime]:
    """Lazily yield the UTC start of every free slot, earliest first; see :func:`free_slots`.

    Arguments are validated when the iterator is created, not when it is first advanced.
    """
    window_start_utc = _require_aware(window_start, "window_start")
    window_end_utc = _require_aware(window_end, "window_end")
    now_utc = _require_aware(now, "now")
    if duration <= timedelta(0):
        raise ValueError(f"duration must be positive, got {duration}")
    if step <= timedelta(0):
        raise ValueError(f"step must be positive, got {step}")
    if buffer < timedelta(0):
        raise ValueError(f"buffer must not be negative, got {buffer}")
    if minimum_notice < timedelta(0):
        raise ValueError(f"minimum_notice must not be negative, got {minimum_notice}")
    blocked: list[Interval] = []
    for taken in busy:
        start, end = taken.as_interval() if isinstance(taken, Busy) else _require_interval(*taken, "busy interval")
        blocked.append((start - buffer, end + buffer))
    for away in absences:
        blocked.append(away.as_interval() if isinstance(away, Absence) else _require_interval(*away, "absence"))
    merged = _merge(blocked)
    earliest = max(window_start_utc, now_utc + minimum_notice)
    weekly = _generate(
        hours=hours, blocked=merged, earliest=earliest, latest_end=window_end_utc, duration=duration, step=step
    )
    if not extra:
        return weekly
    one_off = _generate_extra(
        extra=_merge([_require_interval(*interval, "extra hours") for interval in extra]),
        blocked=merged,
        earliest=earliest,
        latest_end=window_end_utc,
        duration=duration,
        step=step,
    )
    return _unique(heapq.merge(weekly, one_off))


def _unique(starts: Iterator[datetime]) -> Iterator[datetime]:
    previous: datetime | None = None
    for start in starts:
        if start != previous:
            yield start
        previous = start


def _is_free(blocked: list[Interval], start: datetime, duration: timedelta) -> bool:
    index = bisect.bisect_right([end for _, end in blocked], start)
    return index == len(blocked) or blocked[index][0] >= start + duration


def _generate_extra(
    *,
    extra: list[Interval],
    blocked: list[Interval],
    earliest: datetime,
    latest_end: datetime,
    duration: timedelta,
    step: timedelta,
) -> Iterator[datetime]:
    """Slots inside one-off extra working time (any day, holidays too: the worker chose to work then),
    on a grid anchored at the start of each extra interval."""
    for low, high in extra:
        start = low
        while start + duration <= min(high, latest_end):
            if start >= earliest and _is_free(blocked, start, duration):
                yield start
            start += step


def _generate(
    *,
    hours: WorkingHours,
    blocked: list[Interval],
    earliest: datetime,
    latest_end: datetime,
    duration: timedelta,
    step: timedelta,
) -> Iterator[datetime]:
    if earliest + duration > latest_end:
        return
    blocked_starts = [start for start, _ in blocked]
    blocked_ends = [end for _, end in blocked]  # sorted too: the intervals are merged

    def is_free(start: datetime) -> bool:
        index = bisect.bisect_right(blocked_ends, start)
        return index == len(blocked) or blocked_starts[index] >= start + duration

    day = earliest.astimezone(AMSTERDAM).date()
    last_day = latest_end.astimezone(AMSTERDAM).date()
    while day <= last_day:
        if is_working_day(day, hours):
            segments = _day_segments(day)
            found: set[datetime] = set()
            for interval in hours.intervals(day.weekday()):
                pieces = _working_pieces(day, interval)
                wall = datetime.combine(day, interval[0])
                wall_end = datetime.combine(day, interval[1])
                while wall < wall_end:
                    # A wall time maps to no moment in the spring-forward gap and to two in the
                    # fall-back hour: try it under every offset the day has.
                    for segment in segments:
                        start = _wall_to_utc(wall, segment.offset)
                        if not segment.start <= start < segment.end:
                            continue
                        if start < earliest or start + duration > latest_end:
                            continue
                        if not any(low <= start and start + duration <= high for low, high in pieces):
                            continue
                        if is_free(start):
                            found.add(start)
                    wall += step
            yield from sorted(found)
        day += timedelta(days=1)


def free_slots(
    *,
    hours: WorkingHours,
    busy: Sequence[Interval | Busy],
    absences: Sequence[Interval | Absence],
    extra: Sequence[Interval] = (),
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
    buffer: timedelta = timedelta(minutes=15),
    minimum_notice: timedelta = timedelta(hours=2),
    now: datetime,
    step: timedelta = timedelta(minutes=15),
) -> list[datetime]:
    """The UTC start of every free slot of ``duration``, sorted and without duplicates.

    A start ``s`` is returned when the slot ``[s, s + duration)``:

    a. lies entirely inside one working interval of a working day, in Europe/Amsterdam wall-clock
       time (weekdays without hours and Dutch public holidays are not working days);
    b. starts at or after ``now + minimum_notice`` and at or after ``window_start``, and ends at
       or before ``window_end``;
    a'. or lies inside one of the ``extra`` intervals (one-off working time, on any day);
    c. overlaps no ``busy`` interval widened by ``buffer`` on both sides, and no absence
       (intervals are half-open, so a slot may start exactly when a buffer ends);
    d. starts on the ``step`` grid of local wall-clock times anchored at the start of its working
       interval (09:00, 09:15, ... for a 09:00 start and a 15-minute step).

    ``busy`` and ``absences`` accept ``(start, end)`` pairs as well as :class:`Busy` and
    :class:`Absence` objects. ``duration`` is elapsed time, so a slot that spans a daylight-saving
    change lasts exactly ``duration``.

    Raises:
        ValueError: a naive datetime, an interval that does not start before it ends, a
            non-positive ``duration`` or ``step``, or a negative ``buffer`` or ``minimum_notice``.
    """
    return list(
        iter_free_slots(
            hours=hours,
            busy=busy,
            absences=absences,
            extra=extra,
            window_start=window_start,
            window_end=window_end,
            duration=duration,
            buffer=buffer,
            minimum_notice=minimum_notice,
            now=now,
            step=step,
        )
    )


def earliest_slot(
    *,
    hours: WorkingHours,
    busy: Sequence[Interval | Busy],
    absences: Sequence[Interval | Absence],
    extra: Sequence[Interval] = (),
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
    buffer: timedelta = timedelta(minutes=15),
    minimum_notice: timedelta = timedelta(hours=2),
    now: datetime,
    step: timedelta = timedelta(minutes=15),
) -> datetime | None:
    """The first slot :func:`free_slots` would return, or ``None`` if there is none.

    Stops at the first working day that has a free slot instead of scanning the whole window.
    """
    return next(
        iter_free_slots(
            hours=hours,
            busy=busy,
            absences=absences,
            extra=extra,
            window_start=window_start,
            window_end=window_end,
            duration=duration,
            buffer=buffer,
            minimum_notice=minimum_notice,
            now=now,
            step=step,
        ),
        None,
    )
