"""Service-level deadlines for first contact, in Dutch working days (Europe/Amsterdam)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from bmw.contracts.taxonomy import SlaTerm, Urgency

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@lru_cache(maxsize=32)
def _dutch_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("NL", years=year))


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a Dutch public holiday."""
    return day.weekday() < 5 and day not in _dutch_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself does not count)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def sla_deadline(received_at: datetime, urgency: Urgency) -> datetime:
    """Latest moment of first contact: 24 hours for a crisis, else the end of the N-th working day."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    if urgency is Urgency.CRISIS:
        # In UTC: adding 24 h to a local time would give 23 or 25 real hours across a DST change.
        return received_at.astimezone(UTC) + SlaTerm.CRISIS
    local_day = received_at.astimezone(AMSTERDAM).date()
    last_day = add_working_days(local_day, SlaTerm.WORKING_DAYS[urgency])
    return datetime.combine(last_day, time(17, 0), tzinfo=AMSTERDAM)
