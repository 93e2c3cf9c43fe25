"""A log line is one JSON object: service, level, message, and the flow's correlation, request, trace, span and
tenant ids, so that one referral's lines can be found across services; no request body ever goes in."""

from __future__ import annotations

import json
import logging

from bmw.servicekit.context import FlowContext, reset_flow, set_flow, with_tenant
from bmw.servicekit.logs import JsonFormatter

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def line(message: str, *args: object) -> dict[str, object]:
    record = logging.LogRecord("bmw.test", logging.WARNING, __file__, 1, message, args, None)
    entry: dict[str, object] = json.loads(JsonFormatter("intake").format(record))
    return entry


def test_a_line_carries_the_flow_its_trace_and_span_and_its_organisation() -> None:
    token = set_flow(FlowContext(correlation_id="corr-1", request_id="req-1", traceparent=f"00-{TRACE}-{SPAN}-01"))
    tenant = with_tenant("11111111-1111-4111-8111-111111111111")
    try:
        entry = line("case %s escalated", "c-1")
    finally:
        reset_flow(tenant)
        reset_flow(token)
    assert entry["service"] == "intake" and entry["level"] == "warning" and entry["message"] == "case c-1 escalated"
    assert (entry["correlation_id"], entry["request_id"]) == ("corr-1", "req-1")
    assert (entry["trace_id"], entry["span_id"]) == (TRACE, SPAN)
    assert entry["tenant_id"] == "11111111-1111-4111-8111-111111111111"
    assert "tenant_id" not in line("after the flow"), "the organisation goes with the flow"


def test_a_malformed_traceparent_is_kept_as_given_but_yields_no_ids() -> None:
    token = set_flow(FlowContext(traceparent="not-a-trace"))
    try:
        entry = line("hello")
    finally:
        reset_flow(token)
    assert entry["traceparent"] == "not-a-trace"
    assert "trace_id" not in entry and "span_id" not in entry
