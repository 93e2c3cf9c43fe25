"""Pooled connections that PostgreSQL closed (a restart, a fail-over, an idle timeout) cost no caller an error.

The engine does not ping before each transaction (three round trips with asyncpg); instead a transaction whose first
statement meets a dead connection starts again on a new one (``bmw.servicekit.db.begin_scoped``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bmw.contracts.envelope import CloudEvent
from bmw.servicekit.db import create_engine, session_factory, transaction
from bmw.servicekit.outbox import OutboxRelay
from bmw.servicekit.tables import MESSAGING_METADATA, OUTBOX
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import WHOLE_SERVICE, scoped

pytestmark = pytest.mark.integration

POOL = 3


@pytest.fixture
async def sessions(infra: Any) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A database and a pool of their own, so that killing the pool's connections touches no other test."""
    engine = create_engine(infra.database_url("deadconns"), pool_size=POOL)
    async with engine.begin() as connection:
        await connection.run_sync(MESSAGING_METADATA.create_all)
    yield session_factory(engine)
    await engine.dispose()


async def pooled_pids(sessions: async_sessionmaker[AsyncSession]) -> set[int]:
    """Fill the pool (POOL transactions at once) and return the server pids of its connections."""
    uow = UnitOfWorkFactory(sessions)
    held = asyncio.Event()

    async def one() -> int:
        async with uow() as work:
            pid = int(await work.session.scalar(text("SELECT pg_backend_pid()")) or 0)
            await held.wait()
            return pid

    tasks = [asyncio.create_task(one()) for _ in range(POOL)]
    await asyncio.sleep(0.3)
    held.set()
    return set(await asyncio.gather(*tasks))


def terminate(infra: Any, pids: set[int]) -> None:
    """What a PostgreSQL restart does to a pool: every one of its connections closed by the server."""
    with psycopg.connect(infra.postgres_admin_url, autocommit=True) as admin:
        killed = admin.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest(%s::int[]) pid",
                               [sorted(pids)]).fetchone()  # fmt: skip
        assert killed == (len(pids),)


async def test_a_unit_of_work_on_a_pool_of_dead_connections_starts_again_on_a_new_one(
    infra: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await pooled_pids(sessions)
    assert len(before) == POOL
    terminate(infra, before)

    tenant = uuid.uuid4()
    uow = UnitOfWorkFactory(sessions)
    with scoped(WHOLE_SERVICE):
        async with uow(tenant_id=tenant) as work:
            pid = await work.session.scalar(text("SELECT pg_backend_pid()"))
            scope = await work.session.scalar(text("SELECT current_setting('app.tenant_ids', true)"))
            await work.commit()
    assert pid not in before, "a new connection"
    assert scope == f"{{{tenant}}}", "the scope was put on the transaction that ran"
    after = await pooled_pids(sessions)
    assert not after & before, "the pool dropped every connection as old as the dead one, not only the first"


async def test_the_outbox_relay_and_a_plain_transaction_carry_on_after_the_pool_died(
    infra: Any, sessions: async_sessionmaker[AsyncSession], helpers: Any
) -> None:
    tenant = uuid.uuid4()
    async with UnitOfWorkFactory(sessions)(tenant_id=tenant) as work:
        event = await work.emit(helpers.referral(), tenant_id=tenant)
        await work.commit()
    terminate(infra, await pooled_pids(sessions))
    published: list[uuid.UUID] = []

    async def publish(events: Sequence[CloudEvent]) -> None:
        published.extend(each.id for each in events)

    assert await OutboxRelay(sessions, publish).publish_pending() >= 1
    assert event.id in published

    terminate(infra, await pooled_pids(sessions))
    with scoped(WHOLE_SERVICE):
        async with transaction(sessions) as session:
            sent_at = await session.scalar(select(OUTBOX.c.sent_at).where(OUTBOX.c.id == event.id))
    assert sent_at is not None, "the relay's transaction committed: the row is marked sent"


async def test_a_connection_the_database_refuses_is_an_error_not_tried_again(infra: Any) -> None:
    url = infra.database_url("deadconns")
    engine = create_engine(url.replace("deadconns", f"no_such_database_{uuid.uuid4().hex[:6]}"))
    try:
        with pytest.raises(DBAPIError):
            async with UnitOfWorkFactory(session_factory(engine))():
                pass
    finally:
        await engine.dispose()
