"""Replay after the broker lost data: the outbox publishes the period again, with the original ids, and a consumer
that had applied an event skips it; against the real PostgreSQL and broker, and through the command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bmw.devstack.testing import eventually, read_topic
from bmw.servicekit.messaging import kafka_publisher
from bmw.servicekit.outbox import OutboxRelay
from bmw.servicekit.replay import ReplayError, replay_outbox
from bmw.servicekit.tables import OUTBOX

pytestmark = pytest.mark.integration

TOPIC = "bmw.intake.events"


async def sent_at(kit, event_id: uuid.UUID) -> datetime | None:  # type: ignore[no-untyped-def]
    async with kit.sessions() as session:
        value: datetime | None = await session.scalar(select(OUTBOX.c.sent_at).where(OUTBOX.c.id == event_id))
    return value


async def test_a_replay_publishes_the_period_again_and_the_consumer_applies_each_event_once(  # type: ignore[no-untyped-def]
    kit, publisher_broker, running_consumers, helpers
) -> None:
    tenant = uuid.uuid4()
    before = datetime.now(UTC) - timedelta(seconds=1)
    async with kit.uow(tenant_id=tenant) as work:
        event = await work.emit(helpers.referral(), tenant_id=tenant)
        await work.commit()
    relay = OutboxRelay(kit.sessions, kafka_publisher(publisher_broker))
    await relay.drain()
    consumer = await running_consumers(helpers.tally_group(f"test-replay-{uuid.uuid4().hex[:8]}"))

    async def applied() -> bool:
        return await helpers.tally(kit, tenant) == 1

    await eventually(applied, what="the consumer to apply the event")

    dry = await replay_outbox(kit.uow, since=before, dry_run=True)
    assert dry.dry_run and dry.events >= 1 and dry.by_type.get("intake.referral.received.v1", 0) >= 1
    assert await sent_at(kit, event.id) is not None, "a dry run changes nothing"

    report = await replay_outbox(kit.uow, since=before)
    assert report.events >= 1 and not report.dry_run
    assert await sent_at(kit, event.id) is None, "marked for the relay"
    assert "marked" in report.line("kit") and "relay publishes them again" in report.line("kit")
    assert await relay.drain() >= 1
    assert await sent_at(kit, event.id) is not None

    records = await read_topic(kit.bootstrap, TOPIC, match=lambda headers: headers.get("ce_id") == str(event.id))
    assert len(records) == 2, "published again with the same id"

    async def skipped() -> bool:
        return consumer.counts.get("duplicate", 0) >= 1

    await eventually(skipped, what="the consumer to see the copy and skip it")
    assert await helpers.tally(kit, tenant) == 1, "applied once"


async def test_a_period_that_cannot_be_replayed_is_refused(kit) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    with pytest.raises(ReplayError, match="before --until"):
        await replay_outbox(kit.uow, since=now + timedelta(hours=1))
    with pytest.raises(ReplayError, match="UTC offset"):
        await replay_outbox(kit.uow, since=datetime(2026, 11, 1))


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m bmw.<service> replay`` as a service's command line runs it, here for the kit's database."""
    program = (
        "import os, sys; from bmw.servicekit.cli import service_main; "
        "sys.exit(service_main('kit', app_factory='none:none', migrations_package=None, "
        "database_url=lambda: os.environ['KIT_URL'], argv=sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", program, "replay", *args],
        env={"KIT_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def test_the_command_line_says_what_it_marked_and_refuses_a_bad_moment(kit, helpers) -> None:  # type: ignore[no-untyped-def]
    tenant = uuid.uuid4()
    async with kit.uow(tenant_id=tenant) as work:
        event = await work.emit(helpers.referral(), tenant_id=tenant)
        await work.commit()
    async with kit.sessions() as session, session.begin():
        await session.execute(OUTBOX.update().where(OUTBOX.c.id == event.id).values(sent_at=datetime.now(UTC)))
    url = kit.engine.url.render_as_string(hide_password=False)
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    dry = await asyncio.to_thread(run_cli, url, "--since", since, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("kit: would mark ") and "intake.referral.received.v1" in dry.stdout
    assert await sent_at(kit, event.id) is not None

    done = await asyncio.to_thread(run_cli, url, "--since", since)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("kit: marked ")
    assert await sent_at(kit, event.id) is None

    for bad, says in (("2026-11-27T06:00", "give a UTC offset"), ("yesterday", "not an ISO 8601 date-time")):
        refused = await asyncio.to_thread(run_cli, url, "--since", bad)
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr
    future = await asyncio.to_thread(run_cli, url, "--since", (datetime.now(UTC) + timedelta(days=1)).isoformat())
    assert future.returncode == 2 and "--since must lie before --until" in future.stderr
