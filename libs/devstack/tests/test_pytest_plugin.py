"""Mode selection of the ``infra`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmw.devstack.pytest_plugin import DevKeys, docker_engine_problem, infra_mode, open_test_infra


def test_mode_defaults_to_embedded_and_is_checked() -> None:
    assert infra_mode({}) == "embedded"
    assert infra_mode({"BMW_TEST_INFRA": "Testcontainers"}) == "testcontainers"
    with pytest.raises(pytest.UsageError, match="not one of embedded, external, testcontainers"):
        infra_mode({"BMW_TEST_INFRA": "docker"})


def test_testcontainers_without_docker_skips_with_a_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    assert "no Docker engine is reachable" in (docker_engine_problem() or "")
    with pytest.raises(pytest.skip.Exception, match="no Docker engine is reachable.*BMW_TEST_INFRA=embedded"):
        open_test_infra("testcontainers", tmp_path)


def test_external_needs_its_variables(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="needs BMW_TEST_DATABASE_ADMIN_URL and KAFKA_BOOTSTRAP_SERVERS"):
        open_test_infra("external", tmp_path, environ={})
    infra = open_test_infra(
        "external",
        tmp_path,
        environ={"BMW_TEST_DATABASE_ADMIN_URL": "postgresql://u:p@db/postgres", "KAFKA_BOOTSTRAP_SERVERS": "k:9092"},
    )
    assert infra.postgres_admin_url == "postgresql://u:p@db/postgres"


def test_dev_keys_mint(dev_keys: DevKeys) -> None:
    assert dev_keys.env["BMW_JWT_PUBLIC_KEY"] == dev_keys.public_pem
    assert dev_keys.mint("provider_admin").count(".") == 2


async def test_the_container_path_reaches_apache_kafka_and_postgresql(tmp_path: Path) -> None:
    """``BMW_TEST_INFRA=testcontainers``: PostgreSQL and Apache Kafka containers answer, a service database is made
    and a record goes through a topic. Skipped, with the reason in pytest's summary, where no Docker engine answers
    (this project's CI has none)."""
    problem = docker_engine_problem()
    if problem is not None:
        pytest.skip(f"the testcontainers path needs a Docker engine: {problem}")
    infra = open_test_infra("testcontainers", tmp_path)
    try:
        url = infra.database_url("containers")
        assert url.startswith("postgresql+asyncpg://")
        assert infra.create_topics(["bmw.smoke.events"], partitions=3) == {"bmw.smoke.events": 3}
        records = await round_trip(infra.kafka_bootstrap_servers, "bmw.smoke.events")
        assert records == [b"hello"]
    finally:
        infra.close()


async def round_trip(bootstrap: str, topic: str) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        return [record.value for records in batch.values() for record in records if record.value is not None]
    finally:
        await consumer.stop()
