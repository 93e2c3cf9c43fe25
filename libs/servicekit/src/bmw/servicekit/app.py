"""The app factory: wires one service from the kit's parts inside its lifespan.

Nothing is built at import time. On start: database engine, Kafka broker (its own and consumed
topics created with their partition count), consumers, outbox relay. On stop (SIGTERM): stop
consuming, let in-flight work finish, flush the relay, close the pool.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from faststream.kafka import KafkaBroker
from opentelemetry.trace import Span, SpanKind
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bmw.contracts.envelope import dlq_topic
from bmw.contracts.pseudonyms import use_login_key
from bmw.servicekit.auth import TokenVerifier
from bmw.servicekit.context import FlowContext, reset_flow, set_flow
from bmw.servicekit.db import engine_for, session_factory
from bmw.servicekit.dlq import DeadLetterOffice
from bmw.servicekit.errors import error_responses, install_error_handlers, internal_error_response
from bmw.servicekit.health import health_router
from bmw.servicekit.housekeeping import Tidied, tidy_messaging
from bmw.servicekit.input_guard import InputGuardMiddleware
from bmw.servicekit.jobs import run_exclusively
from bmw.servicekit.messaging import (
    Batching,
    ConsumerGroup,
    EventConsumer,
    Outcome,
    RetryPolicy,
    ensure_topics,
    kafka_dead_letter,
    kafka_publisher,
    subscribe,
)
from bmw.servicekit.metrics import (
    ConsumerOutcomes,
    KafkaView,
    MetricSource,
    RequestMetrics,
    RequestMetricsMiddleware,
    ScrapeTimeMetrics,
    exposition,
)
from bmw.servicekit.outbox import OutboxRelay
from bmw.servicekit.settings import Environment, ServiceSettings
from bmw.servicekit.tracing import FASTAPI_TELEMETRY, context_of, fail, traceparent_of, tracer
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import NO_TENANT, set_scope

logger = logging.getLogger(__name__)


@dataclass
class ServiceSpec:
    """What makes one service: its name, settings, routes and consumer groups."""

    name: str
    title: str
    description: str
    settings: ServiceSettings
    routers: Sequence[APIRouter] = ()
    consumer_groups: Sequence[ConsumerGroup] = ()
    version: str = "0.1.0"
    openapi_tags: list[dict[str, Any]] = field(default_factory=list)
    periodic_jobs: Sequence[PeriodicJob] = ()
    #: Metrics of the service's own read at scrape time from its database (``bmw.servicekit.metrics``).
    metric_sources: Sequence[MetricSource] = ()
    #: Registries of metrics the service's code records itself (e.g. a billing run's duration).
    metric_registries: Sequence[CollectorRegistry] = ()


@dataclass(frozen=True)
class PeriodicJob:
    """Work a service does on a timer (e.g. expiring referrals), started and stopped with it."""

    name: str
    interval_seconds: float
    run: Callable[[ServiceRuntime], Awaitable[object]]


async def _run_periodically(job: PeriodicJob, runtime: ServiceRuntime) -> None:
    """Run ``job`` every interval, in one instance of the service at a time (bmw.servicekit.jobs)."""
    while True:
        try:
            await run_exclusively(runtime.engine, job.name, lambda: job.run(runtime))
        except asyncio.CancelledError:
            raise
        except Exception:  # a failing run is logged (with its traceback) and tried again next interval
            logger.exception("periodic job %s failed; next try in %.0fs", job.name, job.interval_seconds)
        await asyncio.sleep(job.interval_seconds)


def _messaging_housekeeping(settings: ServiceSettings) -> PeriodicJob:
    """Every service's outbox and inbox kept to their windows (bmw.servicekit.housekeeping)."""

    async def run(runtime: ServiceRuntime) -> Tidied:
        return await tidy_messaging(
            runtime.uow,
            outbox_keep=timedelta(days=settings.outbox_keep_days),
            inbox_keep=timedelta(days=settings.inbox_keep_days),
        )

    return PeriodicJob("messaging-housekeeping", settings.messaging_housekeeping_seconds, run)


