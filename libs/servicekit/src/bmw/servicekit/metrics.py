"""Metrics in the Prometheus text format at ``GET /metrics``: what an operator watches of a service.

- ``bmw_http_requests_total{method, route, status}`` and ``bmw_http_request_duration_seconds{method, route}``: rate,
  errors (``status`` 5xx) and latency per operation (the route's template, never a raw path: no ids in labels);
- ``bmw_outbox_unsent_events`` and ``bmw_outbox_oldest_unsent_age_seconds``: what the relay has not sent yet;
- ``bmw_consumer_lag_messages{group, topic}``: records on the topic not yet committed by the consumer group;
- ``bmw_dead_letter_messages{topic}``: records on the dead-letter topic of each topic the service consumes;
- ``bmw_consumer_events_total{group, outcome}``: what each consumer group did with the records it read since the
  process started: ``applied``, ``duplicate`` (skipped: its inbox had the event), ``ignored`` (no handler for the
  type) or ``dead_lettered``; a rise in duplicates after a replay or a rebalance is the inbox at work;
- whatever the service adds (``ServiceSpec.metric_sources``, e.g. signals raised per kind), read at scrape time;
- ``bmw_metrics_source_up{source}``: 0 when a source (database, broker) did not answer, so a gap is visible.

The request metrics live in the app's own registry (several apps in one test process do not mix). What needs the
database or the broker is read when scraped, at most once per ``cache_seconds``, within a time limit, so a scraper
can never load the service much; labels carry no tenant, no person, no id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bmw.servicekit.outbox import backlog
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import WHOLE_SERVICE, scoped

logger = logging.getLogger(__name__)

#: Latency buckets in seconds: from a cached read to a slow report.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

#: An extra scrape-time source of a service: families read from its database (whole-service scope).
MetricSource = Callable[[UnitOfWorkFactory], Awaitable[Iterable[Metric]]]


class RequestMetrics:
    """The request counter and latency histogram of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "bmw_http_requests",
            "HTTP requests answered, per operation (route template) and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "bmw_http_request_duration_seconds",
            "Time to answer an HTTP request, per operation (route template).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )


class RequestMetricsMiddleware:
    """Counts and times every HTTP request by its route template (``/cases/{case_id}``), after routing."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if route != "/metrics":
                method = str(scope.get("method", "GET"))
                self.metrics.requests.labels(method, route, str(status)).inc()
                self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


class ConsumerOutcomes:
    """The ``bmw_consumer_events_total{group, outcome}`` counter, read from the consumers' own tallies when scraped.

    ``tallies`` returns, per consumer group, its counts by outcome (``EventConsumer.counts``); every outcome in
    ``outcomes`` is exposed, at 0 until it happens, so that a dashboard can tell "none" from "not measured".
    """

    def __init__(self, tallies: Callable[[], Iterable[tuple[str, Mapping[str, int]]]], outcomes: Sequence[str]) -> None:
        self._tallies = tallies
        self._outcomes = tuple(outcomes)

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "bmw_consumer_events",
            "Records each consumer group handled since the process started, by outcome: applied, duplicate (skipped, "
            "already in its inbox), ignored (no handler for the type) or dead_lettered.",
            labels=["group", "outcome"],
        )
        for group, counts in sorted(self._tallies()):
            for outcome in dict.fromkeys([*self._outcomes, *sorted(counts)]):
                family.add_metric([group, outcome], counts.get(outcome, 0))
        yield family


@dataclass
class KafkaView:
    """How to read the broker's offsets: its address, client settings, and which groups and topics to look at."""

    bootstrap_servers: str
    client_kwargs: dict[str, Any]
    #: consumer group -> the topics it consumes
    groups: dict[str, Sequence[str]]


