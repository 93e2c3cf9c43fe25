"""Signals' HTTP API: anonymised trends."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bmw.contracts.taxonomy import Category
from bmw.servicekit.deps import CurrentPrincipal, RuntimeDep, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.signals.application.trends import TrendReport, trends

router = APIRouter(tags=["trends"])


class UnitCellRead(BaseModel):
    """Referrals of one org unit and everything below it, in one category and month."""

    org_unit_id: uuid.UUID = Field(description="The org unit.")
    org_unit_name: str = Field(description="Its name, from the client organisation's profile.")
    parent_id: uuid.UUID | None = Field(description="Its parent in the org tree; null for a top-level unit.")
    count: int | None = Field(
        description="Referrals in the unit and all units below it; null when suppressed (fewer than k, or hidden "
        "so that no other number reveals a small one)."
    )
    suppressed: bool = Field(description="True when the count is hidden.")


class CategoryMonthRead(BaseModel):
    """One help-request category in one month."""

    category: Category = Field(description="Help-request category.")
    total: int | None = Field(description="Referrals in the whole organisation; null when suppressed.")
    total_suppressed: bool = Field(description="True when the organisation's total is hidden.")
    units: list[UnitCellRead] = Field(
        description="Every org unit, with its subtree's count (with `nonzero_only`, those with referrals or hidden)."
    )


class MonthTrendRead(BaseModel):
    """The published cells of one calendar month."""

    month: str = Field(description="The month, YYYY-MM. Its ISO weeks are those whose Thursday falls in it.")
    first_week: date = Field(description="Monday of the month's first ISO week.")
    last_week: date = Field(description="Monday of the month's last ISO week.")
    categories: list[CategoryMonthRead] = Field(description="Categories with any referral this month.")


class TrendReportRead(BaseModel):
    """Anonymised referral counts of one client organisation, month by month."""

    tenant_id: uuid.UUID = Field(description="Client organisation.")
    period_from: date = Field(alias="from", description="First day of the first month covered.")
    period_to: date = Field(alias="to", description="Last day of the last month covered.")
    k: int = Field(description="Small-cell threshold in force: no shown number describes 1 to k-1 referrals.")
    months: list[MonthTrendRead] = Field(description="One entry per calendar month, oldest first.")

    model_config = {"populate_by_name": True}

    @classmethod
    def of(cls, report: TrendReport, *, nonzero_only: bool = False) -> TrendReportRead:
        return cls(
            tenant_id=report.tenant_id,
            period_from=report.period_from,
            period_to=report.period_to,
            k=report.k,
            months=[
                MonthTrendRead(
                    month=month.month,
                    first_week=month.first_week,
                    last_week=month.last_week,
                    categories=[
                        CategoryMonthRead(
                            category=cat.category,
                            total=cat.total,
                            total_suppressed=cat.total_suppressed,
                            units=[
                                UnitCellRead(**cell.__dict__)
                                for cell in cat.units
                                if not nonzero_only or cell.suppressed or cell.count
                            ],
                        )
                        for cat in month.categories
                    ],
                )
                for month in report.months
            ],
        )


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
    nonzero_only: Annotated[
        bool,
        Query(
            description="Leave out the unit cells that are shown as 0: a unit missing from a category's `units` had "
            "no referral in it that month. Hidden cells are always listed. A dashboard's answer shrinks to the "
            "units with referrals (profiled: most of a 50-unit report's time went into its zeros)."
        ),
    ] = False,
) -> TrendReportRead:
    """Referrals per org unit × category, per calendar month, for the months overlapping the period (at most
    36). Published on a fixed monthly grid so that overlapping queries reveal nothing new, with small cells
    and the cells that would reveal them suppressed."""
    report = await trends(
        tenant_id=tenant_id,
        period_from=period_from,
        period_to=period_to,
        principal=principal,
        uow=uow,
        default_k=runtime.settings.small_cell_k,
    )
    return TrendReportRead.of(report, nonzero_only=nonzero_only)
