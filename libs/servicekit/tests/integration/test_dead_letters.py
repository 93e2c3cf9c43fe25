"""Dead letters on the real broker: a record a group cannot apply lands in ``<topic>.dlq`` with its reason while the
rest flows; ``dlq list`` shows it (never its data), and after the fix ``dlq redrive`` sends it back, the group applies
it once, and it is listed as re-driven from then on."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from faststream.kafka import KafkaBroker

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import ReferralReceived
from bmw.contracts.taxonomy import Category
from bmw.devstack.testing import eventually
from bmw.servicekit.cli import dead_letter_table
from bmw.servicekit.dlq import DeadLetterOffice
from bmw.servicekit.messaging import ConsumerGroup, RetryPolicy
from bmw.servicekit.uow import UnitOfWork

pytestmark = pytest.mark.integration


async def publish(broker: KafkaBroker, topic: str, event: CloudEvent) -> None:
    await broker.publish(event.kafka_value(), topic, key=event.kafka_key(), headers=event.kafka_headers())


async def test_a_dead_letter_is_listed_with_its_reason_and_redriven_once_after_the_fix(  # type: ignore[no-untyped-def]
    kit, publisher_broker, running_consumers, helpers
) -> None:
    topic = f"bmw.dlqtest{uuid.uuid4().hex[:8]}.events"
    group = ConsumerGroup(name=f"dlq-test-{uuid.uuid4().hex[:8]}", topics=(topic,))
    broken = {"grief": True}
    applied: list[uuid.UUID] = []

    @group.on(ReferralReceived)
    async def count(uow: UnitOfWork, event: CloudEvent, data: ReferralReceived) -> None:
        if broken["grief"] and data.category is Category.GRIEF:
            raise ValueError("grief referrals are not handled yet")
        applied.append(event.id)

    tenant = uuid.uuid4()
    poison = CloudEvent.create(helpers.referral(Category.GRIEF), tenant_id=tenant)
    fine = CloudEvent.create(helpers.referral(), tenant_id=tenant)
    consumer = await running_consumers(group, RetryPolicy(max_attempts=2, backoff_seconds=0.01))
    await publish(publisher_broker, topic, poison)
    await publish(publisher_broker, topic, fine)

    async def one_dead_one_applied() -> bool:
        return consumer.counts.get("dead_lettered") == 1 and applied == [fine.id]

    await eventually(one_dead_one_applied, what="the poison dead-lettered while the fine one is applied")

    office = DeadLetterOffice("kit", kit.bootstrap, {group.name: (topic,)})
    [letter] = await office.find()
    assert (letter.topic, letter.original_topic, letter.consumer_group) == (f"{topic}.dlq", topic, group.name)
    assert (letter.event_type, letter.event_id, letter.tenant_id) == (poison.type, str(poison.id), str(tenant))
    assert letter.attempts == 2 and "grief referrals are not handled yet" in letter.reason
    table = dead_letter_table([letter])
    assert str(poison.id) in table and "ValueError" in table
    assert "grief" not in table.lower().replace("grief referrals are not handled yet", ""), "never the record's data"

    assert (await office.redrive(dry_run=True)).records == (letter,)
    assert await office.find() == [letter], "a dry run changes nothing"
    broken["grief"] = False
    report = await office.redrive()
    assert [r.event_id for r in report.records] == [str(poison.id)]
    assert report.line("kit") == f"kit: re-drove 1 dead-lettered record(s) (1 of {group.name})"

    async def applied_after_the_fix() -> bool:
        return applied == [fine.id, poison.id]

    await eventually(applied_after_the_fix, what="the re-driven record applied")
    assert await office.find() == []
    [before] = await office.find(include_redriven=True)
    assert before.redriven and before.event_id == str(poison.id)
    assert (await office.redrive()).records == (), "nothing is re-driven twice"


def test_the_command_line_lists_a_services_dead_letters(kit) -> None:  # type: ignore[no-untyped-def]
    environ = {
        **os.environ,
        "INTAKE_DATABASE_URL": "postgresql+asyncpg://nobody@/unused",
        "KAFKA_BOOTSTRAP_SERVERS": kit.bootstrap,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bmw.intake", "dlq", "list", "--all"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dead since (UTC)") or done.stdout.strip() == "intake: no dead letters"
    bad = subprocess.run(
        [sys.executable, "-m", "bmw.intake", "dlq", "purge"], env=environ, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "invalid choice: 'purge'" in bad.stderr
