"""Storing signals: raised once per (tenant, unit, kind, week), resolved once."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.signals.adapters.tables import SIGNALS


async def insert_signal(session: AsyncSession, values: dict[str, Any]) -> Row[Any] | None:
    """Insert a signal; None when the same unit × kind × week is already stored (a replay, a second run)."""
    result = await session.execute(insert(SIGNALS).values(**values).on_conflict_do_nothing().returning(SIGNALS))
    row: Row[Any] | None = result.first()
    return row


async def open_signals(session: AsyncSession, tenant_id: uuid.UUID) -> list[Row[Any]]:
    rows = await session.execute(
        select(SIGNALS).where(SIGNALS.c.tenant_id == tenant_id, SIGNALS.c.status == "open").with_for_update()
    )
    return list(rows)


async def last_resolved_weeks(session: AsyncSession, tenant_id: uuid.UUID) -> dict[tuple[uuid.UUID | None, str], date]:
    """The latest resolution week per (unit, kind): the start of each cool-down."""
    rows = await session.execute(
        select(SIGNALS.c.org_unit_id, SIGNALS.c.kind, func.max(SIGNALS.c.resolved_week))
        .where(SIGNALS.c.tenant_id == tenant_id, SIGNALS.c.status == "resolved")
        .group_by(SIGNALS.c.org_unit_id, SIGNALS.c.kind)
    )
    return {(row[0], row[1]): row[2] for row in rows}


async def resolve_signal(session: AsyncSession, signal_id: uuid.UUID, week: date) -> Row[Any] | None:
    result = await session.execute(
        update(SIGNALS)
        .where(SIGNALS.c.id == signal_id, SIGNALS.c.status == "open")
        .values(status="resolved", resolved_week=week, updated_at=func.now())
        .returning(SIGNALS)
    )
    row: Row[Any] | None = result.first()
    return row


async def update_open_signal(
    session: AsyncSession, signal_id: uuid.UUID, *, score: float, evidence: dict[str, Any]
) -> None:
    """Newer evidence for a signal still open in the week it was raised (a bundle going from 80 % to 100 %)."""
    await session.execute(
        update(SIGNALS)
        .where(SIGNALS.c.id == signal_id, SIGNALS.c.status == "open")
        .values(score=score, evidence=evidence, updated_at=func.now())
    )


async def episodes(session: AsyncSession, tenant_id: uuid.UUID) -> list[Any]:
    """Every signal of the tenant not dismissed as a false alarm: its unit, kind, weeks and resolution."""
    rows = await session.execute(
        select(
            SIGNALS.c.org_unit_id,
            SIGNALS.c.kind,
            SIGNALS.c.raised_week,
            SIGNALS.c.resolved_week,
            SIGNALS.c.evidence["weeks"].label("weeks"),
        ).where(SIGNALS.c.tenant_id == tenant_id, SIGNALS.c.review_status != "dismissed")
    )
    return list(rows.all())
