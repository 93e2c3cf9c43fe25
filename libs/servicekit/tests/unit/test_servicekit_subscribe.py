"""How ``subscribe`` wires a consumer group into FastStream, on the in-memory ``TestKafkaBroker``.

TestKafkaBroker is good for wiring only: it calls the handler directly (no consumer group, no
partitions, no real offsets). With ``AckPolicy.MANUAL`` it does build FastStream's ackable message
on its module-level fake consumer, so whether the handler commits is observable by patching that
fake's ``commit``; what a real broker redelivers after a missing commit is for the integration tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka import message as faststream_kafka_message

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened
from bmw.contracts.taxonomy import Category, Urgency
from bmw.servicekit.messaging import Batching, ConsumerGroup, EventConsumer, Outcome, RetryPolicy, subscribe

TOPICS = ("bmw.intake.events", "bmw.billing.events")
GROUP = "scheduling.cases"
TENANT = uuid.UUID("6f1c2a48-0000-4000-8000-000000000001")


class RecordingConsumer(EventConsumer):
    """An EventConsumer whose ``process`` records what the subscriber hands it."""

    def __init__(self, group: ConsumerGroup, *, fail: bool = False) -> None:
        super().__init__(group, None, self._no_dead_letter, RetryPolicy(backoff_seconds=0))  # type: ignore[arg-type]
        self.records: list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]] = []
        self.fail = fail

    @staticmethod
    async def _no_dead_letter(*_: Any) -> None:
        raise AssertionError("process is replaced; nothing is dead-lettered here")

    async def process(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> str:
        self.records.append((topic, key, value, list(headers)))
        if self.fail:
            raise RuntimeError("dead-letter topic unreachable")
        return Outcome.APPLIED


def group() -> ConsumerGroup:
    consumer_group = ConsumerGroup(name=GROUP, topics=TOPICS)

    @consumer_group.on(CaseOpened)
    async def on_case_opened(*_: Any) -> None:
        return None

    return consumer_group


def case_opened() -> CloudEvent:
    return CloudEvent.create(
        CaseOpened(
            case_id=uuid.uuid4(),
            referral_id=uuid.uuid4(),
            client_ref="c_test",
            org_unit_id=uuid.uuid4(),
            category=Category.GRIEF,
            urgency=Urgency.URGENT,
            sla_deadline=datetime(2026, 3, 5, 16, 0, tzinfo=UTC),
        ),
        tenant_id=TENANT,
        correlation_id="flow-7",
    )


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Offset commits made through the fake consumer TestKafkaBroker hands to ackable messages."""
    made: list[str] = []

    async def commit() -> None:
        made.append("commit")

    monkeypatch.setattr(faststream_kafka_message.FAKE_CONSUMER, "commit", commit)
    return made


def test_subscribe_registers_one_subscriber_on_the_groups_topics_with_manual_ack() -> None:
    broker = KafkaBroker("localhost:9092", logger=None)

    subscribe(broker, RecordingConsumer(group()))

    [subscriber] = broker.subscribers
    assert list(subscriber.topic_names) == list(TOPICS)
    assert subscriber.group_id == GROUP
    assert subscriber.ack_policy is AckPolicy.MANUAL


def test_the_subscriber_starts_at_the_earliest_offset_and_never_auto_commits() -> None:
    broker = KafkaBroker("localhost:9092", logger=None)
    subscribe(broker, RecordingConsumer(group()))
    [subscriber] = broker.subscribers

    connection_args = getattr(subscriber, "_connection_args", None)  # FastStream 0.7 internals
    if connection_args is None:
        pytest.skip("this FastStream version does not expose the consumer's connection arguments")
    assert connection_args["auto_offset_reset"] == "earliest"
    assert connection_args["enable_auto_commit"] is False


def test_each_group_gets_its_own_subscriber() -> None:
    broker = KafkaBroker("localhost:9092", logger=None)
    other = ConsumerGroup(name="billing.usage", topics=("bmw.scheduling.events",))

    subscribe(broker, RecordingConsumer(group()))
    subscribe(broker, RecordingConsumer(other))

    assert sorted((s.group_id, tuple(s.topic_names)) for s in broker.subscribers) == [
        ("billing.usage", ("bmw.scheduling.events",)),
        (GROUP, TOPICS),
    ]


async def test_a_published_cloudevent_reaches_process_with_its_record_and_is_then_committed(
    commits: list[str],
) -> None:
    broker = KafkaBroker("localhost:9092", logger=None)
    consumer = RecordingConsumer(group())
    subscribe(broker, consumer)
    event = case_opened()

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            event.kafka_value(), event.topic, key=event.kafka_key(), headers=event.kafka_headers()
        )

    [(topic, key, value, headers)] = consumer.records
    assert topic == "bmw.intake.events"
    assert key == event.kafka_key()
    assert value == event.kafka_value()
    assert CloudEvent.from_kafka(headers, value) == event
    assert commits == ["commit"]


async def test_events_on_every_topic_of_the_group_reach_process(commits: list[str]) -> None:
    broker = KafkaBroker("localhost:9092", logger=None)
    consumer = RecordingConsumer(group())
    subscribe(broker, consumer)
    event = case_opened()

    async with TestKafkaBroker(broker) as test_broker:
        for topic in TOPICS:
            await test_broker.publish(event.kafka_value(), topic, key=event.kafka_key(), headers=event.kafka_headers())

    assert [record[0] for record in consumer.records] == list(TOPICS)
    assert commits == ["commit", "commit"]


