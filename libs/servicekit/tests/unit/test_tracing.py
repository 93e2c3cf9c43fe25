"""Tracing: export chosen by the standard OTEL_* variables (off unless asked), the server span of a request (named by
its route's template, continuing the caller's trace), and the send span of each record the relay publishes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.servicekit.app import FlowContextMiddleware
from bmw.servicekit.context import current_flow
from bmw.servicekit.messaging import kafka_publisher
from bmw.servicekit.tracing import (
    FASTAPI_TELEMETRY,
    TracingConfigurationError,
    configure_tracing,
    exporters_from_environment,
    tracer_provider,
)

TRACE, CALLER = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


# -- export by the OTEL_* variables -----------------------------------------------------------------------------


def test_nothing_is_exported_unless_the_variables_ask_for_it() -> None:
    assert exporters_from_environment({}) == []
    assert exporters_from_environment({"OTEL_TRACES_EXPORTER": "none"}) == []


def test_an_otlp_endpoint_alone_turns_otlp_export_on() -> None:
    [exporter] = exporters_from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert isinstance(exporter, OTLPSpanExporter)
    [exporter] = exporters_from_environment({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert isinstance(exporter, OTLPSpanExporter)


def test_several_exporters_can_be_named() -> None:
    exporters = exporters_from_environment({"OTEL_TRACES_EXPORTER": "otlp, console"})
    assert [type(e) for e in exporters] == [OTLPSpanExporter, ConsoleSpanExporter]


def test_a_disabled_sdk_exports_nothing_and_installs_no_provider() -> None:
    environ = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert exporters_from_environment(environ) == []
    assert configure_tracing("intake", environ) is None


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "jaeger"}, "'jaeger' is not one of otlp, console, none"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTLP protocol 'grpc'"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "'http/json'"),
    ],
)
def test_a_variable_that_cannot_be_honoured_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(TracingConfigurationError, match=named):
        exporters_from_environment(environ)


def test_serve_refuses_to_start_with_an_exporter_it_does_not_have() -> None:
    environ = {**os.environ, "OTEL_TRACES_EXPORTER": "zipkin"}
    done = subprocess.run(
        [sys.executable, "-m", "bmw.intake", "serve", "--port", "1"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "OTEL_TRACES_EXPORTER='zipkin'" in done.stderr and "Traceback" not in done.stderr


# -- the request's server span ----------------------------------------------------------------------------------


def traced_app() -> FastAPI:
    app = FastAPI(telemetry=FASTAPI_TELEMETRY)
    app.add_middleware(FlowContextMiddleware)

    @app.get("/cases/{case_id}")
    async def case(case_id: str) -> dict[str, str | None]:
        return {"traceparent": current_flow().traceparent}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("the message may quote data: Sanne de Vries")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def get(path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=traced_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_a_request_is_a_server_span_named_by_its_route_in_the_callers_trace(spans: list[ReadableSpan]) -> None:
    case_id = str(uuid.uuid4())
    response = await get(f"/cases/{case_id}", traceparent=f"00-{TRACE}-{CALLER}-01")

    [span] = spans
    assert (span.name, span.kind) == ("GET /cases/{case_id}", SpanKind.SERVER)
    assert span.context is not None and f"{span.context.trace_id:032x}" == TRACE
    assert span.parent is not None and f"{span.parent.span_id:016x}" == CALLER
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 200
    assert case_id not in repr(dict(span.attributes)) + span.name, "the route's template, not the path"
    # What the flow passes on (to the outbox, to a service call) is this span's context.
    assert response.json()["traceparent"] == f"00-{TRACE}-{span.context.span_id:016x}-01"


async def test_a_request_without_a_trace_starts_one_and_a_failure_is_marked(spans: list[ReadableSpan]) -> None:
    response = await get("/broken")
    assert response.status_code == 500
    [span] = spans
    assert span.parent is None and span.name == "GET /broken"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None and span.attributes["error.type"] == "RuntimeError"
    assert "Sanne" not in repr(dict(span.attributes)) and not span.events, "no exception message is recorded"


async def test_probes_are_not_traced(spans: list[ReadableSpan]) -> None:
    assert (await get("/healthz")).status_code == 200
    assert spans == []


# -- the relay's send span --------------------------------------------------------------------------------------


class FakeBroker:
    """Takes what the publisher sends; every send is acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def publish(self, value: bytes, topic: str, **options: Any) -> asyncio.Future[None]:
        self.sent.append({"topic": topic, **options})
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def referral(traceparent: str | None) -> CloudEvent:
    data = ReferralReceived(
        referral_id=uuid.uuid4(),
        channel=Channel.HR,
        org_unit_id=uuid.uuid4(),
        category=Category.OTHER,
        urgency=Urgency.NORMAL,
        received_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    return CloudEvent.create(data, tenant_id=uuid.uuid4(), traceparent=traceparent)


async def test_each_record_carries_its_send_span_under_the_events_own_trace(spans: list[ReadableSpan]) -> None:
    broker = FakeBroker()
    traced, untraced = referral(f"00-{TRACE}-{CALLER}-01"), referral(None)

    await kafka_publisher(broker)([traced, untraced])  # type: ignore[arg-type]

    first, second = spans
    assert (first.name, first.kind) == ("send bmw.intake.events", SpanKind.PRODUCER)
    assert first.parent is not None and f"{first.parent.span_id:016x}" == CALLER
    assert first.context is not None and broker.sent[0]["headers"]["traceparent"] == (
        f"00-{TRACE}-{first.context.span_id:016x}-01"
    )
    assert broker.sent[0]["headers"]["ce_id"] == str(traced.id), "the event itself is unchanged"
    assert second.parent is None, "an event without a trace starts one when it is sent"
    assert second.context is not None and f"{second.context.span_id:016x}" in broker.sent[1]["headers"]["traceparent"]


def test_without_an_exporter_spans_are_not_recorded_unless_a_caller_asks() -> None:
    quiet = tracer_provider("intake", {})
    caller = trace.set_span_in_context(
        trace.NonRecordingSpan(
            trace.SpanContext(int(TRACE, 16), int(CALLER, 16), is_remote=True, trace_flags=trace.TraceFlags(1))
        )
    )
    with quiet.get_tracer("test").start_as_current_span("root") as root:
        assert not root.is_recording() and root.get_span_context().is_valid, "ids for the logs, nothing recorded"
    with quiet.get_tracer("test").start_as_current_span("asked", context=caller) as asked:
        assert asked.is_recording(), "a caller's sampled traceparent is followed"
    exporting = tracer_provider("intake", {"OTEL_TRACES_EXPORTER": "console"})
    with exporting.get_tracer("test").start_as_current_span("root") as root:
        assert root.is_recording()
    exporting.shutdown()
