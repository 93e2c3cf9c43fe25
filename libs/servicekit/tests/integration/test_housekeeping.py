"""Housekeeping keeps the outbox to the replay window and the inbox to its longer keep, in batches, never touching
an unsent event however old; on the real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, insert, select

from bmw.contracts.envelope import CloudEvent
from bmw.servicekit import housekeeping
from bmw.servicekit.housekeeping import tidy_messaging
from bmw.servicekit.settings import ServiceSettings
from bmw.servicekit.tables import INBOX, OUTBOX

pytestmark = pytest.mark.integration


async def test_old_sent_events_and_old_applied_ones_go_and_the_rest_stays(  # type: ignore[no-untyped-def]
    kit, helpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, "BATCH", 2)  # three old rows of each: two batches, the second one short
    now, tenant, group = datetime.now(UTC), uuid.uuid4(), f"housekeeping-{uuid.uuid4().hex[:8]}"

    def outbox_row(created: timedelta, sent: timedelta | None) -> dict[str, object]:
        event = CloudEvent.create(helpers.referral(), tenant_id=tenant)
        return {
            "id": event.id,
            "topic": event.topic,
            "event_type": event.type,
            "tenant_id": tenant,
            "envelope": event.model_dump(mode="json"),
            "created_at": now - created,
            "sent_at": None if sent is None else now - sent,
        }

    old_sent = [outbox_row(timedelta(days=40), timedelta(days=20 + n)) for n in range(3)]
    recent_sent = outbox_row(timedelta(days=2), timedelta(days=1))
    old_unsent = outbox_row(timedelta(days=60), None)
    applied = [
        {"consumer_group": group, "event_id": uuid.uuid4(), "event_type": "x.v1", "tenant_id": tenant,
         "processed_at": now - timedelta(days=days)}
        for days in (50, 51, 52, 10)
    ]  # fmt: skip
    ours = [row["id"] for row in (*old_sent, recent_sent, old_unsent)]
    async with kit.sessions() as session, session.begin():
        await session.execute(insert(OUTBOX), [*old_sent, recent_sent, old_unsent])
        await session.execute(insert(INBOX), applied)
    try:
        tidied = await tidy_messaging(kit.uow, outbox_keep=timedelta(days=14), inbox_keep=timedelta(days=45))

        assert (tidied.outbox_rows, tidied.inbox_rows) == (3, 3)
        async with kit.sessions() as session:
            left = set(await session.scalars(select(OUTBOX.c.id).where(OUTBOX.c.id.in_(ours))))
            remembered = list(
                await session.scalars(select(INBOX.c.processed_at).where(INBOX.c.consumer_group == group))
            )
        assert left == {recent_sent["id"], old_unsent["id"]}, "the window's events and every unsent one stay"
        assert len(remembered) == 1 and remembered[0] > now - timedelta(days=11)
    finally:  # the unsent row is not for the other tests' relays to publish
        async with kit.sessions() as session, session.begin():
            await session.execute(delete(OUTBOX).where(OUTBOX.c.id.in_(ours)))
            await session.execute(delete(INBOX).where(INBOX.c.consumer_group == group))


def test_the_inbox_must_remember_longer_than_the_outbox_keeps() -> None:
    with pytest.raises(ValidationError, match=r"BMW_INBOX_KEEP_DAYS \(14\) must be longer than BMW_OUTBOX_KEEP_DAYS"):
        ServiceSettings(database_url="postgresql+asyncpg://x@/x", outbox_keep_days=14, inbox_keep_days=14)
