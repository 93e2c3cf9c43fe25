"""One instance at a time: a periodic job of a service scaled out to several instances runs in only one of them.

Every instance runs the same timers (expiring referrals, issuing invoices, detecting signals, housekeeping); each run
first takes a PostgreSQL session-level advisory lock named after the job, on a connection of its own held for the
run. An instance that finds the lock taken skips that round; a run whose instance dies releases the lock with its
connection. So scaling a service out (deploy/k8s's autoscalers) never runs a job twice at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Namespace of the jobs' advisory locks (the first key of pg_try_advisory_lock(int, int)); billing's per-tenant
#: locks use another.
JOB_LOCK_SPACE = 5_100


class Skipped:
    """The run did not happen: another instance holds the job's lock."""

    def __repr__(self) -> str:
        return "Skipped()"


SKIPPED = Skipped()


async def run_exclusively(engine: AsyncEngine, name: str, work: Callable[[], Awaitable[T]]) -> T | Skipped:
    """Run ``work`` unless another instance of the service is running the job ``name``; then return :data:`SKIPPED`."""
    key = {"space": JOB_LOCK_SPACE, "job": name}
    async with engine.connect() as lock:
        taken = await lock.scalar(text("SELECT pg_try_advisory_lock(:space, hashtext(:job))"), key)
        await lock.commit()  # the lock is the session's: no transaction stays open while the job runs
        if not taken:
            logger.debug("job %s runs in another instance; skipped", name)
            return SKIPPED
        try:
            return await work()
        finally:
            await lock.execute(text("SELECT pg_advisory_unlock(:space, hashtext(:job))"), key)
            await lock.commit()
