"""GraphQL types of the account manager's opportunities (the sales pipeline drawn from signals)."""

from __future__ import annotations

import datetime as dt
import uuid

import strawberry

from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import graphql_error
from bmw.gateway.signals.bodies import (
    KindStatisticsBody,
    OpportunityBody,
    OpportunityDetailBody,
    OpportunityNoteBody,
    PricedInterventionBody,
)
from bmw.gateway.signals.convert import euros, graph_id
from bmw.gateway.signals.enums import LossReason, OpportunityStage, ProductKind, SignalKind
from bmw.gateway.signals.loaders import signals_loaders
from bmw.servicekit.errors import DomainError


@strawberry.type(description="A remark on an opportunity, or a move from one stage to the next.")
class OpportunityNote:
    id: strawberry.ID = strawberry.field(description="Note id.")
    author: str = strawberry.field(description="Subject of the account manager or admin who wrote it.")
    from_stage: OpportunityStage | None = strawberry.field(description="Stage before, when it records a move.")
    to_stage: OpportunityStage | None = strawberry.field(description="Stage after, when it records a move.")
    note: str | None = strawberry.field(description="The remark, if any; provider-internal, never names a person.")
    created_at: dt.datetime = strawberry.field(description="When (UTC).")

    @classmethod
    def of(cls, body: OpportunityNoteBody) -> OpportunityNote:
        return cls(
            id=graph_id(body.id),
            author=body.author,
            from_stage=body.from_stage,
            to_stage=body.to_stage,
            note=body.note,
            created_at=body.created_at,
        )


@strawberry.type(
    description="An intervention recommended for an opportunity, priced at the client's contract, with the track "
    "record that ranks it."
)
class RecommendedIntervention:
    code: str = strawberry.field(description="Intervention code; pass it as `wonIntervention` when it is sold.")
    title_nl: str = strawberry.field(description="Title in Dutch.")
    title_en: str = strawberry.field(description="Title in English.")
    description: str = strawberry.field(description="What the client gets.")
    product_kind: ProductKind = strawberry.field(description="The contract product kind it is sold as.")
    quantity: str = strawberry.field(description="Units in the offer (sessions, hours, ...), a decimal string.")
    unit_price_cents: int = strawberry.field(description="Price per unit in euro cents excluding VAT.")
    price_cents: int = strawberry.field(description="Unit price × quantity in euro cents, rounded half up.")
    price_euros: str = strawberry.field(description="The same price in euros, a decimal string such as `1234.50`.")
    priced_from: str = strawberry.field(
        description="`contract:<product code>` when the client's contract has the product, else `list_price`."
    )
    won: int = strawberry.field(description="Opportunities of this signal kind won with it (all clients).")
    lost: int = strawberry.field(description="Opportunities of this signal kind lost while it was recommended first.")
    win_rate: float = strawberry.field(description="(won + 1) / (won + lost + 2): what orders the recommendations.")

    @classmethod
    def of(cls, body: PricedInterventionBody) -> RecommendedIntervention:
        return cls(
            code=body.code,
            title_nl=body.title_nl,
            title_en=body.title_en,
            description=body.description,
            product_kind=body.product_kind,
            quantity=body.quantity,
            unit_price_cents=body.unit_price_cents,
            price_cents=body.price_cents,
            price_euros=euros(body.price_cents),
            priced_from=body.priced_from,
            won=body.won,
            lost=body.lost,
            win_rate=body.win_rate,
        )


async def _detail(info: GatewayInfo, opportunity_id: uuid.UUID) -> OpportunityDetailBody:
    try:
        return await signals_loaders(info.context).opportunity_details.load(opportunity_id)
    except DomainError as error:
        raise graphql_error(error) from error


async def _notes(root: Opportunity, info: GatewayInfo) -> list[OpportunityNote] | None:
    detail = await _detail(info, root.opportunity_id)
    return [OpportunityNote.of(note) for note in detail.notes]


async def _recommendations(root: Opportunity, info: GatewayInfo) -> list[RecommendedIntervention] | None:
    detail = await _detail(info, root.opportunity_id)
    return [RecommendedIntervention.of(item) for item in detail.recommendations]


@strawberry.type(
    description="A follow-up opportunity for the account manager, drawn from a confirmed signal: recommended "
    "interventions with an estimated value, moved through the pipeline NEW → CONTACTED → PROPOSED → WON | LOST."
)
class Opportunity:
    id: strawberry.ID = strawberry.field(description="Opportunity id.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    signal_id: strawberry.ID = strawberry.field(description="The signal it follows from.")
    kind: SignalKind = strawberry.field(description="The signal's kind.")
    org_unit_id: strawberry.ID | None = strawberry.field(description="The org unit; null for the whole organisation.")
    org_unit_name: str | None = strawberry.field(description="Its name, from the client organisation's profile.")
    stage: OpportunityStage = strawberry.field(description="Pipeline stage.")
    recommended: list[str] = strawberry.field(description="Recommended intervention codes, best first.")
    estimated_value_cents: int = strawberry.field(
        description="Price of the best recommendation at the client's contract prices (of the one sold, once "
        "won), in euro cents excluding VAT."
    )
    estimated_value_euros: str = strawberry.field(description="The same value in euros, a decimal string.")
    evidence_text: str = strawberry.field(description="Why, in plain language without counts.")
    loss_reason: LossReason | None = strawberry.field(description="Why it was lost, once lost.")
    won_intervention: str | None = strawberry.field(description="The intervention sold, once won.")
    created_at: dt.datetime = strawberry.field(description="When it was opened (UTC).")
    updated_at: dt.datetime = strawberry.field(description="Last change (UTC).")
    notes: list[OpportunityNote] | None = strawberry.field(
        resolver=_notes,
        description="Remarks and stage moves, oldest first. Fetched only when selected (one call per opportunity, "
        "shared with `recommendations`).",
    )
    recommendations: list[RecommendedIntervention] | None = strawberry.field(
        resolver=_recommendations,
        description="The recommended interventions, best first, priced at the client's contract today. Fetched "
        "only when selected (one call per opportunity, shared with `notes`).",
    )
    opportunity_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, body: OpportunityBody) -> Opportunity:
        return cls(
            id=graph_id(body.id),
            tenant_id=graph_id(body.tenant_id),
            signal_id=graph_id(body.signal_id),
            kind=body.kind,
            org_unit_id=graph_id(body.org_unit_id) if body.org_unit_id else None,
            org_unit_name=body.org_unit_name,
            stage=body.stage,
            recommended=list(body.recommended),
            estimated_value_cents=body.estimated_value_cents,
            estimated_value_euros=euros(body.estimated_value_cents),
            evidence_text=body.evidence_text,
            loss_reason=body.loss_reason,
            won_intervention=body.won_intervention,
            created_at=body.created_at,
            updated_at=body.updated_at,
            opportunity_id=body.id,
        )


@strawberry.type(description="How the opportunities drawn from one signal kind fared: the account managers' hit rate.")
class OpportunityKindStatistics:
    kind: SignalKind = strawberry.field(description="The signal kind the opportunities were drawn from.")
    won: int = strawberry.field(description="Opportunities won.")
    lost: int = strawberry.field(description="Opportunities lost.")
    open: int = strawberry.field(description="Opportunities still NEW, CONTACTED or PROPOSED.")
    win_rate: float | None = strawberry.field(description="won / (won + lost); null before any was closed.")

    @classmethod
    def of(cls, body: KindStatisticsBody) -> OpportunityKindStatistics:
        return cls(kind=body.kind, won=body.won, lost=body.lost, open=body.open, win_rate=body.win_rate)
