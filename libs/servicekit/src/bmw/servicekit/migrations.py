"""Alembic wiring: each service keeps its migrations in ``bmw/<service>/migrations`` and runs them
with its own URL; env.py calls :func:`run_env`."""

from __future__ import annotations

import asyncio
from importlib.resources import files

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bmw.servicekit.transport import DatabaseTransport


def alembic_config(migrations_package: str, database_url: str) -> Config:
    """An Alembic config pointing at a package's migrations, without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(files(migrations_package)))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(
    migrations_package: str, database_url: str, revision: str = "head", *, transport: DatabaseTransport | None = None
) -> None:
    """Bring a service's schema to ``revision`` (default: the newest), connecting with ``transport``'s TLS."""
    config = alembic_config(migrations_package, database_url)
    if transport is not None:
        # Handed to env.py (run_env) through the config: the URL alone cannot carry an SSLContext.
        config.attributes["connect_args"] = transport.connect_args()
    command.upgrade(config, revision)


def run_env(target_metadata: MetaData | list[MetaData]) -> None:
    """The body of every service's env.py: online migrations over asyncpg."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        # A migration that moves data works on every organisation's rows: the tenant walls (see ``walls``) let it.
        connection.exec_driver_sql("SELECT set_config('app.all_tenants', 'on', false)")
        connection.commit()  # session-level: it outlives this statement's transaction; alembic opens its own
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        connect_args = context.config.attributes.get("connect_args", {})
        engine = create_async_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
