"""SLA deadlines for first contact: crisis 24 h, urgent 3 and normal 5 Dutch working days, ending
17:00 Europe/Amsterdam (DESIGN §3 intake)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.contracts.taxonomy import Urgency
from bmw.intake.domain.sla import add_working_days, is_working_day, sla_deadline

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def five_pm(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 17, 0, tzinfo=AMSTERDAM)


# -- crisis --------------------------------------------------------------------------------------


def test_a_crisis_must_be_contacted_within_24_hours() -> None:
    received = datetime(2026, 3, 6, 21, 45, tzinfo=UTC)  # a Friday evening

    assert sla_deadline(received, Urgency.CRISIS) == received + timedelta(hours=24)


def test_a_crisis_received_in_utc_across_the_clock_change_gets_24_real_hours() -> None:
    received = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)  # 12:00 CET; CEST from 2026-03-29 02:00

    deadline = sla_deadline(received, Urgency.CRISIS)

    assert deadline.astimezone(UTC) == datetime(2026, 3, 29, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "received", [local(2026, 3, 28, 12, 0), local(2026, 10, 24, 12, 0)], ids=["spring-forward", "fall-back"]
)
def test_a_crisis_received_in_amsterdam_time_across_the_clock_change_gets_24_real_hours(received: datetime) -> None:
    deadline = sla_deadline(received, Urgency.CRISIS)

    assert deadline.astimezone(UTC) - received.astimezone(UTC) == timedelta(hours=24)


# -- working days -------------------------------------------------------------------------------


def test_a_normal_referral_on_monday_is_due_the_next_monday_at_five() -> None:
    assert sla_deadline(local(2026, 3, 2), Urgency.NORMAL) == five_pm(2026, 3, 9)


def test_an_urgent_referral_on_monday_is_due_thursday_at_five() -> None:
    assert sla_deadline(local(2026, 3, 2), Urgency.URGENT) == five_pm(2026, 3, 5)


def test_the_day_of_receipt_does_not_count_even_when_received_early() -> None:
    assert sla_deadline(local(2026, 3, 2, 0, 5), Urgency.URGENT) == five_pm(2026, 3, 5)


def test_weekends_are_skipped() -> None:
    # Wednesday + 5 working days: Thu, Fri, Mon, Tue, Wed.
    assert sla_deadline(local(2026, 3, 4), Urgency.NORMAL) == five_pm(2026, 3, 11)


def test_a_referral_on_friday_evening_is_due_the_next_friday() -> None:
    received = local(2026, 3, 6, 21, 45)

    assert sla_deadline(received, Urgency.NORMAL) == five_pm(2026, 3, 13)
    assert sla_deadline(received, Urgency.URGENT) == five_pm(2026, 3, 11)


def test_a_referral_on_saturday_counts_from_monday() -> None:
    assert sla_deadline(local(2026, 3, 7), Urgency.URGENT) == five_pm(2026, 3, 11)


def test_the_amsterdam_date_counts_not_the_utc_date() -> None:
    # Sunday 23:30 UTC in summer is Monday 01:30 in Amsterdam: counted from Monday.
    received = datetime(2026, 6, 7, 23, 30, tzinfo=UTC)

    assert sla_deadline(received, Urgency.NORMAL) == five_pm(2026, 6, 15)


def test_a_received_at_in_another_offset_is_read_in_amsterdam_time() -> None:
    # Thursday 20:00 in New York (UTC-4) is already Friday 02:00 in Amsterdam.
    received = datetime(2026, 6, 4, 20, 0, tzinfo=timezone(timedelta(hours=-4)))

    assert sla_deadline(received, Urgency.URGENT) == five_pm(2026, 6, 10)


# -- Dutch public holidays ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "deadline", "holiday"),
    [
        # Thu 23 Apr: Fri 24, [Mon 27 King's Day], Tue 28, Wed 29, Thu 30, Fri 1 May.
        (local(2026, 4, 23), five_pm(2026, 5, 1), "King's Day 2026-04-27"),
        # Mon 11 May: Tue 12, Wed 13, [Thu 14 Ascension], Fri 15, Mon 18, Tue 19.
        (local(2026, 5, 11), five_pm(2026, 5, 19), "Ascension Day 2026-05-14"),
        # Thu 2 Apr: [Fri 3 Good Friday], [Mon 6 Easter Monday], Tue 7 .. Mon 13.
        (local(2026, 4, 2), five_pm(2026, 4, 13), "Good Friday and Easter Monday 2026"),
        # Thu 21 May: Fri 22, [Mon 25 Whit Monday], Tue 26, Wed 27, Thu 28, Fri 29.
        (local(2026, 5, 21), five_pm(2026, 5, 29), "Whit Monday 2026-05-25"),
        # Mon 22 Dec 2025: Tue 23, Wed 24, [Thu 25, Fri 26 Christmas], Mon 29, Tue 30, Wed 31.
        (local(2025, 12, 22), five_pm(2025, 12, 31), "Christmas 2025"),
        # Tue 30 Dec 2025: Wed 31, [Thu 1 Jan New Year], Fri 2, Mon 5, Tue 6, Wed 7: across the year end.
        (local(2025, 12, 30), five_pm(2026, 1, 7), "New Year's Day 2026"),
    ],
    ids=["kings-day", "ascension", "easter", "whit-monday", "christmas", "new-year"],
)
def test_a_week_with_a_public_holiday_pushes_the_normal_deadline(
    received: datetime, deadline: datetime, holiday: str
) -> None:
    assert sla_deadline(received, Urgency.NORMAL) == deadline, holiday


@pytest.mark.parametrize(
    "day",
    [date(2026, 4, 27), date(2026, 5, 14), date(2026, 12, 25), date(2026, 1, 1), date(2026, 4, 6), date(2026, 5, 25)],
)
def test_dutch_public_holidays_on_weekdays_are_not_working_days(day: date) -> None:
    assert day.weekday() < 5
    assert not is_working_day(day)


@pytest.mark.parametrize("day", [date(2026, 3, 7), date(2026, 3, 8)])
def test_weekend_days_are_not_working_days(day: date) -> None:
    assert not is_working_day(day)


def test_an_ordinary_weekday_is_a_working_day() -> None:
    assert is_working_day(date(2026, 3, 4))


# -- daylight saving time --------------------------------------------------------------------


def test_a_deadline_after_the_spring_clock_change_is_five_pm_summer_time() -> None:
    received = local(2026, 3, 25)  # Wednesday, CET (UTC+1)

    deadline = sla_deadline(received, Urgency.NORMAL)

    assert deadline == five_pm(2026, 4, 1)
    assert deadline.astimezone(UTC) == datetime(2026, 4, 1, 15, 0, tzinfo=UTC)
    assert deadline.utcoffset() == timedelta(hours=2)


def test_a_deadline_after_the_autumn_clock_change_is_five_pm_winter_time() -> None:
    received = local(2026, 10, 21)  # Wednesday, CEST (UTC+2)

    deadline = sla_deadline(received, Urgency.NORMAL)

    assert deadline == five_pm(2026, 10, 28)
    assert deadline.astimezone(UTC) == datetime(2026, 10, 28, 16, 0, tzinfo=UTC)
    assert deadline.utcoffset() == timedelta(hours=1)


def test_a_referral_made_during_the_repeated_autumn_hour_is_counted_from_that_sunday() -> None:
    received = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, Sunday

    assert sla_deadline(received, Urgency.URGENT) == five_pm(2026, 10, 28)


# -- refused input -------------------------------------------------------------------------------


@pytest.mark.parametrize("urgency", list(Urgency))
def test_a_naive_received_at_is_refused(urgency: Urgency) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sla_deadline(datetime(2026, 3, 2, 10, 0), urgency)


def test_adding_zero_working_days_is_the_same_day() -> None:
    assert add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 7)


# -- properties ----------------------------------------------------------------------------------

received_moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2060, 12, 31),
    timezones=st.sampled_from([AMSTERDAM, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]),
)


@given(received=received_moments, urgency=st.sampled_from([Urgency.URGENT, Urgency.NORMAL]))
def test_a_working_day_deadline_is_five_pm_amsterdam_on_a_working_day_after_receipt(
    received: datetime, urgency: Urgency
) -> None:
    deadline = sla_deadline(received, urgency)
    in_amsterdam = deadline.astimezone(AMSTERDAM)

    assert deadline > received
    assert is_working_day(in_amsterdam.date())
    assert (in_amsterdam.hour, in_amsterdam.minute) == (17, 0)
    assert in_amsterdam.date() > received.astimezone(AMSTERDAM).date()


@given(received=received_moments, urgency=st.sampled_from([Urgency.URGENT, Urgency.NORMAL]))
def test_a_deadline_is_exactly_n_working_days_after_the_day_of_receipt(received: datetime, urgency: Urgency) -> None:
    first = received.astimezone(AMSTERDAM).date()
    last = sla_deadline(received, urgency).astimezone(AMSTERDAM).date()

    counted = sum(is_working_day(first + timedelta(days=n)) for n in range(1, (last - first).days + 1))

    assert counted == {Urgency.URGENT: 3, Urgency.NORMAL: 5}[urgency]


@given(received=received_moments)
def test_normal_is_never_earlier_than_urgent(received: datetime) -> None:
    assert sla_deadline(received, Urgency.NORMAL) > sla_deadline(received, Urgency.URGENT)


@given(
    received=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2060, 12, 31),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]),
    )
)
def test_a_crisis_deadline_is_24_hours_after_a_fixed_offset_receipt(received: datetime) -> None:
    deadline = sla_deadline(received, Urgency.CRISIS)

    assert deadline.astimezone(UTC) - received.astimezone(UTC) == timedelta(hours=24)
