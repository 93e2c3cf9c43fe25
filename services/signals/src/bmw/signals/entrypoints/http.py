"""Signals' HTTP API."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bmw.contracts.taxonomy import Category
from bmw.servicekit.deps import CurrentPrincipal, RuntimeDep, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.signals.application.trends import trends

router = APIRouter(tags=["trends"])


class TrendCellRead(BaseModel):
    """Referrals of one org unit in one category over the period."""

    org_unit_id: uuid.UUID = Field(description="The org unit.")
    org_unit_name: str | None = Field(description="Its name, from the client organisation's profile.")
    category: Category = Field(description="Help request category.")
    count: int | None = Field(description="Number of referrals; null when suppressed.")
    suppressed: bool = Field(description="True when the count describes fewer than k people and is hidden.")


class TrendReportRead(BaseModel):
    """Anonymised referral counts of one client organisation."""

    tenant_id: uuid.UUID = Field(description="Client organisation.")
    period_from: date = Field(alias="from", description="First day of the period.")
    period_to: date = Field(alias="to", description="Last day of the period.")
    k: int = Field(description="Small-cell threshold in force: counts from 1 to k-1 are suppressed.")
    cells: list[TrendCellRead] = Field(description="One cell per org unit × category with referrals.")

    model_config = {"populate_by_name": True}


@router.get(
    "/trends",
    response_model=TrendReportRead,
    response_model_by_alias=True,
    responses=error_responses(401, 403, 422, 503),
)
async def read_trends(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    runtime: RuntimeDep,
    tenant_id: Annotated[uuid.UUID, Query(description="Client organisation.")],
    period_from: Annotated[date, Query(alias="from", description="First day (inclusive), YYYY-MM-DD.")],
    period_to: Annotated[date, Query(alias="to", description="Last day (inclusive), YYYY-MM-DD.")],
) -> TrendReportRead:
    """Referrals per org unit × category over the ISO weeks overlapping the period, small cells suppressed."""
    report = await trends(
        tenant_id=tenant_id,
        period_from=period_from,
        period_to=period_to,
        principal=principal,
        uow=uow,
        default_k=runtime.settings.small_cell_k,
    )
    return TrendReportRead(
        tenant_id=report.tenant_id,
        period_from=report.period_from,
        period_to=report.period_to,
        k=report.k,
        cells=[
            TrendCellRead(
                org_unit_id=c.org_unit_id,
                org_unit_name=c.org_unit_name,
                category=Category(c.category),
                count=c.count,
                suppressed=c.suppressed,
            )
            for c in report.cells
        ],
    )
