"""The consuming side of the latency phase, in its own process as in a deployment (intake writes and relays,
signals consumes), so that the writer, the relay and the consumer do not share one event loop.

The process reports ``(event id, time.monotonic())`` for every event it has applied (subject) or received
(baseline) through a queue; CLOCK_MONOTONIC is one clock for every process on the machine.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer
from faststream.kafka import KafkaBroker

from bmw.servicekit.context import current_flow
from bmw.servicekit.db import create_engine, session_factory
from bmw.servicekit.messaging import EventConsumer, RetryPolicy, kafka_dead_letter, subscribe
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

READY = "__ready__"
FAILED = "__failed__"


class _ReportingUnitOfWork(UnitOfWork):
    """Reports when a consumer's transaction committed, keyed by the event being handled (its causation id)."""

    def __init__(self, *args: Any, queue: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue = queue

    async def commit(self) -> None:
        await super().commit()
        causation = current_flow().causation_id
        if causation is not None:
            self._queue.put((causation, time.monotonic()))


class _ReportingUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, sessions: Any, queue: Any) -> None:
        super().__init__(sessions)
        self._queue = queue

    def __call__(self, *, tenant_id: uuid.UUID | None = None) -> UnitOfWork:
        return _ReportingUnitOfWork(self.sessions, tenant_id=tenant_id, queue=self._queue)


async def _wait_assigned(consumer: AIOKafkaConsumer, partitions: int, stop: Any) -> None:
    while len(consumer.assignment()) < partitions:
        if stop.is_set():
            return
        await asyncio.sleep(0.005)


async def _subject(database_url: str, bootstrap: str, partitions: int, queue: Any, stop: Any) -> None:
    from bench.messaging import trends_group  # the parent's module: same group, handler and tables

    engine = create_engine(database_url)
    broker = KafkaBroker(bootstrap, client_id="bench-latency-signals", logger=None)
    group = trends_group()
    uow = _ReportingUnitOfWorkFactory(session_factory(engine), queue)
    subscribe(broker, EventConsumer(group, uow, kafka_dead_letter(broker, group.name), RetryPolicy()))
    await broker.start()
    try:
        (subscriber,) = broker.subscribers
        await _wait_assigned(subscriber.consumer, partitions, stop)  # type: ignore[attr-defined]
        queue.put((READY, time.monotonic()))
        while not stop.is_set():  # noqa: ASYNC110 - a multiprocessing.Event, which asyncio cannot await
            await asyncio.sleep(0.05)
    finally:
        await broker.stop()
        await engine.dispose()


async def _baseline(topic: str, bootstrap: str, partitions: int, queue: Any, stop: Any) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-latency-raw-{topic}",
        client_id="bench-latency-raw",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()

    async def receive() -> None:
        while True:
            record = await consumer.getone()
            queue.put((dict(record.headers)["ce_id"].decode(), time.monotonic()))

    receiver = asyncio.create_task(receive())
    try:
        await _wait_assigned(consumer, partitions, stop)
        queue.put((READY, time.monotonic()))
        while not stop.is_set() and not receiver.done():  # noqa: ASYNC110 - a multiprocessing.Event
            await asyncio.sleep(0.05)
        if receiver.done():
            receiver.result()  # raise what stopped it
    finally:
        receiver.cancel()
        await consumer.stop()


def run(mode: str, database_url: str, bootstrap: str, topic: str, partitions: int, queue: Any, stop: Any) -> None:
    """Entry point of the child process (``multiprocessing``, spawn): ``mode`` is ``subject`` or ``baseline``."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s consumer process: %(name)s: %(message)s")
    try:
        if mode == "subject":
            asyncio.run(_subject(database_url, bootstrap, partitions, queue, stop))
        else:
            asyncio.run(_baseline(topic, bootstrap, partitions, queue, stop))
    except KeyboardInterrupt:
        pass
    except BaseException as error:
        queue.put((FAILED, repr(error)))
        raise
