"""Billing periods: months and quarters, their last days and their share of a year."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.billing.domain.periods import Period, PeriodError


def test_months_and_quarters() -> None:
    february = Period.parse("2028-02")
    assert (february.start, february.end, february.months) == (date(2028, 2, 1), date(2028, 2, 29), 1)
    q4 = Period.parse("2026-q4")
    assert (q4.start, q4.end, q4.label, q4.share_of_year) == (
        date(2026, 10, 1),
        date(2026, 12, 31),
        "2026-Q4",
        Fraction(1, 4),
    )


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26-11", "november", "2026-11-01", ""])
def test_what_is_not_a_period_says_so(text: str) -> None:
    with pytest.raises(PeriodError, match="use a month like 2026-11"):
        Period.parse(text)


@given(st.integers(2000, 2100))
def test_the_months_of_a_year_tile_it_and_bill_it_once(year: int) -> None:
    months = [Period.parse(f"{year}-{m:02d}") for m in range(1, 13)]
    assert months[0].start == date(year, 1, 1) and months[-1].end == date(year, 12, 31)
    assert all((b.start - a.end).days == 1 for a, b in pairwise(months))
    assert sum(p.share_of_year for p in months) == 1
    quarters = [Period.parse(f"{year}-Q{q}") for q in range(1, 5)]
    assert [q.start for q in quarters] == [months[i].start for i in (0, 3, 6, 9)]
