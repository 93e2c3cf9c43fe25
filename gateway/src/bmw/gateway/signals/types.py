"""GraphQL types of anonymised trends."""

from __future__ import annotations

import logging
from datetime import date

import strawberry

from bmw.gateway.clients import TrendCellBody, TrendReportBody, TrendUnitBody
from bmw.gateway.taxonomy import Category

logger = logging.getLogger(__name__)


@strawberry.type(description="Referrals of one org unit (with every unit below it) in one category and calendar month.")
class TrendCell:
    month: str = strawberry.field(
        description="The month, YYYY-MM; its ISO weeks are those whose Thursday falls in it. Counts are published "
        "per month only, so that overlapping periods reveal nothing."
    )
    org_unit_id: strawberry.ID = strawberry.field(description="The org unit.")
    parent_id: strawberry.ID | None = strawberry.field(description="Its parent in the org tree; null at the top.")
    org_unit_name: str | None = strawberry.field(
        description="Its name, from the client organisation's profile; null if not known yet."
    )
    category: Category = strawberry.field(description="Help request category.")
    count: int | None = strawberry.field(description="Number of referrals; null when suppressed (fewer than k people).")
    suppressed: bool = strawberry.field(description="True when the count describes fewer than k people and is hidden.")

    @classmethod
    def of_unit(cls, month: str, category: Category, unit: TrendUnitBody, k: int) -> TrendCell:
        """A cell straight from signals' answer (no intermediate model per cell: a report has hundreds), suppressed
        again here if it describes fewer than k people (see :meth:`of`)."""
        count = unit.count
        small = count is not None and 0 < count < k
        if small and not unit.suppressed:
            logger.warning("signals sent an unsuppressed cell below k=%d; suppressed it", k)
        suppressed = unit.suppressed or small
        return cls(
            month=month,
            org_unit_id=strawberry.ID(str(unit.org_unit_id)),
            parent_id=strawberry.ID(str(unit.parent_id)) if unit.parent_id else None,
            org_unit_name=unit.org_unit_name,
            category=category,
            count=None if suppressed else count,
            suppressed=suppressed,
        )

    @classmethod
    def of(cls, body: TrendCellBody, k: int) -> TrendCell:
        """A cell from signals' answer, suppressed again here if it describes fewer than k people.

        Signals suppresses small cells; the gateway does not rely on it alone (DESIGN §2 rule 2).
        """
        small = body.count is not None and 0 < body.count < k
        if small and not body.suppressed:
            logger.warning("signals sent an unsuppressed cell below k=%d; suppressed it", k)
        suppressed = body.suppressed or small
        return cls(
            month=body.month,
            org_unit_id=strawberry.ID(str(body.org_unit_id)),
            parent_id=strawberry.ID(str(body.parent_id)) if body.parent_id else None,
            org_unit_name=body.org_unit_name,
            category=body.category,
            count=None if suppressed else body.count,
            suppressed=suppressed,
        )


@strawberry.type(
    description="Anonymised referral counts of one client organisation per month, org unit and category; small "
    "cells, and cells that would reveal them, are suppressed."
)
class TrendReport:
    tenant_id: strawberry.ID = strawberry.field(description="Client organisation.")
    from_: date = strawberry.field(name="from", description="First day of the first month covered.")
    to: date = strawberry.field(description="Last day of the last month covered.")
    k: int = strawberry.field(description="Small-cell threshold in force: counts from 1 to k-1 are suppressed.")
    cells: list[TrendCell] = strawberry.field(
        description="One cell per month, org unit and category with referrals (a unit's count includes the units "
        "below it); cells without referrals are left out."
    )

    @classmethod
    def of(cls, body: TrendReportBody) -> TrendReport:
        """A report from signals' answer."""
        return cls(
            tenant_id=strawberry.ID(str(body.tenant_id)),
            from_=body.period_from,
            to=body.period_to,
            k=body.k,
            cells=[TrendCell.of_unit(month, category, unit, body.k) for month, category, unit in body.shown()],
        )
