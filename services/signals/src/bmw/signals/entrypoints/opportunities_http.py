"""Opportunities and the interventions catalogue over HTTP.

Account managers work the opportunities of their portfolio through the pipeline (provider admins all of
them); the catalogue is read by everyone who works with signals and edited by provider admins. Prices are
euro cents excluding VAT.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bmw.contracts.events.base import Decimal2
from bmw.contracts.taxonomy import OpportunityStage, ProductKind, SignalKind
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.servicekit.idempotency import Idempotency, IdempotencyKeyHeader
from bmw.signals.application.interventions import (
    Intervention,
    PricedIntervention,
    PutIntervention,
    list_interventions,
    put_intervention,
)
from bmw.signals.application.opportunities import (
    MAX_NOTE_LENGTH,
    KindStatistics,
    MoveOpportunity,
    OpportunityDetail,
    OpportunityNote,
    OpportunityView,
    add_note,
    get_opportunity,
    list_opportunities,
    move_opportunity,
    opportunity_statistics,
)
from bmw.signals.application.signal_views import decode_cursor, encode_cursor
from bmw.signals.domain.codes import LossReason

opportunities_router = APIRouter()

#: Same shape as a wire ``Code``: letters, digits, ``_ . -``, so a code cannot carry free text.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"

OpportunityId = Annotated[uuid.UUID, Path(description="Id of the opportunity.")]
InterventionCode = Annotated[
    str, Path(pattern=CODE_PATTERN, description="Intervention code: letters, digits, _ . - (at most 64).")
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Note = Annotated[str, StringConstraints(max_length=MAX_NOTE_LENGTH)]


# -- interventions ------------------------------------------------------------------------------------------


class InterventionRead(BaseModel):
    """An intervention of the provider's catalogue."""

    code: str = Field(description="Stable code, used in opportunities and events.")
    title_nl: str = Field(description="Title in Dutch.")
    title_en: str = Field(description="Title in English.")
    description: str = Field(description="What the client gets.")
    product_kind: ProductKind = Field(description="The contract product kind it is sold as (and priced from).")
    quantity: Decimal2 = Field(description="Units of that product a typical offer holds (sessions, hours, ...).")
    list_price_cents: int = Field(description="Price per unit when the client's contract lacks the product kind.")
    signal_kinds: list[SignalKind] = Field(description="Signal kinds it is recommended for.")
    rank: int = Field(description="Catalogue order: lower is recommended first among equally successful ones.")
    active: bool = Field(description="Only active interventions are recommended.")
    updated_at: datetime | None = Field(description="Last change (UTC).")

    @classmethod
    def of(cls, intervention: Intervention) -> InterventionRead:
        return cls(
            code=intervention.code,
            title_nl=intervention.title_nl,
            title_en=intervention.title_en,
            description=intervention.description,
            product_kind=intervention.product_kind,
            quantity=intervention.quantity,
            list_price_cents=intervention.list_price_cents,
            signal_kinds=list(intervention.signal_kinds),
            rank=intervention.rank,
            active=intervention.active,
            updated_at=intervention.updated_at,
        )


class InterventionPut(BaseModel):
    """An intervention as a provider admin defines it (the whole of it: PUT replaces)."""

    model_config = ConfigDict(extra="forbid")

    title_nl: Title = Field(description="Title in Dutch.")
    title_en: Title = Field(description="Title in English.")
    description: Description = Field(description="What the client gets; no names of people.")
    product_kind: ProductKind = Field(
        description="The contract product kind it is sold as; not a late-cancellation or no-show fee."
    )
    quantity: Decimal2 = Field(gt=0, le=10_000, description='Units a typical offer holds, e.g. "12" hours.')
    list_price_cents: int = Field(ge=0, le=100_000_000, description="Price per unit without a contract price.")
    signal_kinds: list[SignalKind] = Field(
        min_length=1, max_length=len(SignalKind), description="Signal kinds it is recommended for, each once."
    )
    rank: int = Field(ge=0, le=100_000, description="Catalogue order: lower first.")
    active: bool = Field(default=True, description="False withdraws it from new recommendations.")


