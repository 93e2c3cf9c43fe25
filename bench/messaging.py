"""Benchmark of the messaging backbone (DESIGN §5): outbox writes, the relay, the idempotent consumer and the
end-to-end latency, each next to raw aiokafka on the same broker in the same run.

The throughput phases run one at a time in this process's event loop, so a phase has both cores to itself
apart from the broker and PostgreSQL. Consumer throughput is counted from the moment a consumer owns its
partitions (group joined) to the moment the last record is read or applied, so group joins are left out of
both subject and baseline. The latency phase runs the consumer in its own process (``bench.consumer_process``),
as a deployment would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import statistics
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing.process import BaseProcess
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from rich.progress import Progress, TaskID
from sqlalchemy import Column, Date, Integer, Table, Text, func, select, text
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from bench.suite import Figure
from bmw.contracts.envelope import CloudEvent, dlq_topic, topic_for
from bmw.contracts.events.intake import ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.servicekit.context import FlowContext, reset_flow, set_flow
from bmw.servicekit.db import create_engine, new_metadata, session_factory
from bmw.servicekit.messaging import (
    ConsumerGroup,
    EventConsumer,
    Outcome,
    RetryPolicy,
    kafka_dead_letter,
    kafka_publisher,
    subscribe,
)
from bmw.servicekit.outbox import OutboxRelay, mark_for_replay
from bmw.servicekit.tables import INBOX, MESSAGING_METADATA, OUTBOX
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)

#: The topic the outbox publishes ReferralReceived to (derived from the event type, as in the services).
SUBJECT_TOPIC = topic_for(ReferralReceived.event_type)
#: Where the raw producer baseline writes (the same partition count, no consumer reads it).
BASELINE_TOPIC = "bench.baseline.events"
#: Raw producer → raw consumer latency baselines, one topic per offered rate.
LATENCY_BASELINE_TOPICS = ("bench.latency.1.events", "bench.latency.2.events")
#: Producers' first send (connection, metadata) goes here, outside the timings.
WARMUP_TOPIC = "bench.warmup"

TOPICS = (SUBJECT_TOPIC, dlq_topic(SUBJECT_TOPIC), BASELINE_TOPIC, *LATENCY_BASELINE_TOPICS, WARMUP_TOPIC)

#: The consumer group under test (its Kafka group id and its inbox name).
SUBJECT_GROUP = "bench-signals-trends"

#: The SQL the kit sends, written out for the raw-asyncpg floors.
SET_TENANT_SQL = (  # the tenant scope of bmw.servicekit.walls, narrowed to one organisation
    "SELECT set_config('app.all_tenants', 'off', true), set_config('app.tenant_ids', '{' || $1 || '}', true), "
    "set_config('app.caller', '', true)"
)
OUTBOX_INSERT_SQL = "INSERT INTO outbox (id, topic, event_type, tenant_id, envelope) VALUES ($1, $2, $3, $4, $5::jsonb)"
INBOX_CLAIM_SQL = (
    "INSERT INTO inbox (consumer_group, event_id, event_type, tenant_id) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (consumer_group, event_id) DO NOTHING RETURNING event_id"
)
FLOOR_UPSERT_SQL = (
    "INSERT INTO bench_weekly_referral_counts_floor AS counts "
    "(tenant_id, org_unit_id, category, week_start, referrals) VALUES ($1, $2, $3, $4, 1) "
    "ON CONFLICT (tenant_id, org_unit_id, category, week_start) "
    "DO UPDATE SET referrals = counts.referrals + 1"
)

#: A consumer that stops making progress for this long fails the run rather than hanging it.
STALL_SECONDS = 60.0


@dataclass(frozen=True)
class Settings:
    """What one run measures."""

    events: int = 20_000
    single_events: int = 2_000
    events_per_transaction: int = 100
    latency_events: int = 500
    latency_rate: float = 100.0
    latency_low_events: int = 100
    latency_low_rate: float = 10.0
    partitions: int = 12
    tenants: int = 50
    org_units_per_tenant: int = 8
    relay_batch_size: int = 200  # the services' default (BMW_OUTBOX_BATCH_SIZE)
    quick: bool = False


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    latency_samples_ms: dict[str, list[float]] = field(default_factory=dict)


# -- the workload -------------------------------------------------------------------------------------------


#: Signals' weekly aggregate, re-declared here so the benchmark does not depend on a service's code.
BENCH_METADATA = new_metadata()
WEEKLY_COUNTS = Table(
    "bench_weekly_referral_counts",
    BENCH_METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("org_unit_id", UUID(as_uuid=True), primary_key=True),
    Column("category", Text, primary_key=True),
    Column("week_start", Date, primary_key=True),
    Column("referrals", Integer, nullable=False),
)
#: The same aggregate for the raw-asyncpg floor, so that the subject's counts stay checkable.
WEEKLY_COUNTS_FLOOR = Table(
    "bench_weekly_referral_counts_floor",
    BENCH_METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("org_unit_id", UUID(as_uuid=True), primary_key=True),
    Column("category", Text, primary_key=True),
    Column("week_start", Date, primary_key=True),
    Column("referrals", Integer, nullable=False),
)


class Workload:
    """ReferralReceived events spread over tenants, org units, categories and a year of weeks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tenants = [uuid.uuid4() for _ in range(settings.tenants)]
        self.org_units = {t: [uuid.uuid4() for _ in range(settings.org_units_per_tenant)] for t in self.tenants}
        self._epoch = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
        self._categories = list(Category)
        self._channels = list(Channel)
        self._urgencies = list(Urgency)

    def tenant(self, index: int) -> uuid.UUID:
        return self.tenants[index % len(self.tenants)]

    def referral(self, index: int, tenant_id: uuid.UUID) -> ReferralReceived:
        units = self.org_units[tenant_id]
        return ReferralReceived(
            referral_id=uuid.uuid4(),
            channel=self._channels[index % len(self._channels)],
            org_unit_id=units[index % len(units)],
            category=self._categories[index % len(self._categories)],
            urgency=self._urgencies[index % len(self._urgencies)],
            received_at=self._epoch + timedelta(minutes=37 * index % (365 * 24 * 60)),
        )

    def batches(self, events: int, per_transaction: int) -> list[tuple[uuid.UUID, list[ReferralReceived]]]:
        """Transactions of ``per_transaction`` events, each of one tenant, as one request would write them."""
        batches = []
        for number, first in enumerate(range(0, events, per_transaction)):
            tenant_id = self.tenant(number)
            size = min(per_transaction, events - first)
            batches.append((tenant_id, [self.referral(first + i, tenant_id) for i in range(size)]))
        return batches


