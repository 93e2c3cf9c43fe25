"""Structured JSON logs; never a name, contact detail or note in a log line (callers' duty)."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from bmw.servicekit.context import current_flow
from bmw.servicekit.tracing import current_traceparent

#: A W3C trace context header: version, trace id, parent span id, flags.
TRACEPARENT = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})"
)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        flow = current_flow()
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if flow.correlation_id:
            entry["correlation_id"] = flow.correlation_id
        if flow.request_id:
            entry["request_id"] = flow.request_id
        # The running span's (bmw.servicekit.tracing), else the one the flow came with.
        if traceparent := current_traceparent():
            entry["traceparent"] = traceparent
            if match := TRACEPARENT.fullmatch(traceparent.strip().lower()):
                entry["trace_id"], entry["span_id"] = match["trace"], match["span"]
        if flow.tenant_id:
            entry["tenant_id"] = flow.tenant_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: int = logging.INFO) -> None:
    """Route the root logger to stderr as JSON lines (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
