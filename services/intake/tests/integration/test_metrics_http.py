"""``GET /metrics`` of a running service (intake), against the real PostgreSQL and broker: request rate, errors and
latency per operation, the outbox backlog, consumer lag and the dead-letter topics, and no tenant or id in a label."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from bmw.devstack.testing import eventually

pytestmark = pytest.mark.integration


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def scrape(intake: Any) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    response = await intake.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text, samples(response.text)


async def test_metrics_count_each_operation_by_its_route_and_name_no_tenant_or_id(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    await flows.refer(tenant, unit)
    _, worker = flows.worker()
    missing = uuid.uuid4()
    assert (await intake.client.get(f"/cases/{missing}", headers=worker)).status_code == 404
    assert (await intake.client.get("/cases/not-a-uuid", headers=worker)).status_code == 422

    text, found = await scrape(intake)
    created = value(found, "bmw_http_requests_total", method="POST", route="/referrals", status="201")
    assert created is not None and created >= 1
    assert (value(found, "bmw_http_requests_total", method="GET", route="/cases/{case_id}", status="404") or 0) >= 1
    assert (value(found, "bmw_http_requests_total", method="GET", route="/cases/{case_id}", status="422") or 0) >= 1
    timed = value(found, "bmw_http_request_duration_seconds_count", method="POST", route="/referrals")
    assert timed is not None and timed >= 1
    assert str(tenant) not in text and str(missing) not in text and "not-a-uuid" not in text

    assert value(found, "bmw_metrics_source_up", source="database") == 1
    assert value(found, "bmw_metrics_source_up", source="broker") == 1
    unsent = value(found, "bmw_outbox_unsent_events")
    assert unsent is not None and unsent >= 0
    age = value(found, "bmw_outbox_oldest_unsent_age_seconds")
    assert age is not None and age >= 0
    for topic in ("bmw.billing.events", "bmw.scheduling.events"):
        lag = value(found, "bmw_consumer_lag_messages", group="intake", topic=topic)
        assert lag is not None and lag >= 0, topic
        assert value(found, "bmw_dead_letter_messages", topic=f"{topic}.dlq") is not None


async def test_a_record_intake_cannot_read_shows_in_the_dead_letter_count(intake: Any) -> None:
    topic = "bmw.scheduling.events.dlq"
    _, before = await scrape(intake)
    counted = value(before, "bmw_dead_letter_messages", topic=topic)
    assert counted is not None
    producer = AIOKafkaProducer(bootstrap_servers=intake.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("bmw.scheduling.events", b"{not an event", key=b"metrics-test")
    finally:
        await producer.stop()

    async def dead_lettered() -> bool:
        _, now = await scrape(intake)  # read again at most every few seconds (the scrape cache)
        return (value(now, "bmw_dead_letter_messages", topic=topic) or 0) > counted

    await eventually(dead_lettered, timeout=45, what="the dead-letter count to grow")
