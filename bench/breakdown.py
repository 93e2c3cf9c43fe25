"""``python -m bench.breakdown``: where one applied event's time goes in the consumer's database work.

Runs the steps of ``EventConsumer`` (decode, unit of work, inbox claim, handler, commit) one by one over a few
thousand events, then times one statement in the forms SQLAlchemy and asyncpg allow. No Kafka: this explains
the database side of the consume figures of ``python -m bench``; it is not itself a benchmark with a baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from bench.infra import embedded_infrastructure
from bench.messaging import INBOX_CLAIM_SQL, TOPICS, MessagingBenchmark, Settings, count_referral, raw_records
from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import ReferralReceived
from bmw.servicekit.inbox import claim
from bmw.servicekit.tables import INBOX
from bmw.servicekit.uow import UnitOfWorkFactory

STEPS = ("decode + validate", "unit of work: checkout, BEGIN, set_config", "inbox claim", "handler upsert", "COMMIT")


async def steps(benchmark: MessagingBenchmark, events: int) -> dict[str, float]:
    """Milliseconds per event for each step of an applied event, as EventConsumer runs them."""
    records = raw_records(benchmark.workload.batches(events + 200, 1))
    uow = UnitOfWorkFactory(benchmark.sessions)
    totals = dict.fromkeys(STEPS, 0.0)
    for number, (_, value, headers) in enumerate(records):
        t0 = time.perf_counter()
        event = CloudEvent.from_kafka(headers, value)
        data = ReferralReceived.model_validate(event.data)
        t1 = time.perf_counter()
        async with uow(tenant_id=event.tenantid) as work:
            t2 = time.perf_counter()
            await claim(work.session, "breakdown", event)
            t3 = time.perf_counter()
            await count_referral(work.session, event, data)
            t4 = time.perf_counter()
            await work.commit()
            t5 = time.perf_counter()
        if number < 200:  # warm-up: pool, statement caches
            continue
        for step, seconds in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            totals[step] += seconds
    return {step: total / events * 1000 for step, total in totals.items()}


async def statement_forms(benchmark: MessagingBenchmark, repeats: int) -> dict[str, float]:
    """Milliseconds per inbox claim, in one open transaction, in each form."""
    tenant = uuid.uuid4()
    prebuilt = (
        insert(INBOX)
        .on_conflict_do_nothing(index_elements=[INBOX.c.consumer_group, INBOX.c.event_id])
        .returning(INBOX.c.event_id)
    )
    textual = text(
        "INSERT INTO inbox (consumer_group, event_id, event_type, tenant_id) VALUES (:g, :e, :t, :n) "
        "ON CONFLICT (consumer_group, event_id) DO NOTHING RETURNING event_id"
    )
    results: dict[str, float] = {}
    async with benchmark.sessions() as session, session.begin():
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        assert driver is not None

        async def as_the_kit() -> None:
            await session.execute(
                insert(INBOX)
                .values(consumer_group="forms", event_id=uuid.uuid4(), event_type="x", tenant_id=tenant)
                .on_conflict_do_nothing(index_elements=[INBOX.c.consumer_group, INBOX.c.event_id])
                .returning(INBOX.c.event_id)
            )

        async def built_once() -> None:
            values = {"consumer_group": "forms", "event_id": uuid.uuid4(), "event_type": "x", "tenant_id": tenant}
            await session.execute(prebuilt, values)

        async def text_statement() -> None:
            await session.execute(textual, {"g": "forms", "e": uuid.uuid4(), "t": "x", "n": tenant})

        async def select_one() -> None:
            await session.execute(text("SELECT 1"))

        async def raw_asyncpg() -> None:
            await driver.fetchval(INBOX_CLAIM_SQL, "forms", uuid.uuid4(), "x", tenant)

        forms: dict[str, Callable[[], Awaitable[None]]] = {
            "session.execute(insert(...).values(...)), built per call (the kit's inbox.claim)": as_the_kit,
            "session.execute(statement built once, parameters)": built_once,
            "session.execute(text(...), parameters)": text_statement,
            "session.execute(text('SELECT 1')): SQLAlchemy's floor per round trip": select_one,
            "asyncpg fetchval, the same SQL": raw_asyncpg,
        }
        for name, form in forms.items():
            for _ in range(100):
                await form()
            started = time.perf_counter()
            for _ in range(repeats):
                await form()
            results[name] = (time.perf_counter() - started) / repeats * 1000
    return results


async def measure(database_url: str, bootstrap: str, events: int) -> tuple[dict[str, float], dict[str, float]]:
    with Progress(disable=True) as progress:
        benchmark = MessagingBenchmark(Settings(events=events), database_url, bootstrap, progress)
        try:
            await benchmark.create_tables()
            return await steps(benchmark, events), await statement_forms(benchmark, events)
        finally:
            await benchmark.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events (and statement repeats) to time")
    arguments = parser.parse_args()
    console = Console()
    with (
        console.status("measuring on embedded PostgreSQL (Tansu idles)"),
        embedded_infrastructure(topics=TOPICS, partitions=Settings.partitions) as infra,
    ):
        per_step, per_form = asyncio.run(measure(infra.database_url, infra.bootstrap_servers, arguments.events))
    table = Table(title=f"One applied event's database work, {arguments.events:,} events (ms per event)")
    table.add_column("Step")
    table.add_column("ms", justify="right")
    for step, ms in per_step.items():
        table.add_row(step, f"{ms:.3f}")
    table.add_section()
    table.add_row("[bold]total[/]", f"[bold]{sum(per_step.values()):.3f}[/]")
    console.print(table)
    forms = Table(title="One inbox claim, by statement form (ms per statement, one open transaction)")
    forms.add_column("Form")
    forms.add_column("ms", justify="right")
    for name, ms in per_form.items():
        forms.add_row(name, f"{ms:.3f}")
    console.print(forms)


if __name__ == "__main__":
    main()
