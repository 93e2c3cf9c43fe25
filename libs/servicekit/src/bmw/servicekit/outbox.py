"""Transactional outbox (DESIGN §5): events are rows written with the state change, and a relay
publishes them after commit. At least once: a crash between publish and marking sent republishes,
and consumers' inboxes absorb the repeat.

The relay claims rows with ``FOR UPDATE SKIP LOCKED`` in sequence order. It never selects "ids
above the last one published": sequence values commit out of order and such rows would be skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bmw.contracts.envelope import CloudEvent
from bmw.servicekit.db import scoped_transaction
from bmw.servicekit.tables import OUTBOX
from bmw.servicekit.walls import WHOLE_SERVICE

logger = logging.getLogger(__name__)


#: Sends a batch of CloudEvents to Kafka and returns when the broker has acknowledged every one.
Publisher = Callable[[Sequence[CloudEvent]], Awaitable[None]]


async def add_to_outbox(session: AsyncSession, event: CloudEvent) -> None:
    """Write an event into the outbox of the session's (open) transaction."""
    await session.execute(
        insert(OUTBOX).values(
            id=event.id,
            topic=event.topic,
            event_type=event.type,
            tenant_id=event.tenantid,
            envelope=event.model_dump(mode="json"),
        )
    )


class OutboxRelay:
    """Publishes unsent outbox rows in batches; woken after local commits, polling as a fallback."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: Publisher,
        *,
        batch_size: int = 200,
        poll_seconds: float = 0.5,
        before_mark_sent: Callable[[Sequence[CloudEvent]], Awaitable[None]] | None = None,
        after_failure: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._publish = publish
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # A seam for fault tests: runs after publishing, before the rows are marked sent.
        self._before_mark_sent = before_mark_sent
        # Runs before the first attempt after a failed one (e.g. recreate the topics of a broker that lost them).
        self._after_failure = after_failure
        self.published_total = 0

    def notify(self) -> None:
        """Tell the relay that new rows were committed."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; returns how many were published."""
        # Behind the outbox's tenant wall, the relay's work is the whole service's: every organisation's events.
        async with scoped_transaction(self._sessions, WHOLE_SERVICE) as session:
            rows = (
                await session.execute(
                    select(OUTBOX.c.id, OUTBOX.c.envelope)
                    .where(OUTBOX.c.sent_at.is_(None))
                    .order_by(OUTBOX.c.seq)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            events = [CloudEvent.model_validate(row.envelope) for row in rows]
            ids = [row.id for row in rows]
            try:
                await self._publish(events)
            except Exception:
                await session.rollback()
                async with scoped_transaction(self._sessions, WHOLE_SERVICE) as counting:
                    await counting.execute(
                        update(OUTBOX)
                        .where(OUTBOX.c.id.in_(ids))
                        .values(publish_attempts=OUTBOX.c.publish_attempts + 1)
                    )
                raise
            if self._before_mark_sent is not None:
                await self._before_mark_sent(events)
            await session.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(sent_at=func.now()))
        self.published_total += len(rows)
        return len(rows)

    async def drain(self) -> int:
        """Publish until nothing is pending; returns the count."""
        total = 0
        while published := await self.publish_pending():
            total += published
        return total

    async def _run(self) -> None:
        backoff = self._poll_seconds
        failed = False
        while not self._stopping:
            try:
                if failed and self._after_failure is not None:
                    await self._after_failure()
                await self.drain()
                backoff = self._poll_seconds
                failed = False
            except asyncio.CancelledError:
                raise
            except Exception:  # broker or database down: keep the rows, try again with backoff
                failed = True
                logger.warning("outbox relay could not publish; retrying in %.1fs", backoff, exc_info=True)
                backoff = min(backoff * 2, 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, *, flush: bool = True) -> None:
        """Stop the loop; with flush, publish what is pending first (graceful shutdown)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=15)
            except TimeoutError:
                self._task.cancel()
            self._task = None
        if flush:
            try:
                await self.drain()
            except Exception:
                logger.warning("outbox not fully flushed at shutdown; rows stay for the next start", exc_info=True)


async def backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """Unsent rows and the creation time of the oldest one (of the organisations the transaction's scope reaches:
    the whole service's, in a job's unit of work)."""
    row = (
        await session.execute(select(func.count(), func.min(OUTBOX.c.created_at)).where(OUTBOX.c.sent_at.is_(None)))
    ).one()
    return int(row[0]), row[1]


async def mark_for_replay(session: AsyncSession, *, since: datetime) -> int:
    """Mark sent rows created since ``since`` as unsent, so the relay publishes them again (within the transaction's
    scope, as :func:`backlog`)."""
    result = await session.execute(
        update(OUTBOX).where(OUTBOX.c.created_at >= since, OUTBOX.c.sent_at.is_not(None)).values(sent_at=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune_sent(session: AsyncSession, *, keep: timedelta, batch: int = 5000) -> int:
    """Delete up to ``batch`` rows sent longer ago than the replay window ``keep`` (within the transaction's scope,
    as :func:`backlog`); never an unsent row, however old."""
    cutoff = datetime.now(UTC) - keep
    oldest = (
        select(OUTBOX.c.id)
        .where(OUTBOX.c.sent_at.is_not(None), OUTBOX.c.sent_at < cutoff)
        .order_by(OUTBOX.c.sent_at)
        .limit(batch)
    )
    result = await session.execute(delete(OUTBOX).where(OUTBOX.c.id.in_(oldest)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
