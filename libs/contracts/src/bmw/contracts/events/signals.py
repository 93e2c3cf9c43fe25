"""Events produced by the signals service: detected signals and the opportunities they lead to.

Evidence is numbers about anonymised weekly aggregates: counts, baselines and test results,
never text about people.
"""

from __future__ import annotations

import uuid
from typing import Literal, Self

from pydantic import Field, model_validator

from bmw.contracts.events.base import Code, EventData, WireModel, event
from bmw.contracts.taxonomy import Category, DetectionMethod, OpportunityStage, SignalKind

# -- signals ------------------------------------------------------------------------------------


class EvidenceSummary(WireModel):
    """Why a signal was raised, in the terms of its explainable test."""

    method: DetectionMethod = Field(description="The test that raised the signal.")
    categories: list[Category] = Field(
        default_factory=list, description="Help-request categories counted; empty for commercial signals."
    )
    observed_count: int = Field(ge=0, description="Count observed in the window.")
    expected_count: float = Field(ge=0, description="Count expected from the baseline over the same window.")
    p_value: float | None = Field(default=None, ge=0, le=1, description="Tail probability of the observed count.")
    score: float | None = Field(default=None, description="Test statistic (EWMA, CUSUM) where no p-value applies.")
    weeks: int = Field(ge=1, description="Length of the observation window in weeks.")
    baseline_weeks: int | None = Field(default=None, ge=1, description="Length of the baseline in weeks.")

    @model_validator(mode="after")
    def _has_a_result(self) -> Self:
        if self.p_value is None and self.score is None:
            raise ValueError("evidence needs a p_value or a score")
        return self


class _SignalData(EventData):
    signal_id: uuid.UUID = Field(description="Id of the signal.")
    kind: SignalKind = Field(description="What the signal is about.")
    org_unit_id: uuid.UUID | None = Field(
        default=None, description="Org unit the signal concerns; none for the whole client organisation."
    )
    evidence_summary: EvidenceSummary = Field(description="The test result behind the signal.")
    suppressed: bool = Field(
        description="True when the underlying cell is below the tenant's k: not shown to client contacts."
    )


@event("signals.signal.raised.v1")
class SignalRaised(_SignalData):
    """A signal was detected for a client organisation or one of its org units."""


@event("signals.signal.resolved.v1")
class SignalResolved(_SignalData):
    """A signal no longer holds; the evidence is the latest test result."""


@event("signals.signal.reviewed.v1")
class SignalReviewed(_SignalData):
    """A social worker who serves the client organisation confirmed or dismissed a raised signal.

    Only a confirmed signal reaches account managers and client portals; a dismissal is kept and teaches
    the detector's thresholds for that client organisation and kind.
    """

    decision: Literal["confirmed", "dismissed"] = Field(description="The reviewer's verdict.")
    reason: Code = Field(description="Code of why, e.g. matches_what_we_see or coincidence_unrelated_cases.")


# -- opportunities ------------------------------------------------------------------------------


class _OpportunityData(EventData):
    opportunity_id: uuid.UUID = Field(description="Id of the opportunity.")
    signal_id: uuid.UUID = Field(description="The signal the opportunity follows from.")
    recommended_interventions: list[Code] = Field(
        min_length=1, description="Intervention codes from the provider's catalogue, best first."
    )
    estimated_value_cents: int = Field(ge=0, description="Estimated value at the tenant's contract prices, in cents.")
    stage: OpportunityStage = Field(description="Pipeline stage.")


@event("signals.opportunity.created.v1")
class OpportunityCreated(_OpportunityData):
    """A signal was turned into a follow-up opportunity for the account manager."""

    stage: OpportunityStage = Field(default=OpportunityStage.NEW, description="Pipeline stage; new when created.")


@event("signals.opportunity.stage_changed.v1")
class OpportunityStageChanged(_OpportunityData):
    """An opportunity moved through the pipeline."""

    previous_stage: OpportunityStage = Field(description="Stage before the change.")

    @model_validator(mode="after")
    def _stage_moved(self) -> Self:
        if self.stage == self.previous_stage:
            raise ValueError("stage equals previous_stage")
        return self
