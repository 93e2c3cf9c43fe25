"""Referrals: who may refer through which channel, consent before a case opens (within 14 days, else
the referral expires), one case per referral, the SLA counting from the moment the case opens, and the
pseudonymous client_ref (DESIGN §2 rules 1 and 4, §3 intake)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bmw.contracts.taxonomy import Category, Channel, Role, Urgency
from bmw.intake.adapters.persons import new_client_ref
from bmw.intake.domain.cases import Case, CaseStatus
from bmw.intake.domain.referrals import (
    CONSENT_WINDOW,
    ChannelNotAllowed,
    Referral,
    ReferralClosed,
    ReferralStatus,
    allowed_channels,
)
from bmw.intake.domain.sla import sla_deadline

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TENANT = uuid.UUID("6f1c2a48-0000-4000-8000-000000000001")
ORG_UNIT = uuid.UUID("00000000-0000-4000-8000-0000000000bb")
RECEIVED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday
DEADLINE = RECEIVED + timedelta(days=14)
TICK = timedelta(microseconds=1)


def referral(**overrides: Any) -> Referral:
    """A referral by HR without the employee's consent, unless overridden."""
    fields: dict[str, Any] = {
        "tenant_id": TENANT,
        "org_unit_id": ORG_UNIT,
        "category": Category.REORGANISATION_UNCERTAINTY,
        "urgency": Urgency.NORMAL,
        "channel": Channel.HR,
        "language": "nl",
        "referred_by": "hr-officer-1",
        "referrer_roles": frozenset({Role.CLIENT_CONTACT}),
        "employee_consented": False,
        "received_at": RECEIVED,
    }
    fields.update(overrides)
    return Referral.receive(**fields)


# -- channels ------------------------------------------------------------------------------------

EXPECTED_CHANNELS: dict[Role, set[Channel]] = {
    Role.EMPLOYEE: {Channel.SELF},
    Role.CLIENT_CONTACT: {Channel.MANAGER, Channel.HR, Channel.COMPANY_DOCTOR},
    Role.INTEGRATION: {Channel.INTEGRATION},
}


@pytest.mark.parametrize("role", list(EXPECTED_CHANNELS))
@pytest.mark.parametrize("channel", list(Channel))
def test_each_role_refers_only_through_its_own_channels(role: Role, channel: Channel) -> None:
    roles = frozenset({role})

    if channel in EXPECTED_CHANNELS[role]:
        made = referral(channel=channel, referrer_roles=roles)
        assert made.channel is channel
    else:
        with pytest.raises(ChannelNotAllowed, match=channel.value):
            referral(channel=channel, referrer_roles=roles)


def test_an_employee_cannot_refer_as_their_manager() -> None:
    with pytest.raises(ChannelNotAllowed):
        referral(channel=Channel.MANAGER, referrer_roles=frozenset({Role.EMPLOYEE}))


def test_a_caller_without_roles_may_not_refer_at_all() -> None:
    assert allowed_channels(frozenset()) == frozenset()


def test_a_caller_with_two_roles_may_use_the_channels_of_both() -> None:
    assert allowed_channels(frozenset({Role.EMPLOYEE, Role.INTEGRATION})) == {Channel.SELF, Channel.INTEGRATION}


@pytest.mark.parametrize("role", [Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN])
def test_provider_staff_may_register_a_referral_from_any_channel(role: Role) -> None:
    assert allowed_channels(frozenset({role})) == frozenset(Channel)


# -- consent -------------------------------------------------------------------------------------


def test_a_self_referral_counts_as_consent() -> None:
    made = referral(channel=Channel.SELF, referrer_roles=frozenset({Role.EMPLOYEE}), employee_consented=False)

    assert made.employee_consented
    assert made.may_open_case


@pytest.mark.parametrize("channel", [Channel.MANAGER, Channel.HR, Channel.COMPANY_DOCTOR])
def test_a_referral_by_someone_else_without_consent_opens_no_case(channel: Channel) -> None:
    made = referral(channel=channel, employee_consented=False)

    assert not made.employee_consented
    assert not made.may_open_case
    with pytest.raises(ReferralClosed, match="consent"):
        made.open_case(new_client_ref(), RECEIVED)
    assert made.case is None
    assert made.status is ReferralStatus.AWAITING_CONSENT


