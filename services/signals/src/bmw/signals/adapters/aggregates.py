"""Reading and updating the weekly aggregates: referrals (live and imported) and activity metrics."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, func, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.signals.adapters.tables import (
    CASE_UNITS,
    DETECTION_RUNS,
    IMPORTED_COUNTS,
    REFERRAL_CONTRIBUTIONS,
    SECONDMENT_DAYS,
    STATISTICS_OPT_OUTS,
    WEEKLY_COUNTS,
    WEEKLY_METRICS,
)

CellKey = tuple[uuid.UUID, str, date]
"""org unit, category, week."""


async def add_to_cell(
    session: AsyncSession, *, tenant_id: uuid.UUID, org_unit_id: uuid.UUID, category: str, week: date, delta: int
) -> None:
    """Add ``delta`` (±) referrals to a week's cell; an upsert, safe under concurrency, never below zero."""
    statement = insert(WEEKLY_COUNTS).values(
        tenant_id=tenant_id, org_unit_id=org_unit_id, category=category, week_start=week, referrals=max(delta, 0)
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[
                WEEKLY_COUNTS.c.tenant_id,
                WEEKLY_COUNTS.c.org_unit_id,
                WEEKLY_COUNTS.c.category,
                WEEKLY_COUNTS.c.week_start,
            ],
            set_={"referrals": func.greatest(WEEKLY_COUNTS.c.referrals + delta, 0)},
        )
    )


#: One round trip for a referral: remember where it was counted, add it to its week's cell and ask for the tenant's
#: detectors to run, the last two only when the referral was new. Written as one statement with data-modifying CTEs
#: because the consumer's time per event is mostly round trips (bench/signals.py: three statements cost twice the
#: floor's time per event); every sub-statement runs exactly once and sees the same snapshot.
COUNT_REFERRAL = text(
    """
WITH counted AS (
    INSERT INTO referral_contributions (referral_id, tenant_id, org_unit_id, category, week_start)
    VALUES (:referral_id, :tenant_id, :org_unit_id, :category, :week_start)
    ON CONFLICT DO NOTHING
    RETURNING tenant_id, org_unit_id, category, week_start
), added AS (
    INSERT INTO weekly_referral_counts AS counts (tenant_id, org_unit_id, category, week_start, referrals)
    SELECT tenant_id, org_unit_id, category, week_start, 1 FROM counted
    ON CONFLICT (tenant_id, org_unit_id, category, week_start)
    DO UPDATE SET referrals = greatest(counts.referrals + 1, 0)
), marked AS (
    INSERT INTO detection_runs AS runs (tenant_id, dirty)
    SELECT tenant_id, true FROM counted
    ON CONFLICT (tenant_id) DO UPDATE SET dirty = true WHERE NOT runs.dirty
)
SELECT count(*) FROM counted
"""
)


async def count_referral(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    referral_id: uuid.UUID,
    org_unit_id: uuid.UUID,
    category: str,
    week: date,
) -> bool:
    """Remember where a referral was counted, count it and mark the tenant for detection (one statement); False
    (nothing counted, nothing marked) when the referral was already known."""
    counted = await session.execute(
        COUNT_REFERRAL,
        {
            "referral_id": referral_id,
            "tenant_id": tenant_id,
            "org_unit_id": org_unit_id,
            "category": category,
            "week_start": week,
        },
    )
    return bool(counted.scalar_one())


async def link_person(session: AsyncSession, *, tenant_id: uuid.UUID, referral_id: uuid.UUID, client_ref: str) -> None:
    """Note whose referral it was (a pseudonym), so that a withdrawal or erasure can find it again."""
    await session.execute(
        update(REFERRAL_CONTRIBUTIONS)
        .where(REFERRAL_CONTRIBUTIONS.c.tenant_id == tenant_id, REFERRAL_CONTRIBUTIONS.c.referral_id == referral_id)
        .values(client_ref=client_ref)
    )


async def has_opted_out(session: AsyncSession, *, tenant_id: uuid.UUID, client_ref: str) -> bool:
    row = await session.execute(
        select(STATISTICS_OPT_OUTS.c.client_ref).where(
            STATISTICS_OPT_OUTS.c.tenant_id == tenant_id, STATISTICS_OPT_OUTS.c.client_ref == client_ref
        )
    )
    return row.first() is not None