def request_flow() -> FlowContext:
    """The flow context an HTTP request gets from the middleware: its ids travel as event headers."""
    request_id = uuid.uuid4().hex
    return FlowContext(
        correlation_id=request_id,
        causation_id=f"request:{request_id}",
        traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
        request_id=request_id,
    )


def raw_records(
    batches: Sequence[tuple[uuid.UUID, list[ReferralReceived]]],
) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """Key, value and headers of exactly what the outbox would publish, built before any timing starts."""
    records = []
    for tenant_id, payloads in batches:
        flow = request_flow()
        for payload in payloads:
            event = CloudEvent.create(
                payload,
                tenant_id=tenant_id,
                subject=str(payload.referral_id),
                correlation_id=flow.correlation_id,
                causation_id=flow.causation_id,
                traceparent=flow.traceparent,
            )
            headers = [(name, value.encode()) for name, value in event.kafka_headers().items()]
            records.append((event.kafka_key(), event.kafka_value(), headers))
    return records


async def count_referral(session: AsyncSession, event: CloudEvent, data: ReferralReceived) -> None:
    """Signals' weekly count: one upsert per event."""
    local = data.received_at.date()
    week: date = local - timedelta(days=local.weekday())
    statement = insert(WEEKLY_COUNTS).values(
        tenant_id=event.tenantid,
        org_unit_id=data.org_unit_id,
        category=data.category.value,
        week_start=week,
        referrals=1,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[
                WEEKLY_COUNTS.c.tenant_id,
                WEEKLY_COUNTS.c.org_unit_id,
                WEEKLY_COUNTS.c.category,
                WEEKLY_COUNTS.c.week_start,
            ],
            set_={"referrals": WEEKLY_COUNTS.c.referrals + 1},
        )
    )


