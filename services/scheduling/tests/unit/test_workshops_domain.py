"""Unit and property tests for ``bmw.scheduling.domain.workshops``: the catalogue, seats and the waitlist."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.contracts.taxonomy import WorkshopTheme
from bmw.scheduling.domain.workshops import (
    CATALOGUE,
    RegistrationStatus,
    Seat,
    WorkshopStatus,
    is_late,
    placement,
    registration_closed_because,
    seats_to_promote,
    waitlist_positions,
)

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def seat(status: RegistrationStatus, minutes: int) -> Seat:
    return Seat(uuid.uuid4(), status, T0 + timedelta(minutes=minutes))


def test_every_theme_has_a_catalogue_entry_with_a_sensible_length_and_size() -> None:
    assert set(CATALOGUE) == set(WorkshopTheme)
    for theme, entry in CATALOGUE.items():
        assert entry.theme is theme
        assert entry.title_nl and entry.title_en and entry.description
        assert 30 <= entry.default_duration_minutes <= 480
        assert 1 <= entry.suggested_capacity <= 200


def test_a_registration_takes_a_seat_until_the_workshop_is_full() -> None:
    assert placement(capacity=2, registered=0) is RegistrationStatus.REGISTERED
    assert placement(capacity=2, registered=1) is RegistrationStatus.REGISTERED
    assert placement(capacity=2, registered=2) is RegistrationStatus.WAITLISTED
    with pytest.raises(ValueError, match="capacity"):
        placement(capacity=0, registered=0)
    with pytest.raises(ValueError, match="negative"):
        placement(capacity=1, registered=-1)


def test_the_waitlist_moves_up_first_come_first_served() -> None:
    first, second = seat(RegistrationStatus.WAITLISTED, 5), seat(RegistrationStatus.WAITLISTED, 9)
    holders = [seat(RegistrationStatus.REGISTERED, 1)]
    gone = seat(RegistrationStatus.CANCELLED, 0)
    assert seats_to_promote(capacity=2, seats=[second, *holders, gone, first]) == [first]
    assert seats_to_promote(capacity=3, seats=[second, *holders, first]) == [first, second]
    assert seats_to_promote(capacity=1, seats=[second, *holders, first]) == []
    assert waitlist_positions([second, *holders, gone, first]) == {first.id: 1, second.id: 2}


def test_equal_registration_moments_are_ordered_by_id() -> None:
    a = Seat(uuid.UUID(int=1), RegistrationStatus.WAITLISTED, T0)
    b = Seat(uuid.UUID(int=2), RegistrationStatus.WAITLISTED, T0)
    assert waitlist_positions([b, a]) == {a.id: 1, b.id: 2}


@given(
    capacity=st.integers(min_value=1, max_value=20),
    statuses=st.lists(st.sampled_from(list(RegistrationStatus)), max_size=40),
)
def test_promotion_never_overbooks_and_never_leaves_a_seat_free_while_someone_waits(
    capacity: int, statuses: list[RegistrationStatus]
) -> None:
    seats = [seat(status, minutes) for minutes, status in enumerate(statuses)]
    registered = sum(1 for s in seats if s.status is RegistrationStatus.REGISTERED)
    waiting = sum(1 for s in seats if s.status is RegistrationStatus.WAITLISTED)
    promoted = seats_to_promote(capacity=capacity, seats=seats)
    assert len(promoted) == max(0, min(capacity - registered, waiting))
    assert all(s.status is RegistrationStatus.WAITLISTED for s in promoted)
    positions = waitlist_positions(seats)
    assert sorted(positions[s.id] for s in promoted) == list(range(1, len(promoted) + 1))


def test_registrations_close_at_the_start_and_when_the_workshop_is_no_longer_scheduled() -> None:
    start = T0 + timedelta(days=1)
    assert registration_closed_because(status=WorkshopStatus.SCHEDULED, start=start, now=T0) is None
    assert registration_closed_because(status=WorkshopStatus.SCHEDULED, start=start, now=start) == "started"
    assert registration_closed_because(status=WorkshopStatus.CANCELLED, start=start, now=T0) == "cancelled"
    assert registration_closed_because(status=WorkshopStatus.COMPLETED, start=start, now=T0) == "completed"


def test_a_cancellation_under_the_notice_is_late() -> None:
    notice = timedelta(hours=24)
    start = T0 + notice
    assert is_late(start=start, now=T0, notice=notice) is False
    assert is_late(start=start, now=T0 + timedelta(seconds=1), notice=notice) is True
