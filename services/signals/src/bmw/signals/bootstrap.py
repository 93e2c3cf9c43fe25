"""Composition root of the signals service."""

from __future__ import annotations

from fastapi import FastAPI

from bmw.servicekit.app import ServiceSpec, create_service_app
from bmw.signals.entrypoints.consumers import consumer_groups
from bmw.signals.entrypoints.http import router
from bmw.signals.settings import SignalsSettings, get_settings


def service_spec(settings: SignalsSettings) -> ServiceSpec:
    """What the signals service is made of: routes and consumer groups."""
    return ServiceSpec(
        name="signals",
        title="BMW signals",
        description="Anonymised weekly aggregates per client organisation × org unit × category, and the "
        "signals and opportunities drawn from them. Tenant-facing numbers obey small-cell suppression.",
        settings=settings,
        routers=[router],
        consumer_groups=consumer_groups(),
    )


def create_app(settings: SignalsSettings | None = None) -> FastAPI:
    """The signals app; infrastructure is built in its lifespan."""
    return create_service_app(service_spec(settings or get_settings()))