def test_an_integration_referral_without_consent_opens_no_case() -> None:
    made = referral(channel=Channel.INTEGRATION, referrer_roles=frozenset({Role.INTEGRATION}))

    assert not made.may_open_case


def test_a_referral_by_someone_else_with_consent_may_open_a_case() -> None:
    assert referral(employee_consented=True).may_open_case


def test_a_new_referral_awaits_consent_and_has_no_case() -> None:
    made = referral(employee_consented=True)

    assert made.status is ReferralStatus.AWAITING_CONSENT
    assert made.case is None


# -- opening a case --------------------------------------------------------------------------


def test_opening_a_case_records_it_on_the_referral() -> None:
    made = referral(employee_consented=True, urgency=Urgency.URGENT, language="en")
    client_ref = new_client_ref()

    case = made.open_case(client_ref, RECEIVED)

    assert isinstance(case, Case)
    assert made.case is case
    assert made.status is ReferralStatus.CASE_OPENED
    assert case.referral_id == made.id
    assert case.client_ref == client_ref
    assert case.status is CaseStatus.REGISTERED
    assert case.sla_deadline == sla_deadline(RECEIVED, Urgency.URGENT)
    assert case.language == "en"
    assert case.opened_at == RECEIVED


def test_a_case_opens_only_once() -> None:
    made = referral(employee_consented=True)
    first = made.open_case(new_client_ref(), RECEIVED)

    assert not made.may_open_case
    with pytest.raises(ReferralClosed, match="only once"):
        made.open_case(new_client_ref(), RECEIVED + timedelta(hours=1))
    assert made.case is first
    assert made.status is ReferralStatus.CASE_OPENED


def test_each_referral_and_case_gets_its_own_id() -> None:
    first, second = referral(employee_consented=True), referral(employee_consented=True)

    assert first.id != second.id
    assert first.open_case(new_client_ref(), RECEIVED).id != second.open_case(new_client_ref(), RECEIVED).id


@pytest.mark.parametrize(
    ("category", "specialism"),
    [
        (Category.BURNOUT_RISK, "burnout"),
        (Category.DISMISSAL, "employment_law"),
        (Category.UNDESIRABLE_BEHAVIOUR, "confidential_advisor"),
        (Category.ADDICTION, "addiction"),
        (Category.FINANCES, "debt_counselling"),
        (Category.GRIEF, "grief"),
        (Category.WORKLOAD_STRESS, None),
        (Category.CONFLICT_MANAGER, None),
        (Category.OTHER, None),
    ],
)
def test_a_case_needs_the_specialism_of_its_category(category: Category, specialism: str | None) -> None:
    case = referral(category=category, employee_consented=True).open_case(new_client_ref(), RECEIVED)

    assert case.needed_specialism == specialism


def test_a_case_opens_only_once_even_after_a_later_consent() -> None:
    made = referral()
    made.consent(RECEIVED + timedelta(days=1))
    first = made.open_case(new_client_ref(), RECEIVED + timedelta(days=1))

    with pytest.raises(ReferralClosed, match="case_opened"):
        made.consent(RECEIVED + timedelta(days=2))
    with pytest.raises(ReferralClosed, match="only once"):
        made.open_case(new_client_ref(), RECEIVED + timedelta(days=2))
    assert made.case is first
    assert made.status is ReferralStatus.CASE_OPENED


# -- the SLA counts from the moment the case opens --------------------------------------------


def test_the_sla_of_a_case_opened_after_a_late_consent_counts_from_the_opening() -> None:
    made = referral(urgency=Urgency.NORMAL)
    consented = datetime(2026, 3, 5, 10, 0, tzinfo=AMSTERDAM)  # Thursday, three days after the referral
    made.consent(consented)

    case = made.open_case(new_client_ref(), consented)

    assert case.opened_at == consented
    assert case.sla_deadline == sla_deadline(consented, Urgency.NORMAL)
    # 5 working days after Thursday 5 March: Fri 6, Mon 9, Tue 10, Wed 11, Thu 12 March, 17:00 local.
    assert case.sla_deadline == datetime(2026, 3, 12, 17, 0, tzinfo=AMSTERDAM)
    assert case.sla_deadline != sla_deadline(RECEIVED, Urgency.NORMAL)


