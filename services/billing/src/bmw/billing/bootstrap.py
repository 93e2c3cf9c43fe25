"""Composition root of the billing service."""

from __future__ import annotations

from fastapi import FastAPI

from bmw.billing.entrypoints.consumers import consumer_groups
from bmw.billing.entrypoints.http import router
from bmw.billing.settings import BillingSettings, get_settings
from bmw.servicekit.app import ServiceSpec, create_service_app


def service_spec(settings: BillingSettings) -> ServiceSpec:
    """What the billing service is made of: routes and consumer groups."""
    return ServiceSpec(
        name="billing",
        title="BMW billing",
        description="System of record for client organisations (tenants) and their contracts; metering "
        "and invoicing. Invoices carry no person.",
        settings=settings,
        routers=[router],
        consumer_groups=consumer_groups(),
    )


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    """The billing app; infrastructure is built in its lifespan."""
    return create_service_app(service_spec(settings or get_settings()))
