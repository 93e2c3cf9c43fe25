"""The scrape-time metrics of the service kit against the real PostgreSQL and broker: the outbox backlog as the relay
sees it, whoever scrapes, and consumer lag that grows with unread records and falls as the group commits."""

from __future__ import annotations

import uuid

import pytest

from bmw.contracts.envelope import CloudEvent
from bmw.devstack.testing import eventually
from bmw.servicekit.messaging import kafka_publisher
from bmw.servicekit.metrics import KafkaView, ScrapeTimeMetrics
from bmw.servicekit.outbox import OutboxRelay
from bmw.servicekit.walls import NO_TENANT, scoped

pytestmark = pytest.mark.integration

TOPIC = "bmw.intake.events"


def gauge(families, name: str, **labels: str) -> float | None:  # type: ignore[no-untyped-def]
    for family in families:
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


async def test_the_outbox_backlog_counts_every_organisation_whoever_scrapes(  # type: ignore[no-untyped-def]
    kit, publisher_broker, helpers
) -> None:
    relay = OutboxRelay(kit.sessions, kafka_publisher(publisher_broker))
    await relay.drain()
    tenants = [uuid.uuid4(), uuid.uuid4()]
    for tenant in tenants:
        async with kit.uow(tenant_id=tenant) as work:
            await work.emit(helpers.referral(), tenant_id=tenant)
            await work.commit()
    metrics = ScrapeTimeMetrics(kit.uow, kafka=None, cache_seconds=0)
    with scoped(NO_TENANT):  # as in a request to /metrics, before (and without) any caller
        families = await metrics.families()
    assert gauge(families, "bmw_metrics_source_up", source="database") == 1
    assert gauge(families, "bmw_outbox_unsent_events") == 2, "both organisations' events wait"
    age = gauge(families, "bmw_outbox_oldest_unsent_age_seconds")
    assert age is not None and age > 0
    assert await relay.drain() >= 2
    after = await metrics.families()
    assert gauge(after, "bmw_outbox_unsent_events") == 0
    assert gauge(after, "bmw_outbox_oldest_unsent_age_seconds") == 0


async def test_consumer_lag_is_what_the_group_has_not_committed(  # type: ignore[no-untyped-def]
    kit, publisher_broker, running_consumers, helpers
) -> None:
    group = f"test-lag-{uuid.uuid4().hex[:8]}"
    metrics = ScrapeTimeMetrics(kit.uow, kafka=KafkaView(kit.bootstrap, {}, {group: (TOPIC,)}), cache_seconds=0)
    tenant = uuid.uuid4()
    await kafka_publisher(publisher_broker)([CloudEvent.create(helpers.referral(), tenant_id=tenant) for _ in range(3)])
    # A group that never committed starts from the earliest record: all of the topic is its lag.
    unread = gauge(await metrics.families(), "bmw_consumer_lag_messages", group=group, topic=TOPIC)
    assert unread is not None and unread >= 3
    await running_consumers(helpers.tally_group(group))

    async def caught_up() -> bool:
        return gauge(await metrics.families(), "bmw_consumer_lag_messages", group=group, topic=TOPIC) == 0

    await eventually(caught_up, timeout=60, what="the group to commit everything")
    assert await helpers.tally(kit, tenant) == 3
    assert gauge(await metrics.families(), "bmw_metrics_source_up", source="broker") == 1