def test_a_crisis_case_must_be_contacted_within_24_hours_of_opening_not_of_the_referral() -> None:
    made = referral(urgency=Urgency.CRISIS)
    opened = RECEIVED + timedelta(days=2, hours=3)
    made.consent(opened)

    case = made.open_case(new_client_ref(), opened)

    assert case.sla_deadline == opened + timedelta(hours=24)


def test_a_self_referral_opened_later_counts_its_sla_from_the_opening() -> None:
    made = referral(channel=Channel.SELF, referrer_roles=frozenset({Role.EMPLOYEE}), urgency=Urgency.URGENT)
    opened = RECEIVED + timedelta(hours=30)

    case = made.open_case(new_client_ref(), opened)

    assert case.opened_at == opened
    assert case.sla_deadline == sla_deadline(opened, Urgency.URGENT)


# -- consent within 14 days --------------------------------------------------------------------


def test_a_referral_waits_14_days_for_consent() -> None:
    assert timedelta(days=14) == CONSENT_WINDOW
    assert referral().consent_deadline == DEADLINE


@pytest.mark.parametrize("at", [RECEIVED, RECEIVED + timedelta(days=7), DEADLINE - TICK])
def test_consent_before_the_deadline_lets_the_case_open(at: datetime) -> None:
    made = referral()

    made.consent(at)

    assert made.employee_consented
    assert made.may_open_case
    assert made.status is ReferralStatus.AWAITING_CONSENT
    case = made.open_case(new_client_ref(), at)
    assert made.status is ReferralStatus.CASE_OPENED
    assert case.opened_at == at


@pytest.mark.parametrize("at", [DEADLINE, DEADLINE + TICK, DEADLINE + timedelta(days=30)])
def test_consent_at_or_after_the_deadline_is_refused(at: datetime) -> None:
    made = referral()

    with pytest.raises(ReferralClosed, match="expired"):
        made.consent(at)

    assert not made.employee_consented
    assert not made.may_open_case
    assert made.case is None


def test_consent_to_an_expired_referral_is_refused() -> None:
    made = referral()
    assert made.expire(DEADLINE)

    with pytest.raises(ReferralClosed, match="expired"):
        made.consent(DEADLINE - TICK)  # even a consent dated before the deadline: the referral is gone
    assert not made.employee_consented


# -- expiry --------------------------------------------------------------------------------------


@pytest.mark.parametrize("now", [RECEIVED, RECEIVED + timedelta(days=13), DEADLINE - TICK])
def test_a_referral_does_not_expire_before_its_deadline(now: datetime) -> None:
    made = referral()

    assert made.expire(now) is False
    assert made.status is ReferralStatus.AWAITING_CONSENT


@pytest.mark.parametrize("now", [DEADLINE, DEADLINE + TICK, DEADLINE + timedelta(days=100)])
def test_a_referral_awaiting_consent_expires_at_its_deadline(now: datetime) -> None:
    made = referral()

    assert made.expire(now) is True

    assert made.status is ReferralStatus.EXPIRED
    assert not made.may_open_case
    with pytest.raises(ReferralClosed):
        made.open_case(new_client_ref(), now)
    assert made.case is None


def test_a_referral_expires_once() -> None:
    made = referral()
    assert made.expire(DEADLINE)

    assert made.expire(DEADLINE + timedelta(days=1)) is False
    assert made.status is ReferralStatus.EXPIRED


def test_a_referral_whose_case_opened_never_expires() -> None:
    made = referral(employee_consented=True)
    case = made.open_case(new_client_ref(), RECEIVED)

    assert made.expire(DEADLINE) is False
    assert made.expire(DEADLINE + timedelta(days=365)) is False
    assert made.status is ReferralStatus.CASE_OPENED
    assert made.case is case


# -- the pseudonym ---------------------------------------------------------------------------


def test_client_refs_are_unique() -> None:
    refs = [new_client_ref() for _ in range(5000)]

    assert len(set(refs)) == len(refs)


def test_a_client_ref_is_an_opaque_url_safe_token_of_128_bits() -> None:
    ref = new_client_ref()

    assert re.fullmatch(r"c_[A-Za-z0-9_-]{22}", ref)


def test_a_client_ref_carries_nothing_of_the_referral() -> None:
    made = referral(employee_consented=True, referred_by="Sanne de Vries")

    case = made.open_case(new_client_ref(), RECEIVED)

    for value in (str(TENANT), str(ORG_UNIT), str(made.id), "Sanne", "de Vries", made.category.value):
        assert value not in case.client_ref
