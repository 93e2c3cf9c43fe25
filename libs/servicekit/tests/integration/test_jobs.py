"""A periodic job runs in one instance at a time: a second instance skips the round while the first holds the job's
lock, and a failed run leaves the lock free; on the real PostgreSQL (two engines stand for two instances)."""

from __future__ import annotations

import asyncio

import pytest

from bmw.servicekit.db import create_engine
from bmw.servicekit.jobs import SKIPPED, run_exclusively

pytestmark = pytest.mark.integration


async def test_while_one_instance_runs_a_job_another_skips_it_and_runs_it_after(kit) -> None:  # type: ignore[no-untyped-def]
    other_instance = create_engine(kit.engine.url.render_as_string(hide_password=False), pool_size=1)
    running, finish = asyncio.Event(), asyncio.Event()

    async def long_run() -> str:
        running.set()
        await finish.wait()
        return "done"

    async def quick_run() -> str:
        return "quick"

    try:
        first = asyncio.create_task(run_exclusively(kit.engine, "invoices", long_run))
        await running.wait()
        assert await run_exclusively(other_instance, "invoices", quick_run) is SKIPPED
        assert await run_exclusively(other_instance, "another-job", quick_run) == "quick", "one lock per job"
        finish.set()
        assert await first == "done"
        assert await run_exclusively(other_instance, "invoices", quick_run) == "quick"
    finally:
        await other_instance.dispose()


async def test_a_failed_run_releases_the_job(kit) -> None:  # type: ignore[no-untyped-def]
    async def broken() -> None:
        raise RuntimeError("the job failed")

    with pytest.raises(RuntimeError, match="the job failed"):
        await run_exclusively(kit.engine, "retention", broken)

    async def fine() -> str:
        return "ran"

    assert await run_exclusively(kit.engine, "retention", fine) == "ran"
