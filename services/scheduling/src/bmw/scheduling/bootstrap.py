"""Composition root of the scheduling service."""

from __future__ import annotations

from fastapi import FastAPI

from bmw.scheduling.entrypoints import calendar_http, secondments_http, workshops_http
from bmw.scheduling.entrypoints.consumers import consumer_groups
from bmw.scheduling.entrypoints.http import agenda, router
from bmw.scheduling.settings import SchedulingSettings, get_settings
from bmw.servicekit.app import ServiceSpec, create_service_app


def service_spec(settings: SchedulingSettings) -> ServiceSpec:
    """What the scheduling service is made of: routes and consumer groups."""
    return ServiceSpec(
        name="scheduling",
        title="BMW scheduling",
        description="The time of people: social workers' availability, appointments, workshops and "
        "secondments; books intakes within the SLA.",
        settings=settings,
        routers=[router, agenda, workshops_http.router, secondments_http.router, calendar_http.router],
        consumer_groups=consumer_groups(),
    )


def create_app(settings: SchedulingSettings | None = None) -> FastAPI:
    """The scheduling app; infrastructure is built in its lifespan."""
    return create_service_app(service_spec(settings or get_settings()))
