"""Messaging housekeeping: the outbox and the inbox do not grow for ever.

A sent event stays in the outbox for the replay window (``BMW_OUTBOX_KEEP_DAYS``: ``replay`` can publish it again);
a consumer group remembers an applied event for longer (``BMW_INBOX_KEEP_DAYS``, checked to be longer), so that a
replay or a redelivery within the window is still recognised. Each service runs this hourly (a periodic job of every
service app), in batches of one short transaction each, with the whole service's scope (it is the service's own
work, over every organisation's rows).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bmw.servicekit.inbox import prune_applied
from bmw.servicekit.outbox import prune_sent
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import WHOLE_SERVICE, scoped

logger = logging.getLogger(__name__)

#: Rows deleted per transaction.
BATCH = 5000


@dataclass(frozen=True)
class Tidied:
    """What one housekeeping run deleted."""

    outbox_rows: int
    inbox_rows: int


async def _in_batches(uow: UnitOfWorkFactory, prune: Callable[[AsyncSession], Awaitable[int]]) -> int:
    total = 0
    while True:
        async with uow() as work:
            deleted = await prune(work.session)
            await work.commit()
        total += deleted
        if deleted < BATCH:
            return total


async def tidy_messaging(uow: UnitOfWorkFactory, *, outbox_keep: timedelta, inbox_keep: timedelta) -> Tidied:
    """Delete sent outbox rows older than ``outbox_keep`` and inbox rows older than ``inbox_keep``."""
    with scoped(WHOLE_SERVICE):
        tidied = Tidied(
            outbox_rows=await _in_batches(uow, lambda session: prune_sent(session, keep=outbox_keep, batch=BATCH)),
            inbox_rows=await _in_batches(uow, lambda session: prune_applied(session, keep=inbox_keep, batch=BATCH)),
        )
    if tidied.outbox_rows or tidied.inbox_rows:
        logger.info(
            "housekeeping: %d sent event(s) left the outbox (kept %d days), %d applied one(s) the inbox (kept %d days)",
            tidied.outbox_rows,
            outbox_keep.days,
            tidied.inbox_rows,
            inbox_keep.days,
        )
    return tidied