def _topic_check(spec: ServiceSpec) -> PeriodicJob:
    """The service's topics exist with their partitions: recreated after a broker lost them, also where this
    service's relay has nothing to publish that would notice."""
    settings = spec.settings

    async def run(runtime: ServiceRuntime) -> None:
        await ensure_service_topics(spec)

    return PeriodicJob("topic-check", settings.topic_check_seconds, run)


@dataclass
class ServiceRuntime:
    """Everything a request or handler needs, built in the lifespan and kept on ``app.state``."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    broker: KafkaBroker
    relay: OutboxRelay
    uow: UnitOfWorkFactory
    verifier: TokenVerifier
    consumers: list[EventConsumer]
    #: Service-specific singletons built from the runtime (e.g. intake's cipher), keyed by name.
    extensions: dict[str, Any] = field(default_factory=dict)


async def _database_ready(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        await asyncio.wait_for(connection.execute(text("SELECT 1")), timeout=2)
    return True


def build_runtime(spec: ServiceSpec) -> ServiceRuntime:
    """Create (but do not start) the runtime of a service."""
    settings = spec.settings
    use_login_key(settings.login_digest_key.get_secret_value())
    engine = engine_for(settings)
    sessions = session_factory(engine)
    kafka = settings.kafka_transport()
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"bmw-{spec.name}",
        logger=None,
        security=kafka.faststream_security(),
        # How soon a recreated topic (a broker that lost its data) or added partitions reach the consumer groups'
        # assignments: aiokafka's default is five minutes.
        metadata_max_age_ms=int(settings.kafka_metadata_max_age_seconds * 1000),
    )

    relay = OutboxRelay(
        sessions,
        kafka_publisher(broker),
        batch_size=settings.outbox_batch_size,
        poll_seconds=settings.outbox_poll_seconds,
        # A broker that lost its data (or a new cluster) gets the topics back with their partitions before the relay
        # publishes again, rather than auto-created with the broker's default count (or not at all).
        after_failure=lambda: ensure_service_topics(spec),
    )
    uow = UnitOfWorkFactory(sessions, on_commit=relay.notify)
    retry = RetryPolicy(
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_backoff_seconds,
        backoff_max_seconds=settings.consumer_backoff_max_seconds,
    )
    consumers = [
        EventConsumer(group, uow, kafka_dead_letter(broker, group.name), retry) for group in spec.consumer_groups
    ]
    batching = Batching(max_records=settings.consumer_batch_size, concurrency=settings.consumer_concurrency)
    for consumer in consumers:
        subscribe(broker, consumer, batching)
    verifier = TokenVerifier.configured(
        public_key=settings.jwt_public_key,
        jwks_url=settings.jwt_jwks_url,
        jwks_cache_seconds=settings.jwt_jwks_cache_seconds,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        # In production a social worker's token must say whom they serve (see bmw.servicekit.auth).
        require_serves=settings.environment is Environment.PRODUCTION,
    )
    return ServiceRuntime(settings, engine, sessions, broker, relay, uow, verifier, consumers)


def topics_of(spec: ServiceSpec) -> list[str]:
    """The service's own topic, the topics it consumes, and their dead-letter topics."""
    topics = [spec.settings.topic]
    for group in spec.consumer_groups:
        topics.extend(group.topics)
    return [t for topic in dict.fromkeys(topics) for t in (topic, dlq_topic(topic))]


async def ensure_service_topics(spec: ServiceSpec) -> None:
    """The service's topics exist, with the configured partitions (created where missing)."""
    settings = spec.settings
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        topics_of(spec),
        partitions=settings.topic_partitions,
        transport=settings.kafka_transport(),
    )


