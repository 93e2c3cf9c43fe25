"""GraphQL types of a person's data across the services (the right of access).

Only ``personalData`` (provider admins) leads to these types. Each service's part is its own answer, mapped
field by field: nothing is joined across services, so each part says exactly what that service holds.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
import strawberry
from pydantic import BaseModel

from bmw.gateway.billing.types import Money
from bmw.gateway.cases.enums import (
    CaseOutcome,
    CaseStatus,
    ConsentItem,
    ConsentMethod,
    ConsentRecipient,
    DossierEntryKind,
)
from bmw.gateway.clients import ReferralStatus, ServiceClient
from bmw.gateway.errors import graphql_error
from bmw.gateway.personal_data.bodies import (
    AccessLogBody,
    BillingActivityBody,
    BillingExportBody,
    BillingUsageBody,
    ContactDetailsBody,
    IntakeCaseBody,
    IntakeConsentBody,
    IntakeDossierBody,
    IntakeExportBody,
    IntakeReferralBody,
    SchedulingAppointmentBody,
    SchedulingExportBody,
    SchedulingPendingIntakeBody,
    SchedulingRegistrationBody,
    SignalsCountedReferralBody,
    SignalsExportBody,
    SignalsOptOutBody,
)
from bmw.gateway.personal_data.enums import MeteredActivity, MeteredUnit, UsageStatus
from bmw.gateway.referrals import types as _referral_types  # noqa: F401 - registers ReferralStatus as a GraphQL enum
from bmw.gateway.scheduling.enums import (
    AppointmentKind,
    AppointmentStatus,
    CancelledBy,
    MeetingLocation,
    RegistrationStatus,
    WorkshopStatus,
    WorkshopTheme,
)
from bmw.gateway.taxonomy import Category, Channel, Urgency
from bmw.servicekit.errors import DomainError

_Body = TypeVar("_Body", bound=BaseModel)

#: What a service answered to ``GET /persons/{client_ref}/export``: its response, or why there is none.
Answer = httpx.Response | BaseException


def _id(value: object) -> strawberry.ID:
    return strawberry.ID(str(value))


def _optional_id(value: object | None) -> strawberry.ID | None:
    return None if value is None else _id(value)


# -- intake -------------------------------------------------------------------------------------------------


@strawberry.type(description="The person's own details as intake keeps them, sealed under the person's key.")
class PersonContactDetails:
    name: str | None = strawberry.field(description="The name the person wants to be addressed by.")
    email: str | None = strawberry.field(description="E-mail address.")
    phone: str | None = strawberry.field(description="Phone number.")
    date_of_birth: date | None = strawberry.field(description="Date of birth, if given.")

    @classmethod
    def of(cls, body: ContactDetailsBody) -> PersonContactDetails:
        return cls(name=body.name, email=body.email, phone=body.phone, date_of_birth=body.date_of_birth)


@strawberry.type(description="A referral (aanmelding) of the person.")
class PersonReferral:
    id: strawberry.ID = strawberry.field(description="Referral id.")
    channel: Channel = strawberry.field(description="How it reached the provider.")
    category: Category = strawberry.field(description="What the help request is about.")
    urgency: Urgency = strawberry.field(description="How soon contact had to be made.")
    status: ReferralStatus = strawberry.field(description="Where it stands.")
    received_at: datetime = strawberry.field(description="When it was made (UTC).")
    org_unit_id: strawberry.ID = strawberry.field(description="The person's org unit at the time.")

    @classmethod
    def of(cls, body: IntakeReferralBody) -> PersonReferral:
        return cls(
            id=_id(body.id),
            channel=body.channel,
            category=body.category,
            urgency=body.urgency,
            status=body.status,
            received_at=body.received_at,
            org_unit_id=_id(body.org_unit_id),
        )


@strawberry.type(description="A case of the person.")
class PersonCase:
    id: strawberry.ID = strawberry.field(description="Case id.")
    status: CaseStatus = strawberry.field(description="Where it stands.")
    category: Category = strawberry.field(description="What it is about.")
    opened_at: datetime = strawberry.field(description="When it opened (UTC).")
    closed_at: datetime | None = strawberry.field(description="When it closed (UTC); null while open.")
    outcome: CaseOutcome | None = strawberry.field(description="How it ended; null while open.")

    @classmethod
    def of(cls, body: IntakeCaseBody) -> PersonCase:
        return cls(
            id=_id(body.id),
            status=body.status,
            category=body.category,
            opened_at=body.opened_at,
            closed_at=body.closed_at,
            outcome=body.outcome,
        )


@strawberry.type(description="One entry of the person's consent history: a grant or a withdrawal.")
class PersonConsent:
    recipient: ConsentRecipient = strawberry.field(description="Who may (or may no longer) receive it.")
    item: ConsentItem = strawberry.field(description="What may be shared or done.")
    granted: bool = strawberry.field(description="True for a grant, false for a withdrawal.")
    recorded_at: datetime = strawberry.field(description="When it was recorded (UTC).")
    valid_until: datetime | None = strawberry.field(description="When the grant lapses by itself; null: never.")
    method: ConsentMethod = strawberry.field(description="How it was given or withdrawn.")

    @classmethod
    def of(cls, body: IntakeConsentBody) -> PersonConsent:
        return cls(
            recipient=body.recipient,
            item=body.item,
            granted=body.granted,
            recorded_at=body.recorded_at,
            valid_until=body.valid_until,
            method=body.method,
        )


@strawberry.type(
    description="An entry of the formal dossier of one of the person's cases (the working notes are outside the "
    "right of access)."
)
class PersonDossierEntry:
    case_id: strawberry.ID = strawberry.field(description="The case.")
    kind: DossierEntryKind = strawberry.field(description="Which document.")
    created_at: datetime = strawberry.field(description="When it was written (UTC).")
    text: str | None = strawberry.field(description="The text.")

    @classmethod
    def of(cls, body: IntakeDossierBody) -> PersonDossierEntry:
        return cls(case_id=_id(body.case_id), kind=body.kind, created_at=body.created_at, text=body.text)


@strawberry.type(description="Who read or changed the person's data, when, and with which stated reason.")
class AccessLogEntry:
    at: datetime = strawberry.field(description="When (UTC).")
    actor: str = strawberry.field(description="Subject id of who did it.")
    action: str = strawberry.field(description="read, create, update, export or erase.")
    resource: str = strawberry.field(description="What was touched: a case, the dossier, the person, ...")
    break_glass: bool = strawberry.field(description="A colleague read it without being assigned, stating why.")
    reason: str | None = strawberry.field(description="The stated reason of a break-glass read.")

    @classmethod
    def of(cls, body: AccessLogBody) -> AccessLogEntry:
        return cls(
            at=body.at,
            actor=body.actor,
            action=body.action,
            resource=body.resource,
            break_glass=body.break_glass,
            reason=body.reason,
        )


@strawberry.type(description="What intake holds about the person: the system of record of persons and cases.")
class IntakePersonalData:
    client_organisation_id: strawberry.ID = strawberry.field(description="The client organisation of the person.")
    exported_at: datetime = strawberry.field(description="When intake made this export (UTC); it is logged.")
    contact_details: PersonContactDetails | None = strawberry.field(
        description="Name and contact details; null once the person's key is destroyed."
    )
    referrals: list[PersonReferral] = strawberry.field(description="The person's referrals.")
    cases: list[PersonCase] = strawberry.field(description="The person's cases.")
    consents: list[PersonConsent] = strawberry.field(description="The person's consent history, oldest first.")
    dossier: list[PersonDossierEntry] = strawberry.field(description="The formal dossier of the person's cases.")
    access_log: list[AccessLogEntry] = strawberry.field(
        description="Who read or changed the person's case and data, including this export."
    )
    not_included: str = strawberry.field(description="What intake holds that falls outside the right of access.")

    @classmethod
    def of(cls, body: IntakeExportBody) -> IntakePersonalData:
        return cls(
            client_organisation_id=_id(body.client_organisation),
            exported_at=body.exported_at,
            contact_details=PersonContactDetails.of(body.personal_data) if body.personal_data else None,
            referrals=[PersonReferral.of(r) for r in body.referrals],
            cases=[PersonCase.of(c) for c in body.cases],
            consents=[PersonConsent.of(c) for c in body.consents],
            dossier=[PersonDossierEntry.of(d) for d in body.dossier],
            access_log=[AccessLogEntry.of(a) for a in body.access_log],
            not_included=body.not_included,
        )


# -- scheduling ---------------------------------------------------------------------------------------------


@strawberry.type(description="An appointment of the person.")
class PersonAppointment:
    id: strawberry.ID = strawberry.field(description="Appointment id.")
    client_organisation_id: strawberry.ID = strawberry.field(description="The client organisation.")
    case_id: strawberry.ID | None = strawberry.field(description="The case it belongs to, if any.")
    kind: AppointmentKind = strawberry.field(description="What it is for.")
    status: AppointmentStatus = strawberry.field(description="Where it stands.")
    start: datetime = strawberry.field(description="Start (UTC).")
    end: datetime = strawberry.field(description="End (UTC).")
    worker_id: strawberry.ID = strawberry.field(description="The social worker.")
    worker_name: str | None = strawberry.field(description="The social worker's working name.")
    location: MeetingLocation | None = strawberry.field(description="Where it takes place; null when not agreed.")
    late_cancellation: bool | None = strawberry.field(description="Cancelled less than 24 hours before the start.")
    cancelled_by: CancelledBy | None = strawberry.field(description="Which party cancelled (a role).")
    topic: Category | None = strawberry.field(description="A manager consultation's theme; null otherwise.")
    booked_at: datetime = strawberry.field(description="When it was booked (UTC).")

    @classmethod
    def of(cls, body: SchedulingAppointmentBody) -> PersonAppointment:
        return cls(
            id=_id(body.id),
            client_organisation_id=_id(body.tenant_id),
            case_id=_optional_id(body.case_id),
            kind=body.kind,
            status=body.status,
            start=body.start,
            end=body.end,
            worker_id=_id(body.worker_id),
            worker_name=body.worker_name,
            location=body.location,
            late_cancellation=body.late_cancellation,
            cancelled_by=body.cancelled_by,
            topic=body.topic,
            booked_at=body.booked_at,
        )


@strawberry.type(description="The intake scheduling was asked to book when the person's case opened.")
class PersonPendingIntake:
    case_id: strawberry.ID = strawberry.field(description="The case.")
    org_unit_id: strawberry.ID = strawberry.field(description="The person's org unit, as intake said.")
    category: Category = strawberry.field(description="What the help request is about.")
    urgency: Urgency = strawberry.field(description="How soon contact had to be made.")
    sla_deadline: datetime = strawberry.field(description="Latest moment of first contact (UTC).")
    needed_specialism: str | None = strawberry.field(description="The specialism the worker needed, if any.")
    language: str = strawberry.field(description="Language of the conversations (ISO 639-1).")
    received_at: datetime = strawberry.field(description="When scheduling learned of the case (UTC).")
    outcome: str | None = strawberry.field(
        description="`booked`, or why it could not be scheduled; null while being worked on."
    )

    @classmethod
    def of(cls, body: SchedulingPendingIntakeBody) -> PersonPendingIntake:
        return cls(
            case_id=_id(body.case_id),
            org_unit_id=_id(body.org_unit_id),
            category=body.category,
            urgency=body.urgency,
            sla_deadline=body.sla_deadline,
            needed_specialism=body.needed_specialism,
            language=body.language,
            received_at=body.received_at,
            outcome=body.outcome,
        )


@strawberry.type(description="A workshop seat or waitlist place the person took with their own login.")
class PersonWorkshopPlace:
    id: strawberry.ID = strawberry.field(description="Registration id.")
    workshop_id: strawberry.ID = strawberry.field(description="The workshop.")
    title: str = strawberry.field(description="The workshop's title.")
    theme: WorkshopTheme = strawberry.field(description="Its theme.")
    workshop_status: WorkshopStatus = strawberry.field(description="Whether it is scheduled, completed or cancelled.")
    start: datetime = strawberry.field(description="Start of the workshop (UTC).")
    end: datetime = strawberry.field(description="End of the workshop (UTC).")
    location: MeetingLocation = strawberry.field(description="Where it takes place.")
    status: RegistrationStatus = strawberry.field(description="A seat, a waitlist place, or given up.")
    attended: bool | None = strawberry.field(description="Whether the person attended; null until recorded.")
    display_name: str | None = strawberry.field(description="The name on the attendance register, if given.")
    registered_at: datetime = strawberry.field(description="When the place was taken (UTC).")

    @classmethod
    def of(cls, body: SchedulingRegistrationBody) -> PersonWorkshopPlace:
        return cls(
            id=_id(body.id),
            workshop_id=_id(body.workshop_id),
            title=body.title,
            theme=body.theme,
            workshop_status=body.workshop_status,
            start=body.start,
            end=body.end,
            location=body.location,
            status=body.status,
            attended=body.attended,
            display_name=body.display_name,
            registered_at=body.registered_at,
        )


@strawberry.type(description="What scheduling holds about the person; empty lists when it holds nothing.")
class SchedulingPersonalData:
    exported_at: datetime = strawberry.field(description="When scheduling made this export (UTC).")
    appointments: list[PersonAppointment] = strawberry.field(description="The person's appointments, earliest first.")
    pending_intakes: list[PersonPendingIntake] = strawberry.field(
        description="The intakes scheduling was asked to book for the person's cases."
    )
    workshop_places: list[PersonWorkshopPlace] = strawberry.field(
        description="Workshop seats and waitlist places the person took with their own login."
    )
    not_included: str = strawberry.field(description="What scheduling holds that is not the person's.")

    @classmethod
    def of(cls, body: SchedulingExportBody) -> SchedulingPersonalData:
        return cls(
            exported_at=body.exported_at,
            appointments=[PersonAppointment.of(a) for a in body.appointments],
            pending_intakes=[PersonPendingIntake.of(p) for p in body.pending_intakes],
            workshop_places=[PersonWorkshopPlace.of(r) for r in body.workshop_registrations],
            not_included=body.not_included,
        )


# -- billing ------------------------------------------------------------------------------------------------


@strawberry.type(
    description="A metered usage row linked to the person: what, when, under which contract, billed where."
)
class PersonUsage:
    id: strawberry.ID = strawberry.field(description="Usage row id.")
    client_organisation_id: strawberry.ID = strawberry.field(description="The client organisation that is billed.")
    activity: MeteredActivity = strawberry.field(description="What was metered.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
    quantity: str = strawberry.field(description="How much, as a decimal string in `unit`, e.g. `1.00`.")
    unit: MeteredUnit = strawberry.field(description="What the quantity counts.")
    status: UsageStatus = strawberry.field(description="Open, held or invoiced.")
    contract_id: strawberry.ID | None = strawberry.field(description="The contract; null while held.")
    product_code: str | None = strawberry.field(description="The contract's product; null while held.")
    unit_price: Money | None = strawberry.field(description="Price per unit at the time, excl. VAT; null while held.")
    overage: bool = strawberry.field(description="Beyond what the contract includes.")
    case_id: strawberry.ID | None = strawberry.field(description="The case, for a trajectory billed per case.")
    invoice_id: strawberry.ID | None = strawberry.field(description="The invoice it is on, once invoiced.")
    invoice_number: str | None = strawberry.field(description="That invoice's number, once issued.")

    @classmethod
    def of(cls, body: BillingUsageBody) -> PersonUsage:
        return cls(
            id=_id(body.id),
            client_organisation_id=_id(body.tenant_id),
            activity=body.activity,
            occurred_at=body.occurred_at,
            quantity=f"{body.quantity:.2f}",
            unit=body.unit,
            status=body.status,
            contract_id=_optional_id(body.contract_id),
            product_code=body.product_code,
            unit_price=Money.of(body.unit_price_cents) if body.unit_price_cents is not None else None,
            overage=body.overage,
            case_id=_optional_id(body.case_id),
            invoice_id=_optional_id(body.invoice_id),
            invoice_number=body.invoice_number,
        )


@strawberry.type(description="One fact of an event billing kept: a name and its value.")
class EventFact:
    name: str = strawberry.field(description="The fact's name in the event, e.g. `case_id`.")
    value: str | None = strawberry.field(description="Its value as text (JSON for numbers and lists); null if none.")

    @classmethod
    def of(cls, name: str, value: Any) -> EventFact:
        return cls(name=name, value=value if isinstance(value, str) or value is None else json.dumps(value))


@strawberry.type(description="An event billing kept because it may be billable, linked to the person.")
class PersonBilledEvent:
    event_id: strawberry.ID = strawberry.field(description="The event's id.")
    event_type: str = strawberry.field(description="The event's type, e.g. `intake.case.opened.v1`.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
    received_at: datetime = strawberry.field(description="When billing received it (UTC).")
    facts: list[EventFact] = strawberry.field(
        description="The event's data as billing keeps it (ids, kinds, times, durations; never a name), by name."
    )

    @classmethod
    def of(cls, body: BillingActivityBody) -> PersonBilledEvent:
        return cls(
            event_id=_id(body.source_event_id),
            event_type=body.event_type,
            occurred_at=body.occurred_at,
            received_at=body.received_at,
            facts=[EventFact.of(name, value) for name, value in sorted(body.facts.items())],
        )


@strawberry.type(description="What billing holds about the person; empty lists when it holds nothing.")
class BillingPersonalData:
    exported_at: datetime = strawberry.field(description="When billing made this export (UTC).")
    usage: list[PersonUsage] = strawberry.field(
        description="Usage of the person's cases (the case itself and its appointments), oldest first."
    )
    events: list[PersonBilledEvent] = strawberry.field(description="The kept events behind that usage.")
    not_included: str = strawberry.field(description="What billing holds that is not the person's.")

    @classmethod
    def of(cls, body: BillingExportBody) -> BillingPersonalData:
        return cls(
            exported_at=body.exported_at,
            usage=[PersonUsage.of(u) for u in body.usage],
            events=[PersonBilledEvent.of(a) for a in body.activity],
            not_included=body.not_included,
        )


# -- signals ------------------------------------------------------------------------------------------------


@strawberry.type(description="Where one referral of the person is counted in the anonymised weekly aggregates.")
class PersonCountedReferral:
    referral_id: strawberry.ID = strawberry.field(description="The referral.")
    client_organisation_id: strawberry.ID = strawberry.field(description="Whose numbers it is counted in.")
    org_unit_id: strawberry.ID = strawberry.field(description="The org unit it is counted in.")
    org_unit_name: str | None = strawberry.field(description="That unit's name.")
    category: Category = strawberry.field(description="The category it is counted in.")
    week_start: date = strawberry.field(description="Monday of the ISO week (Europe/Amsterdam) it is counted in.")

    @classmethod
    def of(cls, body: SignalsCountedReferralBody) -> PersonCountedReferral:
        return cls(
            referral_id=_id(body.referral_id),
            client_organisation_id=_id(body.tenant_id),
            org_unit_id=_id(body.org_unit_id),
            org_unit_name=body.org_unit_name,
            category=body.category,
            week_start=body.week_start,
        )


@strawberry.type(description="The person withdrew their consent to anonymised statistics in a client organisation.")
class StatisticsOptOut:
    client_organisation_id: strawberry.ID = strawberry.field(description="The client organisation.")
    withdrawn_at: datetime = strawberry.field(description="When signals learned of it (UTC).")

    @classmethod
    def of(cls, body: SignalsOptOutBody) -> StatisticsOptOut:
        return cls(client_organisation_id=_id(body.tenant_id), withdrawn_at=body.withdrawn_at)


@strawberry.type(description="What signals holds about the person; empty lists when it holds nothing.")
class SignalsPersonalData:
    exported_at: datetime = strawberry.field(description="When signals made this export (UTC).")
    counted_referrals: list[PersonCountedReferral] = strawberry.field(
        description="Where each of the person's referrals is counted."
    )
    opted_out_of_statistics: bool = strawberry.field(
        description="True when the person withdrew consent to anonymised statistics (then nothing is counted)."
    )
    opt_outs: list[StatisticsOptOut] = strawberry.field(description="The withdrawals, oldest first.")
    not_included: str = strawberry.field(description="What signals holds that is not the person's.")

    @classmethod
    def of(cls, body: SignalsExportBody) -> SignalsPersonalData:
        return cls(
            exported_at=body.exported_at,
            counted_referrals=[PersonCountedReferral.of(c) for c in body.counted_referrals],
            opted_out_of_statistics=body.opted_out_of_statistics,
            opt_outs=[StatisticsOptOut.of(o) for o in body.statistics_opt_outs],
            not_included=body.not_included,
        )


# -- all of it ----------------------------------------------------------------------------------------------


def _part(root: PersonalData, service: str, model: type[_Body]) -> _Body:
    """One service's answer as ``model``; the service's refusal or absence fails this part only."""
    answer = root.answers[service]
    if isinstance(answer, DomainError):
        raise graphql_error(answer) from answer
    if isinstance(answer, BaseException):
        raise answer  # an internal error: masked for the caller, logged with its cause
    return ServiceClient.parse(model, answer)


def intake_part(root: PersonalData) -> IntakePersonalData:
    """Intake's export; NOT_FOUND when intake knows no person by this reference (never known, or erased)."""
    return IntakePersonalData.of(_part(root, "intake", IntakeExportBody))


