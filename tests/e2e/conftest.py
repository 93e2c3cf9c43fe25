"""The whole stack as `bmw dev up` runs it (services and gateway as processes), on the session's
PostgreSQL and broker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from bmw.devstack.infra import libpq_url, service_role
from bmw.devstack.otlp import OtlpReceiver, otlp_receiver
from bmw.devstack.stack import Stack

#: Runs after every other test of the session: it scans the logs the whole run wrote.
LAST_MODULE = "test_log_scan.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the log scan to the very end, whatever else the session collected and however it was ordered."""
    last = [item for item in items if item.path.name == LAST_MODULE]
    if last:
        items[:] = [item for item in items if item.path.name != LAST_MODULE] + last


@pytest.fixture(scope="session")
def traces() -> Iterator[OtlpReceiver]:
    """Where the stack's processes export their spans (OTLP over HTTP, as in production)."""
    with otlp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def stack(infra: Any, tmp_path_factory: pytest.TempPathFactory, traces: OtlpReceiver) -> Iterator[Stack]:
    environ = dict(os.environ)
    # Tracing as configured in production, by the standard variables; sampled only where a caller's traceparent asks
    # for it (its sampled flag), so the suite's other flows export nothing and one test follows whole traces.
    environ.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
    )
    environ["BMW_DATABASE_ADMIN_URL"] = infra.postgres_admin_url
    if infra.mode != "embedded":
        environ["KAFKA_BOOTSTRAP_SERVERS"] = infra.kafka_bootstrap_servers
    else:
        # Its own embedded broker: the stack's consumer groups start from the earliest offset, and the
        # session broker's topics are full of the other suites' events (and deliberately broken records).
        environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    data_dir: Path = tmp_path_factory.mktemp("stack") / ".bmw"
    with Stack(data_dir, base_port=0, demo=True, environ=environ, partitions=infra.partitions) as running:
        yield running


@pytest.fixture(scope="session")
def personal_data() -> set[str]:
    """Personal data of test persons that no log may contain (names, e-mail addresses, phone numbers, notes).

    Tests add what they send of a person intake will not give back at the end of the session (an erased
    person's); the log scan also looks for every person intake still holds, read through the right of access.
    """
    return set()


@pytest.fixture(scope="session")
def admin_dsn(stack: Stack) -> Callable[[str], tuple[str, bool]]:
    """For a service: a libpq URL of its database that no tenant wall holds, and whether the walls must be opened.

    The server's admin (a superuser) bypasses row-level security, so a search through it misses no row; where the
    stack was given the databases instead, their owner reads every organisation's rows once it sets the
    provider-wide scope (``SET app.all_tenants = 'on'``).
    """

    def dsn(service: str) -> tuple[str, bool]:
        admin = stack.environ.get("BMW_DATABASE_ADMIN_URL") or (stack.postgres.admin_url if stack.postgres else "")
        if admin:
            parts = urlsplit(libpq_url(admin))
            return urlunsplit((parts.scheme, parts.netloc, f"/{service_role(service)}", parts.query, "")), False
        return libpq_url(stack.services[service].migration_database_url), True

    return dsn
