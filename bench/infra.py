"""The infrastructure a benchmark runs on: embedded PostgreSQL 18 and Tansu in a temporary directory.

Both are stopped when the ``with`` block ends, also on Ctrl-C or an error, and the directory is removed.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bmw.devstack.infra import EmbeddedBroker, EmbeddedPostgres, create_topics

logger = logging.getLogger(__name__)

#: The scratch database (``bmw_bench``, owned by the role of the same name).
SERVICE = "bench"


@dataclass(frozen=True)
class Infrastructure:
    """Where the benchmark's database and broker answer."""

    database_url: str
    bootstrap_servers: str
    workdir: Path
    postgres_version: str


@contextlib.contextmanager
def embedded_infrastructure(*, topics: Iterable[str], partitions: int) -> Iterator[Infrastructure]:
    """Start PostgreSQL and the broker in a temporary directory, create ``topics``; stop both on exit."""
    with tempfile.TemporaryDirectory(prefix="bmw-bench-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        with (
            EmbeddedPostgres(workdir / "postgres") as postgres,
            EmbeddedBroker(log_path=workdir / "broker.log") as broker,
        ):
            database_url = postgres.create_service_database(SERVICE)
            with psycopg.connect(postgres.admin_url) as connection:
                row = connection.execute("SHOW server_version").fetchone()
            create_topics(broker.bootstrap_servers, topics, partitions)
            yield Infrastructure(
                database_url=database_url,
                bootstrap_servers=broker.bootstrap_servers,
                workdir=workdir,
                postgres_version=str(row[0]) if row else "unknown",
            )
