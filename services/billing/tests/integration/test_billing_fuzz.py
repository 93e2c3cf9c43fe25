"""A schemathesis fuzz of billing's OpenAPI: random requests as every role, no 5xx, no undocumented answer.

Part of the valid requests name a real client organisation, org unit, contract and invoice, so real answers
(an invoice's UBL and HTML too) are checked against the documented schemas. See ``bmw.devstack.fuzzing`` for
the checks and ``BMW_FUZZ_EXAMPLES`` for a longer run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bmw.devstack.fuzzing import every_role, fuzz_openapi
from bmw.devstack.testing import ServiceUnderTest, bearer, service_under_test

pytestmark = pytest.mark.integration

SUBSCRIPTION = {
    "code": "SUB",
    "kind": "subscription_per_employee_year",
    "unit_price_cents": 2400,
    "vat_rate": "21",
    "sessions_per_employee_per_year": 5,
    "overage_unit_price_cents": 7000,
}


@pytest.fixture(scope="module")  # stopped after the fuzz: nothing else uses this instance
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as service:
        yield service


async def test_every_billing_operation_answers_random_requests_as_documented(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    # Billing is where client organisations are registered (the other services learn them from its event).
    admin = bearer(dev_keys.mint("provider_admin"))
    body = {
        "name": "Fuzz B.V.",
        "kvk_number": f"{uuid.uuid4().int % 10**8:08d}",
        "invoice_email": "crediteuren@fuzz.example.nl",
        "addresses": {
            "invoice": {"street": "Stationsplein", "house_number": "1", "postal_code": "3511ED", "city": "Utrecht"}
        },
        "org_units": [{"name": "Ops"}],
    }
    registered = await billing.client.post("/client-organisations", json=body, headers=admin)
    assert registered.status_code == 201, registered.text
    tenant = registered.json()["id"]
    units = await billing.client.get(f"/client-organisations/{tenant}/org-units", headers=admin)
    contract = await billing.client.post(
        "/contracts",
        json={
            "tenant_id": tenant,
            "products": [SUBSCRIPTION],
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
            "employees": 40,
            "buyer_reference": "PO-FUZZ",
        },
        headers=admin,
    )
    assert contract.status_code == 201, contract.text
    run = await billing.client.post("/billing-runs", json={"period": "2026-01", "tenant_id": tenant}, headers=admin)
    assert run.status_code == 201, run.text
    invoices = await billing.client.get("/invoices", params={"tenant_id": tenant}, headers=admin)
    assert [invoice["id"] for invoice in invoices.json()] == run.json()["drafts"] != [], run.text
    known = {
        "tenant_id": [tenant],
        "unit_id": [unit["id"] for unit in units.json()],
        "contract_id": [contract.json()["id"]],
        "invoice_id": [invoice["id"] for invoice in invoices.json()],
        "from": ["2026-01-01"],
        "to": ["2026-03-31"],
    }

    report = await fuzz_openapi(billing.client, every_role(dev_keys, uuid.UUID(tenant)), known=known)

    assert not report.failures, report.summary()
    assert set(report.outcomes) == set(report.operations), "every operation was answered"
    assert report.successes("GET /contracts/{contract_id}", "GET /invoices/{invoice_id}"), "the fuzz reached real rows"
