"""Who may subscribe to what, and which events each subscriber receives: pure functions of the caller.

The rules follow the services' own (signals' ``signal_views``, scheduling's ``access``); the gateway filters
because events carry more than a caller may see, and a subscription has no service to ask per event.

- **Signals** of one client organisation (``signalRaised(tenantId)``):
  social workers and provider administrators receive every signal as it is raised, with its counts;
  account managers (for their portfolio) and client contacts and integrations (for their own organisation)
  receive a signal once it is *released*: confirmed by a social worker (``signals.signal.reviewed.v1``
  with ``decision=confirmed``), or raised with a kind that needs no review (contracts, capacity). Client
  contacts and integrations never receive a suppressed signal (fewer than k people), and no one outside
  the provider's staff receives a count.
- **Opportunities**: account managers for their portfolio, provider administrators all.
- **Appointments**: a social worker their own (``worker_id`` is their token's subject), provider
  administrators all. Employees and client contacts get none: the events name no person, so there is no
  way to tell an employee's own appointment from a colleague's.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from enum import Enum
from typing import Final

import strawberry

from bmw.contracts.events.scheduling import (
    AppointmentBooked,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentNoShow,
    AppointmentRescheduled,
)
from bmw.contracts.events.signals import (
    OpportunityCreated,
    OpportunityStageChanged,
    SignalRaised,
    SignalReviewed,
)
from bmw.contracts.taxonomy import Role, SignalKind
from bmw.gateway.scheduling.enums import AppointmentKind, CancelledBy
from bmw.gateway.signals.enums import ReviewStatus
from bmw.gateway.subscriptions.feed import FeedEvent
from bmw.gateway.subscriptions.types import (
    AppointmentChange,
    AppointmentChangeKind,
    OpportunityChange,
    OpportunityChangeKind,
    RaisedSignal,
    SignalEvidence,
    euros,
)
from bmw.servicekit.auth import Principal

#: Kinds a social worker reviews before anyone outside the provider sees them: the ones about people's
#: wellbeing. Mirrors ``REVIEWED_KINDS`` of the signals service (``bmw.signals.domain.codes``), which the
#: gateway may not import; the others (contracts, capacity) are released as they are raised.
REVIEWED_KINDS: Final = frozenset(
    {
        SignalKind.REORGANISATION_WAVE,
        SignalKind.STRESS_SURGE,
        SignalKind.BURNOUT_RISK_CLUSTER,
        SignalKind.LEADERSHIP_CONFLICT_CLUSTER,
        SignalKind.NEW_WAYS_OF_WORKING_STRAIN,
    }
)


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


# -- signals ------------------------------------------------------------------------------------------------


class SignalAudience(Enum):
    """How much of a client organisation's signals a subscriber sees."""

    #: Social workers and provider administrators: every raised signal, with its counts.
    STAFF = "staff"
    #: Account managers of the organisation: released signals, suppressed ones included, no counts.
    PORTFOLIO = "portfolio"
    #: The organisation's own client contacts and integrations: released, unsuppressed signals, no counts.
    CLIENT = "client"


def signal_audience(principal: Principal, tenant_id: uuid.UUID) -> SignalAudience | None:
    """How much of this organisation's signals the caller may receive; ``None`` when nothing."""
    if principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER) and principal.may_act_for(tenant_id):
        return SignalAudience.STAFF  # a social worker: the organisations they serve
    if principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio:
        return SignalAudience.PORTFOLIO
    if principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION) and principal.tenant_id == tenant_id:
        return SignalAudience.CLIENT
    return None


def review_state(event: FeedEvent) -> ReviewStatus | None:
    """Where a signal event leaves its signal; ``None`` for events that raise nothing (dismissals, resolutions)."""
    data = event.data
    if isinstance(data, SignalReviewed):
        return ReviewStatus.CONFIRMED if data.decision == "confirmed" else None
    if isinstance(data, SignalRaised):
        return ReviewStatus.PENDING if data.kind in REVIEWED_KINDS else ReviewStatus.NOT_REQUIRED
    return None


