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

    referral_id: uuid.UUID
    channel: Channel
    org_unit_id: uuid.UUID = Field(description="Org unit of the employee at the client organisation.")
    category: Category
    urgency: Urgency
    received_at: AwareDatetime = Field(description="When the referral was made (UTC).")


@event("intake.case.opened.v1")
class CaseOpened(EventData):
    """A case opened for a referred employee; scheduling books the intake from this."""

    case_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: str = Field(description="Pseudonym of the employee; stable per person within intake.")
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    sla_deadline: AwareDatetime = Field(description="Latest moment of first contact under the SLA.")
    needed_specialism: str | None = Field(default=None, description="Specialism the worker needs, if any.")
    language: str = Field(default="nl", description="Language of the conversations (ISO 639-1).")


@event("intake.case.assigned.v1")
class CaseAssigned(EventData):
    """A social worker was assigned to a case."""

    case_id: uuid.UUID
    worker_id: uuid.UUID


@event("intake.case.closed.v1")
class CaseClosed(EventData):
    """A case was closed with an outcome."""

    case_id: uuid.UUID
    outcome: str = Field(pattern="^(resolved|referred_elsewhere|dropped_out|no_show)$")
    duration_days: int = Field(ge=0, description="Days from opening to closing.")


@event("intake.consent.changed.v1")
class ConsentChanged(EventData):
    """A consent was given or withdrawn; the purpose says for what (e.g. anonymised_statistics)."""

    client_ref: str
    purpose: str
    granted: bool


@event("intake.client.erased.v1")
class ClientErased(EventData):
    """The person behind client_ref exercised the right to erasure: every service forgets them."""

    client_ref: str
    erased_at: datetime | None = None
