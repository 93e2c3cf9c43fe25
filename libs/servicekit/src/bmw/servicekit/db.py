"""Async SQLAlchemy engine, sessions and the per-transaction tenant context."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bmw.servicekit.settings import ServiceSettings
from bmw.servicekit.tracing import instrument_engine
from bmw.servicekit.transport import DatabaseTransport
from bmw.servicekit.walls import apply_scope, current_scope

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
    """An asyncpg engine, each statement a span (``bmw.servicekit.tracing``); pool_pre_ping so a restarted
    PostgreSQL does not need a service restart. ``transport`` (TLS, see ``bmw.servicekit.transport``) is what
    production needs; :func:`engine_for` passes the service's."""
    connect_args = transport.connect_args() if transport is not None else {}
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args=connect_args
    )
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


async def set_tenant(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Put the current tenant scope on the session's transaction, narrowed to ``tenant_id`` when given (see
    ``walls``): one statement, transaction-local, so it cannot leak to the next user of a pooled connection."""
    scope = current_scope()
    await apply_scope(session, scope.narrowed_to(tenant_id) if tenant_id else scope)


@asynccontextmanager
async def transaction(
    factory: async_sessionmaker[AsyncSession], *, tenant_id: uuid.UUID | None = None
) -> AsyncIterator[AsyncSession]:
    """A session in one transaction: committed on success, rolled back on any error."""
    async with factory() as session, session.begin():
        await set_tenant(session, tenant_id)
        yield session
