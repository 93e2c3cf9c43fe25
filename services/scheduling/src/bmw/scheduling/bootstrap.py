"""Composition root of the scheduling service."""

from __future__ import annotations

from fastapi import FastAPI

from bmw.scheduling.adapters.tables import IDEMPOTENCY_KEYS
from bmw.scheduling.application.workshops import forget_old_registers
from bmw.scheduling.entrypoints import calendar_http, persons_http, secondments_http, workshops_http
from bmw.scheduling.entrypoints.consumers import consumer_groups
from bmw.scheduling.entrypoints.http import agenda, router
from bmw.scheduling.settings import SchedulingSettings, get_settings
from bmw.servicekit.app import PeriodicJob, ServiceRuntime, ServiceSpec, create_service_app
from bmw.servicekit.idempotency import forget_old_keys


async def _housekeeping(runtime: ServiceRuntime) -> int:
    """Retention: names on old attendance registers, and Idempotency-Keys older than 7 days."""
    forgotten = await forget_old_registers(runtime.uow)
    async with runtime.uow() as work:
        forgotten += await forget_old_keys(work.session, IDEMPOTENCY_KEYS)
        await work.commit()
    return forgotten


def service_spec(settings: SchedulingSettings) -> ServiceSpec:
    """What the scheduling service is made of: routes and consumer groups."""
    return ServiceSpec(
        name="scheduling",
        title="BMW scheduling",
        description="The time of people: social workers' availability, appointments, workshops and "
        "secondments; books intakes within the SLA.",
        settings=settings,
        routers=[
            router,
            agenda,
            workshops_http.router,
            secondments_http.router,
            calendar_http.router,
            persons_http.router,
        ],
        consumer_groups=consumer_groups(),
        periodic_jobs=[PeriodicJob("retention", settings.retention_check_seconds, _housekeeping)],
    )


def create_app(settings: SchedulingSettings | None = None) -> FastAPI:
    """The scheduling app; infrastructure is built in its lifespan."""
    return create_service_app(service_spec(settings or get_settings()))
