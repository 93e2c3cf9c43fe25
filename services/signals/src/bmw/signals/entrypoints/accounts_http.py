"""The account view and the portfolio over HTTP: for account managers (their portfolio) and provider admins.

A commercial view with no case data in it: contract use, bundle burn-down, renewals, open signals without
counts, the opportunity pipeline, and what the provider delivered. Any client organisation the caller may not
see is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from bmw.contracts.events.base import Decimal2
from bmw.contracts.taxonomy import OpportunityStage, ProductKind, SignalKind
from bmw.servicekit.deps import CurrentPrincipal, RuntimeDep, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.signals.application.accounts import AccountView, BurnDown, ContractOverview, account_view, portfolio
from bmw.signals.domain.codes import ReviewStatus

accounts_router = APIRouter(tags=["accounts"])


class ProductUseRead(BaseModel):
    """Use of one contract product in the contract period."""

    code: str = Field(description="Product code.")
    kind: ProductKind = Field(description="How the product is priced and metered.")
    used: Decimal2 = Field(description='Units used so far (hours, sessions, cases, ...), exact, e.g. "12.50".')
    included: Decimal2 | None = Field(description="Prepaid units of an hour bundle; null for other kinds.")
    percent_used: float | None = Field(description="Share of the included units used, in percent; null without.")


class BurnDownWeekRead(BaseModel):
    """One ISO week of an hour bundle."""

    week: dt.date = Field(description="Monday of the ISO week.")
    used: Decimal2 = Field(description="Cumulative use up to the end of the week.")
    planned: Decimal2 = Field(description="Cumulative use at an even pace over the contract period, same moment.")


class BurnDownRead(BaseModel):
    """An hour bundle's consumption over the contract period and when it runs out."""

    product_code: str = Field(description="The hour bundle's product code.")
    included: Decimal2 = Field(description="Prepaid hours.")
    used: Decimal2 = Field(description="Hours used so far.")
    remaining: Decimal2 = Field(description="Hours left (0 when used up or beyond).")
    weeks: list[BurnDownWeekRead] = Field(description="From the period's first week to the current one.")
    exhausted_on: dt.date | None = Field(description="The day the use reached the included hours, if it did.")
    projected_exhaustion: dt.date | None = Field(
        description="The day it runs out at the average pace so far (a straight line); null without use or once "
        "exhausted."
    )
    runs_out_before_renewal: bool | None = Field(
        description="True when it ran or will run out on or before the period's end; null without use."
    )

    @classmethod
    def of(cls, burn: BurnDown) -> BurnDownRead:
        return cls(
            product_code=burn.product_code,
            included=burn.included,
            used=burn.used,
            remaining=burn.remaining,
            weeks=[BurnDownWeekRead(week=w.week, used=w.used, planned=w.planned) for w in burn.weeks],
            exhausted_on=burn.exhausted_on,
            projected_exhaustion=burn.projected_exhaustion,
            runs_out_before_renewal=burn.runs_out_before_renewal,
        )


class ContractOverviewRead(BaseModel):
    """An active contract: its period, renewal, and use against entitlement."""

    id: uuid.UUID = Field(description="Id of the contract.")
    period_start: dt.date = Field(description="First day of the contract period.")
    period_end: dt.date = Field(description="Last day of the contract period (inclusive).")
    renewal_date: dt.date = Field(description="When the contract is up for renewal: the end of its period.")
    days_to_renewal: int = Field(description="Days from today to the renewal date (negative once past).")
    products: list[ProductUseRead] = Field(description="Every product with its use this period.")
    burn_downs: list[BurnDownRead] = Field(description="One per hour bundle.")

    @classmethod
    def of(cls, contract: ContractOverview) -> ContractOverviewRead:
        return cls(
            id=contract.id,
            period_start=contract.period_start,
            period_end=contract.period_end,
            renewal_date=contract.renewal_date,
            days_to_renewal=contract.days_to_renewal,
            products=[
                ProductUseRead(code=p.code, kind=p.kind, used=p.used, included=p.included, percent_used=p.percent_used)
                for p in contract.products
            ],
            burn_downs=[BurnDownRead.of(b) for b in contract.burn_downs],
        )


class OpenSignalRead(BaseModel):
    """An open signal the account manager may act on: confirmed by a social worker, or needing no review."""

    id: uuid.UUID = Field(description="Id of the signal.")
    kind: SignalKind = Field(description="What the signal is about.")
    org_unit_id: uuid.UUID | None = Field(description="The org unit; null: the whole organisation.")
    org_unit_name: str | None = Field(description="Its name.")
    raised_week: dt.date = Field(description="Monday of the week it was raised in.")
    review_status: ReviewStatus = Field(description="confirmed or not_required.")


class PipelineStageRead(BaseModel):
    """Opportunities in one pipeline stage."""

    stage: OpportunityStage = Field(description="Pipeline stage.")
    opportunities: int = Field(description="Opportunities in it.")
    estimated_value_cents: int = Field(description="Their total estimated value, euro cents excluding VAT.")