@dataclass
class ScrapeTimeMetrics:
    """The metrics read from the database and the broker when scraped (cached for ``cache_seconds``)."""

    uow: UnitOfWorkFactory
    kafka: KafkaView | None
    sources: Sequence[MetricSource] = ()
    cache_seconds: float = 5.0
    timeout_seconds: float = 5.0
    _cached: list[Metric] = field(default_factory=list)
    _at: float = -1e9
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def families(self) -> list[Metric]:
        async with self._lock:
            if time.monotonic() - self._at >= self.cache_seconds:
                self._cached = await self._read()
                self._at = time.monotonic()
            return list(self._cached)

    async def _read(self) -> list[Metric]:
        # Whoever scrapes, the counts are the service's own view of its data (a request starts with no organisation):
        # numbers over every organisation, labelled by nothing that names one.
        with scoped(WHOLE_SERVICE):
            return await self._read_all()

    async def _read_all(self) -> list[Metric]:
        up = GaugeMetricFamily(
            "bmw_metrics_source_up", "1 when a metrics source answered at the last scrape.", labels=["source"]
        )
        found: list[Metric] = []
        for name, read in (("database", self._database), ("broker", self._broker)):
            try:
                found += await asyncio.wait_for(read(), timeout=self.timeout_seconds)
                up.add_metric([name], 1)
            except Exception:
                logger.warning("metrics source %s did not answer", name, exc_info=True)
                up.add_metric([name], 0)
        return [*found, up]

    async def _database(self) -> list[Metric]:
        async with self.uow() as work:  # the service's own view: every organisation's rows, counted only
            unsent, oldest = await backlog(work.session)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        found: list[Metric] = [
            GaugeMetricFamily(
                "bmw_outbox_unsent_events", "Events in the outbox the relay has not sent yet.", value=unsent
            ),
            GaugeMetricFamily(
                "bmw_outbox_oldest_unsent_age_seconds",
                "Age of the oldest unsent event in the outbox (0 when none waits).",
                value=max(age, 0.0),
            ),
        ]
        for source in self.sources:
            found += list(await source(self.uow))
        return found

    async def _broker(self) -> list[Metric]:
        if self.kafka is None:
            return []
        return await kafka_offsets(self.kafka)


async def kafka_offsets(view: KafkaView) -> list[Metric]:
    """Consumer lag per group and topic, and the size of each consumed topic's dead-letter topic."""
    lag = GaugeMetricFamily(
        "bmw_consumer_lag_messages",
        "Records on a topic the consumer group has not committed yet (end offset minus committed offset).",
        labels=["group", "topic"],
    )
    dead = GaugeMetricFamily(
        "bmw_dead_letter_messages",
        "Records on the dead-letter topic of a topic the service consumes (end minus start offset).",
        labels=["topic"],
    )
    topics = sorted({topic for consumed in view.groups.values() for topic in consumed})
    dead_topics = [f"{topic}.dlq" for topic in topics]
    admin = AIOKafkaAdminClient(bootstrap_servers=view.bootstrap_servers, **view.client_kwargs)
    reader = AIOKafkaConsumer(bootstrap_servers=view.bootstrap_servers, enable_auto_commit=False, **view.client_kwargs)
    await admin.start()
    await reader.start()
    try:
        described = await admin.describe_topics([*topics, *dead_topics])
        partitions = {
            str(topic["topic"]): [TopicPartition(str(topic["topic"]), int(p["partition"])) for p in topic["partitions"]]
            for topic in described
            if not topic.get("error_code")
        }
        every = [tp for tps in partitions.values() for tp in tps]
        ends = await reader.end_offsets(every) if every else {}
        starts = await reader.beginning_offsets(every) if every else {}
        for group, consumed in sorted(view.groups.items()):
            mine = [tp for topic in consumed for tp in partitions.get(topic, [])]
            committed = await _committed(view, group, mine)
            for topic in consumed:
                behind = 0
                for tp in partitions.get(topic, []):
                    done = committed.get(tp)
                    position = done if done is not None and done >= 0 else starts.get(tp, 0)
                    behind += max(ends.get(tp, 0) - position, 0)
                lag.add_metric([group, topic], behind)
        for topic in dead_topics:
            size = sum(max(ends.get(tp, 0) - starts.get(tp, 0), 0) for tp in partitions.get(topic, []))
            dead.add_metric([topic], size)
    finally:
        await reader.stop()
        await admin.close()
    return [lag, dead]


async def _committed(view: KafkaView, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    """The group's committed offsets, asked as the group's own consumers ask (OffsetFetch through its coordinator,
    without joining the group: nothing is rebalanced). The admin client's batch call is not used: the embedded broker
    answers it in a form aiokafka cannot read."""
    asker = AIOKafkaConsumer(
        bootstrap_servers=view.bootstrap_servers, group_id=group, enable_auto_commit=False, **view.client_kwargs
    )
    await asker.start()
    try:
        offsets = await asyncio.gather(*(asker.committed(tp) for tp in partitions))
    finally:
        await asker.stop()
    return dict(zip(partitions, offsets, strict=True))


def exposition(registries: Sequence[CollectorRegistry], families: Iterable[Metric]) -> tuple[bytes, str]:
    """The text format of the registries and of the scrape-time families, and its content type."""
    scraped = CollectorRegistry()
    scraped.register(_Families(list(families)))
    return b"".join(generate_latest(registry) for registry in [*registries, scraped]), CONTENT_TYPE_LATEST


class _Families:
    """A collector that returns families read just now."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families
