"""Composition root of the intake service."""

from __future__ import annotations

from fastapi import FastAPI

from bmw.intake.entrypoints.consumers import consumer_groups
from bmw.intake.entrypoints.http import router
from bmw.intake.settings import IntakeSettings, get_settings
from bmw.servicekit.app import ServiceSpec, create_service_app


def service_spec(settings: IntakeSettings) -> ServiceSpec:
    """What the intake service is made of: routes and consumer groups."""
    return ServiceSpec(
        name="intake",
        title="BMW intake",
        description="Referrals (aanmeldingen) and cases of employees of client organisations. "
        "Names, contact details and notes never leave this service; events carry a pseudonymous client_ref.",
        settings=settings,
        routers=[router],
        consumer_groups=consumer_groups(),
    )


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """The intake app; infrastructure is built in its lifespan."""
    return create_service_app(service_spec(settings or get_settings()))