async def set_opt_out(session: AsyncSession, *, tenant_id: uuid.UUID, client_ref: str, opted_out: bool) -> None:
    if opted_out:
        await session.execute(
            insert(STATISTICS_OPT_OUTS).values(tenant_id=tenant_id, client_ref=client_ref).on_conflict_do_nothing()
        )
    else:
        await session.execute(
            delete(STATISTICS_OPT_OUTS).where(
                STATISTICS_OPT_OUTS.c.tenant_id == tenant_id, STATISTICS_OPT_OUTS.c.client_ref == client_ref
            )
        )


async def uncount_person(session: AsyncSession, *, tenant_id: uuid.UUID, client_ref: str) -> int:
    """Take every referral of a person out of the counts and forget where they were; returns how many."""
    removed = await session.execute(
        delete(REFERRAL_CONTRIBUTIONS)
        .where(REFERRAL_CONTRIBUTIONS.c.tenant_id == tenant_id, REFERRAL_CONTRIBUTIONS.c.client_ref == client_ref)
        .returning(
            REFERRAL_CONTRIBUTIONS.c.org_unit_id, REFERRAL_CONTRIBUTIONS.c.category, REFERRAL_CONTRIBUTIONS.c.week_start
        )
    )
    rows = removed.all()
    for org_unit_id, category, week in rows:
        await add_to_cell(session, tenant_id=tenant_id, org_unit_id=org_unit_id, category=category, week=week, delta=-1)
    return len(rows)


async def remember_case(
    session: AsyncSession, *, tenant_id: uuid.UUID, case_id: uuid.UUID, org_unit_id: uuid.UUID, category: str
) -> None:
    await session.execute(
        insert(CASE_UNITS)
        .values(case_id=case_id, tenant_id=tenant_id, org_unit_id=org_unit_id, category=category)
        .on_conflict_do_nothing()
    )


async def case_unit(session: AsyncSession, case_id: uuid.UUID | None) -> uuid.UUID | None:
    if case_id is None:
        return None
    row = await session.execute(select(CASE_UNITS.c.org_unit_id).where(CASE_UNITS.c.case_id == case_id))
    return row.scalar_one_or_none()


async def add_metric(
    session: AsyncSession, *, tenant_id: uuid.UUID, week: date, metric: str, dimension: str = "", delta: int = 1
) -> None:
    """Add to a weekly activity metric (appointments, no-shows, unschedulable intakes, workshop demand, ...)."""
    statement = insert(WEEKLY_METRICS).values(
        tenant_id=tenant_id, week_start=week, metric=metric, dimension=dimension, value=delta
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[
                WEEKLY_METRICS.c.tenant_id,
                WEEKLY_METRICS.c.week_start,
                WEEKLY_METRICS.c.metric,
                WEEKLY_METRICS.c.dimension,
            ],
            set_={"value": WEEKLY_METRICS.c.value + delta},
        )
    )


async def metric_series(
    session: AsyncSession, *, tenant_id: uuid.UUID, metric: str, first_week: date
) -> dict[str, dict[date, int]]:
    """A metric's weekly values per dimension from ``first_week`` on."""
    rows = await session.execute(
        select(WEEKLY_METRICS.c.dimension, WEEKLY_METRICS.c.week_start, WEEKLY_METRICS.c.value).where(
            WEEKLY_METRICS.c.tenant_id == tenant_id,
            WEEKLY_METRICS.c.metric == metric,
            WEEKLY_METRICS.c.week_start >= first_week,
        )
    )
    series: dict[str, dict[date, int]] = defaultdict(dict)
    for dimension, week, value in rows:
        series[dimension][week] = value
    return series


async def log_secondment_day(
    session: AsyncSession, *, tenant_id: uuid.UUID, worker_id: uuid.UUID, day: date, hours: Decimal
) -> None:
    """The latest figure per worker × day (a correction re-sends the full figure)."""
    await session.execute(
        insert(SECONDMENT_DAYS)
        .values(tenant_id=tenant_id, worker_id=worker_id, day=day, hours=hours)
        .on_conflict_do_update(
            index_elements=[SECONDMENT_DAYS.c.tenant_id, SECONDMENT_DAYS.c.worker_id, SECONDMENT_DAYS.c.day],
            set_={"hours": hours},
        )
    )


async def secondment_hours(session: AsyncSession, *, tenant_id: uuid.UUID, since: date) -> Decimal:
    row = await session.execute(
        select(func.coalesce(func.sum(SECONDMENT_DAYS.c.hours), 0)).where(
            SECONDMENT_DAYS.c.tenant_id == tenant_id, SECONDMENT_DAYS.c.day >= since
        )
    )
    return Decimal(row.scalar_one())


