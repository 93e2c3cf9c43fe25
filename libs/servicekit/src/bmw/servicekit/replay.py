"""Replay: publish again what a service published since a moment, after the broker lost data.

The outbox keeps every row it sent (until ``prune_sent`` drops them after the replay window). Replaying marks the
rows sent in the period as unsent again; the service's running relay then publishes them in their original order
(``seq``), with their original CloudEvent ids. Every consumer records the ids it applied in its inbox, so an event it
had already applied is a duplicate it skips: replay is harmless to whoever did not lose anything.

``python -m bmw.<service> replay --since T [--until T] [--dry-run]`` (and ``bmw replay --service S --since T``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from bmw.servicekit.tables import OUTBOX
from bmw.servicekit.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class ReplayReport:
    """What a replay marked (or, in a dry run, would mark) for publishing again."""

    events: int
    since: datetime
    until: datetime
    by_type: dict[str, int]
    dry_run: bool

    def line(self, service: str) -> str:
        """One line for the command line."""
        verb = "would mark" if self.dry_run else "marked"
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.by_type.items())) or "none"
        after = (
            "" if self.dry_run else "; the running service's relay publishes them again, consumers skip what they had"
        )
        return (
            f"{service}: {verb} {self.events} event(s) published between {self.since.isoformat()} and "
            f"{self.until.isoformat()} ({kinds}){after}"
        )


class ReplayError(ValueError):
    """A period that cannot be replayed; the message says why."""


async def replay_outbox(
    uow: UnitOfWorkFactory, *, since: datetime, until: datetime | None = None, dry_run: bool = False
) -> ReplayReport:
    """Mark the events published in ``[since, until)`` (by when they were written) as unsent again.

    Runs with the whole service's scope (a job): every organisation's events. Rows still unsent are left alone (the
    relay is about to send them anyway); rows pruned from the outbox are gone and cannot be replayed.
    """
    end = until or datetime.now(UTC)
    for name, moment in (("--since", since), ("--until", end)):
        if moment.tzinfo is None:
            raise ReplayError(f"{name} needs a UTC offset, e.g. 2026-11-27T00:00:00+01:00")
    if since >= end:
        raise ReplayError("--since must lie before --until (and in the past)")
    in_period = (OUTBOX.c.created_at >= since, OUTBOX.c.created_at < end, OUTBOX.c.sent_at.is_not(None))
    async with uow() as work:
        rows = await work.session.execute(
            select(OUTBOX.c.event_type, func.count()).where(*in_period).group_by(OUTBOX.c.event_type)
        )
        counts = {str(kind): int(count) for kind, count in rows}
        if not dry_run and counts:
            await work.session.execute(update(OUTBOX).where(*in_period).values(sent_at=None))
            await work.commit()
    return ReplayReport(events=sum(counts.values()), since=since, until=end, by_type=counts, dry_run=dry_run)
