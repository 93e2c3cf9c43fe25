"""Events produced by the intake service. Pseudonymous: a client_ref, never a person."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, Field

from bmw.contracts.events.base import EventData, event
from bmw.contracts.taxonomy import Category, Channel, Urgency


@event("intake.referral.received.v1")
class ReferralReceived(EventData):
    """A referral (aanmelding) was received, whether or not a case opens from it."""

    referral_id: uuid.UUID = Field(description="Id of the referral in intake.")
    channel: Channel = Field(description="How the referral reached the provider.")
    org_unit_id: uuid.UUID = Field(description="Org unit of the employee at the client organisation.")
    category: Category = Field(description="What the help request is about.")
    urgency: Urgency = Field(description="How soon a social worker must make contact; sets the SLA deadline.")
    received_at: AwareDatetime = Field(description="When the referral was made (UTC).")
    historical: bool = Field(
        default=False,
        description="True for a referral from before the client organisation moved to this product (pushed by an "
        "integration with its original date): history for statistics only, no case opens.",
    )


@event("intake.case.opened.v1")
class CaseOpened(EventData):
    """A case opened for a referred employee; scheduling books the intake from this."""

    case_id: uuid.UUID = Field(description="Id of the case in intake.")
    referral_id: uuid.UUID = Field(description="The referral the case opened from.")
    client_ref: str = Field(description="Pseudonym of the employee; stable per person within intake.")
    org_unit_id: uuid.UUID = Field(description="Org unit of the employee at the client organisation.")
    category: Category = Field(description="What the help request is about.")
    urgency: Urgency = Field(description="How soon a social worker must make contact; sets the SLA deadline.")
    sla_deadline: AwareDatetime = Field(description="Latest moment of first contact under the SLA.")
    needed_specialism: str | None = Field(default=None, description="Specialism the worker needs, if any.")
    language: str = Field(default="nl", description="Language of the conversations (ISO 639-1).")
    employee_login: str | None = Field(
        default=None,
        pattern="^[0-9a-f]{64}$",
        description="login_digest() of the employee's portal login, when the employee has one, so that the "
        "employee can see and cancel their own appointments; an opaque digest, forgotten with the client.",
    )


@event("intake.case.assigned.v1")
class CaseAssigned(EventData):
    """A social worker was assigned to a case."""

    case_id: uuid.UUID = Field(description="Id of the case in intake.")
    worker_id: uuid.UUID = Field(description="The assigned social worker.")


@event("intake.case.closed.v1")
class CaseClosed(EventData):
    """A case was closed with an outcome."""

    case_id: uuid.UUID = Field(description="Id of the case in intake.")
    outcome: str = Field(
        pattern="^(resolved|referred_elsewhere|dropped_out|no_show)$",
        description="How the case ended: resolved, referred_elsewhere, dropped_out or no_show.",
    )
    duration_days: int = Field(ge=0, description="Days from opening to closing.")


@event("intake.consent.changed.v1")
class ConsentChanged(EventData):
    """A consent was given or withdrawn; the purpose says for what (e.g. anonymised_statistics)."""

    client_ref: str = Field(description="Pseudonym of the employee who gave or withdrew the consent.")
    purpose: str = Field(description="Code of what the consent is for, e.g. anonymised_statistics.")
    granted: bool = Field(description="True when given, false when withdrawn or expired.")


@event("intake.client.erased.v1")
class ClientErased(EventData):
    """The person behind client_ref exercised the right to erasure: every service forgets them."""

    client_ref: str = Field(description="Pseudonym of the person every service must forget.")
    erased_at: datetime | None = Field(default=None, description="When intake erased the person.")


@event("intake.referral.expired.v1")
class ReferralExpired(EventData):
    """A referral by someone else waited 14 days without the employee's consent; no case opened."""

    referral_id: uuid.UUID = Field(description="Id of the referral in intake.")
    org_unit_id: uuid.UUID = Field(description="Org unit of the employee at the client organisation.")


@event("intake.case.reopened.v1")
class CaseReopened(EventData):
    """A closed case was reopened within 90 days of closing."""

    case_id: uuid.UUID = Field(description="Id of the case in intake.")
    worker_id: uuid.UUID | None = Field(description="The social worker who continues it, if any.")


@event("intake.case.escalated.v1")
class CaseEscalated(EventData):
    """No intake could be scheduled within the SLA: a person must act (a capacity signal)."""

    case_id: uuid.UUID = Field(description="Id of the case in intake.")
    reason: str = Field(
        pattern="^[a-z_]{1,60}$", description="Code of why, e.g. no_capacity_before_deadline (never free text)."
    )
