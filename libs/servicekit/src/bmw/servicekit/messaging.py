"""Kafka messaging on FastStream: the publisher the outbox relay uses, and consumers that apply
each event exactly once (inbox), retry transient failures with backoff and dead-letter the rest.

FastStream's Kafka acknowledgement policies do not give us what DESIGN §5 asks (ACK_FIRST is at
most once; ACK and REJECT_ON_ERROR commit after a failure; NACK_ON_ERROR loops a poison message
forever with no backoff), so subscribers run with ``AckPolicy.MANUAL`` and this module decides:
the offset is committed only after the event is applied, skipped as a duplicate, or dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bmw.contracts.envelope import CloudEvent, EnvelopeError, dlq_topic
from bmw.contracts.events.base import EventData, event_class, known_older_version
from bmw.servicekit.context import FlowContext, reset_flow, set_flow
from bmw.servicekit.errors import RETRYABLE_SQLSTATES
from bmw.servicekit.inbox import claim
from bmw.servicekit.tracing import context_of, current_traceparent, fail, traceparent_of, tracer
from bmw.servicekit.transport import KafkaTransport
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)

D = TypeVar("D", bound=EventData)
Handler = Callable[[UnitOfWork, CloudEvent, Any], Awaitable[None]]

#: Errors that say "the infrastructure is not there right now", not "this message is bad": retried
#: without counting towards the dead-letter limit, so an outage does not empty the topic into the DLQ.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, OSError)


def is_transient(error: BaseException) -> bool:
    """Infrastructure trouble, or a transaction that lost a deadlock: retried without counting to the DLQ."""
    if isinstance(error, DBAPIError) and (
        error.connection_invalidated or getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
    ):
        return True
    return isinstance(error, TRANSIENT_ERRORS)


@dataclass
class ConsumerGroup:
    """The handlers of one consumer group, keyed by event type. Types without a handler are skipped."""

    name: str
    topics: tuple[str, ...]
    handlers: dict[str, tuple[type[EventData], Handler]] = field(default_factory=dict)

    def on(self, event_model: type[D]) -> Callable[[Callable[[UnitOfWork, CloudEvent, D], Awaitable[None]]], Handler]:
        """Register ``async def handler(uow, event, data)`` for one event type."""

        def register(func: Callable[[UnitOfWork, CloudEvent, D], Awaitable[None]]) -> Handler:
            self.handlers[event_model.event_type] = (event_model, func)
            return func

        return register


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 0.2
    backoff_max_seconds: float = 10.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter, capped."""
        exponent = min(max(attempt, 1), 32) - 1  # capped: 2**1075 would overflow a float
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * (2**exponent))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


class Outcome:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


