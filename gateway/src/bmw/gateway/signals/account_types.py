"""GraphQL types of the account manager's view of a client organisation: never any case data."""

from __future__ import annotations

import datetime as dt

import strawberry

from bmw.gateway.signals.bodies import (
    AccountBody,
    BurnDownBody,
    ContractOverviewBody,
    OpenSignalBody,
    PipelineStageBody,
    PortfolioLineBody,
    ProductUseBody,
    WorkshopsDeliveredBody,
)
from bmw.gateway.signals.convert import below_k, euros, graph_id
from bmw.gateway.signals.enums import OpportunityStage, ProductKind, ReviewStatus, SignalKind


@strawberry.type(description="One ISO week of an hour bundle's use against an even pace.")
class AccountBurnDownWeek:
    week: dt.date = strawberry.field(description="Monday of the ISO week.")
    used: str = strawberry.field(description="Hours used up to the end of the week (cumulative), a decimal string.")
    planned: str = strawberry.field(description="Hours an even pace over the contract period would have used by then.")


@strawberry.type(description="An hour bundle (strippenkaart): its use over the contract period and when it runs out.")
class AccountBurnDown:
    product_code: str = strawberry.field(description="The hour bundle's product code.")
    included: str = strawberry.field(description="Prepaid hours, a decimal string.")
    used: str = strawberry.field(description="Hours used so far.")
    remaining: str = strawberry.field(description="Hours left (0 when used up or beyond).")
    weeks: list[AccountBurnDownWeek] = strawberry.field(description="From the period's first week to the current one.")
    exhausted_on: dt.date | None = strawberry.field(
        description="The day the use reached the included hours, if it did."
    )
    projected_exhaustion: dt.date | None = strawberry.field(
        description="The day it runs out at the average pace so far; null without use or once exhausted."
    )
    runs_out_before_renewal: bool | None = strawberry.field(
        description="True when it ran or will run out on or before the period's end; null without use."
    )

    @classmethod
    def of(cls, body: BurnDownBody) -> AccountBurnDown:
        return cls(
            product_code=body.product_code,
            included=body.included,
            used=body.used,
            remaining=body.remaining,
            weeks=[AccountBurnDownWeek(week=w.week, used=w.used, planned=w.planned) for w in body.weeks],
            exhausted_on=body.exhausted_on,
            projected_exhaustion=body.projected_exhaustion,
            runs_out_before_renewal=body.runs_out_before_renewal,
        )


@strawberry.type(description="Use of one contract product in the contract period.")
class AccountProductUse:
    code: str = strawberry.field(description="Product code.")
    kind: ProductKind = strawberry.field(description="How the product is priced and metered.")
    used: str = strawberry.field(description="Units used so far (hours, sessions, cases, ...), a decimal string.")
    included: str | None = strawberry.field(description="Prepaid units of an hour bundle; null for other kinds.")
    percent_used: float | None = strawberry.field(description="Share of the included units used, in percent.")

    @classmethod
    def of(cls, body: ProductUseBody) -> AccountProductUse:
        return cls(
            code=body.code, kind=body.kind, used=body.used, included=body.included, percent_used=body.percent_used
        )


@strawberry.type(description="An active contract: its period, renewal, and use against entitlement.")
class AccountContract:
    id: strawberry.ID = strawberry.field(description="Contract id.")
    period_start: dt.date = strawberry.field(description="First day of the contract period.")
    period_end: dt.date = strawberry.field(description="Last day of the contract period (inclusive).")
    renewal_date: dt.date = strawberry.field(description="When the contract is up for renewal: the period's end.")
    days_to_renewal: int = strawberry.field(description="Days from today to the renewal (negative once past).")
    products: list[AccountProductUse] = strawberry.field(description="Every product with its use this period.")
    burn_downs: list[AccountBurnDown] = strawberry.field(description="One per hour bundle.")

    @classmethod
    def of(cls, body: ContractOverviewBody) -> AccountContract:
        return cls(
            id=graph_id(body.id),
            period_start=body.period_start,
            period_end=body.period_end,
            renewal_date=body.renewal_date,
            days_to_renewal=body.days_to_renewal,
            products=[AccountProductUse.of(p) for p in body.products],
            burn_downs=[AccountBurnDown.of(b) for b in body.burn_downs],
        )


@strawberry.type(description="An open signal the account manager may act on: confirmed, or needing no review.")
class AccountSignal:
    id: strawberry.ID = strawberry.field(description="Signal id.")
    kind: SignalKind = strawberry.field(description="What the signal is about.")
    org_unit_id: strawberry.ID | None = strawberry.field(description="The org unit; null: the whole organisation.")
    org_unit_name: str | None = strawberry.field(description="Its name.")
    raised_week: dt.date = strawberry.field(description="Monday of the week it was raised in.")
    review_status: ReviewStatus = strawberry.field(description="CONFIRMED or NOT_REQUIRED.")

    @classmethod
    def of(cls, body: OpenSignalBody) -> AccountSignal:
        return cls(
            id=graph_id(body.id),
            kind=body.kind,
            org_unit_id=graph_id(body.org_unit_id) if body.org_unit_id else None,
            org_unit_name=body.org_unit_name,
            raised_week=body.raised_week,
            review_status=body.review_status,
        )


