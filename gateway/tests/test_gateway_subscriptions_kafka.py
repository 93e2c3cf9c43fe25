"""Subscriptions against the real broker: an event published to Kafka reaches a WebSocket subscriber."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from bmw.devstack.pytest_plugin import TestInfra
from bmw.gateway.app import create_app
from bmw.gateway.subscriptions.testing import envelope, feed_of, serve_live, signal_reviewed, websocket
from bmw.gateway.testing import SIGNALS, FakeServices, SigningKey, make_settings

pytestmark = pytest.mark.integration

RAISED = """
subscription Raised($tenantId: ID!) {
  signalRaised(tenantId: $tenantId) { eventId signalId tenantId reviewStatus }
}
"""


async def test_a_confirmed_signal_published_to_kafka_reaches_its_subscriber_within_a_second(
    infra: TestInfra, signing_key: SigningKey, services: FakeServices
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    tenant = uuid.uuid4()  # the topic is shared by the session: this test's events are its own tenant's
    settings = make_settings(signing_key, kafka_bootstrap_servers=bootstrap)
    app = create_app(settings, transport=httpx.MockTransport(services))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        async with serve_live(app) as url, websocket(url) as ws:
            feed = feed_of(app)
            assert feed.connected, "the lifespan starts the gateway's consumer"
            token = signing_key.mint("client_contact", tenant_id=tenant)
            assert await ws.init({"authorization": f"Bearer {token}"}) == {"type": "connection_ack"}
            await ws.subscribe("s1", RAISED, {"tenantId": str(tenant)})
            async with asyncio.timeout(5):
                while feed.subscriber_count < 1:
                    await asyncio.sleep(0.01)
            event = envelope(signal_reviewed(), tenant)
            # The signals service shows it to this client contact (the gateway asks before sending).
            services.reply("GET", SIGNALS, f"/signals/{event.data['signal_id']}", 200, {})

            published = time.monotonic()
            await producer.send_and_wait(
                event.topic,
                event.kafka_value(),
                key=event.kafka_key(),
                headers=[(name, value.encode()) for name, value in event.kafka_headers().items()],
            )
            message = await ws.receive(timeout=1.0)
            elapsed = time.monotonic() - published
    finally:
        await producer.stop()

    assert message["type"] == "next"
    assert message["payload"]["data"]["signalRaised"] == {
        "eventId": str(event.id),
        "signalId": event.data["signal_id"],
        "tenantId": str(tenant),
        "reviewStatus": "CONFIRMED",
    }
    assert elapsed < 1.0
    assert not feed.connected, "the lifespan stops the consumer"
