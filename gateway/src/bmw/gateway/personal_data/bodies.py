"""The services' right-of-access exports (``GET /persons/{client_ref}/export``) as the gateway reads them.

Shapes as in each service's ``openapi.json`` (intake's export is a plain JSON object, described by its code in
``bmw.intake.application.persons.export_person``); extra fields are ignored so that a service can add to its
answer without breaking the gateway.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.gateway.cases.enums import (
    CaseOutcome,
    CaseStatus,
    ConsentItem,
    ConsentMethod,
    ConsentRecipient,
    DossierEntryKind,
)
from bmw.gateway.clients import ReferralStatus
from bmw.gateway.personal_data.enums import MeteredActivity, MeteredUnit, UsageStatus
from bmw.gateway.scheduling.enums import (
    AppointmentKind,
    AppointmentStatus,
    CancelledBy,
    MeetingLocation,
    RegistrationStatus,
    WorkshopStatus,
    WorkshopTheme,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- intake -------------------------------------------------------------------------------------------------


class ContactDetailsBody(_Body):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None


class IntakeReferralBody(_Body):
    id: uuid.UUID
    channel: Channel
    category: Category
    urgency: Urgency
    status: ReferralStatus
    received_at: datetime
    org_unit_id: uuid.UUID


class IntakeCaseBody(_Body):
    id: uuid.UUID
    status: CaseStatus
    category: Category
    opened_at: datetime
    closed_at: datetime | None
    outcome: CaseOutcome | None


class IntakeConsentBody(_Body):
    recipient: ConsentRecipient
    item: ConsentItem
    granted: bool
    recorded_at: datetime
    valid_until: datetime | None
    method: ConsentMethod


class IntakeDossierBody(_Body):
    case_id: uuid.UUID
    kind: DossierEntryKind
    created_at: datetime
    text: str | None


class AccessLogBody(_Body):
    at: datetime
    actor: str
    action: str
    resource: str
    break_glass: bool
    reason: str | None


class IntakeExportBody(_Body):
    """Intake's ``GET /persons/{client_ref}/export``."""

    client_ref: str
    client_organisation: uuid.UUID
    exported_at: datetime
    personal_data: ContactDetailsBody | None
    referrals: list[IntakeReferralBody]
    cases: list[IntakeCaseBody]
    consents: list[IntakeConsentBody]
    dossier: list[IntakeDossierBody]
    access_log: list[AccessLogBody]
    not_included: str


# -- scheduling ---------------------------------------------------------------------------------------------


class SchedulingAppointmentBody(_Body):
    id: uuid.UUID
    tenant_id: uuid.UUID
    case_id: uuid.UUID | None
    kind: AppointmentKind
    status: AppointmentStatus
    start: datetime
    end: datetime
    worker_id: uuid.UUID
    worker_name: str | None
    location: MeetingLocation | None
    late_cancellation: bool | None
    cancelled_by: CancelledBy | None
    topic: Category | None
    booked_at: datetime


class SchedulingPendingIntakeBody(_Body):
    case_id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    sla_deadline: datetime
    needed_specialism: str | None
    language: str
    received_at: datetime
    outcome: str | None


class SchedulingRegistrationBody(_Body):
    id: uuid.UUID
    workshop_id: uuid.UUID
    tenant_id: uuid.UUID
    title: str
    theme: WorkshopTheme
    workshop_status: WorkshopStatus
    start: datetime
    end: datetime
    location: MeetingLocation
    status: RegistrationStatus
    attended: bool | None
    display_name: str | None
    registered_at: datetime


class SchedulingExportBody(_Body):
    """Scheduling's ``PersonDataRead``."""

    client_ref: str
    exported_at: datetime
    appointments: list[SchedulingAppointmentBody]
    pending_intakes: list[SchedulingPendingIntakeBody]
    workshop_registrations: list[SchedulingRegistrationBody]
    not_included: str


# -- billing ------------------------------------------------------------------------------------------------


class BillingUsageBody(_Body):
    id: uuid.UUID
    tenant_id: uuid.UUID
    activity: MeteredActivity
    occurred_at: datetime
    quantity: Decimal
    unit: MeteredUnit
    status: UsageStatus
    contract_id: uuid.UUID | None
    product_code: str | None
    unit_price_cents: int | None
    overage: bool
    case_id: uuid.UUID | None
    invoice_id: uuid.UUID | None
    invoice_number: str | None
    source_event_id: uuid.UUID


class BillingActivityBody(_Body):
    source_event_id: uuid.UUID
    tenant_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    received_at: datetime
    facts: dict[str, Any]


class BillingExportBody(_Body):
    """Billing's ``PersonDataRead``."""

    client_ref: str
    exported_at: datetime
    usage: list[BillingUsageBody]
    activity: list[BillingActivityBody]
    not_included: str


# -- signals ------------------------------------------------------------------------------------------------


class SignalsCountedReferralBody(_Body):
    referral_id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    org_unit_name: str | None
    category: Category
    week_start: date


class SignalsOptOutBody(_Body):
    tenant_id: uuid.UUID
    withdrawn_at: datetime


class SignalsExportBody(_Body):
    """Signals' ``PersonDataRead``."""

    client_ref: str
    exported_at: datetime
    counted_referrals: list[SignalsCountedReferralBody]
    opted_out_of_statistics: bool
    statistics_opt_outs: list[SignalsOptOutBody]
    not_included: str