def scheduling_part(root: PersonalData) -> SchedulingPersonalData:
    return SchedulingPersonalData.of(_part(root, "scheduling", SchedulingExportBody))


def billing_part(root: PersonalData) -> BillingPersonalData:
    return BillingPersonalData.of(_part(root, "billing", BillingExportBody))


def signals_part(root: PersonalData) -> SignalsPersonalData:
    return SignalsPersonalData.of(_part(root, "signals", SignalsExportBody))


_UNAVAILABLE_PART = (
    "; null with an error (SERVICE_UNAVAILABLE, or another code) when {service} refused or could not be asked, while "
    "the other parts still resolve."
)


@strawberry.type(
    description="Everything the provider holds about one person, for a right-of-access request (AVG art. 15): a "
    "part per service, each as that service answered it. Intake knows the person by name; scheduling, billing "
    "and signals only by the pseudonym, and answer with empty lists when they hold nothing."
)
class PersonalData:
    client_ref: str = strawberry.field(description="The pseudonym (client reference) asked about.")
    answers: strawberry.Private[Mapping[str, Answer]] = dataclasses.field(default_factory=dict)
    intake: IntakePersonalData | None = strawberry.field(
        resolver=intake_part,
        description="What intake holds: contact details, referrals, cases, consents, the formal dossier and the "
        "access log. NOT_FOUND when intake knows no person by this reference (never known, or erased)"
        + _UNAVAILABLE_PART.format(service="intake"),
    )
    scheduling: SchedulingPersonalData | None = strawberry.field(
        resolver=scheduling_part,
        description="What scheduling holds: appointments, pending intakes and workshop places"
        + _UNAVAILABLE_PART.format(service="scheduling"),
    )
    billing: BillingPersonalData | None = strawberry.field(
        resolver=billing_part,
        description="What billing holds: usage of the person's cases and the events behind it"
        + _UNAVAILABLE_PART.format(service="billing"),
    )
    signals: SignalsPersonalData | None = strawberry.field(
        resolver=signals_part,
        description="What signals holds: where the person's referrals are counted, and their opt-out"
        + _UNAVAILABLE_PART.format(service="signals"),
    )
