"""Intake's request and response bodies of cases, dossiers, referral lists and consent.

Shapes as in ``services/intake/openapi.json``; extra fields are ignored so that intake can add to an
answer without breaking the gateway.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.gateway.cases.enums import (
    CaseOutcome,
    CaseStatus,
    ConsentItem,
    ConsentMethod,
    ConsentRecipient,
    DossierEntryKind,
    DossierLayer,
)
from bmw.gateway.clients import ReferralStatus


class TransitionBody(BaseModel):
    """One state a case entered."""

    model_config = ConfigDict(extra="ignore")

    status: CaseStatus
    at: datetime
    actor: str


class CaseBody(BaseModel):
    """``CaseRead``: a case, for its social worker."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    tenant_id: uuid.UUID
    client_ref: str
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    status: CaseStatus
    sla_deadline: datetime
    needed_specialism: str | None
    language: str
    worker_id: uuid.UUID | None
    outcome: CaseOutcome | None
    escalation: str | None
    opened_at: datetime
    closed_at: datetime | None
    reopened_count: int
    #: Filled by ``GET /cases/{id}`` only; the caseload leaves it empty.
    history: list[TransitionBody] = []


class CasePageBody(BaseModel):
    """``CasePage``: cases, newest first."""

    model_config = ConfigDict(extra="ignore")

    items: list[CaseBody]
    next_cursor: str | None


class DossierEntryBody(BaseModel):
    """``DossierEntryRead``."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    layer: DossierLayer
    kind: DossierEntryKind
    text: str | None
    author: str
    created_at: datetime


class DossierPageBody(BaseModel):
    """``DossierPage``: entries, oldest first."""

    model_config = ConfigDict(extra="ignore")

    items: list[DossierEntryBody]
    next_cursor: str | None


class ReferralDetailsBody(BaseModel):
    """``ReferralDetails``: what only the employee and provider staff see of a referral."""

    model_config = ConfigDict(extra="ignore")

    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    channel: Channel
    case_id: uuid.UUID | None
    consent_deadline: datetime


class ReferralStatusBody(BaseModel):
    """``ReferralStatusRead``: a referral as its reader may see it."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    tenant_id: uuid.UUID
    status: ReferralStatus
    received_at: datetime
    attended: bool | None
    details: ReferralDetailsBody | None


class ReferralPageBody(BaseModel):
    """``ReferralPage``: referrals, newest first."""

    model_config = ConfigDict(extra="ignore")

    items: list[ReferralStatusBody]
    next_cursor: str | None


class ConsentCreateBody(BaseModel):
    """Body of ``POST /referrals/{id}/consents``: give (``granted``) or withdraw one consent."""

    recipient: ConsentRecipient
    item: ConsentItem
    granted: bool
    valid_until: datetime | None = None
    method: ConsentMethod


class ConsentBody(BaseModel):
    """``ConsentRead``: one entry of the consent history."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    recipient: ConsentRecipient
    item: ConsentItem
    granted: bool
    recorded_at: datetime
    valid_until: datetime | None
    recorded_by: str
    method: ConsentMethod