class EventConsumer:
    """Applies the events of one consumer group; ``process`` is independent of Kafka for testing."""

    def __init__(
        self,
        group: ConsumerGroup,
        uow_factory: UnitOfWorkFactory,
        dead_letter: Callable[[str, bytes | None, bytes, dict[str, str], str, int], Awaitable[None]],
        retry: RetryPolicy,
    ) -> None:
        self.group = group
        self._uow = uow_factory
        self._dead_letter = dead_letter
        self._retry = retry
        self.counts: dict[str, int] = {}
        #: Newer versions of known types met so far, each logged once.
        self._newer_versions_seen: set[str] = set()

    async def process(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> str:
        """Decode, then apply with retries; returns the outcome. Never raises for a bad message."""
        text_headers = {name: raw.decode(errors="replace") for name, raw in headers}
        try:
            event = CloudEvent.from_kafka(headers, value)
        except EnvelopeError as error:
            return await self._to_dlq(topic, key, value, text_headers, f"undecodable: {error}", 1)
        if event_class(event.type) is None:
            older = known_older_version(event.type)
            if older is None:
                return await self._to_dlq(topic, key, value, text_headers, f"unknown event type {event.type!r}", 1)
            # A newer version, published side by side with the one this build reads (DESIGN §4): not poison.
            if event.type not in self._newer_versions_seen:
                self._newer_versions_seen.add(event.type)
                logger.info(
                    "group %s skips %s: a newer version published side by side with %s, which it reads",
                    self.group.name,
                    event.type,
                    older,
                )
            return self._count(Outcome.IGNORED)
        registered = self.group.handlers.get(event.type)
        if registered is None:
            return self._count(Outcome.IGNORED)
        model, handler = registered
        try:
            data = model.model_validate(event.data)
        except ValueError as error:
            return await self._to_dlq(topic, key, value, text_headers, f"invalid data for {event.type}: {error}", 1)

        with tracer().start_as_current_span(
            f"process {event.type}",
            context=context_of(event.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": topic,
                "messaging.consumer.group.name": self.group.name,
                "messaging.message.id": str(event.id),
            },
            record_exception=False,  # an exception's message may quote the event's data; fail() records its type
            set_status_on_exception=False,
        ) as span:
            outcome = await self._handle(topic, key, value, text_headers, event, data, handler)
            span.set_attribute("bmw.outcome", outcome)
            if outcome == Outcome.DEAD_LETTERED:
                fail(span, description="dead-lettered")
            return outcome

    async def process_records(self, records: Sequence[ConsumerRecord[bytes, bytes]], *, concurrency: int = 1) -> None:
        """Apply a fetch of records: each partition's in order, up to ``concurrency`` partitions side by side."""
        partitions: dict[tuple[str, int], list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            partitions.setdefault((record.topic, record.partition), []).append(record)

        async def in_order(batch: list[ConsumerRecord[bytes, bytes]]) -> None:
            for record in batch:
                await self.process(record.topic, record.key, record.value or b"", record.headers or ())

        if len(partitions) == 1 or concurrency <= 1:
            for batch in partitions.values():
                await in_order(batch)
            return
        semaphore = asyncio.Semaphore(concurrency)

        async def bounded(batch: list[ConsumerRecord[bytes, bytes]]) -> None:
            async with semaphore:
                await in_order(batch)

        await asyncio.gather(*(bounded(batch) for batch in partitions.values()))

    async def _handle(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        text_headers: dict[str, str],
        event: CloudEvent,
        data: EventData,
        handler: Handler,
    ) -> str:
        """Apply with retries in the event's flow context; dead-letter after the last attempt."""
        token = set_flow(
            FlowContext(
                correlation_id=event.correlationid or str(event.id),
                causation_id=str(event.id),
                traceparent=current_traceparent(),
                tenant_id=str(event.tenantid),
            )
        )
        try:
            attempt = 0
            outage = 0  # consecutive transient failures: they back off, but never dead-letter
            while True:
                attempt += 1
                try:
                    return self._count(await self._apply(event, data, handler))
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    transient = is_transient(error)
                    if not transient and attempt >= self._retry.max_attempts:
                        logger.error(
                            "group %s gives up on %s %s after %d attempts",
                            self.group.name,
                            event.type,
                            event.id,
                            attempt,
                            exc_info=True,
                        )
                        reason = f"{type(error).__name__}: {error}"
                        return await self._to_dlq(topic, key, value, text_headers, reason, attempt)
                    outage = outage + 1 if transient else 0
                    delay = self._retry.delay(outage if transient else attempt)
                    logger.warning(
                        "group %s failed on %s %s (attempt %d, %s); retrying in %.2fs",
                        self.group.name,
                        event.type,
                        event.id,
                        attempt,
                        "transient" if transient else "error",
                        delay,
                        exc_info=not transient,
                    )
                    if transient:
                        attempt -= 1  # an outage does not count towards the dead-letter limit
                    await asyncio.sleep(delay)
        finally:
            reset_flow(token)

    async def _apply(self, event: CloudEvent, data: EventData, handler: Handler) -> str:
        async with self._uow(tenant_id=event.tenantid) as uow:
            if not await claim(uow.session, self.group.name, event):
                return Outcome.DUPLICATE
            await handler(uow, event, data)
            await uow.commit()
        return Outcome.APPLIED

    async def _to_dlq(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str], reason: str, attempts: int
    ) -> str:
        logger.error("dead-lettering a message of %s for group %s: %s", topic, self.group.name, reason)
        await self._dead_letter(topic, key, value, headers, reason, attempts)
        return self._count(Outcome.DEAD_LETTERED)

    def _count(self, outcome: str) -> str:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        return outcome


def kafka_publisher(broker: KafkaBroker) -> Callable[[Sequence[CloudEvent]], Awaitable[None]]:
    """The outbox relay's publisher: send a batch pipelined, return when every send is acknowledged."""

    async def publish(events: Sequence[CloudEvent]) -> None:
        # One "send" span per record, under the "create" span the event carries; the record's traceparent is the
        # send span's, so each consumer's handling hangs under it.
        spans = [
            tracer().start_span(
                f"send {event.topic}",
                context=context_of(event.traceparent),
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": event.topic,
                    "messaging.message.id": str(event.id),
                    "cloudevents.event_type": event.type,
                },
            )
            for event in events
        ]
        try:
            futures = [
                await broker.publish(
                    event.kafka_value(),
                    event.topic,
                    key=event.kafka_key(),
                    headers=_with_traceparent(event.kafka_headers(), traceparent_of(span)),
                    no_confirm=True,
                )
                for event, span in zip(events, spans, strict=True)
            ]
            await asyncio.gather(*futures)
        except BaseException as error:
            for span in spans:
                fail(span, error)
            raise
        finally:
            for span in spans:
                span.end()

    return publish


