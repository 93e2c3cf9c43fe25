"""A scratch service for the kit's integration tests: its own database with the messaging tables
and a tally table, on the session's real PostgreSQL and broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import Column, Integer, Table, Text, select
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.servicekit.db import create_engine, new_metadata, session_factory
from bmw.servicekit.messaging import ConsumerGroup, EventConsumer, RetryPolicy, kafka_dead_letter, subscribe
from bmw.servicekit.tables import MESSAGING_METADATA
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

pytestmark = pytest.mark.integration

TALLY_METADATA = new_metadata()
TALLY = Table(
    "tally",
    TALLY_METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("consumer", Text, primary_key=True),
    Column("applied", Integer, nullable=False),
)


@dataclass
class Kit:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    uow: UnitOfWorkFactory
    bootstrap: str


@pytest.fixture(scope="session")
async def kit(infra) -> AsyncIterator[Kit]:  # type: ignore[no-untyped-def]
    url = infra.database_url("kittest")
    engine = create_engine(url)
    async with engine.begin() as connection:
        for metadata in (MESSAGING_METADATA, TALLY_METADATA):
            await connection.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    yield Kit(engine, sessions, UnitOfWorkFactory(sessions), infra.kafka_bootstrap_servers)
    await engine.dispose()


def referral(category: Category = Category.WORKLOAD_STRESS) -> ReferralReceived:
    return ReferralReceived(
        referral_id=uuid.uuid4(),
        channel=Channel.HR,
        org_unit_id=uuid.uuid4(),
        category=category,
        urgency=Urgency.NORMAL,
        received_at=datetime.now(UTC),
    )


async def tally(kit: Kit, tenant_id: uuid.UUID, consumer: str = "main") -> int:
    async with kit.sessions() as session:
        value = await session.scalar(
            select(TALLY.c.applied).where(TALLY.c.tenant_id == tenant_id, TALLY.c.consumer == consumer)
        )
    return int(value or 0)


def tally_group(name: str, *, label: str = "main", poison: Category | None = None) -> ConsumerGroup:
    """A consumer group that counts ReferralReceived per tenant, and fails forever on ``poison``."""
    group = ConsumerGroup(name=name, topics=("bmw.intake.events",))

    @group.on(ReferralReceived)
    async def count(uow: UnitOfWork, event: CloudEvent, data: ReferralReceived) -> None:
        if poison is not None and data.category is poison:
            raise ValueError("this handler cannot process the poison category")
        await uow.session.execute(
            insert(TALLY)
            .values(tenant_id=event.tenantid, consumer=label, applied=1)
            .on_conflict_do_update(
                index_elements=[TALLY.c.tenant_id, TALLY.c.consumer], set_={"applied": TALLY.c.applied + 1}
            )
        )

    return group


@pytest.fixture
async def running_consumers(kit: Kit) -> AsyncIterator[Callable[..., Awaitable[EventConsumer]]]:
    """Start consumer groups on real FastStream brokers; all are stopped after the test."""
    brokers: list[KafkaBroker] = []

    async def start(group: ConsumerGroup, retry: RetryPolicy | None = None) -> EventConsumer:
        broker = KafkaBroker(kit.bootstrap, logger=None)
        consumer = EventConsumer(group, kit.uow, kafka_dead_letter(broker, group.name), retry or RetryPolicy())
        subscribe(broker, consumer)
        await broker.start()
        brokers.append(broker)
        return consumer

    yield start
    for broker in brokers:
        await broker.stop()


@pytest.fixture
async def publisher_broker(kit: Kit) -> AsyncIterator[KafkaBroker]:
    """A started broker client to publish with (stopped after the test)."""
    broker = KafkaBroker(kit.bootstrap, logger=None)
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
def helpers() -> SimpleNamespace:
    """The helpers above (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(referral=referral, tally=tally, tally_group=tally_group)
