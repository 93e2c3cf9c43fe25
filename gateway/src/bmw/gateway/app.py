"""The gateway's composition root: ``create_app`` builds the FastAPI app; its lifespan the HTTP client.

The schema, with its validation rules, is built once here; the shared ``httpx.AsyncClient`` (pool,
timeouts) and the subscriptions' event feed (one Kafka consumer) live exactly as long as the app's lifespan.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from bmw.gateway.context import GatewayRuntime
from bmw.gateway.graphql_http import RequestGuards
from bmw.gateway.metrics import GraphQLMetrics, UpstreamMetrics
from bmw.gateway.rate_limit import RateLimiter
from bmw.gateway.request_size import RequestSizeLimit
from bmw.gateway.schema import Protection, build_schema
from bmw.gateway.settings import GatewaySettings, get_settings
from bmw.gateway.subscriptions.kafka import running_feed
from bmw.gateway.subscriptions.resolvers import FEED_STATE
from bmw.gateway.subscriptions.transport import GraphQLRouter, connection_context
from bmw.gateway.trusted_documents import TrustedDocuments, default_registry_path
from bmw.servicekit.app import FlowContextMiddleware
from bmw.servicekit.auth import TokenVerifier
from bmw.servicekit.errors import install_error_handlers
from bmw.servicekit.health import Check, health_router
from bmw.servicekit.metrics import RequestMetrics, RequestMetricsMiddleware, exposition
from bmw.servicekit.tracing import FASTAPI_TELEMETRY

logger = logging.getLogger(__name__)

#: Longest wait for a service's ``/readyz`` during the gateway's own readiness check.
READINESS_TIMEOUT_SECONDS = 2.0


def _readiness_check(app: FastAPI, service: str, base_url: str) -> Check:
    async def check() -> bool:
        runtime: GatewayRuntime = app.state.runtime
        response = await runtime.http.get(f"{base_url}/readyz", timeout=READINESS_TIMEOUT_SECONDS)
        if response.status_code != 200:
            logger.warning("%s not ready: HTTP %s", service, response.status_code)
        return response.status_code == 200

    return check


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, the schema and its validation rules, clients) out of every later garbage
    collection.

    The gateway holds ~185,000 objects once started, and a full collection walks them all: ~200 ms on this machine,
    during which the event loop answers nothing. Under a dashboard load py-spy found half of the gateway's samples
    in a function that costs under a millisecond (the collector runs inside whatever allocates when a threshold is
    reached). Frozen objects are never examined again; they live as long as the process anyway. (No collection
    first: it would cost those 200 ms at every start, in every test, to free the little garbage start-up leaves.)
    """
    gc.freeze()


def create_app(
    settings: GatewaySettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The gateway app. ``transport`` replaces the network for the service calls (tests)."""
    settings = settings or get_settings()
    # One line per service call would drown the log; failures are logged by the clients.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    trusted_documents = TrustedDocuments.load(settings.trusted_documents_path or default_registry_path())
    registry = CollectorRegistry()
    operations = GraphQLMetrics(registry)
    upstream = UpstreamMetrics(registry)
    schema = build_schema(
        Protection(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_cost=settings.max_cost,
            introspection=settings.introspection_enabled,
        ),
        extra_extensions=[operations.extension()],
    )
    verifier = TokenVerifier.configured(
        public_key=settings.jwt_public_key,
        jwks_url=settings.jwt_jwks_url,
        jwks_cache_seconds=settings.jwt_jwks_cache_seconds,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        # In production a social worker's token must say whom they serve (see bmw.servicekit.auth).
        require_serves=settings.production,
    )
    service_urls = settings.service_urls()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.request_timeout_seconds, connect=settings.connect_timeout_seconds)
        limits = httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
            # Well inside the services' keep-alive (30 s): a connection the server is closing as idle is never
            # reused for a request (a POST that met that race failed with ReadError, and is not retried).
            keepalive_expiry=2.0,
        )
        async with (
            httpx.AsyncClient(transport=transport, timeout=timeout, limits=limits, follow_redirects=False) as http,
            running_feed(
                bootstrap_servers=settings.kafka_bootstrap_servers,
                queue_size=settings.subscription_queue_size,
                transport=settings.kafka_transport(),
            ) as feed,
        ):
            app.state.runtime = GatewayRuntime(
                settings=settings, verifier=verifier, http=http, service_urls=service_urls, upstream=upstream
            )
            setattr(app.state, FEED_STATE, feed)
            _freeze_startup_objects()
            logger.info("gateway started")
            yield
            logger.info("gateway stopping")

    app = FastAPI(
        title="BMW gateway",
        description="One GraphQL API over the BMW services, at /graphql.",
        version="0.1.0",
        lifespan=lifespan,
        telemetry=FASTAPI_TELEMETRY,
        docs_url=None if settings.production else "/docs",
        redoc_url=None,
    )
    # Inside the flow context, so that a 413 still carries the request id.
    app.add_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(FlowContextMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=RequestMetrics(registry))
    install_error_handlers(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus text format: HTTP requests, GraphQL operations and service calls (see bmw.gateway.metrics)."""
        body, content_type = exposition([registry], [])
        return Response(content=body, media_type=content_type)

    app.include_router(
        health_router({service: _readiness_check(app, service, url) for service, url in service_urls.items()})
    )
    app.include_router(
        GraphQLRouter(
            schema,
            path="/graphql",
            # Also builds the (at first anonymous) context of a WebSocket; get_context serves HTTP only.
            context_getter=connection_context,
            graphql_ide=None if settings.production else "graphiql",
            allow_queries_via_get=True,
            guards=RequestGuards(
                trusted_documents=trusted_documents,
                integrations_trusted_documents_only=settings.integrations_restricted_to_trusted_documents,
                rate_limiter=RateLimiter(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst),
            ),
            # Subscriptions over WebSocket only; graphql-ws (the older protocol) and SSE are not offered.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
    )
    return app
