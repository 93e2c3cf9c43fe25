"""A small OTLP/HTTP trace receiver: what the services export when ``OTEL_EXPORTER_OTLP_ENDPOINT`` points at it.

For tests that look at whole traces across processes (the gateway and the four services each export their own
spans), and for a quick look without a collector. It decodes ``POST /v1/traces`` (``application/x-protobuf``, gzip or
not) into :class:`ReceivedSpan` records and keeps at most ``limit`` of them (later ones are counted, not kept).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

#: OTLP's span kinds, by their number in the protocol.
SPAN_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
#: The status code OTLP uses for an error.
STATUS_ERROR = 2


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it arrived: ids in hex, its service (the resource's ``service.name``) and its attributes."""

    service: str
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    attributes: dict[str, Any] = field(default_factory=dict)
    error: bool = False


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of one OTLP ``ExportTraceServiceRequest``."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        service = str(_attributes(resource_spans.resource.attributes).get("service.name", "unknown"))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        service=service,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=SPAN_KINDS.get(span.kind, str(span.kind)),
                        attributes=_attributes(span.attributes),
                        error=span.status.code == STATUS_ERROR,
                    )
                )
    return spans


class OtlpReceiver:
    """Receives OTLP/HTTP trace exports (its ``endpoint`` is what ``OTEL_EXPORTER_OTLP_ENDPOINT`` takes)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, limit: int = 200_000) -> None:
        self._spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        self.limit = limit
        #: Spans that arrived after ``limit`` was reached.
        self.dropped = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_error(HTTPStatus.NOT_FOUND, "only /v1/traces is received here")
                    return
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                try:
                    received = decode(body)
                except DecodeError:  # a malformed export: tell the exporter, keep running
                    self.send_error(HTTPStatus.BAD_REQUEST, "not an OTLP ExportTraceServiceRequest")
                    return
                receiver._keep(received)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(HTTPStatus.OK)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    def _keep(self, spans: list[ReceivedSpan]) -> None:
        with self._lock:
            room = max(self.limit - len(self._spans), 0)
            self._spans.extend(spans[:room])
            self.dropped += max(len(spans) - room, 0)

    def spans(self, trace_id: str | None = None) -> list[ReceivedSpan]:
        """What arrived so far (of one trace, when ``trace_id`` is given)."""
        with self._lock:
            return [span for span in self._spans if trace_id is None or span.trace_id == trace_id]

    def start(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def otlp_receiver(**options: Any) -> Iterator[OtlpReceiver]:
    """A running :class:`OtlpReceiver`, stopped on exit."""
    receiver = OtlpReceiver(**options).start()
    try:
        yield receiver
    finally:
        receiver.stop()
