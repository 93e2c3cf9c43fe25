"""One referral, one trace: the gateway, intake, Kafka and every service that reacts hang in one tree of spans.

The stack's processes export their spans by OTLP over HTTP to the session's receiver (``conftest.traces``), set up by
the standard ``OTEL_*`` variables only; the sampler records only traces whose caller asked for it, as this test does
with its own ``traceparent``.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

import httpx
import pytest

from bmw.devstack.otlp import OtlpReceiver, ReceivedSpan
from bmw.devstack.stack import Stack
from bmw.devstack.testing import eventually

pytestmark = pytest.mark.e2e

SUBMIT = """
mutation Submit($input: ReferralInput!) {
  submitReferral(input: $input) {
    __typename
    ... on ReferralSubmitted { referral { id caseId } }
  }
}
"""
EMPLOYEE = {"name": "Noor Bakkali", "email": "noor.bakkali@example.nl", "phone": "+31 6 1234 5678"}


def children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return [span for span in spans if span.parent_id == parent.span_id]


def only(spans: list[ReceivedSpan], what: str) -> ReceivedSpan:
    assert len(spans) == 1, f"expected one {what}, found {[(s.service, s.name) for s in spans]}"
    return spans[0]


async def test_a_referral_is_one_trace_from_the_gateway_through_kafka_into_every_service(
    stack: Stack, traces: OtlpReceiver, personal_data: set[str]
) -> None:
    tenant = stack.tenants[0]
    token = stack.mint("client_contact", tenant_id=tenant.id)
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    personal_data.update(EMPLOYEE.values())
    variables: dict[str, Any] = {
        "input": {
            "orgUnitId": str(tenant.org_units[0].id),
            "category": "WORKLOAD_STRESS",
            "urgency": "NORMAL",
            "channel": "HR",
            "employeeConsented": True,
            "employee": EMPLOYEE,
        }
    }
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            stack.graphql_url,
            json={"query": SUBMIT, "variables": variables},
            headers={"Authorization": f"Bearer {token}", "traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
    assert response.status_code == 200, response.text
    assert "data" in response.json(), response.text
    submitted = response.json()["data"]["submitReferral"]
    assert submitted["__typename"] == "ReferralSubmitted", submitted

    # The case is opened: scheduling books the intake (or says it cannot); signals counts; billing meters the booking.
    async def every_reaction_exported() -> bool:
        spans = traces.spans(trace_id)
        handled = {(span.service, span.name) for span in spans if span.kind == "consumer"}
        known = {span.span_id for span in spans}
        orphans = [span for span in spans if span.parent_id not in known and span.parent_id != caller_span]
        expected = {
            ("bmw-signals", "process intake.referral.received.v1"),
            ("bmw-signals", "process intake.case.opened.v1"),
            ("bmw-scheduling", "process intake.case.opened.v1"),
        }
        return expected <= handled and "bmw-intake" in {service for service, _ in handled} and not orphans

    await eventually(
        every_reaction_exported,
        what="every reaction's spans exported",
        timeout=60,
    )
    spans = traces.spans(trace_id)

    # One tree: a single root (the gateway's request, under the caller's span), every other span's parent present.
    by_id = {span.span_id: span for span in spans}
    assert len(by_id) == len(spans), "a span id was used twice"
    roots = [span for span in spans if span.parent_id not in by_id]
    root = only(roots, "root")
    assert (root.service, root.kind, root.parent_id) == ("bmw-gateway", "server", caller_span)
    assert root.name == "POST /graphql"
    assert not any(span.error for span in spans), [s.name for s in spans if s.error]

    # Gateway → intake over HTTP: the gateway's client span is the parent of intake's request span.
    call = only([s for s in children(spans, root) if s.kind == "client"], "gateway call to intake")
    assert call.attributes["peer.service"] == "bmw-intake"
    request = only(children(spans, call), "intake request")
    assert (request.service, request.kind, request.name) == ("bmw-intake", "server", "POST /referrals")
    assert request.attributes["http.response.status_code"] in (200, 201)

    # Intake's database calls hang under its request, with the statement's placeholders, never its values.
    statements = [s for s in children(spans, request) if s.attributes.get("db.system.name") == "postgresql"]
    assert any(s.attributes["db.operation.name"] == "INSERT" for s in statements)

    # The outbox: a "create" span per event written with the referral, then the relay's "send" under each.
    created = {s.name: s for s in children(spans, request) if s.kind == "producer"}
    assert {"create intake.referral.received.v1", "create intake.case.opened.v1"} <= set(created)
    opened = created["create intake.case.opened.v1"]
    outbox_row = only([s for s in children(spans, opened) if s.kind == "client"], "outbox insert")
    assert outbox_row.attributes["db.query.text"].startswith("INSERT INTO outbox")
    send = only([s for s in children(spans, opened) if s.kind == "producer"], "send of case.opened")
    assert (send.service, send.kind, send.name) == ("bmw-intake", "producer", "send bmw.intake.events")
    assert send.attributes["messaging.message.id"] == opened.attributes["messaging.message.id"]

    # Kafka → every consumer group that handles the event, each in its own service, under the send span.
    handled = {s.service: s for s in children(spans, send) if s.kind == "consumer"}
    assert {"bmw-scheduling", "bmw-signals"} <= set(handled)
    assert handled["bmw-scheduling"].name == "process intake.case.opened.v1"
    assert any(s.attributes.get("db.system.name") for s in children(spans, handled["bmw-signals"]))

    # Scheduling's own event (the intake booked, or not bookable) goes on through Kafka, still in the same trace.
    reaction = only(
        [s for s in children(spans, handled["bmw-scheduling"]) if s.kind == "producer"], "scheduling's event"
    )
    further = [s for sent in children(spans, reaction) for s in children(spans, sent) if s.kind == "consumer"]
    assert "bmw-intake" in {s.service for s in further}, [(s.service, s.name) for s in further]

    # Four services and the gateway, each under its own name; no attribute carries the employee's data.
    assert {"bmw-gateway", "bmw-intake", "bmw-scheduling", "bmw-signals"} <= {s.service for s in spans}
    assert Counter(s.kind for s in spans)["server"] == 1 + 1  # the gateway's request and intake's
    text = repr([span.attributes for span in spans]) + repr([span.name for span in spans])
    assert not [value for value in EMPLOYEE.values() if value in text]
