"""The signals service's request and response bodies, as the gateway reads and sends them.

Authoritative: ``services/signals/openapi.json``. Answers are parsed with ``extra="ignore"`` so that a field
signals adds later does not break the gateway; request bodies carry exactly what signals accepts (it forbids
extra fields).
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel

from bmw.contracts.taxonomy import Category, DetectionMethod, OpportunityStage, ProductKind, SignalKind
from bmw.gateway.signals.enums import (
    Bottleneck,
    EffectVerdict,
    LossReason,
    ManagementActionType,
    ReviewDecision,
    ReviewReason,
    ReviewStatus,
    SignalStatus,
    SignalStrength,
)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- signals ------------------------------------------------------------------------------------------------------


class SignalInternalBody(_Answer):
    """What only provider staff see of a signal: counts, the test and the review."""

    observed: int
    expected: float
    p_value: float | None
    score: float
    suppressed: bool
    explanation: str | None
    reviewed_by: str | None
    reviewed_at: dt.datetime | None
    review_reason: ReviewReason | None
    review_note: str | None


class SignalBody(_Answer):
    """A signal as signals shows it to the caller (``internal`` and ``evidence`` for provider staff only)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: SignalKind
    org_unit_id: uuid.UUID | None
    org_unit_name: str | None
    raised_week: dt.date
    status: SignalStatus
    resolved_week: dt.date | None
    review_status: ReviewStatus
    weeks: list[dt.date]
    method: DetectionMethod
    strength: SignalStrength
    summary: str
    evidence: dict[str, JsonValue] | None = None
    internal: SignalInternalBody | None = None


class SignalPageBody(_Answer):
    """``GET /signals``: a page, newest first."""

    items: list[SignalBody]
    next_cursor: str | None


class SignalReviewCreateBody(BaseModel):
    """Body of ``POST /signals/{id}/review``."""

    decision: ReviewDecision
    reason: ReviewReason
    note: str | None = None


class SignalReviewBody(_Answer):
    """The reviewed signal, and the opportunity a confirmation opened."""

    signal: SignalBody
    opportunity_id: uuid.UUID | None


class FalseAlarmBody(_Answer):
    """One signal kind's review record for a client organisation."""

    kind: SignalKind
    raised: int
    confirmed: int
    dismissed: int
    pending: int
    threshold_factor: float


class FalseAlarmReportBody(_Answer):
    """``GET /false-alarms``: what the reviews taught the detectors for one client organisation."""

    tenant_id: uuid.UUID
    since: dt.date
    kinds: list[FalseAlarmBody]


# -- interventions ------------------------------------------------------------------------------------------------


class InterventionBody(_Answer):
    """An intervention of the provider's catalogue."""

    code: str
    title_nl: str
    title_en: str
    description: str
    product_kind: ProductKind
    quantity: str
    list_price_cents: int
    signal_kinds: list[SignalKind]
    rank: int
    active: bool
    updated_at: dt.datetime | None


class InterventionListBody(RootModel[list[InterventionBody]]):
    """``GET /interventions``: the catalogue in rank order."""


class InterventionPutBody(BaseModel):
    """Body of ``PUT /interventions/{code}`` (the whole intervention: PUT replaces)."""

    title_nl: str
    title_en: str
    description: str
    product_kind: ProductKind
    quantity: str
    list_price_cents: int
    signal_kinds: list[SignalKind]
    rank: int
    active: bool


# -- opportunities ------------------------------------------------------------------------------------------------


class OpportunityBody(_Answer):
    """A follow-up opportunity for the account manager, drawn from a signal."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    signal_id: uuid.UUID
    kind: SignalKind
    org_unit_id: uuid.UUID | None
    org_unit_name: str | None
    stage: OpportunityStage
    recommended: list[str]
    estimated_value_cents: int
    evidence_text: str
    loss_reason: LossReason | None
    won_intervention: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class OpportunityPageBody(_Answer):
    """``GET /opportunities``: a page, newest first."""

    items: list[OpportunityBody]
    next_cursor: str | None


class OpportunityNoteBody(_Answer):
    """A remark or a stage move on an opportunity."""

    id: uuid.UUID
    author: str
    from_stage: OpportunityStage | None
    to_stage: OpportunityStage | None
    note: str | None
    created_at: dt.datetime


class PricedInterventionBody(_Answer):
    """A recommended intervention at the client's price, with its track record."""

    code: str
    title_nl: str
    title_en: str
    description: str
    product_kind: ProductKind
    quantity: str
    unit_price_cents: int
    price_cents: int
    priced_from: str
    won: int
    lost: int
    win_rate: float


class OpportunityDetailBody(OpportunityBody):
    """``GET /opportunities/{id}``: the opportunity with its notes and priced recommendations."""

    notes: list[OpportunityNoteBody]
    recommendations: list[PricedInterventionBody]


class KindStatisticsBody(_Answer):
    """How the opportunities of one signal kind fared."""

    kind: SignalKind
    won: int
    lost: int
    open: int
    win_rate: float | None


class KindStatisticsListBody(RootModel[list[KindStatisticsBody]]):
    """``GET /opportunities/statistics``: one entry per signal kind."""


class OpportunityNoteCreateBody(BaseModel):
    """Body of ``POST /opportunities/{id}/notes``."""

    note: str


