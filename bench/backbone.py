"""The messaging backbone suite of ``make bench``: outbox, relay, idempotent consumer and latency of the kit
(``bench.messaging``) on its own embedded PostgreSQL and broker, next to raw aiokafka and raw asyncpg."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from bench.infra import embedded_infrastructure
from bench.messaging import TOPICS, MessagingBenchmark, Results, Settings
from bench.report import machine_info, write_chart
from bench.suite import SuiteOptions, SuiteResult, Target

#: What one consumer group must apply for the pipeline's 200 referrals/s: each referral is two of intake's events
#: (received, case opened) that signals, scheduling and billing each consume.
CONSUMER_TARGET = 200.0


async def _until_terminated(work: Coroutine[Any, Any, Results]) -> Results:
    """Run ``work``; SIGTERM cancels it like Ctrl-C does, so every ``finally`` (clients, consumers) runs."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)


def run(options: SuiteOptions) -> SuiteResult:
    settings: Settings = options.extra.get("messaging_settings") or Settings()
    started = time.perf_counter()
    when = datetime.now(UTC)
    status = options.progress.add_task("messaging: starting PostgreSQL and Tansu", total=None)
    with embedded_infrastructure(topics=TOPICS, partitions=settings.partitions) as infra:
        options.progress.update(status, total=1, completed=1)
        benchmark = MessagingBenchmark(settings, infra.database_url, infra.bootstrap_servers, options.progress)
        results = asyncio.run(_until_terminated(benchmark.run()))
        machine = machine_info(infra.postgres_version)
    result = SuiteResult(
        name="messaging",
        title=f"Messaging backbone: the kit's outbox, relay and consumer, {settings.events:,} events",
        figures=list(results.figures),
        checks=results.checks,
        settings={
            "events": settings.events,
            "single_events": settings.single_events,
            "events_per_transaction": settings.events_per_transaction,
            "relay_batch_size": settings.relay_batch_size,
            "latency_runs": [
                {"offered_rate_per_second": settings.latency_rate, "events": settings.latency_events},
                {"offered_rate_per_second": settings.latency_low_rate, "events": settings.latency_low_events},
            ],
            "partitions": settings.partitions,
            "tenants": settings.tenants,
            "quick": settings.quick,
        },
        details={
            **results.extra,
            "latency_samples_ms": {
                name: [round(sample, 2) for sample in samples] for name, samples in results.latency_samples_ms.items()
            },
        },
    )
    applied = next((f for f in results.figures if f.key == "consume_applied"), None)
    if applied is not None:
        result.targets.append(
            Target(
                key="messaging.consumer_events_per_second",
                text=f"one consumer group applies ≥ {CONSUMER_TARGET:g} events/s (what 200 referrals/s ask of it)",
                value=applied.value,
                limit=CONSUMER_TARGET,
                unit="events/s",
                higher_is_better=True,
            )
        )
    result.seconds = time.perf_counter() - started
    if options.charts:
        path = options.output / "messaging.png"
        write_chart(path, results, settings, machine, when)
        result.charts.append(path.name)
    return result
