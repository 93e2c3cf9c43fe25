"""``GET /metrics`` of a running service (intake), against the real PostgreSQL and broker: request rate, errors and
latency per operation, the outbox backlog, consumer lag and the dead-letter topics, and no tenant or id in a label."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from bmw.devstack.testing import eventually, metric_value

pytestmark = pytest.mark.integration


async def scrape(intake: Any) -> str:
    response = await intake.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_count_each_operation_by_its_route_and_name_no_tenant_or_id(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    await flows.refer(tenant, unit)
    _, worker = flows.worker()
    missing = uuid.uuid4()
    assert (await intake.client.get(f"/cases/{missing}", headers=worker)).status_code == 404
    assert (await intake.client.get("/cases/not-a-uuid", headers=worker)).status_code == 422

    text = await scrape(intake)
    created = metric_value(text, "bmw_http_requests_total", method="POST", route="/referrals", status="201")
    assert created is not None and created >= 1
    for status in ("404", "422"):
        answered = metric_value(text, "bmw_http_requests_total", method="GET", route="/cases/{case_id}", status=status)
        assert answered is not None and answered >= 1, status
    timed = metric_value(text, "bmw_http_request_duration_seconds_count", method="POST", route="/referrals")
    assert timed is not None and timed >= 1
    assert str(tenant) not in text and str(missing) not in text and "not-a-uuid" not in text

    assert metric_value(text, "bmw_metrics_source_up", source="database") == 1
    assert metric_value(text, "bmw_metrics_source_up", source="broker") == 1
    unsent = metric_value(text, "bmw_outbox_unsent_events")
    assert unsent is not None and unsent >= 0
    age = metric_value(text, "bmw_outbox_oldest_unsent_age_seconds")
    assert age is not None and age >= 0
    for topic in ("bmw.billing.events", "bmw.scheduling.events"):
        lag = metric_value(text, "bmw_consumer_lag_messages", group="intake", topic=topic)
        assert lag is not None and lag >= 0, topic
        assert metric_value(text, "bmw_dead_letter_messages", topic=f"{topic}.dlq") is not None


async def test_a_record_intake_cannot_read_shows_in_the_dead_letter_count(intake: Any) -> None:
    topic = "bmw.scheduling.events.dlq"
    before = await scrape(intake)
    counted = metric_value(before, "bmw_dead_letter_messages", topic=topic)
    assert counted is not None
    given_up = metric_value(before, "bmw_consumer_events_total", group="intake", outcome="dead_lettered")
    assert given_up is not None, "every outcome is exposed, at 0 until it happens"
    producer = AIOKafkaProducer(bootstrap_servers=intake.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("bmw.scheduling.events", b"{not an event", key=b"metrics-test")
    finally:
        await producer.stop()

    async def dead_lettered() -> bool:
        now = await scrape(intake)  # read again at most every few seconds (the scrape cache)
        return (metric_value(now, "bmw_dead_letter_messages", topic=topic) or 0) > counted

    await eventually(dead_lettered, timeout=45, what="the dead-letter count to grow")

    async def counted_as_dead_lettered() -> bool:
        now = metric_value(await scrape(intake), "bmw_consumer_events_total", group="intake", outcome="dead_lettered")
        return (now or 0) >= given_up + 1

    await eventually(counted_as_dead_lettered, timeout=10, what="the group's dead-lettered count to grow")
