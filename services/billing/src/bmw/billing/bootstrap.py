"""Composition root of the billing service."""

from __future__ import annotations

from fastapi import FastAPI

from bmw.billing.adapters.metrics import BILLING_METRICS
from bmw.billing.application.contracts import run_contract_calendar
from bmw.billing.application.invoicing import issue_due_drafts
from bmw.billing.entrypoints import contracts_http, invoices_http, persons_http
from bmw.billing.entrypoints.consumers import consumer_groups
from bmw.billing.entrypoints.http import router
from bmw.billing.entrypoints.organisations_http import router as organisations_router
from bmw.billing.settings import BillingSettings, get_settings
from bmw.servicekit.app import PeriodicJob, ServiceRuntime, ServiceSpec, create_service_app


def _contract_calendar(settings: BillingSettings) -> PeriodicJob:
    """Daily: renew self-renewing contracts, announce the others ending within 90 days (once each)."""

    async def run(runtime: ServiceRuntime) -> int:
        return await run_contract_calendar(
            uow=runtime.uow,
            notice_days=settings.contract_expiry_notice_days,
            lead_days=settings.contract_auto_renew_lead_days,
        )

    return PeriodicJob("contract-calendar", settings.contract_check_seconds, run)


def _auto_issue(settings: BillingSettings) -> PeriodicJob:
    """Issue draft invoices whose review window (the grace period after their billing run) has passed."""

    async def run(runtime: ServiceRuntime) -> int:
        return await issue_due_drafts(runtime.uow, settings)

    return PeriodicJob("auto-issue-invoices", settings.auto_issue_check_seconds, run)


def service_spec(settings: BillingSettings) -> ServiceSpec:
    """What the billing service is made of: routes and consumer groups."""
    return ServiceSpec(
        name="billing",
        title="BMW billing",
        description="System of record for client organisations (tenants) and their contracts; metering "
        "and invoicing. Invoices carry no person.",
        settings=settings,
        routers=[router, organisations_router, contracts_http.router, invoices_http.router, persons_http.router],
        consumer_groups=consumer_groups(),
        periodic_jobs=[_contract_calendar(settings), _auto_issue(settings)],
        metric_registries=[BILLING_METRICS],
    )


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    """The billing app; infrastructure is built in its lifespan."""
    return create_service_app(service_spec(settings or get_settings()))
