"""Billable activity from scheduling and intake, recorded once per source event. Turning it into
usage against a contract (and holding what has no contract) is issue 5's metering."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from bmw.billing.adapters.tables import BILLABLE_ACTIVITY
from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.base import EventData
from bmw.servicekit.uow import UnitOfWork


async def record_activity(uow: UnitOfWork, event: CloudEvent, data: EventData) -> None:
    """Keep the event's facts (ids, kinds, durations; no person) for metering."""
    await uow.session.execute(
        insert(BILLABLE_ACTIVITY)
        .values(
            source_event_id=event.id,
            tenant_id=event.tenantid,
            event_type=event.type,
            occurred_at=event.time,
            data=data.model_dump(mode="json"),
        )
        .on_conflict_do_nothing(index_elements=[BILLABLE_ACTIVITY.c.source_event_id])
    )
