"""Consent per recipient and per item, with expiry, history and withdrawal: the newest record for a
(recipient, item) decides what is in force at a moment (DESIGN §2 rule 4, §3 intake)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmw.intake.domain.consent import (
    ConsentItem,
    ConsentLedger,
    ConsentNotApplicable,
    ConsentRecord,
    Recipient,
    check_applicable,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
R, CI = Recipient, ConsentItem


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def record(
    recipient: Recipient,
    item: ConsentItem,
    *,
    granted: bool = True,
    recorded_at: datetime = T0,
    valid_until: datetime | None = None,
) -> ConsentRecord:
    return ConsentRecord(
        id=uuid.uuid4(),
        recipient=recipient,
        item=item,
        granted=granted,
        recorded_at=recorded_at,
        valid_until=valid_until,
        recorded_by="employee-1",
        method="portal",
    )


# -- grant and withdrawal ------------------------------------------------------------------------


def test_nothing_is_allowed_without_a_record() -> None:
    ledger = ConsentLedger([])

    for recipient, item in itertools.product(Recipient, ConsentItem):
        assert not ledger.allows(recipient, item, at(0))
    assert ledger.in_force(at(0)) == []


def test_a_grant_allows_from_the_moment_it_is_recorded() -> None:
    ledger = ConsentLedger([record(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, recorded_at=at(10))])

    assert ledger.allows(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, at(10))
    assert ledger.allows(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, at(10_000))


def test_a_grant_recorded_in_the_future_is_not_yet_in_force() -> None:
    ledger = ConsentLedger([record(R.MANAGER, CI.ATTENDANCE, recorded_at=at(60))])

    assert not ledger.allows(R.MANAGER, CI.ATTENDANCE, at(60) - TICK)
    assert ledger.in_force(at(59)) == []
    assert ledger.allows(R.MANAGER, CI.ATTENDANCE, at(60))


def test_a_withdrawal_ends_the_grant_and_the_newest_record_wins() -> None:
    grant = record(R.MANAGER, CI.ATTENDANCE, recorded_at=at(0))
    withdrawal = record(R.MANAGER, CI.ATTENDANCE, granted=False, recorded_at=at(30))
    regrant = record(R.MANAGER, CI.ATTENDANCE, recorded_at=at(60))
    ledger = ConsentLedger([regrant, withdrawal, grant])  # the order of the input does not matter

    assert ledger.allows(R.MANAGER, CI.ATTENDANCE, at(29))
    assert not ledger.allows(R.MANAGER, CI.ATTENDANCE, at(30))
    assert not ledger.allows(R.MANAGER, CI.ATTENDANCE, at(59))
    assert ledger.allows(R.MANAGER, CI.ATTENDANCE, at(60))
    assert ledger.latest(R.MANAGER, CI.ATTENDANCE, at(45)) == withdrawal


def test_a_withdrawal_alone_allows_nothing() -> None:
    ledger = ConsentLedger([record(R.HR, CI.ATTENDANCE, granted=False, recorded_at=at(0))])

    assert not ledger.allows(R.HR, CI.ATTENDANCE, at(1))
    assert ledger.in_force(at(1)) == []


# -- expiry --------------------------------------------------------------------------------------


def test_a_grant_expires_at_its_valid_until() -> None:
    ledger = ConsentLedger([record(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, recorded_at=at(0), valid_until=at(120))])

    assert ledger.allows(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, at(120) - TICK)
    assert not ledger.allows(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, at(120))
    assert not ledger.allows(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, at(10_000))


def test_an_expired_grant_does_not_revive_an_older_open_ended_one() -> None:
    ledger = ConsentLedger(
        [
            record(R.HR, CI.ATTENDANCE, recorded_at=at(0)),
            record(R.HR, CI.ATTENDANCE, recorded_at=at(10), valid_until=at(20)),
        ]
    )

    assert ledger.allows(R.HR, CI.ATTENDANCE, at(15))
    assert not ledger.allows(R.HR, CI.ATTENDANCE, at(20))


def test_a_new_grant_after_expiry_allows_again() -> None:
    ledger = ConsentLedger(
        [
            record(R.HR, CI.CLOSING_REPORT, recorded_at=at(0), valid_until=at(10)),
            record(R.HR, CI.CLOSING_REPORT, recorded_at=at(30)),
        ]
    )

    assert not ledger.allows(R.HR, CI.CLOSING_REPORT, at(20))
    assert ledger.allows(R.HR, CI.CLOSING_REPORT, at(30))


# -- per recipient and per item ------------------------------------------------------------------


def test_my_manager_may_know_that_i_attended_nothing_more() -> None:
    ledger = ConsentLedger([record(R.MANAGER, CI.ATTENDANCE, recorded_at=at(0))])
    moment = at(5)

    assert ledger.allows(R.MANAGER, CI.ATTENDANCE, moment)
    assert not ledger.allows(R.MANAGER, CI.CLOSING_REPORT, moment)
    assert not ledger.allows(R.HR, CI.ATTENDANCE, moment)
    assert not ledger.allows(R.COMPANY_DOCTOR, CI.ATTENDANCE, moment)
    allowed = {(r, i) for r, i in itertools.product(Recipient, ConsentItem) if ledger.allows(r, i, moment)}
    assert allowed == {(R.MANAGER, CI.ATTENDANCE)}


def test_withdrawing_one_item_leaves_the_others_of_the_same_recipient() -> None:
    ledger = ConsentLedger(
        [
            record(R.COMPANY_DOCTOR, CI.ATTENDANCE, recorded_at=at(0)),
            record(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, recorded_at=at(0)),
            record(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, granted=False, recorded_at=at(10)),
        ]
    )

    assert ledger.allows(R.COMPANY_DOCTOR, CI.ATTENDANCE, at(20))
    assert not ledger.allows(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, at(20))


def test_withdrawing_from_one_recipient_leaves_the_same_item_for_others() -> None:
    ledger = ConsentLedger(
        [
            record(R.MANAGER, CI.ATTENDANCE, recorded_at=at(0)),
            record(R.HR, CI.ATTENDANCE, recorded_at=at(0)),
            record(R.HR, CI.ATTENDANCE, granted=False, recorded_at=at(10)),
        ]
    )

    assert ledger.allows(R.MANAGER, CI.ATTENDANCE, at(20))
    assert not ledger.allows(R.HR, CI.ATTENDANCE, at(20))


# -- in force ------------------------------------------------------------------------------------


def test_in_force_lists_the_current_grants_only_sorted_by_recipient_and_item() -> None:
    manager_attendance = record(R.MANAGER, CI.ATTENDANCE, recorded_at=at(0))
    statistics = record(R.PROVIDER, CI.ANONYMISED_STATISTICS, recorded_at=at(0))
    old_doctor_grant = record(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, recorded_at=at(0))
    doctor_regrant = record(R.COMPANY_DOCTOR, CI.CLOSING_REPORT, recorded_at=at(5), valid_until=at(500))
    ledger = ConsentLedger(
        [
            statistics,
            manager_attendance,
            old_doctor_grant,
            doctor_regrant,
            record(R.HR, CI.ATTENDANCE, recorded_at=at(0), valid_until=at(10)),
            record(R.PROVIDER, CI.REFERRAL, recorded_at=at(0)),
            record(R.PROVIDER, CI.REFERRAL, granted=False, recorded_at=at(15)),
            record(R.MANAGER, CI.CLOSING_REPORT, recorded_at=at(100)),
        ]
    )

    current = ledger.in_force(at(20))

    assert current == [doctor_regrant, manager_attendance, statistics]
    assert all(r.granted for r in current)


# -- which combinations mean something -----------------------------------------------------------


@pytest.mark.parametrize(("recipient", "item"), list(itertools.product(Recipient, ConsentItem)))
def test_referral_and_statistics_go_only_to_the_provider_and_nothing_else_does(
    recipient: Recipient, item: ConsentItem
) -> None:
    provider_only = item in (CI.REFERRAL, CI.ANONYMISED_STATISTICS)

    if provider_only == (recipient is R.PROVIDER):
        check_applicable(recipient, item)
    else:
        with pytest.raises(ConsentNotApplicable, match=item.value):
            check_applicable(recipient, item)


def test_attendance_is_never_for_the_provider() -> None:
    with pytest.raises(ConsentNotApplicable):
        check_applicable(R.PROVIDER, CI.ATTENDANCE)


def test_a_manager_cannot_consent_to_statistics_or_the_referral() -> None:
    for item in (CI.ANONYMISED_STATISTICS, CI.REFERRAL):
        with pytest.raises(ConsentNotApplicable):
            check_applicable(R.MANAGER, item)


# -- property: the newest record at or before the moment decides ---------------------------------

MINUTES = st.integers(min_value=0, max_value=60)


@st.composite
def records(draw: st.DrawFn) -> ConsentRecord:
    recorded = draw(MINUTES)
    valid_until = draw(st.one_of(st.none(), MINUTES.map(at)))
    return record(
        draw(st.sampled_from(Recipient)),
        draw(st.sampled_from(ConsentItem)),
        granted=draw(st.booleans()),
        recorded_at=at(recorded),
        valid_until=valid_until,
    )


def expected_allows(history: list[ConsentRecord], recipient: Recipient, item: ConsentItem, moment: datetime) -> bool:
    """The newest record for (recipient, item) at or before ``moment`` is a grant not expired at ``moment``."""
    earlier = [r for r in history if (r.recipient, r.item) == (recipient, item) and r.recorded_at <= moment]
    if not earlier:
        return False
    newest = max(earlier, key=lambda r: r.recorded_at)
    return newest.granted and (newest.valid_until is None or moment < newest.valid_until)


@settings(max_examples=300, deadline=None)
@given(
    # One record per (recipient, item, instant): two at one instant have no "newest".
    history=st.lists(records(), max_size=25, unique_by=lambda r: (r.recipient, r.item, r.recorded_at)),
    moment=st.integers(min_value=-1, max_value=61).map(at),
)
def test_allows_is_decided_by_the_newest_record_at_or_before_the_moment(
    history: list[ConsentRecord], moment: datetime
) -> None:
    ledger = ConsentLedger(history)

    for recipient, item in itertools.product(Recipient, ConsentItem):
        assert ledger.allows(recipient, item, moment) == expected_allows(history, recipient, item, moment)
    assert {(r.recipient, r.item) for r in ledger.in_force(moment)} == {
        (recipient, item)
        for recipient, item in itertools.product(Recipient, ConsentItem)
        if expected_allows(history, recipient, item, moment)
    }


@settings(max_examples=100, deadline=None)
@given(
    history=st.lists(records(), max_size=25, unique_by=lambda r: (r.recipient, r.item, r.recorded_at)),
    moment=MINUTES.map(at),
    data=st.data(),
)
def test_the_order_records_arrive_in_does_not_matter(
    history: list[ConsentRecord], moment: datetime, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(history))

    assert ConsentLedger(history).in_force(moment) == ConsentLedger(shuffled).in_force(moment)


def test_a_grant_and_a_withdrawal_at_the_same_instant_decide_the_same_whatever_their_order() -> None:
    grant = record(R.MANAGER, CI.ATTENDANCE, granted=True, recorded_at=at(10))
    withdrawal = record(R.MANAGER, CI.ATTENDANCE, granted=False, recorded_at=at(10))

    assert ConsentLedger([grant, withdrawal]).allows(R.MANAGER, CI.ATTENDANCE, at(20)) == ConsentLedger(
        [withdrawal, grant]
    ).allows(R.MANAGER, CI.ATTENDANCE, at(20))
