"""One trace through the outbox and Kafka, in one process, on the real PostgreSQL and broker: the flow that emits an
event, its "create" span with the outbox row's INSERT under it, the relay's "send", and the consumer's "process" with
the handler's statements, each the child of the one before (spans kept in memory by the ``spans`` fixture)."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from bmw.devstack.testing import eventually
from bmw.servicekit.messaging import kafka_publisher
from bmw.servicekit.outbox import OutboxRelay
from bmw.servicekit.tracing import tracer

pytestmark = pytest.mark.integration


def child(spans: list[ReadableSpan], parent: ReadableSpan, kind: SpanKind, name: str | None = None) -> ReadableSpan:
    parent_id = parent.context.span_id  # type: ignore[union-attr]
    found = [
        span
        for span in spans
        if span.parent is not None
        and span.parent.span_id == parent_id
        and span.kind is kind
        and (name is None or span.name == name)
    ]
    assert len(found) == 1, f"one {kind.name} {name or ''} under {parent.name}: {[s.name for s in found]}"
    return found[0]


async def test_an_event_carries_its_flows_trace_through_the_outbox_and_kafka_into_the_consumer(  # type: ignore[no-untyped-def]
    kit, publisher_broker, running_consumers, helpers, spans: list[ReadableSpan]
) -> None:
    tenant = uuid.uuid4()
    consumer = await running_consumers(helpers.tally_group(f"test-trace-{uuid.uuid4().hex[:8]}"))
    with tracer().start_as_current_span("the request", kind=SpanKind.SERVER):
        async with kit.uow(tenant_id=tenant) as work:
            event = await work.emit(helpers.referral(), tenant_id=tenant)
            await work.commit()
    await OutboxRelay(kit.sessions, kafka_publisher(publisher_broker)).drain()

    def handled_ours(span: ReadableSpan) -> bool:
        attributes = span.attributes or {}
        return (
            span.kind is SpanKind.CONSUMER
            and attributes.get("messaging.message.id") == str(event.id)
            and attributes.get("messaging.consumer.group.name") == consumer.group.name
        )

    async def applied() -> bool:
        return any(handled_ours(span) for span in spans)

    # The topic is shared with the other tests of the session: this group reads their events too (their spans are
    # in other traces), and a service still running in this process may handle ours too; ours is found by its id and
    # this test's group.
    await eventually(applied, what="the consumer's span of our event")

    [root] = [s for s in spans if s.name == "the request"]
    created = child(spans, root, SpanKind.PRODUCER, "create intake.referral.received.v1")
    assert created.attributes is not None and created.attributes["messaging.message.id"] == str(event.id)
    assert event.traceparent is not None and f"{created.context.span_id:016x}" in event.traceparent  # type: ignore[union-attr]
    row = child(spans, created, SpanKind.CLIENT)
    assert row.attributes is not None and str(row.attributes["db.query.text"]).startswith("INSERT INTO outbox")

    sent = child(spans, created, SpanKind.PRODUCER, "send bmw.intake.events")
    [processed] = [span for span in spans if handled_ours(span)]
    assert processed.parent is not None and sent.context is not None
    assert processed.parent.span_id == sent.context.span_id, "handled under the send span of the record"
    assert processed.name == "process intake.referral.received.v1"
    assert processed.attributes is not None and processed.attributes["bmw.outcome"] == "applied"
    assert processed.attributes["messaging.consumer.group.name"] == consumer.group.name
    statements = [s for s in spans if s.parent is not None and s.parent.span_id == processed.context.span_id]  # type: ignore[union-attr]
    assert any(str(s.attributes and s.attributes["db.query.text"]).startswith("INSERT INTO tally") for s in statements)
    assert {s.context.trace_id for s in (root, created, row, sent, processed)} == {root.context.trace_id}  # type: ignore[union-attr]


async def test_a_failed_statement_marks_its_span_without_recording_the_values(kit, spans: list[ReadableSpan]) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    secret = "Sanne de Vries"
    async with kit.sessions() as session:
        with pytest.raises(Exception, match="no_such_table"):
            await session.execute(text("SELECT * FROM no_such_table WHERE name = :name"), {"name": secret})
    [failed] = [s for s in spans if s.status.status_code is StatusCode.ERROR]
    assert failed.kind is SpanKind.CLIENT and failed.name.startswith("SELECT")
    assert failed.attributes is not None and "no_such_table" in str(failed.attributes["db.query.text"])
    assert secret not in repr(dict(failed.attributes)), "the statement's placeholders, never its values"
    assert failed.attributes["error.type"]
