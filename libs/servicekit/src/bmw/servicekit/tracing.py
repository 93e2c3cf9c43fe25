"""Tracing with OpenTelemetry: one trace per flow, across processes and Kafka (issue 9).

A referral's journey is one tree: the gateway's request span, its call to intake, intake's request span and the
database calls under it, the outbox row's ``create`` span (whose context the event carries as ``traceparent``), the
relay's ``publish`` span (the Kafka record's ``traceparent`` header), and under it each consumer group's ``process``
span with its own database calls and the events it emits in turn.

One process is one service: :func:`configure_tracing` installs the process's tracer provider, named after the service,
once, when ``serve`` starts. The code asks for its tracer with ``trace.get_tracer``, the standard way; until (or
unless) a provider is installed the spans are no-ops and the flow's incoming ``traceparent`` is passed on unchanged.

Export follows the standard ``OTEL_*`` variables, and is off unless they ask for it:

- ``OTEL_TRACES_EXPORTER``: ``otlp``, ``console`` or ``none`` (comma-separated for several); when unset, ``otlp`` if
  an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), else ``none``.
- OTLP goes over HTTP (``http/protobuf``); the exporter reads its endpoint, headers, timeout and TLS variables itself.
- ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG`` (the SDK's), ``OTEL_BSP_*`` (the batch processor's),
  ``OTEL_RESOURCE_ATTRIBUTES`` (added to ``service.name``), ``OTEL_SDK_DISABLED=true`` (no spans at all).

No span attribute carries personal data: routes are templates, SQL is the statement with its placeholders (never the
values), messages are named by topic, type and id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bmw.servicekit.context import current_flow

logger = logging.getLogger(__name__)

#: The tracer every part of the service kit uses (its spans' instrumentation scope).
TRACER_NAME = "bmw.servicekit"
#: Longest SQL statement recorded on a database span.
MAX_STATEMENT_CHARS = 2000

#: FastAPI's own telemetry, switched off: the server span is :class:`bmw.servicekit.app.FlowContextMiddleware`'s (one
#: per request, named by the route's template, no raw path or query string, which may carry ids or a searched name),
#: and FastAPI's log records of failures would quote the exception's message and the invalid input.
FASTAPI_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}

#: The ``OTEL_*`` variables a process honours (this module's, and those the SDK and the OTLP exporter read themselves).
OTEL_VARIABLES = frozenset(
    {
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_BSP_EXPORT_TIMEOUT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    }
)

_propagator = TraceContextTextMapPropagator()
_EXPORTERS = ("otlp", "console", "none")


class TracingConfigurationError(ValueError):
    """An ``OTEL_*`` variable asks for something this service cannot do; the message names it."""


def tracer() -> trace.Tracer:
    """The service kit's tracer (a no-op one until :func:`configure_tracing` ran)."""
    return trace.get_tracer(TRACER_NAME)


def exporters_from_environment(environ: Mapping[str, str]) -> list[SpanExporter]:
    """The span exporters the ``OTEL_*`` variables ask for (none by default, see the module's docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not named:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        named = "otlp" if endpoint else "none"
    exporters: list[SpanExporter] = []
    for name in (part.strip() for part in named.split(",")):
        if name not in _EXPORTERS:
            raise TracingConfigurationError(
                f"OTEL_TRACES_EXPORTER={named!r}: {name!r} is not one of {', '.join(_EXPORTERS)}"
            )
        if name == "otlp":
            protocol = (
                environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf"
            )
            if protocol != "http/protobuf":
                raise TracingConfigurationError(
                    f"OTLP protocol {protocol!r} is not supported: this service exports traces over 'http/protobuf'"
                )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
    return exporters


def tracer_provider(service: str, environ: Mapping[str, str] | None = None) -> TracerProvider:
    """The tracer provider of ``service`` (``bmw-<service>``), exporting as the ``OTEL_*`` variables say (not
    installed: see :func:`configure_tracing`)."""
    environ = os.environ if environ is None else environ
    exporters = exporters_from_environment(environ)
    # Without an exporter nobody reads the spans: they are not recorded (ids still flow into logs and onwards), unless
    # a caller's sampled traceparent asks for it. With one, the sampler is the SDK's, from OTEL_TRACES_SAMPLER.
    sampler = None if exporters else ParentBased(root=ALWAYS_OFF)
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"bmw-{service}", "service.namespace": "bmw"}), sampler=sampler
    )
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if exporters:
        logger.info("tracing: exporting spans (%s)", ", ".join(type(e).__name__ for e in exporters))
    return provider


def configure_tracing(service: str, environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """Install this process's tracer provider for ``service`` (see :func:`tracer_provider`).

    Returns the provider, or None when one was already installed (the first wins: one process, one service) or the
    SDK is disabled. Raises :class:`TracingConfigurationError` on a variable it cannot honour.
    """
    environ = os.environ if environ is None else environ
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return None
    provider = tracer_provider(service, environ)
    trace.set_tracer_provider(provider)
    return provider


def context_of(traceparent: str | None) -> Any:
    """The OpenTelemetry context a W3C ``traceparent`` names (the empty context when there is none)."""
    return _propagator.extract({"traceparent": traceparent} if traceparent else {})


def traceparent_of(span: Span) -> str | None:
    """The W3C ``traceparent`` of ``span``, or None for a span that is not recording a trace."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The ``traceparent`` to pass on: the running span's, else the one the flow came with."""
    return traceparent_of(trace.get_current_span()) or current_flow().traceparent


def fail(span: Span, error: BaseException | None = None, description: str | None = None) -> None:
    """Mark ``span`` as failed (recording the exception's type, never its message: it may quote data)."""
    if error is not None:
        span.set_attribute("error.type", type(error).__qualname__)
    span.set_status(Status(StatusCode.ERROR, description))


# -- database calls -------------------------------------------------------------------------------------------


def instrument_engine(engine: Engine) -> None:
    """A client span for every statement an engine sends (for an async engine, pass ``engine.sync_engine``).

    SQLAlchemy runs the driver in a greenlet that shares the awaiting task's context, so the span's parent is the
    request's or message's span.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer().start_span(
            f"{operation} {conn.engine.url.database or 'postgresql'}",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": "postgresql",
                "db.namespace": conn.engine.url.database or "",
                "db.operation.name": operation,
                "db.query.text": statement[:MAX_STATEMENT_CHARS],
            },
        )
        if context is not None:
            context._bmw_span = span

    @event.listens_for(engine, "after_cursor_execute")
    def _end(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        span = getattr(context, "_bmw_span", None)
        if span is not None:
            span.end()
            context._bmw_span = None

    @event.listens_for(engine, "handle_error")
    def _error(exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, "_bmw_span", None)
        if span is not None:
            fail(span, exception_context.original_exception)
            span.end()
            context._bmw_span = None
