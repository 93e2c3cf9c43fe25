"""Inputs and results of the signals mutations.

Every input takes an optional ``idempotencyKey``, passed to signals as the ``Idempotency-Key`` header: a client
that retries a mutation after a lost answer with the same key and input gets the first answer, and nothing
happens twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from bmw.gateway.outcomes import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from bmw.gateway.signals.action_types import ManagementAction, SecondmentObservation
from bmw.gateway.signals.enums import (
    Bottleneck,
    LossReason,
    ManagementActionType,
    OpportunityStage,
    ProductKind,
    ReviewDecision,
    ReviewReason,
    SignalKind,
)
from bmw.gateway.signals.intervention_types import Intervention
from bmw.gateway.signals.opportunity_types import Opportunity, OpportunityNote
from bmw.gateway.signals.signal_types import Signal

IDEMPOTENCY_KEY_DESCRIPTION = (
    "Optional, 8 to 200 characters: repeat the mutation safely. The same key with the same input returns the "
    "first answer instead of acting twice (kept for 7 days); the same key with another input is refused."
)


@strawberry.input(description="A management action: what management did in an org unit, and on which day.")
class RecordManagementActionInput:
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Client organisation; defaults to your own. Required for provider staff."
    )
    org_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="The org unit (with everything below it); null: the whole organisation."
    )
    action_type: ManagementActionType = strawberry.field(description="What management did.")
    occurred_on: dt.date = strawberry.field(
        description="The day it happened or is announced for: at most three years back and 90 days ahead."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_DESCRIPTION)


@strawberry.input(description="A bottleneck a seconded social worker observed in an org unit: a code, never a person.")
class RecordSecondmentObservationInput:
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    org_unit_id: strawberry.ID = strawberry.field(description="The org unit observed.")
    bottleneck: Bottleneck = strawberry.field(description="What was observed.")
    observed_on: dt.date = strawberry.field(description="The day observed: not in the future, at most 366 days back.")
    severity: int = strawberry.field(description="1 noticeable, 2 clear, 3 severe.")
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_DESCRIPTION)


@strawberry.input(description="A social worker's verdict on a pending signal.")
class ReviewSignalInput:
    signal_id: strawberry.ID = strawberry.field(description="The signal (review status PENDING).")
    decision: ReviewDecision = strawberry.field(description="Confirm it or dismiss it.")
    reason: ReviewReason = strawberry.field(description="Why; the reasons allowed depend on the decision.")
    note: str | None = strawberry.field(
        default=None,
        description="Optional remark for provider colleagues (never shown to the client). Never name a person.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_DESCRIPTION)


@strawberry.input(description="Move an opportunity to its next pipeline stage.")
class MoveOpportunityInput:
    opportunity_id: strawberry.ID = strawberry.field(description="The opportunity.")
    stage: OpportunityStage = strawberry.field(
        description="NEW → CONTACTED → PROPOSED → WON | LOST; LOST also from NEW and CONTACTED; never back."
    )
    note: str | None = strawberry.field(
        default=None, description="Optional remark kept with the move (at most 1000 characters). Never name a person."
    )
    loss_reason: LossReason | None = strawberry.field(default=None, description="Required for LOST, not allowed else.")
    won_intervention: str | None = strawberry.field(
        default=None,
        description="Required for WON, not allowed otherwise: the intervention sold, a recommended one or another "
        "catalogue code.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_DESCRIPTION)


@strawberry.input(description="A remark on an opportunity that does not move it (a call made, a meeting planned).")
class AddOpportunityNoteInput:
    opportunity_id: strawberry.ID = strawberry.field(description="The opportunity.")
    note: str = strawberry.field(
        description="The remark: not blank, at most 1000 characters. Provider-internal; never name a person."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=IDEMPOTENCY_KEY_DESCRIPTION)


@strawberry.input(
    description="An intervention of the catalogue as a provider admin defines it: the whole of it, since saving "
    "replaces what was there."
)
class PutInterventionInput:
    code: str = strawberry.field(
        description="Stable code: 1 to 64 letters, digits, `_`, `.` or `-`, starting with a letter or digit (e.g. "
        "`team_coaching`). A new code creates an intervention, an existing one replaces it."
    )
    title_nl: str = strawberry.field(description="Title in Dutch.")
    title_en: str = strawberry.field(description="Title in English.")
    description: str = strawberry.field(description="What the client gets; no names of people.")
    product_kind: ProductKind = strawberry.field(
        description="The contract product kind it is sold as; not a late-cancellation or no-show fee."
    )
    quantity: str = strawberry.field(description='Units a typical offer holds, a decimal string such as "12" or "7.5".')
    list_price_cents: int = strawberry.field(
        description="Price per unit in euro cents excluding VAT, used when the client's contract lacks the kind."
    )
    signal_kinds: list[SignalKind] = strawberry.field(description="Signal kinds it is recommended for, each once.")
    rank: int = strawberry.field(description="Catalogue order: lower is recommended first.")
    active: bool = strawberry.field(default=True, description="False withdraws it from new recommendations.")


@strawberry.type(description="The remark was added to the opportunity.")
class OpportunityNoteAdded:
    note: OpportunityNote = strawberry.field(description="The note as stored.")


@strawberry.type(description="The intervention was saved.")
class InterventionSaved:
    intervention: Intervention = strawberry.field(description="The intervention as stored.")
    created: bool = strawberry.field(description="True when the code was new, false when it replaced one.")


@strawberry.type(description="The management action was recorded; the detectors take it as a known change point.")
class ManagementActionRecorded:
    action: ManagementAction = strawberry.field(description="The action as stored.")


@strawberry.type(description="The observation was recorded; the organisation's detectors re-run with it.")
class SecondmentObservationRecorded:
    observation: SecondmentObservation = strawberry.field(description="The observation as stored.")


@strawberry.type(description="The signal was reviewed.")
class SignalReviewed:
    signal: Signal = strawberry.field(description="The signal after the review.")
    opportunity_id: strawberry.ID | None = strawberry.field(
        description="The opportunity a confirmation opened for the account manager; null after a dismissal, or "
        "when one for the same kind and unit is open already."
    )


@strawberry.type(description="The opportunity moved to its new stage.")
class OpportunityMoved:
    opportunity: Opportunity = strawberry.field(description="The opportunity after the move.")


RecordManagementActionResult = Annotated[
    ManagementActionRecorded | ValidationFailed | Forbidden | ServiceUnavailable,
    strawberry.union(
        "RecordManagementActionResult",
        description="The outcome of recordManagementAction: the action, or why it was not recorded.",
    ),
]

RecordSecondmentObservationResult = Annotated[
    SecondmentObservationRecorded | ValidationFailed | Forbidden | ServiceUnavailable,
    strawberry.union(
        "RecordSecondmentObservationResult",
        description="The outcome of recordSecondmentObservation: the observation, or why it was not recorded.",
    ),
]

ReviewSignalResult = Annotated[
    SignalReviewed | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "ReviewSignalResult",
        description="The outcome of reviewSignal: the reviewed signal, or why it was not reviewed (NotFound also "
        "for a signal you may not see; Conflict when it is not pending).",
    ),
]

MoveOpportunityResult = Annotated[
    OpportunityMoved | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "MoveOpportunityResult",
        description="The outcome of moveOpportunity: the moved opportunity, or why it did not move (Conflict names "
        "the current stage when the pipeline does not allow the move).",
    ),
]

AddOpportunityNoteResult = Annotated[
    OpportunityNoteAdded | ValidationFailed | Forbidden | NotFound | ServiceUnavailable,
    strawberry.union(
        "AddOpportunityNoteResult",
        description="The outcome of addOpportunityNote: the note, or why it was not added (NotFound also for an "
        "opportunity outside your portfolio).",
    ),
]

PutInterventionResult = Annotated[
    InterventionSaved | ValidationFailed | Forbidden | Conflict | ServiceUnavailable,
    strawberry.union(
        "PutInterventionResult",
        description="The outcome of putIntervention: the saved intervention, or why it was not saved (Conflict "
        "when the change would leave a signal kind without any active intervention).",
    ),
]