def _log_transport(settings: ServiceSettings) -> None:
    """Say how the process reaches Kafka and PostgreSQL (never a password), and warn of a production database
    connection that is encrypted but does not verify the server (``require``: see ``bmw.servicekit.transport``)."""
    database = settings.database_transport()
    logger.info("kafka: %s; database: %s", settings.kafka_transport().describe(), database.describe())
    if settings.environment is Environment.PRODUCTION and database.encrypted and not database.verifies_server:
        logger.warning(
            "the database's certificate is not verified (sslmode require without a root certificate): "
            "set %sDATABASE_SSL_MODE=verify-full and %sDATABASE_SSL_ROOT_CERT",
            database.prefix,
            database.prefix,
        )


async def start_runtime(spec: ServiceSpec, runtime: ServiceRuntime, *, attempts: int = 60) -> None:
    """Create topics and start the broker, retrying while the broker is not yet reachable."""
    _log_transport(spec.settings)
    for attempt in range(1, attempts + 1):
        try:
            await ensure_service_topics(spec)
            await runtime.broker.start()
            break
        except (TimeoutError, OSError, ConnectionError) as error:
            if attempt == attempts:
                raise
            logger.warning("broker not reachable (%s); retrying", type(error).__name__)
            await asyncio.sleep(1)
        except Exception as error:  # aiokafka raises its own KafkaConnectionError family
            if attempt == attempts or "Connection" not in type(error).__name__:
                raise
            logger.warning("broker not reachable (%s); retrying", type(error).__name__)
            await asyncio.sleep(1)
    runtime.relay.start()


#: The longest a consumer group may take to stop at shutdown.
CONSUMER_STOP_SECONDS = 10.0


async def stop_runtime(runtime: ServiceRuntime) -> None:
    """Graceful shutdown: stop consuming, flush the relay while the producer is still up, then close
    the broker and the pool. An in-flight message whose transaction did not commit is redelivered later
    (its offset was not committed) and the inbox keeps that harmless."""
    for subscriber in runtime.broker.subscribers:
        # Bounded: a broker that no longer answers must not hold the shutdown past the platform's grace period (an
        # unanswered fetch waits 40 s); what was not committed is redelivered and skipped by the inbox.
        try:
            await asyncio.wait_for(subscriber.stop(), timeout=CONSUMER_STOP_SECONDS)
        except TimeoutError:
            logger.warning(
                "a consumer did not stop within %.0fs (broker unreachable?); going on", CONSUMER_STOP_SECONDS
            )
    await runtime.relay.stop(flush=True)
    await runtime.broker.stop()
    await runtime.engine.dispose()


#: Paths that probes and scrapers call every few seconds: no span for them (they would bury the traces that matter).
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class FlowContextMiddleware:
    """Reads correlation id and trace context from the request, answers with a request id, and traces the request:
    a server span (``GET /cases/{case_id}``: the route's template) whose context the flow passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if scope.get("path") in UNTRACED_PATHS:
            await self._handle(scope, receive, send, headers, None)
            return
        method = scope.get("method", "GET")
        with tracer().start_as_current_span(
            method,
            context=context_of(headers.get("traceparent")),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.scheme": scope.get("scheme", "http")},
            record_exception=False,  # an exception's message may quote what was sent; fail() records its type
            set_status_on_exception=False,
        ) as span:
            await self._handle(scope, receive, send, headers, span)

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], span: Span | None
    ) -> None:
        request_id = uuid.uuid4().hex
        correlation = headers.get("x-correlation-id") or request_id
        # No organisation until the caller is verified (get_principal): a route that never asks who calls reaches no
        # tenant's rows.
        set_scope(NO_TENANT)
        token = set_flow(
            FlowContext(
                correlation_id=correlation[:128],
                causation_id=f"request:{request_id}",
                traceparent=(traceparent_of(span) if span is not None else None) or headers.get("traceparent"),
                request_id=request_id,
            )
        )

        started = False
        status = 500

        async def send_with_ids(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                extra = [(b"x-request-id", request_id.encode()), (b"x-correlation-id", correlation[:128].encode())]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception as error:
            if span is not None:
                fail(span, error)
            # Answered here, inside the request's flow context, so the 500 quotes the request id that
            # the log line carries (Starlette's outer error middleware would no longer know it).
            if started:
                raise
            await internal_error_response(error)(scope, receive, send_with_ids)
        finally:
            reset_flow(token)
            if span is not None:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{scope.get('method', 'GET')} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    fail(span)


def dead_letter_office(spec: ServiceSpec) -> DeadLetterOffice:
    """The dead letters of the service's consumer groups, reached with its own Kafka settings (``dlq``)."""
    settings = spec.settings
    return DeadLetterOffice(
        spec.name,
        settings.kafka_bootstrap_servers,
        {group.name: tuple(group.topics) for group in spec.consumer_groups},
        settings.kafka_transport().aiokafka_kwargs(),
    )