async def test_when_process_raises_the_offset_is_not_committed(commits: list[str]) -> None:
    broker = KafkaBroker("localhost:9092", logger=None)
    consumer = RecordingConsumer(group(), fail=True)
    subscribe(broker, consumer)
    event = case_opened()

    async with TestKafkaBroker(broker) as test_broker:
        with pytest.raises(RuntimeError, match="dead-letter topic unreachable"):
            await test_broker.publish(
                event.kafka_value(), event.topic, key=event.kafka_key(), headers=event.kafka_headers()
            )

    assert len(consumer.records) == 1
    assert commits == []


async def test_a_topic_outside_the_group_does_not_reach_process(commits: list[str]) -> None:
    broker = KafkaBroker("localhost:9092", logger=None)
    consumer = RecordingConsumer(group())
    subscribe(broker, consumer)
    event = case_opened()

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(event.kafka_value(), "bmw.signals.events", headers=event.kafka_headers())

    assert consumer.records == []


async def test_a_commit_the_broker_refuses_does_not_stop_the_group(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """After a broker lost its data it refuses the group's commits for a while; the handler must return (the record
    is applied, its inbox row says so) so that the group goes on, instead of failing every record from then on."""
    from aiokafka.errors import UnknownTopicOrPartitionError

    async def refused() -> None:
        raise UnknownTopicOrPartitionError()

    monkeypatch.setattr(faststream_kafka_message.FAKE_CONSUMER, "commit", refused)
    broker = KafkaBroker("localhost:9092", logger=None)
    consumer = RecordingConsumer(group())
    subscribe(broker, consumer)
    first, second = case_opened(), case_opened()

    async with TestKafkaBroker(broker) as test_broker:
        for event in (first, second):
            await test_broker.publish(
                event.kafka_value(), event.topic, key=event.kafka_key(), headers=event.kafka_headers()
            )

    assert [value for _, _, value, _ in consumer.records] == [first.kafka_value(), second.kafka_value()]
    assert "could not commit bmw.intake.events: UnknownTopicOrPartitionError" in caplog.text


class SlowConsumer(EventConsumer):
    """Takes a moment per record and notes what it was doing, to see order and overlap."""

    def __init__(self) -> None:
        super().__init__(group(), None, RecordingConsumer._no_dead_letter, RetryPolicy())  # type: ignore[arg-type]
        self.done: list[tuple[int, int]] = []
        self.running = 0
        self.most_at_once = 0

    async def process(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> str:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.01)
        partition, offset = (int(part) for part in value.decode().split(":"))
        self.done.append((partition, offset))
        self.running -= 1
        return Outcome.APPLIED


def fetch(partitions: int, per_partition: int) -> list[ConsumerRecord[bytes, bytes]]:
    """A fetch as aiokafka hands it over: each partition's records in offset order, partition after partition."""
    return [
        ConsumerRecord(
            topic=TOPICS[0],
            partition=partition,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=f"{partition}:{offset}".encode(),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=[],
        )
        for partition in range(partitions)
        for offset in range(per_partition)
    ]


async def test_a_fetch_is_applied_partition_by_partition_in_order_with_partitions_side_by_side() -> None:
    consumer = SlowConsumer()

    await consumer.process_records(fetch(6, 5), concurrency=3)

    assert sorted(consumer.done) == [(p, o) for p in range(6) for o in range(5)], "each record once"
    for partition in range(6):
        assert [o for p, o in consumer.done if p == partition] == list(range(5)), "a partition's records in order"
    assert consumer.most_at_once == 3, "three partitions at once, never more"


async def test_with_a_concurrency_of_one_a_fetch_is_applied_strictly_one_by_one() -> None:
    consumer = SlowConsumer()
    records = fetch(3, 2)

    await consumer.process_records(records, concurrency=1)

    assert consumer.done == [(r.partition, r.offset) for r in records]
    assert consumer.most_at_once == 1


async def test_a_fetch_is_committed_once_after_every_record_of_it(commits: list[str]) -> None:
    broker = KafkaBroker("localhost:9092", logger=None)
    consumer = RecordingConsumer(group())
    subscribe(broker, consumer, Batching(max_records=10, concurrency=2))
    events = [case_opened() for _ in range(3)]

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish_batch(*[event.kafka_value() for event in events], topic=events[0].topic)

    assert [value for _, _, value, _ in consumer.records] == [event.kafka_value() for event in events]
    assert commits == ["commit"], "one commit for the fetch, after its records"


async def test_a_record_that_says_json_but_is_not_still_reaches_the_kits_own_decoding(
    commits: list[str],
) -> None:
    broker = KafkaBroker("localhost:9092", logger=None)
    consumer = RecordingConsumer(group())
    subscribe(broker, consumer)
    event = case_opened()

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b'{"case_id": ', event.topic, key=event.kafka_key(), headers=event.kafka_headers())

    assert event.kafka_headers()["content-type"] == "application/json"
    assert [value for _, _, value, _ in consumer.records] == [b'{"case_id": '], "the kit got the bytes as they are"
    assert commits == ["commit"]
