"""Reading and updating the weekly aggregates."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.signals.adapters.tables import WEEKLY_COUNTS


async def count_referral(
    session: AsyncSession, *, tenant_id: uuid.UUID, org_unit_id: uuid.UUID, category: str, week: date
) -> None:
    """Add one referral to its week's cell (an upsert, safe under concurrency)."""
    statement = insert(WEEKLY_COUNTS).values(
        tenant_id=tenant_id, org_unit_id=org_unit_id, category=category, week_start=week, referrals=1
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[
                WEEKLY_COUNTS.c.tenant_id,
                WEEKLY_COUNTS.c.org_unit_id,
                WEEKLY_COUNTS.c.category,
                WEEKLY_COUNTS.c.week_start,
            ],
            set_={"referrals": WEEKLY_COUNTS.c.referrals + 1},
        )
    )


async def referral_totals(
    session: AsyncSession, *, tenant_id: uuid.UUID, first_week: date, last_week: date
) -> list[tuple[uuid.UUID, str, int]]:
    """Referrals per org unit × category over the weeks starting in [first_week, last_week]."""
    rows = await session.execute(
        select(WEEKLY_COUNTS.c.org_unit_id, WEEKLY_COUNTS.c.category, func.sum(WEEKLY_COUNTS.c.referrals))
        .where(
            WEEKLY_COUNTS.c.tenant_id == tenant_id,
            WEEKLY_COUNTS.c.week_start >= first_week,
            WEEKLY_COUNTS.c.week_start <= last_week,
        )
        .group_by(WEEKLY_COUNTS.c.org_unit_id, WEEKLY_COUNTS.c.category)
        .order_by(WEEKLY_COUNTS.c.org_unit_id, WEEKLY_COUNTS.c.category)
    )
    return [(row[0], row[1], int(row[2])) for row in rows]
