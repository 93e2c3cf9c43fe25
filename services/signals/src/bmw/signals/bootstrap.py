"""Composition root of the signals service."""

from __future__ import annotations

from fastapi import FastAPI

from bmw.servicekit.app import PeriodicJob, ServiceRuntime, ServiceSpec, create_service_app
from bmw.servicekit.idempotency import forget_old_keys
from bmw.signals.adapters.metrics import signals_raised
from bmw.signals.adapters.tables import IDEMPOTENCY_KEYS
from bmw.signals.application.detection import run_due
from bmw.signals.entrypoints.accounts_http import accounts_router
from bmw.signals.entrypoints.actions_http import actions_router
from bmw.signals.entrypoints.consumers import consumer_groups
from bmw.signals.entrypoints.history_http import router as history_router
from bmw.signals.entrypoints.http import router
from bmw.signals.entrypoints.opportunities_http import opportunities_router
from bmw.signals.entrypoints.persons_http import router as persons_router
from bmw.signals.entrypoints.signals_http import signals_router
from bmw.signals.settings import SignalsSettings, get_settings


def _detection(settings: SignalsSettings) -> PeriodicJob:
    """Run the detectors for client organisations with new counts, and weekly for all of them."""

    async def run(runtime: ServiceRuntime) -> int:
        return len(await run_due(runtime.uow, default_k=settings.small_cell_k))

    return PeriodicJob("detection", settings.detection_check_seconds, run)


async def _housekeeping(runtime: ServiceRuntime) -> int:
    """Retention: Idempotency-Keys older than 7 days (with the answers they keep) are forgotten."""
    async with runtime.uow() as work:
        forgotten = await forget_old_keys(work.session, IDEMPOTENCY_KEYS)
        await work.commit()
    return forgotten


def service_spec(settings: SignalsSettings) -> ServiceSpec:
    """What the signals service is made of: routes and consumer groups."""
    return ServiceSpec(
        name="signals",
        title="BMW signals",
        description="Anonymised weekly aggregates per client organisation × org unit × category, and the "
        "signals and opportunities drawn from them. Tenant-facing numbers obey small-cell suppression.",
        settings=settings,
        routers=[
            router,
            history_router,
            actions_router,
            accounts_router,
            signals_router,
            opportunities_router,
            persons_router,
        ],
        consumer_groups=consumer_groups(),
        periodic_jobs=[
            _detection(settings),
            PeriodicJob("housekeeping", settings.housekeeping_check_seconds, _housekeeping),
        ],
        metric_sources=[signals_raised],
    )


def create_app(settings: SignalsSettings | None = None) -> FastAPI:
    """The signals app; infrastructure is built in its lifespan."""
    return create_service_app(service_spec(settings or get_settings()))