def trends_group() -> ConsumerGroup:
    """A consumer group like signals' trends: ReferralReceived → weekly count upsert."""
    group = ConsumerGroup(SUBJECT_GROUP, (SUBJECT_TOPIC,))

    @group.on(ReferralReceived)
    async def record_referral(uow: UnitOfWork, event: CloudEvent, data: ReferralReceived) -> None:
        await count_referral(uow.session, event, data)

    return group


@dataclass
class ConsumerReports:
    """What the consumer process reported: event id → ``time.monotonic()`` of its commit (or receipt)."""

    description: str
    process: BaseProcess
    times: dict[str, float] = field(default_factory=dict)
    ready: bool = False
    failure: str | None = None

    def _check(self) -> None:
        if self.failure is not None or not self.process.is_alive():
            raise RuntimeError(
                f"{self.description}: the consumer process failed: {self.failure or self.process.exitcode}"
            )

    def ready_count(self) -> int:
        self._check()
        return int(self.ready)

    def count(self) -> int:
        self._check()
        return len(self.times)


# -- helpers ------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def tracked(progress: Progress, description: str, total: int, count: Callable[[], int]) -> AsyncIterator[TaskID]:
    """A progress bar that follows ``count()`` ten times a second (never from inside a timed loop)."""
    task_id = progress.add_task(description, total=total)

    async def tick() -> None:
        while True:
            progress.update(task_id, completed=min(count(), total))
            await asyncio.sleep(0.1)

    ticker = asyncio.create_task(tick())
    try:
        yield task_id
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        progress.update(task_id, completed=min(count(), total))


async def wait_for_assignment(consumer: AIOKafkaConsumer, partitions: int, what: str) -> float:
    """Poll (1 ms) until the consumer owns ``partitions`` partitions; returns that moment."""
    deadline = time.monotonic() + STALL_SECONDS
    while len(consumer.assignment()) < partitions:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: no partition assignment after {STALL_SECONDS:.0f} s")
        await asyncio.sleep(0.001)
    return time.perf_counter()


async def wait_for_count(count: Callable[[], int], target: int, what: str, *, poll: float = 0.002) -> float:
    """Poll until ``count()`` reaches ``target``; returns the moment it was seen. Fails on a stall."""
    last, last_change = count(), time.monotonic()
    while (current := count()) < target:
        now = time.monotonic()
        if current != last:
            last, last_change = current, now
        elif now - last_change > STALL_SECONDS:
            raise RuntimeError(f"{what}: stuck at {current} of {target} for {STALL_SECONDS:.0f} s")
        await asyncio.sleep(poll)
    return time.perf_counter()


def subscriber_consumer(broker: KafkaBroker) -> AIOKafkaConsumer:
    """The aiokafka consumer behind the broker's only subscriber (to see when its group join is done)."""
    (subscriber,) = broker.subscribers
    consumer = getattr(subscriber, "consumer", None)
    if consumer is None:
        raise RuntimeError("the subscriber has not started")
    return consumer


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50": cuts[49],
        "p95": cuts[94],
        "p99": cuts[98],
        "mean": statistics.fmean(samples),
        "max": max(samples),
    }


# -- the phases ---------------------------------------------------------------------------------------------


