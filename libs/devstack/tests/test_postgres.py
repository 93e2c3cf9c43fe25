"""Embedded PostgreSQL and per-service databases."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bmw.devstack.infra import EmbeddedPostgres, libpq_url, service_database_url
from bmw.devstack.pytest_plugin import TestInfra


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    # Outside /tmp/pytest-of-root: as root, embedded PostgreSQL makes every parent directory world-traversable.
    path = Path(tempfile.mkdtemp(prefix="bmw-pg-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


async def create_and_use_table(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS referral (id serial PRIMARY KEY, channel text)"))
            await conn.execute(text("INSERT INTO referral (channel) VALUES ('self')"))
            rows = await conn.execute(text("SELECT current_user, channel FROM referral"))
            return [f"{user}:{channel}" for user, channel in rows]
    finally:
        await engine.dispose()


def test_service_database_url_keeps_host_and_query() -> None:
    admin = "postgresql://postgres:@/postgres?host=/tmp/x/data"
    assert service_database_url(admin, "intake") == "postgresql+asyncpg://bmw_intake@/bmw_intake?host=/tmp/x/data"
    assert (
        service_database_url("postgresql+psycopg://test:test@db:5433/test", "billing", password="p@ss")
        == "postgresql+asyncpg://bmw_billing:p%40ss@db:5433/bmw_billing"
    )
    assert libpq_url("postgresql+asyncpg://a@/b?host=/x") == "postgresql://a@/b?host=/x"
    with pytest.raises(ValueError, match="invalid service name"):
        service_database_url(admin, "Intake; DROP")


@pytest.mark.integration
def test_embedded_postgres_service_database(short_tmp: Path) -> None:
    with EmbeddedPostgres(short_tmp / "pgdata") as pg:
        socket_dir = pg.socket_dir
        assert pg.admin_url == f"postgresql://postgres:@/postgres?host={socket_dir}"
        url = pg.create_service_database("intake")
        assert url == f"postgresql+asyncpg://bmw_intake@/bmw_intake?host={socket_dir}"
        assert pg.create_service_database("intake") == url  # idempotent
        assert asyncio.run(create_and_use_table(url)) == ["bmw_intake:self"]

        with psycopg.connect(pg.admin_url) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'bmw_intake'"
            ).fetchone()
            version = conn.execute("SHOW server_version_num").fetchone()
        assert owner == ("bmw_intake",)
        assert version is not None and int(version[0]) >= 180000

        # Another service's role may not even connect to this database.
        pg.create_service_database("billing")
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(libpq_url(url).replace("bmw_intake@", "bmw_billing@"))
        postmaster = short_tmp / "pgdata" / "postmaster.pid"
        pid = int(postmaster.read_text().split()[0])
    assert not running(pid)


@pytest.mark.integration
def test_infra_fixture_provisions_databases(infra: TestInfra) -> None:
    url = infra.database_url("scheduling")
    assert infra.database_url("scheduling") == url
    assert url.startswith("postgresql+asyncpg://bmw_scheduling")
    assert asyncio.run(create_and_use_table(url)) == ["bmw_scheduling:self"]
    fresh = infra.database_url("scheduling", fresh=True)
    assert asyncio.run(create_and_use_table(fresh)) == ["bmw_scheduling:self"]  # the old rows are gone
