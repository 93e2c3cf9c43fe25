"""Composition root of the intake service."""

from __future__ import annotations

from fastapi import FastAPI

from bmw.intake.application.referrals import expire_referrals
from bmw.intake.entrypoints.consumers import consumer_groups
from bmw.intake.entrypoints.deps import intake_of
from bmw.intake.entrypoints.http import routers
from bmw.intake.settings import IntakeSettings, get_settings
from bmw.servicekit.app import PeriodicJob, ServiceRuntime, ServiceSpec, create_service_app


async def _expire(runtime: ServiceRuntime) -> int:
    return await expire_referrals(intake=intake_of(runtime))


def service_spec(settings: IntakeSettings) -> ServiceSpec:
    """What the intake service is made of: routes, consumer groups and its timer."""
    return ServiceSpec(
        name="intake",
        title="BMW intake",
        description="Referrals (aanmeldingen), consent and cases of employees of client organisations, the "
        "two-layer dossier and the access log. Names, contact details and notes never leave this service and are "
        "sealed per person at rest; events carry a pseudonymous client_ref. Roles: employees refer themselves and "
        "see their own referrals; client contacts refer and see the status of their organisation's referrals, "
        "never a category or case; social workers work their own cases; provider admins handle the rights of "
        "the person.",
        settings=settings,
        routers=routers,
        consumer_groups=consumer_groups(),
        periodic_jobs=[PeriodicJob("expire-referrals", settings.expiry_check_seconds, _expire)],
    )


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """The intake app; infrastructure is built in its lifespan."""
    return create_service_app(service_spec(settings or get_settings()))
