"""Billing periods: a calendar month (``2026-11``) or quarter (``2026-Q4``), with its share of a year."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

_MONTH = re.compile(r"^(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(?P<year>\d{4})-Q(?P<quarter>[1-4])$")


class PeriodError(ValueError):
    """Not a billing period this service knows."""


@dataclass(frozen=True)
class Period:
    """A billing period: first and last day (inclusive) and its label."""

    start: date
    end: date
    label: str

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-11`` (a month) or ``2026-Q4`` (a quarter)."""
        value = text.strip().upper()
        if match := _MONTH.match(value):
            year, month = int(match["year"]), int(match["month"])
            return cls(date(year, month, 1), _month_end(year, month), value)
        if match := _QUARTER.match(value):
            year, quarter = int(match["year"]), int(match["quarter"])
            first = 3 * (quarter - 1) + 1
            return cls(date(year, first, 1), _month_end(year, first + 2), value)
        raise PeriodError(f"{text!r} is not a period: use a month like 2026-11 or a quarter like 2026-Q4")

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    @property
    def share_of_year(self) -> Fraction:
        """The part of a yearly price this period bills: 1/12 a month, 1/4 a quarter — exact (a Decimal
        1/12 is not, and twelve of them would not make a year)."""
        return Fraction(self.months, 12)

    def overlaps(self, first: date, last: date) -> bool:
        return first <= self.end and self.start <= last


def _month_end(year: int, month: int) -> date:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return following - timedelta(days=1)


def subscription_months(period: Period, invoicing: str, contract_start: date, contract_end: date) -> int:
    """How many months of a subscription a run of ``period`` bills, for a contract invoiced per ``invoicing``
    (``month`` or ``quarter``) that runs from ``contract_start`` to ``contract_end``.

    A monthly contract bills the months of the period; a quarterly one bills a whole quarter, in the run whose
    period ends with that quarter (a quarter run, or the monthly run of its last month) and never in the others.
    Only months the contract covers (any day of them) count.
    """
    if invoicing == "quarter":
        if period.end.month % 3 != 0:
            return 0
        window = Period.parse(f"{period.end.year}-Q{period.end.month // 3}")
    else:
        window = period
    months = 0
    year, month = window.start.year, window.start.month
    while (year, month) <= (window.end.year, window.end.month):
        first = date(year, month, 1)
        if first <= contract_end and contract_start <= _month_end(year, month):
            months += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
