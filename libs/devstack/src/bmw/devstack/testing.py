"""Helpers for tests that run against real infrastructure: waiting, and reading topics."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import ClientRegistered, OrgUnit
from bmw.devstack.published import service_settings, service_spec
from bmw.devstack.pytest_plugin import DevKeys, TestInfra
from bmw.servicekit.app import create_service_app
from bmw.servicekit.db import session_factory
from bmw.servicekit.messaging import kafka_publisher
from bmw.servicekit.migrations import upgrade
from bmw.servicekit.tenants import ORG_UNITS


async def eventually(
    check: Callable[[], Awaitable[bool]],
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - a plain deadline reads better in tests than asyncio.timeout
    what: str = "condition",
) -> None:
    """Wait until ``check()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


async def read_topic(
    bootstrap: str, topic: str, *, match: Callable[[dict[str, str]], bool], idle_ms: int = 1500
) -> list[tuple[dict[str, str], bytes]]:
    """Every record of ``topic`` from the beginning whose headers satisfy ``match``.

    Reads until the topic has been idle for ``idle_ms``; records are ``(headers, value)``.
    """
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    found: list[tuple[dict[str, str], bytes]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    headers = {name: value.decode(errors="replace") for name, value in record.headers}
                    if match(headers):
                        found.append((headers, record.value or b""))
    finally:
        await consumer.stop()
    return found


@contextlib.asynccontextmanager
async def in_process(app: FastAPI, *, base_url: str = "http://service") -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (its real infrastructure) and talk to it over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class ServiceUnderTest:
    """A service app running in process on real infrastructure, with what its tests need."""

    client: httpx.AsyncClient
    #: Sessions that look at every organisation's rows (the tenant walls let them): what a test inspects.
    sessions: async_sessionmaker[AsyncSession]
    bootstrap: str
    publish: Callable[[Sequence[CloudEvent]], Awaitable[None]]
    #: The URL the service connects with (a role that owns nothing), for a test that works behind its walls.
    database_url: str = ""

    async def register_tenant(self, *unit_names: str, k_anonymity: int = 5) -> tuple[uuid.UUID, list[uuid.UUID]]:
        """Announce a client organisation as billing would, and wait until the service has applied it."""
        tenant = uuid.uuid4()
        units = [OrgUnit(id=uuid.uuid4(), name=name) for name in unit_names]
        profile = ClientRegistered(tenant_id=tenant, name="Test BV", org_units=units, k_anonymity=k_anonymity)
        await self.publish([CloudEvent.create(profile, tenant_id=tenant)])

        async def known() -> bool:
            async with self.sessions() as session:
                count = await session.scalar(select(func.count()).where(ORG_UNITS.c.tenant_id == tenant))
            return count == len(units)

        await eventually(known, what="the service to learn the client organisation from billing's event")
        return tenant, [unit.id for unit in units]


@contextlib.asynccontextmanager
async def service_under_test(
    service: str, infra: TestInfra, keys: DevKeys, **settings: Any
) -> AsyncIterator[ServiceUnderTest]:
    """Run ``bmw.<service>`` in process on the session's infrastructure, trusting ``keys``' tokens.

    Its database is ``bmw_<service>_it`` (apart from the stack's), migrated first; ``settings`` override
    the service's settings (e.g. ``consumer_backoff_seconds``). Also gives a publisher for events.
    """
    # Migrated as the database's owner; served as a role that owns nothing, as in production.
    database_url = infra.database_url(f"{service}_it")
    await asyncio.to_thread(upgrade, f"bmw.{service}.migrations", database_url)
    app_url = await asyncio.to_thread(infra.app_database_url, f"{service}_it")
    values = {
        "database_url": app_url,
        "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
        "jwt_public_key": keys.public_pem,
        **settings,
    }
    app = create_service_app(service_spec(service, service_settings(service, **values)))
    # The test's own view of the tables is the provider's: every organisation's rows (see bmw.servicekit.walls).
    engine = create_async_engine(database_url, connect_args={"server_settings": {"app.all_tenants": "on"}})
    publisher = KafkaBroker(infra.kafka_bootstrap_servers, logger=None)
    await publisher.start()
    try:
        async with in_process(app) as client:
            yield ServiceUnderTest(
                client,
                session_factory(engine),
                infra.kafka_bootstrap_servers,
                kafka_publisher(publisher),
                database_url=app_url,
            )
    finally:
        await publisher.stop()
        await engine.dispose()


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` in a Prometheus text exposition; None when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None
