"""Referrals (aanmeldingen) and the cases they open."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bmw.contracts.taxonomy import Category, Channel, Role, Specialism, Urgency
from bmw.intake.domain.cases import Case
from bmw.intake.domain.sla import sla_deadline

#: A referral by someone else waits this long for the employee's consent, then expires.
CONSENT_WINDOW = timedelta(days=14)
#: How far back an integration may date a referral it brings from before the move to this product: three
#: years (one leap day included), the baseline the signals service needs and no more.
HISTORY_WINDOW = timedelta(days=3 * 365 + 1)


class ReferralStatus(StrEnum):
    AWAITING_CONSENT = "awaiting_consent"
    CASE_OPENED = "case_opened"
    EXPIRED = "expired"
    #: From before the client organisation moved to this product: counted in statistics, nothing else.
    HISTORICAL = "historical"


class ReferralClosed(ValueError):
    """The referral no longer waits for consent (a case opened, or it expired)."""


class ChannelNotAllowed(ValueError):
    """The caller's role may not refer through this channel."""


class OriginalDateNotAllowed(ValueError):
    """An original (historical) received date that is not the caller's to give, or lies outside the window."""


#: Which channels each role may use. An employee refers themselves; a client contact refers as the
#: manager, HR or the company doctor; an integration only through the integration channel.
CHANNELS_BY_ROLE: dict[Role, frozenset[Channel]] = {
    Role.EMPLOYEE: frozenset({Channel.SELF}),
    Role.CLIENT_CONTACT: frozenset({Channel.MANAGER, Channel.HR, Channel.COMPANY_DOCTOR}),
    Role.INTEGRATION: frozenset({Channel.INTEGRATION}),
    Role.SOCIAL_WORKER: frozenset(Channel),
    Role.PROVIDER_ADMIN: frozenset(Channel),
}

#: The specialism a worker needs for a category, where one is needed.
SPECIALISM_BY_CATEGORY: dict[Category, str] = {
    Category.BURNOUT_RISK: Specialism.BURNOUT.value,
    Category.DISMISSAL: Specialism.EMPLOYMENT_LAW.value,
    Category.UNDESIRABLE_BEHAVIOUR: Specialism.CONFIDENTIAL_ADVISOR.value,
    Category.ADDICTION: Specialism.ADDICTION.value,
    Category.FINANCES: Specialism.DEBT_COUNSELLING.value,
    Category.GRIEF: Specialism.GRIEF.value,
}


def allowed_channels(roles: frozenset[Role]) -> frozenset[Channel]:
    allowed: set[Channel] = set()
    for role in roles:
        allowed |= CHANNELS_BY_ROLE.get(role, frozenset())
    return frozenset(allowed)


def new_client_ref() -> str:
    """A pseudonym for a person: random, so it cannot be reversed to the person outside intake."""
    return "c_" + secrets.token_urlsafe(16)


@dataclass
class Referral:
    """A referral. By anyone but the employee, it needs the employee's consent before a case opens."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    channel: Channel
    language: str
    received_at: datetime
    referred_by: str
    employee_consented: bool
    status: ReferralStatus = ReferralStatus.AWAITING_CONSENT
    case: Case | None = field(default=None)

    @classmethod
    def receive(
        cls,
        *,
        tenant_id: uuid.UUID,
        org_unit_id: uuid.UUID,
        category: Category,
        urgency: Urgency,
        channel: Channel,
        language: str,
        referred_by: str,
        referrer_roles: frozenset[Role],
        employee_consented: bool,
        received_at: datetime,
    ) -> Referral:
        if channel not in allowed_channels(referrer_roles):
            raise ChannelNotAllowed(f"channel {channel.value!r} is not open to the caller's role")
        return cls(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            org_unit_id=org_unit_id,
            category=category,
            urgency=urgency,
            channel=channel,
            language=language,
            received_at=received_at,
            referred_by=referred_by,
            # A self-referral is the employee's own act; anyone else's needs their consent.
            employee_consented=employee_consented or channel is Channel.SELF,
        )

    @classmethod
    def receive_historical(
        cls,
        *,
        tenant_id: uuid.UUID,
        org_unit_id: uuid.UUID,
        category: Category,
        urgency: Urgency,
        channel: Channel,
        language: str,
        referred_by: str,
        referrer_roles: frozenset[Role],
        original_received_at: datetime,
        now: datetime,
    ) -> Referral:
        """A referral from the client organisation's history, pushed by its HR system with its original date.

        It is a statistic, not a request for help any more: it opens no case, asks no consent and holds no
        person, so that a client moving to this product brings its baseline and nothing personal with it.
        """
        if Role.INTEGRATION not in referrer_roles:
            raise OriginalDateNotAllowed("only an integration may send an original date")
        if channel not in allowed_channels(referrer_roles):
            raise ChannelNotAllowed(f"channel {channel.value!r} is not open to the caller's role")
        if original_received_at > now:
            raise OriginalDateNotAllowed("an original date cannot lie in the future")
        if original_received_at < now - HISTORY_WINDOW:
            raise OriginalDateNotAllowed("an original date lies at most 3 years back")
        return cls(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            org_unit_id=org_unit_id,
            category=category,
            urgency=urgency,
            channel=channel,
            language=language,
            received_at=original_received_at,
            referred_by=referred_by,
            employee_consented=False,
            status=ReferralStatus.HISTORICAL,
        )

    @property
    def historical(self) -> bool:
        return self.status is ReferralStatus.HISTORICAL

    @property
    def may_open_case(self) -> bool:
        return self.employee_consented and self.case is None and self.status is ReferralStatus.AWAITING_CONSENT

    @property
    def consent_deadline(self) -> datetime:
        return self.received_at + CONSENT_WINDOW

    def consent(self, at: datetime) -> None:
        """The employee agreed to the referral (before it expired)."""
        if self.status is not ReferralStatus.AWAITING_CONSENT:
            raise ReferralClosed(f"the referral is {self.status.value}")
        if at >= self.consent_deadline:
            raise ReferralClosed("the referral expired: 14 days passed without the employee's consent")
        self.employee_consented = True

    def expire(self, now: datetime) -> bool:
        """Expire a referral that waited 14 days for consent; returns whether it did."""
        if self.status is ReferralStatus.AWAITING_CONSENT and now >= self.consent_deadline:
            self.status = ReferralStatus.EXPIRED
            return True
        return False

    def open_case(self, client_ref: str, at: datetime) -> Case:
        """Open the case; its SLA runs from the moment it may open (the referral, or the consent)."""
        if not self.may_open_case:
            raise ReferralClosed("a case opens only once, and only with the employee's consent")
        self.case = Case(
            id=uuid.uuid4(),
            tenant_id=self.tenant_id,
            referral_id=self.id,
            client_ref=client_ref,
            org_unit_id=self.org_unit_id,
            category=self.category,
            urgency=self.urgency,
            sla_deadline=sla_deadline(at, self.urgency),
            needed_specialism=SPECIALISM_BY_CATEGORY.get(self.category),
            language=self.language,
            opened_at=at,
        )
        self.status = ReferralStatus.CASE_OPENED
        return self.case