class WorkshopsDeliveredRead(BaseModel):
    """Workshop sessions delivered on one theme."""

    theme: str = Field(description="Workshop theme.")
    sessions: int = Field(description="Sessions delivered.")
    participants: int | None = Field(
        description="Participants in them; null (suppressed) when fewer than k, or when one month's count is."
    )
    participants_suppressed: bool = Field(description="True when the participants are under k and hidden.")


class AccountRead(BaseModel):
    """One client organisation for its account manager; never any case data."""

    tenant_id: uuid.UUID = Field(description="The client organisation.")
    name: str = Field(description="Its name.")
    as_of: dt.date = Field(description="Today (Europe/Amsterdam): the day the figures are for.")
    k: int = Field(description="Small-cell threshold in force for participant counts.")
    contracts: list[ContractOverviewRead] = Field(description="Active contracts, the nearest renewal first.")
    open_signals: list[OpenSignalRead] = Field(description="Open signals, latest first, without counts.")
    pipeline: list[PipelineStageRead] = Field(description="Opportunities per stage, in pipeline order.")
    open_opportunity_value_cents: int = Field(description="Estimated value of the opportunities not won or lost.")
    workshops_since: dt.date = Field(
        description="Monday of the first week of the workshop figures: the 12 last completed calendar months (a week "
        "belongs to the month of its Thursday)."
    )
    workshops_until: dt.date = Field(description="Monday of the last week of the workshop figures.")
    workshops: list[WorkshopsDeliveredRead] = Field(
        description="Workshops delivered per theme in those months; participants only when every month's count "
        "is 0 or at least k."
    )
    secondment_hours_last_12_months: Decimal2 = Field(description="Secondment hours logged in the last 12 months.")
    contract_period_start: dt.date | None = Field(description="Start of the current contract period, if any.")
    secondment_hours_this_contract_period: Decimal2 | None = Field(
        description="Secondment hours logged since the current contract period began; null without one."
    )

    @classmethod
    def of(cls, view: AccountView) -> AccountRead:
        return cls(
            tenant_id=view.tenant_id,
            name=view.name,
            as_of=view.as_of,
            k=view.k,
            contracts=[ContractOverviewRead.of(c) for c in view.contracts],
            open_signals=[
                OpenSignalRead(
                    id=s.id,
                    kind=s.kind,
                    org_unit_id=s.org_unit_id,
                    org_unit_name=s.org_unit_name,
                    raised_week=s.raised_week,
                    review_status=s.review_status,
                )
                for s in view.open_signals
            ],
            pipeline=[
                PipelineStageRead(
                    stage=p.stage, opportunities=p.opportunities, estimated_value_cents=p.estimated_value_cents
                )
                for p in view.pipeline
            ],
            open_opportunity_value_cents=view.open_opportunity_value_cents,
            workshops_since=view.workshops_since,
            workshops_until=view.workshops_until,
            workshops=[
                WorkshopsDeliveredRead(
                    theme=w.theme,
                    sessions=w.sessions,
                    participants=w.participants,
                    participants_suppressed=w.participants_suppressed,
                )
                for w in view.workshops
            ],
            secondment_hours_last_12_months=view.secondment_hours_last_12_months,
            contract_period_start=view.contract_period_start,
            secondment_hours_this_contract_period=view.secondment_hours_this_contract_period,
        )


class PortfolioLineRead(BaseModel):
    """One client organisation of the portfolio."""

    tenant_id: uuid.UUID = Field(description="The client organisation.")
    name: str = Field(description="Its name.")
    renewal_date: dt.date | None = Field(description="The nearest renewal of an active contract; null without one.")
    days_to_renewal: int | None = Field(description="Days from today to that renewal.")
    bundle_percent_used: float | None = Field(
        description="Hours used of all active hour bundles together, in percent; null without a bundle."
    )
    open_signals: int = Field(description="Open signals the account manager may act on.")
    open_opportunity_value_cents: int = Field(description="Estimated value of the opportunities not won or lost.")


@accounts_router.get(
    "/accounts",
    response_model=list[PortfolioLineRead],
    responses=error_responses(401, 403),
)
async def read_portfolio(principal: CurrentPrincipal, uow: UowFactoryDep) -> list[PortfolioLineRead]:
    """The caller's portfolio (provider admins: every client organisation), the nearest renewal first."""
    lines = await portfolio(principal=principal, uow=uow)
    return [
        PortfolioLineRead(
            tenant_id=line.tenant_id,
            name=line.name,
            renewal_date=line.renewal_date,
            days_to_renewal=line.days_to_renewal,
            bundle_percent_used=line.bundle_percent_used,
            open_signals=line.open_signals,
            open_opportunity_value_cents=line.open_opportunity_value_cents,
        )
        for line in lines
    ]


@accounts_router.get(
    "/accounts/{tenant_id}",
    response_model=AccountRead,
    responses=error_responses(401, 403, 404, 422),
)
async def read_account(
    tenant_id: Annotated[uuid.UUID, Path(description="The client organisation.")],
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    runtime: RuntimeDep,
) -> AccountRead:
    """One client organisation: contracts, bundle burn-down, renewal, open signals, pipeline and delivery."""
    view = await account_view(
        tenant_id=tenant_id, principal=principal, uow=uow, default_k=runtime.settings.small_cell_k
    )
    return AccountRead.of(view)
