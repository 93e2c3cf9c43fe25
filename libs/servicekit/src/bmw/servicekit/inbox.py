"""Inbox (idempotent consumer): a consumer group records each event id in the same transaction as
its effects, so a redelivered event is recognised and skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.envelope import CloudEvent
from bmw.servicekit.tables import INBOX


async def claim(session: AsyncSession, consumer_group: str, event: CloudEvent) -> bool:
    """Record the event for this group; False if the group has already applied it."""
    result = await session.execute(
        insert(INBOX)
        .values(consumer_group=consumer_group, event_id=event.id, event_type=event.type, tenant_id=event.tenantid)
        .on_conflict_do_nothing(index_elements=[INBOX.c.consumer_group, INBOX.c.event_id])
        .returning(INBOX.c.event_id)
    )
    return result.first() is not None


async def prune_applied(session: AsyncSession, *, keep: timedelta, batch: int = 5000) -> int:
    """Forget up to ``batch`` applied events older than ``keep`` (within the transaction's scope: the whole
    service's, in the housekeeping job); returns how many."""
    cutoff = datetime.now(UTC) - keep
    oldest = (
        select(INBOX.c.consumer_group, INBOX.c.event_id)
        .where(INBOX.c.processed_at < cutoff)
        .order_by(INBOX.c.processed_at)
        .limit(batch)
    )
    result = await session.execute(delete(INBOX).where(tuple_(INBOX.c.consumer_group, INBOX.c.event_id).in_(oldest)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
