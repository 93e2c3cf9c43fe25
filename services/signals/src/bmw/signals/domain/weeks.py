"""ISO weeks in Europe/Amsterdam, the unit of every aggregate."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def week_start(moment: datetime) -> date:
    """The Monday (Amsterdam calendar) of the week a moment falls in."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    local = moment.astimezone(AMSTERDAM).date()
    return local - timedelta(days=local.weekday())
