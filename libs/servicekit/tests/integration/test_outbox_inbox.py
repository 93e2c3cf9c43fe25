"""Outbox, inbox, retries and dead letters against the real PostgreSQL and broker."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.taxonomy import Category
from bmw.devstack.testing import eventually, read_topic
from bmw.servicekit.messaging import RetryPolicy, kafka_publisher
from bmw.servicekit.outbox import OutboxRelay
from bmw.servicekit.tables import OUTBOX

pytestmark = pytest.mark.integration

TOPIC = "bmw.intake.events"


class RelayCrashed(RuntimeError):
    pass


def of_tenant(tenant_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return lambda headers: headers.get("ce_tenantid") == str(tenant_id)


async def test_an_event_is_published_if_and_only_if_its_transaction_commits(kit, publisher_broker, helpers) -> None:  # type: ignore[no-untyped-def]
    tenant = uuid.uuid4()
    async with kit.uow(tenant_id=tenant) as work:
        committed = await work.emit(helpers.referral(), tenant_id=tenant)
        await work.commit()
    async with kit.uow(tenant_id=tenant) as work:
        rolled_back = await work.emit(helpers.referral(), tenant_id=tenant)
        # leaving without commit rolls back the state change and the event together

    async with kit.sessions() as session:
        ids = set((await session.execute(select(OUTBOX.c.id).where(OUTBOX.c.tenant_id == tenant))).scalars())
    assert ids == {committed.id}

    relay = OutboxRelay(kit.sessions, kafka_publisher(publisher_broker))
    assert await relay.drain() >= 1
    records = await read_topic(kit.bootstrap, TOPIC, match=of_tenant(tenant))
    published = [headers["ce_id"] for headers, _ in records]
    assert published == [str(committed.id)]
    assert str(rolled_back.id) not in published
    headers, value = records[0]
    decoded = CloudEvent.from_kafka(headers, value)
    assert decoded.type == "intake.referral.received.v1"
    assert decoded.data == committed.data


async def test_relay_crash_after_publish_republishes_and_the_consumer_applies_once(  # type: ignore[no-untyped-def]
    kit, publisher_broker, running_consumers, helpers
) -> None:
    tenant = uuid.uuid4()
    async with kit.uow(tenant_id=tenant) as work:
        event = await work.emit(helpers.referral(), tenant_id=tenant)
        await work.commit()

    async def crash(events: Sequence[CloudEvent]) -> None:
        raise RelayCrashed("the relay died between publishing and marking sent")

    crashing = OutboxRelay(kit.sessions, kafka_publisher(publisher_broker), before_mark_sent=crash)
    with pytest.raises(RelayCrashed):
        await crashing.drain()
    async with kit.sessions() as session:
        sent_at = await session.scalar(select(OUTBOX.c.sent_at).where(OUTBOX.c.id == event.id))
    assert sent_at is None, "a crash before marking must leave the row unsent"

    assert await OutboxRelay(kit.sessions, kafka_publisher(publisher_broker)).drain() >= 1
    records = await read_topic(kit.bootstrap, TOPIC, match=of_tenant(tenant))
    assert [h["ce_id"] for h, _ in records] == [str(event.id), str(event.id)], "published twice: at least once"

    consumer = await running_consumers(helpers.tally_group(f"test-once-{uuid.uuid4().hex[:8]}"))

    async def seen_both() -> bool:
        return consumer.counts.get("applied", 0) + consumer.counts.get("duplicate", 0) >= 2 and (
            await helpers.tally(kit, tenant) >= 1
        )

    await eventually(seen_both, what="the consumer to see both copies")
    assert await helpers.tally(kit, tenant) == 1


async def test_the_same_event_delivered_three_times_changes_state_once(  # type: ignore[no-untyped-def]
    kit, publisher_broker, running_consumers, helpers
) -> None:
    tenant = uuid.uuid4()
    event = CloudEvent.create(helpers.referral(), tenant_id=tenant)
    publish = kafka_publisher(publisher_broker)
    for _ in range(3):
        await publish([event])
    consumer = await running_consumers(helpers.tally_group(f"test-thrice-{uuid.uuid4().hex[:8]}"))

    async def all_three_seen() -> bool:
        return len(await read_topic(kit.bootstrap, TOPIC, match=of_tenant(tenant), idle_ms=200)) == 3 and (
            await helpers.tally(kit, tenant) == 1 and consumer.counts.get("duplicate", 0) >= 2
        )

    await eventually(all_three_seen, what="three deliveries, one effect")
    assert await helpers.tally(kit, tenant) == 1


async def test_two_instances_of_one_group_share_partitions_without_double_effects(  # type: ignore[no-untyped-def]
    kit, publisher_broker, running_consumers, helpers
) -> None:
    group = f"test-shared-{uuid.uuid4().hex[:8]}"
    first = await running_consumers(helpers.tally_group(group))
    second = await running_consumers(helpers.tally_group(group))
    tenants = [uuid.uuid4() for _ in range(24)]
    publish = kafka_publisher(publisher_broker)
    events = [CloudEvent.create(helpers.referral(), tenant_id=t) for t in tenants for _ in range(3)]
    await publish(events)
    await publish(events[::4])  # some redelivered, as after a rebalance

    async def all_applied() -> bool:
        return all([await helpers.tally(kit, t) == 3 for t in tenants])

    await eventually(all_applied, timeout=60, what="every event applied once across both instances")
    assert first.counts.get("applied", 0) > 0 and second.counts.get("applied", 0) > 0, (
        f"both instances should have had partitions: {first.counts} / {second.counts}"
    )
    assert sum([await helpers.tally(kit, t) for t in tenants]) == len(events)


async def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_next_event_still_flows(  # type: ignore[no-untyped-def]
    kit, publisher_broker, running_consumers, helpers
) -> None:
    tenant = uuid.uuid4()
    group = f"test-poison-{uuid.uuid4().hex[:8]}"
    poison = CloudEvent.create(helpers.referral(Category.ADDICTION), tenant_id=tenant)
    good = CloudEvent.create(helpers.referral(Category.CAREER), tenant_id=tenant)
    publish = kafka_publisher(publisher_broker)
    await publish([poison, good])  # same tenant, same partition: the good one waits behind the poison
    consumer = await running_consumers(
        helpers.tally_group(group, poison=Category.ADDICTION), RetryPolicy(max_attempts=3, backoff_seconds=0.05)
    )

    async def good_applied() -> bool:
        return await helpers.tally(kit, tenant) == 1

    await eventually(good_applied, what="the event after the poison message")
    dead = await read_topic(
        kit.bootstrap,
        f"{TOPIC}.dlq",
        match=lambda h: h.get("ce_id") == str(poison.id) and h.get("x-bmw-consumer-group") == group,
    )
    assert len(dead) == 1
    headers, value = dead[0]
    assert headers["x-bmw-attempts"] == "3"
    assert "cannot process the poison category" in headers["x-bmw-error"]
    assert CloudEvent.from_kafka(headers, value).id == poison.id
    # The group reads the shared topic from the start: other tests' events are applied too, but the
    # only dead letter is the poison message (later tests' garbage records come after this check).
    assert consumer.counts.get("dead_lettered", 0) >= 1
    assert await helpers.tally(kit, tenant) == 1


async def test_an_undecodable_record_is_dead_lettered_at_once(
    kit, publisher_broker, running_consumers, helpers
) -> None:  # type: ignore[no-untyped-def]
    marker = uuid.uuid4().hex
    group = f"test-garbage-{uuid.uuid4().hex[:8]}"
    await publisher_broker.publish(b"{not json", TOPIC, key=b"x", headers={"x-test-marker": marker})
    await running_consumers(helpers.tally_group(group), RetryPolicy(max_attempts=5, backoff_seconds=0.05))

    async def dead_lettered() -> bool:
        # This test's group only: a service consuming the same topic dead-letters the record for its own group.
        found = await read_topic(
            kit.bootstrap,
            f"{TOPIC}.dlq",
            match=lambda h: h.get("x-test-marker") == marker and h.get("x-bmw-consumer-group") == group,
            idle_ms=300,
        )
        return len(found) == 1 and "missing CloudEvents headers" in found[0][0]["x-bmw-error"]

    await eventually(dead_lettered, what="the undecodable record in the DLQ")


async def test_stopping_the_relay_flushes_what_is_pending(kit, publisher_broker, helpers) -> None:  # type: ignore[no-untyped-def]
    tenant = uuid.uuid4()
    relay = OutboxRelay(kit.sessions, kafka_publisher(publisher_broker), poll_seconds=60)
    relay.start()
    async with kit.uow(tenant_id=tenant) as work:
        event = await work.emit(helpers.referral(), tenant_id=tenant)
        await work.commit()  # nobody notifies this relay: only the shutdown flush can publish it
    await relay.stop(flush=True)
    async with kit.sessions() as session:
        sent_at = await session.scalar(select(OUTBOX.c.sent_at).where(OUTBOX.c.id == event.id))
    assert sent_at is not None
    records = await read_topic(kit.bootstrap, TOPIC, match=of_tenant(tenant))
    assert [h["ce_id"] for h, _ in records] == [str(event.id)]


async def test_after_a_failed_publish_the_relay_prepares_the_broker_before_it_tries_again(kit, helpers) -> None:  # type: ignore[no-untyped-def]
    """The relay's loop: a publish that fails keeps the rows; before the next attempt the hook runs (the service
    recreates its topics there), and the rows go out."""
    tenant = uuid.uuid4()
    async with kit.uow(tenant_id=tenant) as work:
        event = await work.emit(helpers.referral(), tenant_id=tenant)
        await work.commit()
    calls: list[str] = []

    async def publish(events: Sequence[CloudEvent]) -> None:
        calls.append("publish")
        if calls.count("publish") == 1:
            raise ConnectionError("the broker is gone")

    async def recreate_topics() -> None:
        calls.append("recreate topics")

    relay = OutboxRelay(kit.sessions, publish, poll_seconds=0.05, after_failure=recreate_topics)
    relay.start()
    try:

        async def published() -> bool:
            async with kit.sessions() as session:
                return await session.scalar(select(OUTBOX.c.sent_at).where(OUTBOX.c.id == event.id)) is not None

        await eventually(published, what="the row published on the second attempt")
    finally:
        await relay.stop(flush=False)
    assert calls[:3] == ["publish", "recreate topics", "publish"]
    assert calls.count("recreate topics") == 1, "only after a failure"