async def weekly_cells(
    session: AsyncSession, *, tenant_id: uuid.UUID, first_week: date, last_week: date
) -> dict[CellKey, int]:
    """Live and imported referrals per org unit × category × week in ``[first_week, last_week]``, added up."""
    live = select(
        WEEKLY_COUNTS.c.org_unit_id.label("unit"),
        WEEKLY_COUNTS.c.category.label("category"),
        WEEKLY_COUNTS.c.week_start.label("week"),
        WEEKLY_COUNTS.c.referrals.label("referrals"),
    ).where(
        WEEKLY_COUNTS.c.tenant_id == tenant_id,
        WEEKLY_COUNTS.c.week_start >= first_week,
        WEEKLY_COUNTS.c.week_start <= last_week,
    )
    imported = select(
        IMPORTED_COUNTS.c.org_unit_id,
        IMPORTED_COUNTS.c.category,
        IMPORTED_COUNTS.c.week_start,
        IMPORTED_COUNTS.c.referrals,
    ).where(
        IMPORTED_COUNTS.c.tenant_id == tenant_id,
        IMPORTED_COUNTS.c.week_start >= first_week,
        IMPORTED_COUNTS.c.week_start <= last_week,
    )
    both = union_all(live, imported).subquery()
    rows = await session.execute(
        select(both.c.unit, both.c.category, both.c.week, func.sum(both.c.referrals))
        .group_by(both.c.unit, both.c.category, both.c.week)
        .having(func.sum(both.c.referrals) > 0)
    )
    return {(row[0], row[1], row[2]): int(row[3]) for row in rows}


async def first_week_with_data(session: AsyncSession, tenant_id: uuid.UUID) -> date | None:
    live = select(func.min(WEEKLY_COUNTS.c.week_start)).where(WEEKLY_COUNTS.c.tenant_id == tenant_id)
    imported = select(func.min(IMPORTED_COUNTS.c.week_start)).where(IMPORTED_COUNTS.c.tenant_id == tenant_id)
    weeks = [(await session.execute(live)).scalar_one_or_none(), (await session.execute(imported)).scalar_one_or_none()]
    known = [week for week in weeks if week is not None]
    return min(known) if known else None


async def mark_dirty(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Ask for the tenant's detectors to run: new counts arrived."""
    await session.execute(
        insert(DETECTION_RUNS)
        .values(tenant_id=tenant_id, dirty=True)
        .on_conflict_do_update(index_elements=[DETECTION_RUNS.c.tenant_id], set_={"dirty": True})
    )


async def tenants_due(session: AsyncSession, current_week: date) -> list[uuid.UUID]:
    """Tenants with new counts, or not yet evaluated in the current week (a new week can resolve signals)."""
    rows = await session.execute(
        select(DETECTION_RUNS.c.tenant_id).where(
            DETECTION_RUNS.c.dirty
            | DETECTION_RUNS.c.evaluated_week.is_(None)
            | (DETECTION_RUNS.c.evaluated_week < current_week)
        )
    )
    return [row[0] for row in rows]


async def mark_evaluated(session: AsyncSession, tenant_id: uuid.UUID, current_week: date) -> None:
    await session.execute(
        update(DETECTION_RUNS)
        .where(DETECTION_RUNS.c.tenant_id == tenant_id)
        .values(dirty=False, evaluated_at=func.now(), evaluated_week=current_week)
    )


async def replace_imported_unit_weeks(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    import_id: uuid.UUID,
    unit_weeks: Iterable[tuple[uuid.UUID, date]],
    cells: Iterable[tuple[uuid.UUID, date, str, int]],
) -> None:
    """Idempotent per unit × week: a unit-week in the import replaces everything imported for it before."""
    pairs = list(unit_weeks)
    for unit, week in pairs:
        await session.execute(
            delete(IMPORTED_COUNTS).where(
                IMPORTED_COUNTS.c.tenant_id == tenant_id,
                IMPORTED_COUNTS.c.org_unit_id == unit,
                IMPORTED_COUNTS.c.week_start == week,
            )
        )
    values = [
        {
            "tenant_id": tenant_id,
            "org_unit_id": unit,
            "week_start": week,
            "category": category,
            "referrals": count,
            "import_id": import_id,
        }
        for unit, week, category, count in cells
        if count > 0
    ]
    if values:
        await session.execute(insert(IMPORTED_COUNTS), values)