class PricedInterventionRead(BaseModel):
    """A recommended intervention at the client's price, with the track record that ranks it."""

    code: str = Field(description="Intervention code.")
    title_nl: str = Field(description="Title in Dutch.")
    title_en: str = Field(description="Title in English.")
    description: str = Field(description="What the client gets.")
    product_kind: ProductKind = Field(description="The contract product kind it is sold as.")
    quantity: Decimal2 = Field(description="Units in the offer.")
    unit_price_cents: int = Field(description="Price per unit used: the contract's, or the list price.")
    price_cents: int = Field(description="unit_price_cents × quantity, rounded half up to whole cents.")
    priced_from: str = Field(description="contract:<product code> when the contract has the product, else list_price.")
    won: int = Field(description="Opportunities of this signal kind won with it (all clients).")
    lost: int = Field(description="Opportunities of this signal kind lost while it was recommended first.")
    win_rate: float = Field(description="(won + 1) / (won + lost + 2): what orders the recommendations.")

    @classmethod
    def of(cls, priced: PricedIntervention) -> PricedInterventionRead:
        intervention = priced.intervention
        return cls(
            code=intervention.code,
            title_nl=intervention.title_nl,
            title_en=intervention.title_en,
            description=intervention.description,
            product_kind=intervention.product_kind,
            quantity=intervention.quantity,
            unit_price_cents=priced.unit_price_cents,
            price_cents=priced.price_cents,
            priced_from=priced.priced_from,
            won=priced.won,
            lost=priced.lost,
            win_rate=priced.win_rate,
        )


@opportunities_router.get(
    "/interventions",
    response_model=list[InterventionRead],
    tags=["interventions"],
    responses=error_responses(401, 403, 422, 503),
)
async def read_interventions(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    signal_kind: Annotated[SignalKind | None, Query(description="Only those recommended for this kind.")] = None,
) -> list[InterventionRead]:
    """The interventions catalogue in rank order (inactive ones for provider admins only; not for employees)."""
    found = await list_interventions(principal=principal, uow=uow, signal_kind=signal_kind)
    return [InterventionRead.of(intervention) for intervention in found]