def _with_traceparent(headers: dict[str, str], traceparent: str | None) -> dict[str, str]:
    return {**headers, "traceparent": traceparent} if traceparent else headers


def kafka_dead_letter(
    broker: KafkaBroker, group: str
) -> Callable[[str, bytes | None, bytes, dict[str, str], str, int], Awaitable[None]]:
    """Publish a failed message to ``<topic>.dlq`` with the reason, the group and the attempt count."""

    async def dead_letter(
        topic: str, key: bytes | None, value: bytes, headers: dict[str, str], reason: str, attempts: int
    ) -> None:
        await broker.publish(
            value,
            dlq_topic(topic),
            key=key,
            headers={
                **headers,
                "x-bmw-error": reason[:2000],
                "x-bmw-attempts": str(attempts),
                "x-bmw-consumer-group": group,
                "x-bmw-original-topic": topic,
            },
        )

    return dead_letter


@dataclass(frozen=True)
class Batching:
    """How a consumer group takes records from the broker (DESIGN §5, issue 10's benchmark).

    A fetch hands over up to ``max_records`` records; those of different partitions are applied side by side (at most
    ``concurrency`` partitions at once, each partition's records strictly in order, so each organisation's events
    stay in order: the key is the tenant), and the offsets are committed once, after every record of the fetch was
    applied, skipped as a duplicate or dead-lettered. With one event per fetch (a quiet system) this is exactly the
    one-by-one path; under load it spares a broker round trip per event and overlaps the waits on PostgreSQL."""

    max_records: int = 100
    concurrency: int = 4
    #: How long an empty fetch waits for records (FastStream then sleeps as long again): bounds the added latency.
    wait_ms: int = 20


async def _undecoded(message: StreamMessage[Any]) -> Any:
    """FastStream's decoder step, left to the kit: the record's bytes as they are."""
    return message.body


def subscribe(broker: KafkaBroker, consumer: EventConsumer, batching: Batching | None = None) -> None:
    """Attach a consumer group to the broker with manual acknowledgement, a fetch of records at a time."""
    batching = batching or Batching()

    @broker.subscriber(
        *consumer.group.topics,
        group_id=consumer.group.name,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=batching.max_records,
        batch_timeout_ms=batching.wait_ms,
        # The body is the kit's to decode (EventConsumer.process, which dead-letters what it cannot read): FastStream's
        # own decoding would parse a record that says JSON before the handler runs, and one that is not JSON would
        # fail there, outside the kit, neither applied nor dead-lettered, while later commits moved past it.
        decoder=_undecoded,
        title=f"{consumer.group.name}",
        description=f"Consumer group {consumer.group.name}: " + ", ".join(sorted(consumer.group.handlers)),
    )
    async def on_records(message: KafkaMessage) -> None:
        raw = message.raw_message
        records = tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)
        if not records:
            return
        await consumer.process_records(records, concurrency=batching.concurrency)
        # Committed only now: every record of the fetch was applied, skipped as a duplicate, or dead-lettered.
        try:
            await message.ack()
        except KafkaError as error:
            # The records are applied (their inbox rows say so); the next successful commit covers their offsets, and
            # a redelivery meanwhile is skipped. A commit the broker refuses must not stop the group: after a broker
            # lost its data it refuses the group's commits for a while (UnknownTopicOrPartition).
            topics = ", ".join(sorted({record.topic for record in records}))
            logger.warning("group %s could not commit %s: %s", consumer.group.name, topics, type(error).__name__)


async def ensure_topics(
    bootstrap_servers: str, topics: Sequence[str], *, partitions: int, transport: KafkaTransport | None = None
) -> None:
    """Create topics with their partition count (Tansu auto-creates with 4 and cannot add more); ``transport`` is
    the process's TLS/SASL (``bmw.servicekit.transport``), the same its broker uses."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **(transport or KafkaTransport()).aiokafka_kwargs()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in dict.fromkeys(topics) if topic not in existing]
        if not missing:
            return
        response = await admin.create_topics(
            [NewTopic(name=topic, num_partitions=partitions, replication_factor=1) for topic in missing]
        )
        for topic, code, *_ in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"could not create topic {topic}: Kafka error code {code}")
    finally:
        await admin.close()