def create_service_app(
    spec: ServiceSpec,
    *,
    on_started: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
) -> FastAPI:
    """The FastAPI app of one service; infrastructure lives and dies with its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(spec)
        app.state.runtime = runtime
        app.state.scrape_time_metrics = ScrapeTimeMetrics(
            runtime.uow,
            KafkaView(
                bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
                client_kwargs=runtime.settings.kafka_transport().aiokafka_kwargs(),
                groups={group.name: tuple(group.topics) for group in spec.consumer_groups},
            ),
            spec.metric_sources,
        )
        await start_runtime(spec, runtime)
        if on_started is not None:
            await on_started(runtime)
        jobs = [
            asyncio.create_task(_run_periodically(job, runtime), name=job.name)
            for job in (*spec.periodic_jobs, _messaging_housekeeping(runtime.settings), _topic_check(spec))
        ]
        logger.info("%s started", spec.name)
        try:
            yield
        finally:
            logger.info("%s stopping", spec.name)
            for task in jobs:
                task.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await stop_runtime(runtime)

    production = spec.settings.environment is Environment.PRODUCTION
    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version=spec.version,
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY,
        openapi_tags=spec.openapi_tags or None,
        docs_url=None if production else "/docs",
        redoc_url=None,
        # The input guard refuses forbidden text anywhere in a request, a stray query parameter too: every
        # operation can answer 422, also one without parameters (FastAPI documents it only for those with some); and
        # any request declaring a body over its limit gets 413.
        responses=error_responses(413, 422),
    )
    # Inside the flow context (added last = outermost), so its refusals carry the request id.
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(FlowContextMiddleware)
    # Outermost: counts every answer, the flow context's 500s and the input guard's refusals included.
    registry = CollectorRegistry()
    app.add_middleware(RequestMetricsMiddleware, metrics=RequestMetrics(registry))

    def consumer_tallies() -> list[tuple[str, dict[str, int]]]:
        runtime: ServiceRuntime | None = getattr(app.state, "runtime", None)
        return [(consumer.group.name, dict(consumer.counts)) for consumer in (runtime.consumers if runtime else [])]

    registry.register(
        ConsumerOutcomes(consumer_tallies, (Outcome.APPLIED, Outcome.DUPLICATE, Outcome.IGNORED, Outcome.DEAD_LETTERED))
    )
    install_error_handlers(app)

    async def database_check() -> bool:
        return await _database_ready(app.state.runtime.engine)

    async def broker_check() -> bool:
        runtime: ServiceRuntime = app.state.runtime
        return bool(await runtime.broker.ping(timeout=2))

    app.include_router(health_router({"database": database_check, "broker": broker_check}))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus text format (see bmw.servicekit.metrics): no tenant, person or id in any label."""
        scraped: ScrapeTimeMetrics = app.state.scrape_time_metrics
        body, content_type = exposition([registry, *spec.metric_registries], await scraped.families())
        return Response(content=body, media_type=content_type)

    for router in spec.routers:
        app.include_router(router)
    return app