@strawberry.type(description="The opportunities in one pipeline stage.")
class AccountPipelineStage:
    stage: OpportunityStage = strawberry.field(description="Pipeline stage.")
    opportunities: int = strawberry.field(description="Opportunities in it.")
    estimated_value_cents: int = strawberry.field(description="Their total estimated value, euro cents excl. VAT.")
    estimated_value_euros: str = strawberry.field(description="The same value in euros, a decimal string.")

    @classmethod
    def of(cls, body: PipelineStageBody) -> AccountPipelineStage:
        return cls(
            stage=body.stage,
            opportunities=body.opportunities,
            estimated_value_cents=body.estimated_value_cents,
            estimated_value_euros=euros(body.estimated_value_cents),
        )


@strawberry.type(description="Workshop sessions delivered on one theme.")
class AccountWorkshops:
    theme: str = strawberry.field(description="Workshop theme code.")
    sessions: int = strawberry.field(description="Sessions delivered.")
    participants: int | None = strawberry.field(description="Participants in them; null when fewer than k.")
    participants_suppressed: bool = strawberry.field(description="True when the participants are under k and hidden.")

    @classmethod
    def of(cls, body: WorkshopsDeliveredBody, k: int) -> AccountWorkshops:
        hidden = body.participants_suppressed or below_k(body.participants, k, "participant count")
        return cls(
            theme=body.theme,
            sessions=body.sessions,
            participants=None if hidden else body.participants,
            participants_suppressed=hidden,
        )


@strawberry.type(
    description="One client organisation for its account manager: contracts and their use, renewals, open "
    "signals, the pipeline and what was delivered. Never any case data."
)
class AccountOverview:
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    name: str = strawberry.field(description="Its name.")
    as_of: dt.date = strawberry.field(description="The day the figures are for (today, Europe/Amsterdam).")
    k: int = strawberry.field(description="Small-cell threshold in force for participant counts.")
    contracts: list[AccountContract] = strawberry.field(description="Active contracts, the nearest renewal first.")
    open_signals: list[AccountSignal] = strawberry.field(description="Open signals, latest first, without counts.")
    pipeline: list[AccountPipelineStage] = strawberry.field(description="Opportunities per stage, in pipeline order.")
    open_opportunity_value_cents: int = strawberry.field(
        description="Estimated value of the opportunities not won or lost, euro cents excl. VAT."
    )
    open_opportunity_value_euros: str = strawberry.field(description="The same value in euros, a decimal string.")
    workshops_since: dt.date = strawberry.field(
        description="Monday of the first week of the workshop figures: the 12 last completed calendar months (a week "
        "belongs to the month of its Thursday)."
    )
    workshops_until: dt.date = strawberry.field(description="Monday of the last week of the workshop figures.")
    workshops: list[AccountWorkshops] = strawberry.field(
        description="Workshops delivered per theme in those months; participants only when every month's count is "
        "0 or at least k."
    )
    secondment_hours_last_12_months: str = strawberry.field(
        description="Secondment hours logged in the last 12 months, a decimal string."
    )
    contract_period_start: dt.date | None = strawberry.field(
        description="Start of the current contract period, if any."
    )
    secondment_hours_this_contract_period: str | None = strawberry.field(
        description="Secondment hours logged since the current contract period began; null without one."
    )

    @classmethod
    def of(cls, body: AccountBody) -> AccountOverview:
        return cls(
            tenant_id=graph_id(body.tenant_id),
            name=body.name,
            as_of=body.as_of,
            k=body.k,
            contracts=[AccountContract.of(c) for c in body.contracts],
            open_signals=[AccountSignal.of(s) for s in body.open_signals],
            pipeline=[AccountPipelineStage.of(p) for p in body.pipeline],
            open_opportunity_value_cents=body.open_opportunity_value_cents,
            open_opportunity_value_euros=euros(body.open_opportunity_value_cents),
            workshops_since=body.workshops_since,
            workshops_until=body.workshops_until,
            workshops=[AccountWorkshops.of(w, body.k) for w in body.workshops],
            secondment_hours_last_12_months=body.secondment_hours_last_12_months,
            contract_period_start=body.contract_period_start,
            secondment_hours_this_contract_period=body.secondment_hours_this_contract_period,
        )


@strawberry.type(description="One client organisation of the caller's portfolio, for the account manager's cockpit.")
class PortfolioAccount:
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation; its `accountOverview` has more.")
    name: str = strawberry.field(description="Its name.")
    renewal_date: dt.date | None = strawberry.field(
        description="The nearest renewal of an active contract; null without one."
    )
    days_to_renewal: int | None = strawberry.field(description="Days from today to that renewal.")
    bundle_percent_used: float | None = strawberry.field(
        description="Hours used of all active hour bundles together, in percent; null without a bundle."
    )
    open_signals: int = strawberry.field(description="Open signals the account manager may act on.")
    open_opportunity_value_cents: int = strawberry.field(
        description="Estimated value of the opportunities not won or lost, euro cents excl. VAT."
    )
    open_opportunity_value_euros: str = strawberry.field(description="The same value in euros, a decimal string.")

    @classmethod
    def of(cls, body: PortfolioLineBody) -> PortfolioAccount:
        return cls(
            tenant_id=graph_id(body.tenant_id),
            name=body.name,
            renewal_date=body.renewal_date,
            days_to_renewal=body.days_to_renewal,
            bundle_percent_used=body.bundle_percent_used,
            open_signals=body.open_signals,
            open_opportunity_value_cents=body.open_opportunity_value_cents,
            open_opportunity_value_euros=euros(body.open_opportunity_value_cents),
        )
