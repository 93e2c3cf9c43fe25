"""Billing periods: months and quarters, their last days and their share of a year."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.billing.domain.periods import Period, PeriodError, subscription_months


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


def test_subscription_months_follow_the_contracts_invoicing_period_and_its_days() -> None:
    year = (date(2026, 1, 1), date(2026, 12, 31))
    assert subscription_months(Period.parse("2026-11"), "month", *year) == 1
    assert subscription_months(Period.parse("2026-Q4"), "month", *year) == 3
    assert subscription_months(Period.parse("2026-11"), "quarter", *year) == 0, "billed with the quarter's last month"
    assert subscription_months(Period.parse("2026-12"), "quarter", *year) == 3
    assert subscription_months(Period.parse("2026-Q4"), "quarter", *year) == 3
    assert subscription_months(Period.parse("2026-Q4"), "month", date(2026, 11, 15), date(2027, 11, 14)) == 2
    assert subscription_months(Period.parse("2026-10"), "month", date(2026, 11, 1), date(2027, 10, 31)) == 0


@given(st.integers(2000, 2100), st.sampled_from(["month", "quarter"]))
def test_a_year_of_monthly_runs_bills_a_whole_year_once(year: int, invoicing: str) -> None:
    contract = (date(year, 1, 1), date(year, 12, 31))
    monthly = sum(subscription_months(Period.parse(f"{year}-{m:02d}"), invoicing, *contract) for m in range(1, 13))
    quarterly = sum(subscription_months(Period.parse(f"{year}-Q{q}"), invoicing, *contract) for q in range(1, 5))
    assert monthly == quarterly == 12
