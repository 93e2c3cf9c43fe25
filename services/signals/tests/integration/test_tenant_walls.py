"""Signals behind its tenant walls: a scope sees its own organisations' rows, and the provider-wide aggregates
(a catalogue's track record) still count every organisation."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from bmw.contracts.taxonomy import SignalKind
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, metric_value
from bmw.servicekit.db import session_factory
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import TenantScope, scoped
from bmw.signals.adapters.tables import DETECTION_RUNS, OPPORTUNITIES, SIGNALS
from bmw.signals.application.detection import run_due
from bmw.signals.application.interventions import track_record

pytestmark = pytest.mark.integration

CODE = "wall_test_coaching"


async def _won_opportunity(signals: ServiceUnderTest, tenant: uuid.UUID, raised_week: date) -> None:
    """A confirmed reorganisation wave of ``tenant`` whose opportunity was won with ``CODE``."""
    signal_id = uuid.uuid4()
    async with signals.sessions() as session, session.begin():
        await session.execute(
            insert(SIGNALS).values(
                id=signal_id,
                tenant_id=tenant,
                org_unit_id=None,
                kind="reorganisation_wave",
                raised_week=raised_week,
                review_status="confirmed",
                status="open",
                method="poisson_tail",
                observed=9,
                expected=2.0,
                score=4.0,
                suppressed=False,
                evidence={"counts": [9]},
            )
        )
        await session.execute(
            insert(OPPORTUNITIES).values(
                id=uuid.uuid4(),
                tenant_id=tenant,
                signal_id=signal_id,
                kind="reorganisation_wave",
                org_unit_id=None,
                stage="won",
                recommended=[CODE],
                won_intervention=CODE,
                estimated_value_cents=100000,
                evidence_text="A rise.",
            )
        )


async def test_a_scope_sees_its_own_opportunities_and_the_track_record_counts_everyone(
    signals: ServiceUnderTest,
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    for tenant, week in ((mine, date(2026, 3, 2)), (theirs, date(2026, 3, 2)), (theirs, date(2026, 3, 9))):
        await _won_opportunity(signals, tenant, week)
    engine = create_async_engine(signals.database_url)  # as the service connects: held by its walls
    uow = UnitOfWorkFactory(session_factory(engine))
    sold = select(OPPORTUNITIES.c.tenant_id).where(OPPORTUNITIES.c.won_intervention == CODE)  # no tenant filter
    try:
        with scoped(TenantScope(tenant_ids=frozenset({mine}))):
            async with uow() as work:
                visible = (await work.session.scalars(sold)).all()
                record = await track_record(work.session, SignalKind.REORGANISATION_WAVE)
                after: Any = (await work.session.scalars(sold)).all()
    finally:
        await engine.dispose()
    assert visible == [mine], "an account manager of one organisation sees its opportunities only"
    assert record[CODE] == (3, 0), "the track record counts the wins of every organisation"
    assert after == [mine], "and the transaction returns to its own scope afterwards"


async def test_the_periodic_detection_finds_the_organisations_due_behind_the_walls(signals: ServiceUnderTest) -> None:
    """The job reads which organisations are due as the service connects (its role is held by the walls): it once
    read them outside a unit of work, without a scope, and so found none at all."""
    tenant = uuid.uuid4()
    async with signals.sessions() as session, session.begin():
        await session.execute(insert(DETECTION_RUNS).values(tenant_id=tenant, dirty=True))
    engine = create_async_engine(signals.database_url)
    try:
        reports = await run_due(UnitOfWorkFactory(session_factory(engine)), default_k=5)
    finally:
        await engine.dispose()
    assert tenant in {report.tenant_id for report in reports}
    async with signals.sessions() as session:
        dirty = await session.scalar(select(DETECTION_RUNS.c.dirty).where(DETECTION_RUNS.c.tenant_id == tenant))
    assert dirty is False, "evaluated, so no longer due"


async def test_a_social_worker_sees_the_signals_of_the_organisations_they_serve(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    served, other = uuid.uuid4(), uuid.uuid4()
    for tenant in (served, other):
        await _won_opportunity(signals, tenant, date(2026, 4, 6))
    worker = bearer(dev_keys.mint("social_worker", serves=[served]))

    listed = await signals.client.get("/signals", headers=worker)
    assert listed.status_code == 200, listed.text
    tenants = {item["tenant_id"] for item in listed.json()["items"]}
    assert tenants == {str(served)}, "only the organisation they serve"
    period = {"from": "2026-01-01", "to": "2026-06-30"}
    for path, params in (("/signals", {}), ("/trends", period)):
        refused = await signals.client.get(path, params={"tenant_id": str(other), **params}, headers=worker)
        assert refused.status_code == 403, (path, refused.text)
        allowed = await signals.client.get(path, params={"tenant_id": str(served), **params}, headers=worker)
        assert allowed.status_code == 200, (path, allowed.text)

    unlimited = bearer(dev_keys.mint("social_worker"))  # a token that does not say: every organisation
    everyone = await signals.client.get("/signals", params={"limit": 200}, headers=unlimited)
    assert {str(served), str(other)} <= {item["tenant_id"] for item in everyone.json()["items"]}


def raised(text: str, kind: str) -> float:
    return metric_value(text, "bmw_signals_raised_total", kind=kind) or 0.0


async def test_the_metrics_count_signals_raised_per_kind_over_every_organisation(signals: ServiceUnderTest) -> None:
    before = raised((await signals.client.get("/metrics")).text, "reorganisation_wave")
    tenant = uuid.uuid4()
    await _won_opportunity(signals, tenant, date(2026, 5, 4))

    async def counted() -> bool:  # the scrape reads the tables at most every few seconds
        return raised((await signals.client.get("/metrics")).text, "reorganisation_wave") == before + 1

    await eventually(counted, what="the new signal in the metrics")
    text = (await signals.client.get("/metrics")).text
    assert str(tenant) not in text, "no organisation in a label"
    assert 'bmw_metrics_source_up{source="database"} 1.0' in text