@opportunities_router.put(
    "/interventions/{code}",
    response_model=InterventionRead,
    tags=["interventions"],
    responses={
        201: {"model": InterventionRead, "description": "Created."},
        **error_responses(401, 403, 409, 422, 503),
    },
)
async def put_intervention_route(
    code: InterventionCode, body: InterventionPut, principal: CurrentPrincipal, uow: UowFactoryDep, response: Response
) -> InterventionRead:
    """Create (201) or replace (200) an intervention (provider admins).

    409 when the change would leave a signal kind without any active intervention.
    """
    intervention, created = await put_intervention(
        PutIntervention(
            code=code,
            title_nl=body.title_nl,
            title_en=body.title_en,
            description=body.description,
            product_kind=body.product_kind,
            quantity=body.quantity,
            list_price_cents=body.list_price_cents,
            signal_kinds=tuple(body.signal_kinds),
            rank=body.rank,
            active=body.active,
        ),
        principal=principal,
        uow=uow,
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return InterventionRead.of(intervention)


# -- opportunities ------------------------------------------------------------------------------------------


class OpportunityRead(BaseModel):
    """A follow-up opportunity for the account manager, drawn from a signal."""

    id: uuid.UUID = Field(description="Opportunity id.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    signal_id: uuid.UUID = Field(description="The signal it follows from.")
    kind: SignalKind = Field(description="The signal's kind.")
    org_unit_id: uuid.UUID | None = Field(description="The org unit; null for the whole organisation.")
    org_unit_name: str | None = Field(description="Its name, from the client organisation's profile.")
    stage: OpportunityStage = Field(description="Pipeline stage: new → contacted → proposed → won | lost.")
    recommended: list[str] = Field(description="Intervention codes, best first.")
    estimated_value_cents: int = Field(
        description="Price of the best recommendation at the client's contract prices; of the one sold once won."
    )
    evidence_text: str = Field(description="Why, in plain language without counts.")
    loss_reason: LossReason | None = Field(description="Why it was lost, once lost.")
    won_intervention: str | None = Field(description="The intervention sold, once won.")
    created_at: datetime = Field(description="When it was opened (UTC).")
    updated_at: datetime = Field(description="Last change (UTC).")

    @classmethod
    def of(cls, view: OpportunityView) -> OpportunityRead:
        return cls(
            id=view.id,
            tenant_id=view.tenant_id,
            signal_id=view.signal_id,
            kind=view.kind,
            org_unit_id=view.org_unit_id,
            org_unit_name=view.org_unit_name,
            stage=view.stage,
            recommended=list(view.recommended),
            estimated_value_cents=view.estimated_value_cents,
            evidence_text=view.evidence_text,
            loss_reason=view.loss_reason,
            won_intervention=view.won_intervention,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class OpportunityNoteRead(BaseModel):
    """A remark or a stage move on an opportunity."""

    id: uuid.UUID = Field(description="Note id.")
    author: str = Field(description="Subject of the account manager or admin who wrote it.")
    from_stage: OpportunityStage | None = Field(description="Stage before, when the note records a move.")
    to_stage: OpportunityStage | None = Field(description="Stage after, when the note records a move.")
    note: str | None = Field(description="The remark, if any; provider-internal, never names a person.")
    created_at: datetime = Field(description="When (UTC).")

    @classmethod
    def of(cls, note: OpportunityNote) -> OpportunityNoteRead:
        return cls(
            id=note.id,
            author=note.author,
            from_stage=note.from_stage,
            to_stage=note.to_stage,
            note=note.note,
            created_at=note.created_at,
        )


class OpportunityDetailRead(OpportunityRead):
    """An opportunity with its history and its recommendations at today's prices."""

    notes: list[OpportunityNoteRead] = Field(description="Remarks and stage moves, oldest first.")
    recommendations: list[PricedInterventionRead] = Field(
        description="The recommended interventions in the opportunity's order, priced at the client's contract."
    )

    @classmethod
    def of_detail(cls, detail: OpportunityDetail) -> OpportunityDetailRead:
        return cls(
            **OpportunityRead.of(detail.opportunity).model_dump(),
            notes=[OpportunityNoteRead.of(note) for note in detail.notes],
            recommendations=[PricedInterventionRead.of(priced) for priced in detail.recommendations],
        )


class OpportunityPage(BaseModel):
    """A page of opportunities, newest first."""

    items: list[OpportunityRead] = Field(description="Opportunities, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class OpportunityStageChange(BaseModel):
    """Move an opportunity to its next stage."""

    model_config = ConfigDict(extra="forbid")

    stage: OpportunityStage = Field(
        description="new → contacted → proposed → won | lost; lost also from new and contacted; never back."
    )
    note: Note | None = Field(default=None, description="Optional remark, kept with the move. Never name a person.")
    loss_reason: LossReason | None = Field(default=None, description="Required for lost, not allowed otherwise.")
    won_intervention: Annotated[str, StringConstraints(pattern=CODE_PATTERN)] | None = Field(
        default=None,
        description="Required for won, not allowed otherwise: a recommended intervention or another catalogue code.",
    )


class OpportunityNoteCreate(BaseModel):
    """A remark on an opportunity."""

    model_config = ConfigDict(extra="forbid")

    note: Note = Field(description="The remark (not blank). Provider-internal; never name a person.")


def _keyed(opportunity_id: uuid.UUID, body: BaseModel) -> dict[str, Any]:
    """What an Idempotency-Key stands for: the body *and* the opportunity, so that the same key and body sent to
    another opportunity is refused rather than answered with the first one's result."""
    return {"opportunity_id": str(opportunity_id), "body": body.model_dump(mode="json")}


class KindStatisticsRead(BaseModel):
    """How the opportunities of one signal kind fared."""

    kind: SignalKind = Field(description="The signal kind.")
    won: int = Field(description="Opportunities won.")
    lost: int = Field(description="Opportunities lost.")
    open: int = Field(description="Opportunities still in new, contacted or proposed.")
    win_rate: float | None = Field(description="won / (won + lost); null before any was closed.")

    @classmethod
    def of(cls, statistics: KindStatistics) -> KindStatisticsRead:
        return cls(
            kind=statistics.kind,
            won=statistics.won,
            lost=statistics.lost,
            open=statistics.open,
            win_rate=statistics.win_rate,
        )


# ``/opportunities/statistics`` comes before ``/opportunities/{opportunity_id}``, which would otherwise claim it.
@opportunities_router.get(
    "/opportunities/statistics",
    response_model=list[KindStatisticsRead],
    tags=["opportunities"],
    responses=error_responses(401, 403, 422, 503),
)
async def read_opportunity_statistics(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[
        uuid.UUID | None, Query(description="Only this client organisation's; default all the caller works.")
    ] = None,
) -> list[KindStatisticsRead]:
    """Won, lost and open opportunities and the win rate per signal kind (account managers: their portfolio)."""
    found = await opportunity_statistics(principal=principal, uow=uow, tenant_id=tenant_id)
    return [KindStatisticsRead.of(statistics) for statistics in found]


@opportunities_router.get(
    "/opportunities",
    response_model=OpportunityPage,
    tags=["opportunities"],
    responses=error_responses(401, 403, 422, 503),
)
async def read_opportunities(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    stage: Annotated[OpportunityStage | None, Query(description="Only opportunities in this stage.")] = None,
    tenant_id: Annotated[uuid.UUID | None, Query(description="Only this client organisation's.")] = None,
    cursor: Annotated[str | None, Query(description="From `next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
) -> OpportunityPage:
    """The pipeline, newest first: account managers their portfolio's, provider admins every one."""
    views = await list_opportunities(
        principal=principal, uow=uow, stage=stage, tenant_id=tenant_id, after=decode_cursor(cursor), limit=limit
    )
    return OpportunityPage(
        items=[OpportunityRead.of(view) for view in views],
        next_cursor=encode_cursor(views[-1].created_at, views[-1].id) if len(views) == limit else None,
    )


@opportunities_router.get(
    "/opportunities/{opportunity_id}",
    response_model=OpportunityDetailRead,
    tags=["opportunities"],
    responses=error_responses(401, 403, 404, 422, 503),
)
async def read_opportunity(
    opportunity_id: OpportunityId, principal: CurrentPrincipal, uow: UowFactoryDep
) -> OpportunityDetailRead:
    """One opportunity with its notes and its recommendations priced at the client's contract."""
    return OpportunityDetailRead.of_detail(await get_opportunity(opportunity_id, principal=principal, uow=uow))


@opportunities_router.post(
    "/opportunities/{opportunity_id}/stage",
    response_model=OpportunityRead,
    tags=["opportunities"],
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def move_opportunity_route(
    opportunity_id: OpportunityId,
    body: OpportunityStageChange,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Move an opportunity along the pipeline; publishes signals.opportunity.stage_changed.v1.

    409 (naming the current stage) for a move the pipeline does not allow; 422 for a loss without its reason
    or a win without the intervention sold.
    """
    return await move_opportunity(
        MoveOpportunity(
            opportunity_id=opportunity_id,
            stage=body.stage,
            note=body.note,
            loss_reason=body.loss_reason,
            won_intervention=body.won_intervention,
        ),
        principal=principal,
        uow=uow,
        idempotency=Idempotency.optional(principal.subject, idempotency_key, _keyed(opportunity_id, body)),
        render=lambda view: OpportunityRead.of(view).model_dump(mode="json"),
    )


@opportunities_router.post(
    "/opportunities/{opportunity_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=OpportunityNoteRead,
    tags=["opportunities"],
    responses=error_responses(401, 403, 404, 422, 503),
)
async def add_opportunity_note(
    opportunity_id: OpportunityId,
    body: OpportunityNoteCreate,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Add a remark to an opportunity without moving it."""
    return await add_note(
        opportunity_id,
        body.note,
        principal=principal,
        uow=uow,
        idempotency=Idempotency.optional(principal.subject, idempotency_key, _keyed(opportunity_id, body)),
        render=lambda note: OpportunityNoteRead.of(note).model_dump(mode="json"),
    )