class MessagingBenchmark:
    """Runs the phases in order on one database and broker; each adds figures to ``results``."""

    def __init__(self, settings: Settings, database_url: str, bootstrap_servers: str, progress: Progress) -> None:
        self.settings = settings
        self.bootstrap = bootstrap_servers
        self.database_url = database_url
        self.progress = progress
        self.engine = create_engine(database_url)
        self.sessions = session_factory(self.engine)
        self.workload = Workload(settings)
        self.results = Results()
        self._applied_rate = 0.0

    async def run(self) -> Results:
        try:
            await self.create_tables()
            publish_baseline = await self.publish_baseline()
            await self.outbox_single_transactions(publish_baseline)
            outbox_floor = await self.outbox_floor()
            await self.outbox_batched_transactions(publish_baseline, outbox_floor)
            await self.relay(publish_baseline)
            consume_baseline = await self.consume_baseline()
            consume_floor = await self.consume_floor()
            await self.consume(consume_baseline, consume_floor)
            await self.consume_duplicates(consume_baseline)
            await self.latency()
        finally:
            await self.engine.dispose()
        return self.results

    async def create_tables(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(MESSAGING_METADATA.create_all)
            await connection.run_sync(BENCH_METADATA.create_all)

    # publish ---------------------------------------------------------------------------------------------

    async def publish_baseline(self) -> tuple[float, float]:
        """Raw aiokafka: N records (same keys, values and headers as the outbox's), sent pipelined, then
        every acknowledgement gathered. acks=1 (the default), no idempotence (Tansu cannot do it)."""
        n = self.settings.events
        records = raw_records(self.workload.batches(n, self.settings.events_per_transaction))
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, client_id="bench-raw-producer")
        await producer.start()
        try:
            await producer.send_and_wait(WARMUP_TOPIC, b"warm-up")
            sent = 0
            async with tracked(self.progress, "publish: raw aiokafka producer", n, lambda: sent):
                started = time.perf_counter()
                futures = []
                for key, value, headers in records:
                    futures.append(await producer.send(BASELINE_TOPIC, value, key=key, headers=headers))
                    sent += 1
                await asyncio.gather(*futures)
                seconds = time.perf_counter() - started
        finally:
            await producer.stop()
        self.results.extra["record_bytes"] = {
            "value": len(records[0][1]),
            "headers": sum(len(k) + len(v) for k, v in records[0][2]),
            "key": len(records[0][0]),
        }
        return n / seconds, seconds

    async def outbox_single_transactions(self, baseline: tuple[float, float]) -> None:
        """One event per transaction, as a request that emits one event writes it; the rows are then removed
        so that the relay phase publishes exactly the batched N."""
        n = self.settings.single_events
        batches = self.workload.batches(n, 1)
        flows = [request_flow() for _ in batches]
        uow = UnitOfWorkFactory(self.sessions)
        await self._warm_pool(uow)
        written = 0
        async with tracked(self.progress, "outbox write: 1 event per transaction", n, lambda: written):
            started = time.perf_counter()
            for (tenant_id, payloads), flow in zip(batches, flows, strict=True):
                token = set_flow(flow)
                try:
                    async with uow(tenant_id=tenant_id) as work:
                        for payload in payloads:
                            await work.emit(payload, tenant_id=tenant_id, subject=str(payload.referral_id))
                        await work.commit()
                finally:
                    reset_flow(token)
                written += len(payloads)
            seconds = time.perf_counter() - started
        async with self.engine.begin() as connection:
            await connection.execute(text("TRUNCATE outbox"))
        self._add_throughput(
            "outbox_write_single",
            "publish",
            "Outbox write, 1 event per transaction",
            n,
            seconds,
            baseline,
            "raw aiokafka producer",
        )

    async def outbox_batched_transactions(self, baseline: tuple[float, float], floor: tuple[float, float]) -> None:
        """N events through UnitOfWork.emit, committed in transactions of 100 (one tenant each)."""
        n, per_transaction = self.settings.events, self.settings.events_per_transaction
        batches = self.workload.batches(n, per_transaction)
        flows = [request_flow() for _ in batches]
        uow = UnitOfWorkFactory(self.sessions)
        written = 0
        description = f"outbox write: {per_transaction} events per transaction"
        async with tracked(self.progress, description, n, lambda: written):
            started = time.perf_counter()
            for (tenant_id, payloads), flow in zip(batches, flows, strict=True):
                token = set_flow(flow)
                try:
                    async with uow(tenant_id=tenant_id) as work:
                        for payload in payloads:
                            await work.emit(payload, tenant_id=tenant_id, subject=str(payload.referral_id))
                        await work.commit()
                finally:
                    reset_flow(token)
                written += len(payloads)
            seconds = time.perf_counter() - started
        self._add_throughput(
            "outbox_write_batched",
            "publish",
            f"Outbox write, {per_transaction} events per transaction",
            n,
            seconds,
            baseline,
            "raw aiokafka producer",
        )
        self._add_throughput(
            "outbox_write_batched_vs_database",
            "publish",
            f"Outbox write, {per_transaction} events per transaction",
            n,
            seconds,
            floor,
            "raw asyncpg, same INSERTs (floor)",
        )

    async def relay(self, baseline: tuple[float, float]) -> None:
        """OutboxRelay.drain() over the N rows through kafka_publisher on a FastStream KafkaBroker."""
        n = self.settings.events
        broker = KafkaBroker(self.bootstrap, client_id="bench-relay", logger=None)
        await broker.start()
        try:
            await broker.publish(b"warm-up", WARMUP_TOPIC)
            relay = OutboxRelay(self.sessions, kafka_publisher(broker), batch_size=self.settings.relay_batch_size)
            async with tracked(self.progress, "relay: outbox → Kafka", n, lambda: relay.published_total):
                started = time.perf_counter()
                published = await relay.drain()
                seconds = time.perf_counter() - started
        finally:
            await broker.stop()
        if published != n:
            raise RuntimeError(f"the relay published {published} events, expected {n}")
        self.results.checks["relay_published"] = published
        self._add_throughput(
            "relay", "publish", "Relay (OutboxRelay.drain)", n, seconds, baseline, "raw aiokafka producer"
        )

    # database floors -------------------------------------------------------------------------------------

    async def _raw_connection(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1))

    async def outbox_floor(self) -> tuple[float, float]:
        """What the outbox write costs PostgreSQL alone: the same INSERT per event, in transactions of 100
        with the tenant set, over one raw asyncpg connection, rows (envelopes as JSON) built beforehand.
        The rows are removed afterwards."""
        n, per_transaction = self.settings.events, self.settings.events_per_transaction
        transactions = []
        for tenant_id, payloads in self.workload.batches(n, per_transaction):
            rows = []
            flow = request_flow()
            for payload in payloads:
                event = CloudEvent.create(
                    payload,
                    tenant_id=tenant_id,
                    subject=str(payload.referral_id),
                    correlation_id=flow.correlation_id,
                    causation_id=flow.causation_id,
                    traceparent=flow.traceparent,
                )
                envelope = json.dumps(event.model_dump(mode="json"))
                rows.append((event.id, event.topic, event.type, tenant_id, envelope))
            transactions.append((str(tenant_id), rows))
        connection = await self._raw_connection()
        written = 0
        try:
            async with tracked(self.progress, "floor: raw asyncpg outbox INSERTs", n, lambda: written):
                started = time.perf_counter()
                for tenant, rows in transactions:
                    async with connection.transaction():
                        await connection.execute(SET_TENANT_SQL, tenant)
                        for row in rows:
                            await connection.execute(OUTBOX_INSERT_SQL, *row)
                    written += len(rows)
                seconds = time.perf_counter() - started
            await connection.execute("TRUNCATE outbox")
        finally:
            await connection.close()
        return n / seconds, seconds

    async def consume_floor(self) -> tuple[float, float]:
        """What the consumer's effects cost PostgreSQL alone: per event one transaction with the tenant set,
        the inbox claim and the weekly upsert, over one raw asyncpg connection (its own group and table)."""
        n = self.settings.events
        events = []
        for tenant_id, payloads in self.workload.batches(n, self.settings.events_per_transaction):
            for payload in payloads:
                local = payload.received_at.date()
                week = local - timedelta(days=local.weekday())
                events.append((uuid.uuid4(), tenant_id, payload.org_unit_id, payload.category.value, week))
        connection = await self._raw_connection()
        applied = 0
        try:
            async with tracked(self.progress, "floor: raw asyncpg inbox + upsert", n, lambda: applied):
                started = time.perf_counter()
                for event_id, tenant_id, org_unit_id, category, week in events:
                    async with connection.transaction():
                        await connection.execute(SET_TENANT_SQL, str(tenant_id))
                        claimed = await connection.fetchval(
                            INBOX_CLAIM_SQL, "bench-floor", event_id, ReferralReceived.event_type, tenant_id
                        )
                        if claimed is not None:
                            await connection.execute(FLOOR_UPSERT_SQL, tenant_id, org_unit_id, category, week)
                    applied += 1
                seconds = time.perf_counter() - started
        finally:
            await connection.close()
        return n / seconds, seconds

    # consume ---------------------------------------------------------------------------------------------

    async def consume_baseline(self) -> tuple[float, float]:
        """Raw aiokafka in its own group reads the N records the relay published (getmany, no commits)."""
        n = self.settings.events
        consumer = AIOKafkaConsumer(
            SUBJECT_TOPIC,
            bootstrap_servers=self.bootstrap,
            group_id="bench-raw-consumer",
            client_id="bench-raw-consumer",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        received = 0
        try:
            async with tracked(self.progress, "consume: raw aiokafka consumer", n, lambda: received):
                started = await wait_for_assignment(consumer, self.settings.partitions, "raw consumer")
                while received < n:
                    batch = await consumer.getmany(timeout_ms=1000)
                    received += sum(len(records) for records in batch.values())
                seconds = time.perf_counter() - started
        finally:
            await consumer.stop()
        return n / seconds, seconds

    async def _start_subject(self) -> tuple[KafkaBroker, EventConsumer]:
        broker = KafkaBroker(self.bootstrap, client_id="bench-signals", logger=None)
        uow = UnitOfWorkFactory(self.sessions)
        group = trends_group()
        consumer = EventConsumer(group, uow, kafka_dead_letter(broker, group.name), RetryPolicy())
        subscribe(broker, consumer)
        await broker.start()
        return broker, consumer

    async def consume(self, baseline: tuple[float, float], floor: tuple[float, float]) -> None:
        """EventConsumer (inbox claim + one upsert per event; a fetch at a time, offsets committed per fetch) until
        N are applied."""
        n = self.settings.events
        await self._warm_pool(UnitOfWorkFactory(self.sessions))
        broker, consumer = await self._start_subject()
        try:

            def applied() -> int:
                return consumer.counts.get(Outcome.APPLIED, 0)

            async with tracked(self.progress, "consume: EventConsumer (applied)", n, applied):
                started = await wait_for_assignment(subscriber_consumer(broker), self.settings.partitions, "subject")
                finished = await wait_for_count(applied, n, "EventConsumer")
            seconds = finished - started
        finally:
            await broker.stop()
        await self._check_effects("consume", consumer, expect_applied=n, expect_duplicates=0)
        self._applied_rate = n / seconds
        self._add_throughput(
            "consume_applied",
            "consume",
            "EventConsumer, applied (inbox + upsert)",
            n,
            seconds,
            baseline,
            "raw aiokafka consumer",
        )
        self._add_throughput(
            "consume_applied_vs_database",
            "consume",
            "EventConsumer, applied (inbox + upsert)",
            n,
            seconds,
            floor,
            "raw asyncpg, same SQL per event (floor)",
        )

    async def consume_duplicates(self, baseline: tuple[float, float]) -> None:
        """Every event delivered a second time: ``bmw replay``'s path (mark_for_replay, relay), then the same
        group, resuming from its committed offsets, reads N duplicates that the inbox must skip."""
        n = self.settings.events
        broker = KafkaBroker(self.bootstrap, client_id="bench-replay", logger=None)
        await broker.start()
        try:
            async with self.sessions() as session, session.begin():
                marked = await mark_for_replay(session, since=datetime(2000, 1, 1, tzinfo=UTC))
            relay = OutboxRelay(self.sessions, kafka_publisher(broker), batch_size=self.settings.relay_batch_size)
            async with tracked(self.progress, "replay: outbox → Kafka again", n, lambda: relay.published_total):
                replayed = await relay.drain()
        finally:
            await broker.stop()
        if marked != n or replayed != n:
            raise RuntimeError(f"replay marked {marked} and published {replayed} events, expected {n}")

        broker, consumer = await self._start_subject()
        try:

            def duplicates() -> int:
                return consumer.counts.get(Outcome.DUPLICATE, 0)

            async with tracked(self.progress, "consume: EventConsumer (duplicates)", n, duplicates):
                started = await wait_for_assignment(subscriber_consumer(broker), self.settings.partitions, "subject")
                finished = await wait_for_count(duplicates, n, "EventConsumer (duplicates)")
            seconds = finished - started
        finally:
            await broker.stop()
        await self._check_effects("duplicates", consumer, expect_applied=0, expect_duplicates=n)
        self._add_throughput(
            "consume_duplicates",
            "consume",
            "EventConsumer, duplicates skipped",
            n,
            seconds,
            baseline,
            "raw aiokafka consumer",
        )

    async def _check_effects(
        self, phase: str, consumer: EventConsumer, *, expect_applied: int, expect_duplicates: int
    ) -> None:
        """Exactly once: N applied in total, the weekly counts add up to N, nothing dead-lettered."""
        n = self.settings.events
        async with self.sessions() as session:
            referrals = (await session.execute(select(func.coalesce(func.sum(WEEKLY_COUNTS.c.referrals), 0)))).scalar()
            inbox = (
                await session.execute(select(func.count()).where(INBOX.c.consumer_group == SUBJECT_GROUP))
            ).scalar()
        counts = dict(consumer.counts)
        self.results.checks[phase] = {"outcomes": counts, "weekly_referrals_total": referrals, "inbox_rows": inbox}
        problems = []
        if counts.get(Outcome.APPLIED, 0) != expect_applied:
            problems.append(f"applied {counts.get(Outcome.APPLIED, 0)}, expected {expect_applied}")
        if counts.get(Outcome.DUPLICATE, 0) != expect_duplicates:
            problems.append(f"duplicates {counts.get(Outcome.DUPLICATE, 0)}, expected {expect_duplicates}")
        if counts.get(Outcome.DEAD_LETTERED, 0) or counts.get(Outcome.IGNORED, 0):
            problems.append(f"unexpected outcomes {counts}")
        if referrals != n or inbox != n:
            problems.append(f"weekly counts add up to {referrals} and the inbox holds {inbox}, expected {n}")
        if problems:
            raise RuntimeError(f"{phase}: effects are not exactly once: " + "; ".join(problems))

    # latency ---------------------------------------------------------------------------------------------

    async def latency(self) -> None:
        """Events committed one by one at a fixed offered rate, then again at a low rate: baseline first, then
        the subject, each time."""
        runs = [
            (self.settings.latency_rate, self.settings.latency_events),
            (self.settings.latency_low_rate, self.settings.latency_low_events),
        ]
        details = []
        for index, (rate, events) in enumerate(runs):
            topic = LATENCY_BASELINE_TOPICS[index]
            baseline = await self._latency_baseline(topic, rate, events)
            subject = await self._latency_subject(topic, rate, events)
            self.results.latency_samples_ms[f"baseline at {rate:g}/s"] = baseline
            self.results.latency_samples_ms[f"subject at {rate:g}/s"] = subject
            base, subj = percentiles(baseline), percentiles(subject)
            details.append(
                {
                    "offered_rate_per_second": rate,
                    "events": events,
                    # Offered rate ÷ the consumer's measured capacity: near 1, latency is mostly queueing.
                    "consumer_utilisation": round(rate / self._applied_rate, 3) if self._applied_rate else None,
                    "subject": {k: round(v, 3) for k, v in subj.items()},
                    "baseline": {k: round(v, 3) for k, v in base.items()},
                }
            )
            for name in ("p50", "p95", "p99"):
                self.results.figures.append(
                    Figure(
                        key=f"latency_{name}_at_{rate:g}",
                        group="latency",
                        name=f"Latency {name} at {rate:g}/s",
                        unit="ms",
                        value=subj[name],
                        baseline=base[name],
                        baseline_name="raw producer → raw consumer",
                        higher_is_better=False,
                        count=len(subject),
                    )
                )
        self.results.extra["latency_ms"] = details

    async def _paced(self, send_one: Callable[[int], Any], rate: float, events: int, description: str) -> None:
        """Call ``send_one(i)`` at the offered rate (open loop: a late send does not delay the schedule)."""
        interval = 1.0 / rate
        sent = 0
        async with tracked(self.progress, description, events, lambda: sent):
            started = time.perf_counter()
            for index in range(events):
                delay = started + index * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await send_one(index)
                sent += 1

    @contextlib.asynccontextmanager
    async def _consumer_process(self, mode: str, topic: str, description: str) -> AsyncIterator[ConsumerReports]:
        """Start the consuming side in its own process; yields its reports once it owns its partitions.
        Stopped (and waited for) on exit."""
        from bench import consumer_process

        context = multiprocessing.get_context("spawn")
        queue: Any = context.Queue()
        stop = context.Event()
        process = context.Process(
            target=consumer_process.run,
            args=(mode, self.database_url, self.bootstrap, topic, self.settings.partitions),
            kwargs={"queue": queue, "stop": stop},
            name=f"bench-{mode}-consumer",
            daemon=True,
        )
        reports = ConsumerReports(description, process)

        def read() -> None:
            while (item := queue.get()) is not None:
                key, value = item
                if key == consumer_process.FAILED:
                    reports.failure = str(value)
                elif key == consumer_process.READY:
                    reports.ready = True
                else:
                    reports.times[key] = value

        reader = threading.Thread(target=read, name="bench-consumer-reports", daemon=True)
        reader.start()
        process.start()
        try:
            await wait_for_count(reports.ready_count, 1, f"{description}: consumer start")
            yield reports
        finally:
            stop.set()
            await asyncio.to_thread(process.join, 15)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, 5)
            queue.put(None)
            await asyncio.to_thread(reader.join, 5)
            queue.close()

    async def _latency_baseline(self, topic: str, rate: float, events: int) -> list[float]:
        """Raw producer (send_and_wait, one record at a time) → raw consumer (getone, another process)."""
        sent_at: dict[str, float] = {}
        records = raw_records(self.workload.batches(events + 1, 1))
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, client_id="bench-latency-producer")
        await producer.start()
        try:
            async with self._consumer_process("baseline", topic, "latency baseline") as consumer:
                key, value, headers = records[-1]
                await producer.send_and_wait(topic, value, key=key, headers=headers)
                await wait_for_count(consumer.count, 1, "latency baseline warm-up")
                consumer.times.clear()

                async def send_one(index: int) -> None:
                    key, value, headers = records[index]
                    sent_at[dict(headers)["ce_id"].decode()] = time.monotonic()
                    await producer.send_and_wait(topic, value, key=key, headers=headers)

                await self._paced(send_one, rate, events, f"latency at {rate:g}/s: raw producer → consumer")
                await wait_for_count(consumer.count, len(sent_at), "latency baseline")
                received = dict(consumer.times)
        finally:
            await producer.stop()
        return [(received[event_id] - sent) * 1000 for event_id, sent in sent_at.items()]

    async def _latency_subject(self, topic: str, rate: float, events: int) -> list[float]:
        """A service's path: UnitOfWork commit (relay notified) → relay → Kafka → EventConsumer commit (in
        another process, as signals would be)."""
        broker = KafkaBroker(self.bootstrap, client_id="bench-latency-intake", logger=None)
        await broker.start()
        relay = OutboxRelay(self.sessions, kafka_publisher(broker), batch_size=self.settings.relay_batch_size)
        writer_uow = UnitOfWorkFactory(self.sessions, on_commit=relay.notify)
        relay.start()
        committed_at: dict[str, float] = {}
        batches = self.workload.batches(events + 1, 1)

        async def commit_one(index: int) -> None:
            tenant_id, (payload,) = batches[index]
            token = set_flow(request_flow())
            try:
                async with writer_uow(tenant_id=tenant_id) as work:
                    event = await work.emit(payload, tenant_id=tenant_id, subject=str(payload.referral_id))
                    await work.commit()
                committed_at[str(event.id)] = time.monotonic()
            finally:
                reset_flow(token)

        try:
            async with self._consumer_process("subject", topic, "latency subject") as consumer:
                await commit_one(len(batches) - 1)  # warm-up: the first event's path connects everything
                await wait_for_count(consumer.count, 1, "latency subject warm-up")
                committed_at.clear()
                consumer.times.clear()
                await self._paced(commit_one, rate, events, f"latency at {rate:g}/s: commit → consumer commit")
                await wait_for_count(consumer.count, len(committed_at), "latency subject")
                done = dict(consumer.times)
        finally:
            await relay.stop(flush=False)
            await broker.stop()
        return [(done[event_id] - committed) * 1000 for event_id, committed in committed_at.items()]

    # bookkeeping -----------------------------------------------------------------------------------------

    async def _warm_pool(self, uow: UnitOfWorkFactory) -> None:
        """Open a pooled connection (and asyncpg's statement cache) before a timed loop."""
        async with uow() as work:
            await work.session.execute(select(func.count()).select_from(OUTBOX))

    def _add_throughput(
        self,
        key: str,
        group: str,
        name: str,
        count: int,
        seconds: float,
        baseline: tuple[float, float],
        baseline_name: str,
    ) -> None:
        self.results.figures.append(
            Figure(
                key=key,
                group=group,
                name=name,
                unit="events/s",
                value=count / seconds,
                baseline=baseline[0],
                baseline_name=baseline_name,
                higher_is_better=True,
                count=count,
                seconds=seconds,
                baseline_seconds=baseline[1],
            )
        )
