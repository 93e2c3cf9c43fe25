"""The feed's source: one Kafka consumer per gateway process, reading from the end of the topics.

Subscriptions show what happens from now on, so the consumer needs no consumer group and commits no
offsets: it takes every partition of the topics it reads (``group_id=None``) and starts at their latest
offsets, pinned before the feed reports itself connected, so that an event published after a successful
``start`` is delivered. After losing the broker it reconnects from the then latest offsets: events in
between are not shown live (clients catch up through the list queries).

A record that is not a CloudEvent of ours is logged and skipped: the services' own consumers, not the
gateway, dead-letter broken events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Final

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError

from bmw.contracts.envelope import CloudEvent, EnvelopeError, topic_for
from bmw.contracts.events.scheduling import AppointmentBooked
from bmw.contracts.events.signals import SignalRaised
from bmw.gateway.subscriptions.feed import DEFAULT_QUEUE_SIZE, EventFeed
from bmw.servicekit.transport import KafkaTransport

logger = logging.getLogger(__name__)

#: The topics whose events subscriptions show: signals' and scheduling's.
FEED_TOPICS: Final = (topic_for(SignalRaised.event_type), topic_for(AppointmentBooked.event_type))

#: Longest wait of a fetch for new records: bounds the delay of a live update on an idle topic.
FETCH_MAX_WAIT_MS = 100


def decode_record(headers: Sequence[tuple[str, bytes]], value: bytes | None) -> CloudEvent | None:
    """The CloudEvent in a Kafka record, or ``None`` (logged) when it is not one."""
    try:
        return CloudEvent.from_kafka(headers, value or b"")
    except EnvelopeError as error:
        logger.warning("event feed skips a record that is not a CloudEvent: %s", error)
        return None


def _report_end(task: asyncio.Task[None]) -> None:
    # The loop only ends by cancellation; anything else is a bug that leaves subscriptions unavailable.
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("event feed stopped; subscriptions are unavailable", exc_info=error)


class KafkaEventSource:
    """Feeds ``feed`` from Kafka in a background task; ``start`` waits (bounded) until it is connected."""

    def __init__(
        self,
        feed: EventFeed,
        *,
        bootstrap_servers: str,
        topics: Sequence[str] = FEED_TOPICS,
        client_id: str = "bmw-gateway",
        retry_seconds: float = 2.0,
        transport: KafkaTransport | None = None,
    ) -> None:
        self.feed = feed
        # TLS/SASL as the services connect (bmw.servicekit.transport); plaintext when not given (tests, dev).
        self._transport = transport or KafkaTransport()
        self._bootstrap_servers = bootstrap_servers
        self._topics = tuple(topics)
        self._client_id = client_id
        self._retry_seconds = retry_seconds
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, wait_seconds: float = 10.0) -> bool:
        """Start consuming; returns whether the feed connected within ``wait_seconds``.

        The gateway starts either way: without the broker its queries still work, subscriptions are
        refused as unavailable, and the source keeps trying in the background.
        """
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bmw-gateway-event-feed")
            self._task.add_done_callback(_report_end)
        try:
            async with asyncio.timeout(wait_seconds):
                await self._connected.wait()
        except TimeoutError:
            logger.warning(
                "event feed not connected to %s after %.0fs; subscriptions are unavailable until it is",
                self._bootstrap_servers,
                wait_seconds,
            )
            return False
        return True

    async def stop(self) -> None:
        """Stop consuming and leave the feed disconnected."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.feed.connected = False

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                *self._topics,
                bootstrap_servers=self._bootstrap_servers,
                client_id=self._client_id,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="latest",
                fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
                **self._transport.aiokafka_kwargs(),
            )
            try:
                await consumer.start()
                # Resolve "latest" now: an event published after this point reaches the subscribers.
                for partition in consumer.assignment():
                    await consumer.position(partition)
                self.feed.connected = True
                self._connected.set()
                logger.info("event feed connected to %s (%s)", self._bootstrap_servers, ", ".join(self._topics))
                async for record in consumer:
                    self._deliver(record)
            except KafkaError as error:
                logger.warning(
                    "event feed has no broker connection (%s); retrying in %.1fs", error, self._retry_seconds
                )
            finally:
                self.feed.connected = False
                self._connected.clear()
                await consumer.stop()
            await asyncio.sleep(self._retry_seconds)

    def _deliver(self, record: ConsumerRecord[bytes, bytes]) -> None:
        envelope = decode_record(record.headers, record.value)
        if envelope is not None:
            self.feed.publish(envelope)


@contextlib.asynccontextmanager
async def running_feed(
    *, bootstrap_servers: str, queue_size: int = DEFAULT_QUEUE_SIZE, transport: KafkaTransport | None = None
) -> AsyncIterator[EventFeed]:
    """The process's event feed for the app's lifespan, fed from Kafka when ``bootstrap_servers`` is set, connecting
    with ``transport``'s TLS/SASL.

    On exit the consumer stops and every open subscription ends.
    """
    feed = EventFeed(queue_size=queue_size)
    source: KafkaEventSource | None = None
    if bootstrap_servers:
        source = KafkaEventSource(feed, bootstrap_servers=bootstrap_servers, transport=transport)
        await source.start()
    else:
        logger.warning("KAFKA_BOOTSTRAP_SERVERS is not set: subscriptions are unavailable")
    try:
        yield feed
    finally:
        if source is not None:
            await source.stop()
        feed.close()