def raised_signal_for(audience: SignalAudience, tenant_id: uuid.UUID, event: FeedEvent) -> RaisedSignal | None:
    """The signal this subscriber receives for an event, or ``None`` when the event is not for them."""
    data = event.data
    if event.envelope.tenantid != tenant_id or not isinstance(data, SignalRaised | SignalReviewed):
        return None
    state = review_state(event)
    if state is None:
        return None
    if audience is SignalAudience.STAFF:
        # Staff follow detection itself: each signal once, when it is raised.
        if not isinstance(data, SignalRaised):
            return None
    else:
        # Everyone else: each signal once, when it is released (confirmed, or raised needing no review).
        released = state is not ReviewStatus.PENDING
        if not released or (audience is SignalAudience.CLIENT and data.suppressed):
            return None
    summary = data.evidence_summary
    evidence = None
    if audience is SignalAudience.STAFF:
        evidence = SignalEvidence(
            categories=list(summary.categories),
            observed_count=summary.observed_count,
            expected_count=summary.expected_count,
            p_value=summary.p_value,
            score=summary.score,
            baseline_weeks=summary.baseline_weeks,
        )
    return RaisedSignal(
        event_id=_id(event.envelope.id),
        signal_id=_id(data.signal_id),
        tenant_id=_id(event.envelope.tenantid),
        org_unit_id=_id(data.org_unit_id) if data.org_unit_id is not None else None,
        kind=data.kind,
        method=summary.method,
        window_weeks=summary.weeks,
        review_status=state,
        suppressed=data.suppressed,
        occurred_at=event.envelope.time.astimezone(UTC),
        evidence=evidence,
    )


# -- opportunities ------------------------------------------------------------------------------------------


def may_follow_opportunities(principal: Principal) -> bool:
    """Account managers (their portfolio) and provider administrators (all) follow the pipeline."""
    return principal.has_role(Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER)


def opportunity_change_for(principal: Principal, event: FeedEvent) -> OpportunityChange | None:
    """The change this subscriber receives for an event, or ``None`` when it is not for them."""
    data = event.data
    if not isinstance(data, OpportunityCreated | OpportunityStageChanged):
        return None
    tenant_id = event.envelope.tenantid
    if not principal.has_role(Role.PROVIDER_ADMIN) and not (
        principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio
    ):
        return None
    created = isinstance(data, OpportunityCreated)
    return OpportunityChange(
        event_id=_id(event.envelope.id),
        change=OpportunityChangeKind.CREATED if created else OpportunityChangeKind.STAGE_CHANGED,
        opportunity_id=_id(data.opportunity_id),
        signal_id=_id(data.signal_id),
        tenant_id=_id(tenant_id),
        stage=data.stage,
        previous_stage=data.previous_stage if isinstance(data, OpportunityStageChanged) else None,
        recommended_interventions=list(data.recommended_interventions),
        estimated_value_cents=data.estimated_value_cents,
        estimated_value=euros(data.estimated_value_cents),
        occurred_at=event.envelope.time.astimezone(UTC),
    )


# -- appointments -------------------------------------------------------------------------------------------

_APPOINTMENT_EVENTS: Final = (
    AppointmentBooked,
    AppointmentRescheduled,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentNoShow,
)
_APPOINTMENT_CHANGES: Final = {
    AppointmentBooked: AppointmentChangeKind.BOOKED,
    AppointmentRescheduled: AppointmentChangeKind.RESCHEDULED,
    AppointmentCancelled: AppointmentChangeKind.CANCELLED,
    AppointmentCompleted: AppointmentChangeKind.COMPLETED,
    AppointmentNoShow: AppointmentChangeKind.NO_SHOW,
}


def may_follow_appointments(principal: Principal) -> bool:
    """Social workers (their own appointments) and provider administrators (all)."""
    return principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)


def appointment_change_for(principal: Principal, event: FeedEvent) -> AppointmentChange | None:
    """The change this subscriber receives for an event, or ``None`` when it is not for them."""
    data = event.data
    if not isinstance(data, _APPOINTMENT_EVENTS):
        return None
    own = principal.has_role(Role.SOCIAL_WORKER) and principal.subject == str(data.worker_id)
    if not (own or principal.has_role(Role.PROVIDER_ADMIN)):
        return None
    return AppointmentChange(
        event_id=_id(event.envelope.id),
        change=_APPOINTMENT_CHANGES[type(data)],
        appointment_id=_id(data.appointment_id),
        kind=AppointmentKind(data.kind.value),
        tenant_id=_id(event.envelope.tenantid),
        worker_id=_id(data.worker_id),
        case_id=_id(data.case_id) if data.case_id is not None else None,
        start=data.start.astimezone(UTC),
        duration_minutes=data.duration_minutes,
        topic=data.topic,
        previous_start=data.previous_start.astimezone(UTC) if isinstance(data, AppointmentRescheduled) else None,
        late=data.late if isinstance(data, AppointmentCancelled) else None,
        cancelled_by=CancelledBy(data.cancelled_by.value) if isinstance(data, AppointmentCancelled) else None,
        occurred_at=event.envelope.time.astimezone(UTC),
    )
