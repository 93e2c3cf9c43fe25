"""The in-process event feed: decoded events fanned out to one bounded queue per subscriber.

A subscriber that reads slower than events arrive must not hold up the feed, and through it every other
subscriber: its queue is bounded, and when it is full the subscriber's *oldest* undelivered event is
dropped to make room for the new one (counted in ``Subscriber.dropped`` and logged). Live updates are
notifications, not a ledger: a client that needs every event reads the list queries after it reconnects.

Each subscriber's selector runs once per event at publish time, so a queue holds only what its caller
may see, already converted to the GraphQL object it will receive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from bmw.contracts.envelope import CloudEvent, EnvelopeError
from bmw.contracts.events.base import EventData

logger = logging.getLogger(__name__)

#: Events a subscriber may fall behind by before its oldest ones are dropped.
DEFAULT_QUEUE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class FeedEvent:
    """One event as the feed hands it to selectors: its envelope and its typed data, parsed once."""

    envelope: CloudEvent
    data: EventData

    @classmethod
    def of(cls, envelope: CloudEvent) -> FeedEvent:
        """Parse the data of an envelope; raises ``EnvelopeError`` for unknown types or invalid data."""
        return cls(envelope=envelope, data=envelope.payload())


#: Turns an event into what one subscriber receives, or ``None`` when it is not for them.
Selector = Callable[[FeedEvent], T | None]


class _Listener(Protocol):
    def offer(self, event: FeedEvent) -> bool: ...

    def close(self) -> None: ...


class Subscriber(Generic[T]):
    """One subscription's view of the feed: an async iterator over a bounded queue of selected items."""

    def __init__(self, select: Selector[T], size: int) -> None:
        self._select = select
        # ``None`` marks the end of the feed; selected items are never None.
        self._queue: asyncio.Queue[T | None] = asyncio.Queue(maxsize=size)
        self._closed = False
        #: Events dropped because this subscriber fell behind.
        self.dropped = 0

    def offer(self, event: FeedEvent) -> bool:
        """Queue the event if it is for this subscriber, dropping the oldest queued one when full."""
        if self._closed:
            return False
        item = self._select(event)
        if item is None:
            return False
        self._make_room()
        self._queue.put_nowait(item)
        return True

    def close(self) -> None:
        """End the iteration once the queued items are read (the feed is shutting down)."""
        if self._closed:
            return
        self._closed = True
        self._make_room()
        self._queue.put_nowait(None)

    def _make_room(self) -> None:
        if not self._queue.full():
            return
        self._queue.get_nowait()
        self.dropped += 1
        if self.dropped == 1:
            logger.warning("a subscriber fell %d events behind; dropping its oldest events", self._queue.maxsize)
        else:
            logger.debug("a subscriber dropped its %d. event", self.dropped)

    def __aiter__(self) -> Subscriber[T]:
        return self

    async def __anext__(self) -> T:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item


class EventFeed:
    """Fans decoded events out to the subscribers of this gateway process.

    ``connected`` is true while a source (the Kafka consumer) delivers events from the end of its topics;
    subscriptions are refused while it is false, rather than accepted and left silent.
    """

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self.connected = False
        self._listeners: set[_Listener] = set()
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        """Subscriptions currently listening."""
        return len(self._listeners)

    @contextmanager
    def subscribe(self, select: Selector[T]) -> Iterator[Subscriber[T]]:
        """Listen for the events ``select`` keeps, until the block exits."""
        subscriber = Subscriber(select, self.queue_size)
        if self._closed:
            subscriber.close()
        self._listeners.add(subscriber)
        try:
            yield subscriber
        finally:
            self._listeners.discard(subscriber)

    def publish(self, envelope: CloudEvent) -> int:
        """Offer an event to every subscriber; returns how many kept it. Undecodable events are skipped."""
        try:
            event = FeedEvent.of(envelope)
        except EnvelopeError as error:
            # The gateway only shows events; the services' consumers dead-letter what is broken.
            logger.warning("event feed skips %s %s: %s", envelope.type, envelope.id, error)
            return 0
        return sum(listener.offer(event) for listener in list(self._listeners))

    def close(self) -> None:
        """End every subscription (the app is stopping); later subscriptions end at once."""
        self._closed = True
        self.connected = False
        for listener in list(self._listeners):
            listener.close()
