"""GraphQL types of what subscriptions deliver: raised signals, opportunity and appointment changes.

The enums are the ones the queries use (:mod:`bmw.gateway.signals.enums`, :mod:`bmw.gateway.scheduling.enums`),
so that a subscription and a query speak of a signal kind or an appointment kind with one GraphQL type.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from bmw.gateway.scheduling.enums import AppointmentKind, CancelledBy
from bmw.gateway.signals.enums import DetectionMethod, OpportunityStage, ReviewStatus, SignalKind
from bmw.gateway.taxonomy import Category


@strawberry.type(description="The test result behind a raised signal, with its counts: for provider staff only.")
class SignalEvidence:
    categories: list[Category] = strawberry.field(
        description="Help request categories counted; empty for commercial signals."
    )
    observed_count: int = strawberry.field(description="Referrals observed in the window.")
    expected_count: float = strawberry.field(description="Referrals expected from the baseline over the same window.")
    p_value: float | None = strawberry.field(description="Tail probability of the observed count, if the test has one.")
    score: float | None = strawberry.field(description="Test statistic (EWMA, CUSUM) where no p-value applies.")
    baseline_weeks: int | None = strawberry.field(description="Length of the baseline in weeks.")


@strawberry.type(
    description="A signal that has just reached you: for provider staff as it is raised, for account managers and "
    "client organisations once it is released (confirmed, or needing no review)."
)
class RaisedSignal:
    event_id: strawberry.ID = strawberry.field(
        description="Id of the event; the same signal can arrive twice (at least once delivery)."
    )
    signal_id: strawberry.ID = strawberry.field(description="The signal.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation it concerns.")
    org_unit_id: strawberry.ID | None = strawberry.field(
        description="The org unit it concerns; null for the whole client organisation."
    )
    kind: SignalKind = strawberry.field(description="What the signal is about.")
    method: DetectionMethod = strawberry.field(description="The test that raised it.")
    window_weeks: int = strawberry.field(description="Length of the observation window in weeks.")
    review_status: ReviewStatus = strawberry.field(
        description="PENDING as raised (provider staff only), CONFIRMED by a social worker, or NOT_REQUIRED."
    )
    suppressed: bool = strawberry.field(
        description="True when it rests on fewer than k people: never shown to the client organisation."
    )
    occurred_at: datetime = strawberry.field(description="When it was raised or confirmed (UTC).")
    evidence: SignalEvidence | None = strawberry.field(
        description="The counts behind it; null except for social workers and provider administrators."
    )


@strawberry.enum(description="What happened to an opportunity.")
class OpportunityChangeKind(Enum):
    CREATED = strawberry.enum_value("created", description="A signal was turned into a new opportunity.")
    STAGE_CHANGED = strawberry.enum_value("stage_changed", description="The opportunity moved through the pipeline.")


def euros(cents: int) -> str:
    """Cents as a euro amount with two decimals: ``123450`` → ``1234.50``."""
    return f"{Decimal(cents).scaleb(-2):.2f}"


@strawberry.type(description="An opportunity of your portfolio was created or moved through the pipeline.")
class OpportunityChange:
    event_id: strawberry.ID = strawberry.field(
        description="Id of the event; the same change can arrive twice (at least once delivery)."
    )
    change: OpportunityChangeKind = strawberry.field(description="What happened.")
    opportunity_id: strawberry.ID = strawberry.field(description="The opportunity.")
    signal_id: strawberry.ID = strawberry.field(description="The signal it follows from.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation it is for.")
    stage: OpportunityStage = strawberry.field(description="Its pipeline stage now.")
    previous_stage: OpportunityStage | None = strawberry.field(
        description="Its stage before the change; null when it was just created."
    )
    recommended_interventions: list[str] = strawberry.field(
        description="Intervention codes from the provider's catalogue, best first."
    )
    estimated_value_cents: int = strawberry.field(
        description="Estimated value at the client's contract prices, in euro cents."
    )
    estimated_value: str = strawberry.field(description="The estimated value in euros with two decimals, e.g. 1250.00.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")


@strawberry.enum(description="What happened to an appointment.")
class AppointmentChangeKind(Enum):
    BOOKED = strawberry.enum_value("booked", description="It was booked.")
    RESCHEDULED = strawberry.enum_value("rescheduled", description="It moved; start and worker are the new ones.")
    CANCELLED = strawberry.enum_value("cancelled", description="It was cancelled.")
    COMPLETED = strawberry.enum_value("completed", description="It took place.")
    NO_SHOW = strawberry.enum_value("no_show", description="The client did not turn up.")


@strawberry.type(
    description="An appointment in a social worker's agenda changed. Carries no person: the case is an id."
)
class AppointmentChange:
    event_id: strawberry.ID = strawberry.field(
        description="Id of the event; the same change can arrive twice (at least once delivery)."
    )
    change: AppointmentChangeKind = strawberry.field(description="What happened.")
    appointment_id: strawberry.ID = strawberry.field(description="The appointment.")
    kind: AppointmentKind = strawberry.field(description="What the appointment is for.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation it is for.")
    worker_id: strawberry.ID = strawberry.field(description="The social worker whose time it takes.")
    case_id: strawberry.ID | None = strawberry.field(
        description="The case it belongs to; null for appointments outside a case (e.g. a workshop)."
    )
    start: datetime = strawberry.field(description="When it starts (UTC).")
    duration_minutes: int = strawberry.field(description="How long it lasts, in minutes.")
    topic: Category | None = strawberry.field(
        description="For a manager consultation: the theme the manager asked advice on; null otherwise."
    )
    previous_start: datetime | None = strawberry.field(
        description="For a rescheduled appointment: when it started before; null otherwise."
    )
    late: bool | None = strawberry.field(
        description="For a cancellation: true when less than 24 hours before the start (billable); null otherwise."
    )
    cancelled_by: CancelledBy | None = strawberry.field(
        description="For a cancellation: which party cancelled; null otherwise."
    )
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")