class OpportunityStageChangeBody(BaseModel):
    """Body of ``POST /opportunities/{id}/stage``."""

    stage: OpportunityStage
    note: str | None = None
    loss_reason: LossReason | None = None
    won_intervention: str | None = None


# -- accounts -----------------------------------------------------------------------------------------------------


class BurnDownWeekBody(_Answer):
    week: dt.date
    used: str
    planned: str


class BurnDownBody(_Answer):
    product_code: str
    included: str
    used: str
    remaining: str
    weeks: list[BurnDownWeekBody]
    exhausted_on: dt.date | None
    projected_exhaustion: dt.date | None
    runs_out_before_renewal: bool | None


class ProductUseBody(_Answer):
    code: str
    kind: ProductKind
    used: str
    included: str | None
    percent_used: float | None


class ContractOverviewBody(_Answer):
    id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    renewal_date: dt.date
    days_to_renewal: int
    products: list[ProductUseBody]
    burn_downs: list[BurnDownBody]


class OpenSignalBody(_Answer):
    id: uuid.UUID
    kind: SignalKind
    org_unit_id: uuid.UUID | None
    org_unit_name: str | None
    raised_week: dt.date
    review_status: ReviewStatus


class PipelineStageBody(_Answer):
    stage: OpportunityStage
    opportunities: int
    estimated_value_cents: int


class WorkshopsDeliveredBody(_Answer):
    theme: str
    sessions: int
    participants: int | None
    participants_suppressed: bool


class AccountBody(_Answer):
    """``GET /accounts/{tenant_id}``: one client organisation for its account manager; no case data."""

    tenant_id: uuid.UUID
    name: str
    as_of: dt.date
    k: int
    contracts: list[ContractOverviewBody]
    open_signals: list[OpenSignalBody]
    pipeline: list[PipelineStageBody]
    open_opportunity_value_cents: int
    workshops_since: dt.date
    workshops_until: dt.date
    workshops: list[WorkshopsDeliveredBody]
    secondment_hours_last_12_months: str
    contract_period_start: dt.date | None
    secondment_hours_this_contract_period: str | None


class PortfolioLineBody(_Answer):
    """One line of ``GET /accounts``."""

    tenant_id: uuid.UUID
    name: str
    renewal_date: dt.date | None
    days_to_renewal: int | None
    bundle_percent_used: float | None
    open_signals: int
    open_opportunity_value_cents: int


class PortfolioBody(RootModel[list[PortfolioLineBody]]):
    """``GET /accounts``: the caller's portfolio, the nearest renewal first."""


# -- management actions -------------------------------------------------------------------------------------------


class ManagementActionCreateBody(BaseModel):
    """Body of ``POST /management-actions``."""

    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID | None
    action_type: ManagementActionType
    occurred_on: dt.date


class ManagementActionBody(_Answer):
    """A recorded management action."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID | None
    org_unit_name: str | None
    action_type: ManagementActionType
    occurred_on: dt.date
    week: dt.date
    recorded_by: str
    recorded_at: dt.datetime


class ManagementActionListBody(RootModel[list[ManagementActionBody]]):
    """``GET /management-actions``: the organisation's actions, latest first."""


class RateComparisonBody(_Answer):
    before_weeks: int
    after_weeks: int
    before_count: int | None
    after_count: int | None
    before_suppressed: bool
    after_suppressed: bool
    rate_before: float | None
    rate_after: float | None
    rate_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    ratio_withheld: bool


class DifferenceInDifferencesBody(_Answer):
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    continuity_corrected: bool
    ratio_withheld: bool


class CategoryEffectBody(_Answer):
    category: Category
    unit: RateComparisonBody
    comparison: RateComparisonBody | None
    difference_in_differences: DifferenceInDifferencesBody | None
    explanation: str


class ActionEffectsBody(_Answer):
    """``GET /management-actions/{id}/effects``: referral rates per category around one action."""

    action: ManagementActionBody
    k: int
    first_week: dt.date | None
    last_week: dt.date | None
    weeks_before: int
    weeks_after: int
    too_early: bool
    final: bool
    comparison_unit: str | None
    note: str | None
    categories: list[CategoryEffectBody]


class PooledEffectBody(_Answer):
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    tau_squared: float
    i_squared: float
    actions: int
    organisations: int
    verdict: EffectVerdict


class PooledCategoryBody(_Answer):
    category: Category
    effect: PooledEffectBody | None
    explanation: str


class ActionTypeEffectsBody(_Answer):
    """``GET /management-action-effects``: an action type's effect pooled across organisations (names none)."""

    action_type: ManagementActionType
    min_organisations: int
    enough_organisations: bool
    note: str | None
    categories: list[PooledCategoryBody]


# -- secondment observations --------------------------------------------------------------------------------------


class SecondmentObservationCreateBody(BaseModel):
    """Body of ``POST /secondment-observations``."""

    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    bottleneck: Bottleneck
    observed_on: dt.date
    severity: int = Field(description="1 noticeable, 2 clear, 3 severe; signals checks the range.")


class SecondmentObservationBody(_Answer):
    """A recorded observation (``recorded_by`` null for the client organisation)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    org_unit_name: str | None
    bottleneck: Bottleneck
    observed_on: dt.date
    severity: int
    recorded_by: str | None
    recorded_at: dt.datetime


class SecondmentObservationListBody(RootModel[list[SecondmentObservationBody]]):
    """``GET /secondment-observations``: latest first."""
