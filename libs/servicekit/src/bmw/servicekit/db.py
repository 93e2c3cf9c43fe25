"""Async SQLAlchemy engine, sessions and the per-transaction tenant context."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

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


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine; pool_pre_ping so a restarted PostgreSQL does not need a service restart."""
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


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
