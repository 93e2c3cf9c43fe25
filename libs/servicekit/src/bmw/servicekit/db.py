"""Async SQLAlchemy engine, sessions and the per-transaction tenant context."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bmw.servicekit.settings import ServiceSettings
from bmw.servicekit.tracing import instrument_engine
from bmw.servicekit.transport import DatabaseTransport
from bmw.servicekit.walls import TenantScope, apply_scope, current_scope

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with stable constraint names, so migrations stay reviewable."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(url: str, *, pool_size: int = 10, transport: DatabaseTransport | None = None) -> AsyncEngine:
    """An asyncpg engine, each statement a span (``bmw.servicekit.tracing``). ``transport`` (TLS, see
    ``bmw.servicekit.transport``) is what production needs; :func:`engine_for` passes the service's.

    No ``pool_pre_ping``: with asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) before every
    transaction, about 0.6 ms of CPU each. A restarted PostgreSQL still needs no service restart: every transaction
    starts in :func:`begin_scoped`, which tries its first statement once more on a fresh connection when the pooled
    one turns out dead (and the pool then drops every connection as old)."""
    connect_args = transport.connect_args() if transport is not None else {}
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args)
    instrument_engine(engine.sync_engine)
    return engine


def engine_for(settings: ServiceSettings, *, pool_size: int | None = None) -> AsyncEngine:
    """The engine of a service process (server or CLI job): its URL, pool size and database TLS from its settings.
    Use this rather than :func:`create_engine` so that no job connects in the clear where the service does not."""
    return create_engine(
        settings.database_url,
        pool_size=pool_size or settings.database_pool_size,
        transport=settings.database_transport(),
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def scope_for(tenant_id: uuid.UUID | None) -> TenantScope:
    """The current tenant scope (see ``walls``), narrowed to ``tenant_id`` when given."""
    scope = current_scope()
    return scope.narrowed_to(tenant_id) if tenant_id else scope


async def set_tenant(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Put the current tenant scope on the session's transaction, narrowed to ``tenant_id`` when given (see
    ``walls``): one statement, transaction-local, so it cannot leak to the next user of a pooled connection."""
    await apply_scope(session, scope_for(tenant_id))


async def begin_scoped(factory: async_sessionmaker[AsyncSession], scope: TenantScope) -> AsyncSession:
    """A new session in an open transaction whose first statement put ``scope`` on it; the caller commits or rolls
    back, and closes it.

    A pooled connection that PostgreSQL closed since its last use (a restart, a fail-over, an idle timeout) fails
    that first statement, before anything was done: SQLAlchemy then drops it and every pooled connection as old, and
    the transaction starts once more on a new one. A second failure is the database being away: it is raised."""
    for attempt in (1, 2):
        session = factory()
        try:
            await session.begin()
            await apply_scope(session, scope)
        except DBAPIError as error:
            await session.close()
            if error.connection_invalidated and attempt == 1:
                continue
            raise
        except BaseException:
            await session.close()
            raise
        return session
    raise AssertionError("unreachable: the second attempt returns or raises")


@asynccontextmanager
async def scoped_transaction(
    factory: async_sessionmaker[AsyncSession], scope: TenantScope
) -> AsyncIterator[AsyncSession]:
    """A session in one transaction carrying ``scope``: committed on success, rolled back on any error."""
    session = await begin_scoped(factory, scope)
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


def transaction(
    factory: async_sessionmaker[AsyncSession], *, tenant_id: uuid.UUID | None = None
) -> AbstractAsyncContextManager[AsyncSession]:
    """A session in one transaction in the current tenant scope (narrowed to ``tenant_id`` when given): committed
    on success, rolled back on any error."""
    return scoped_transaction(factory, scope_for(tenant_id))
