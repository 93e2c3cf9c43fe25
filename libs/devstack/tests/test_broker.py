"""The embedded broker (Tansu) and topic administration with kafka-python."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from bmw.devstack.infra import EmbeddedBroker, InfraError, create_topics, port_accepts, port_is_free
from bmw.devstack.pytest_plugin import TestInfra
from bmw.devstack.topology import SERVICES, all_topics


def test_topology() -> None:
    assert SERVICES == ("intake", "scheduling", "billing", "signals")
    assert all_topics()[:2] == ["bmw.intake.events", "bmw.intake.events.dlq"]
    assert len(all_topics()) == 8


@pytest.mark.integration
def test_embedded_broker_starts_and_stops_without_leftovers(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log")
    with pytest.raises(InfraError, match="not started"):
        _ = broker.bootstrap_servers
    with broker:
        host, port = broker.bootstrap_servers.split(":")
        assert host == "127.0.0.1"
        assert port_accepts(host, int(port))
        pid = broker.pid
        assert pid is not None and os.getpgid(pid) == pid
        assert "listening on: tcp://127.0.0.1:" in (tmp_path / "broker.log").read_text()
    assert not broker.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert port_is_free(int(port))


@pytest.mark.integration
def test_topics_get_12_partitions_and_a_record_round_trips_with_headers(infra: TestInfra) -> None:
    bootstrap = infra.kafka_bootstrap_servers  # the fixture creates the backend's topics
    topic = f"bmw.test.{uuid.uuid4().hex[:8]}.events"
    assert create_topics(bootstrap, [topic, f"{topic}.dlq"]) == {topic: 12, f"{topic}.dlq": 12}
    assert create_topics(bootstrap, [topic]) == {topic: 12}  # TopicAlreadyExists is fine

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = {t["name"]: t for t in admin.describe_topics([*all_topics(), topic])}
    finally:
        admin.close()
    assert {name: len(t["partitions"]) for name, t in described.items()} == dict.fromkeys([*all_topics(), topic], 12)

    tenant = str(uuid.uuid4()).encode()
    headers = [("ce_id", uuid.uuid4().hex.encode()), ("ce_type", b"intake.case.opened.v1"), ("ce_specversion", b"1.0")]
    producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    try:
        sent = producer.send(topic, key=tenant, value=b'{"case_id": "c-1"}', headers=headers).get(timeout=10)
    finally:
        producer.close()

    # Tansu holds a JoinGroup for about half the session timeout: 6 s (Kafka's minimum) keeps it at ~3 s.
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    try:
        consumer.subscribe([topic])
        records = []
        deadline = time.monotonic() + 30
        while not records and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        consumer.commit()
    finally:
        consumer.close()
    assert len(records) == 1
    record = records[0]
    assert (record.partition, record.offset) == (sent.partition, sent.offset)
    assert record.key == tenant
    assert record.value == b'{"case_id": "c-1"}'
    assert record.headers == headers
