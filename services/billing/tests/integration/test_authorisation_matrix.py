"""Billing's authorisation matrix (``authorisation.matrix`` beside this file), run against the real service:
every role × every operation × its own organisation and another one. An operation without a row fails.

The world: two client organisations, A (the callers' own; the account manager's portfolio) and B, each with an
org unit, a contract, metered appointments, and an invoice (issued, so that every invoice view has something to
show). A command that can succeed only once (a renewal, a credit note) is sent twice by the first allowed role
and then answers 409, which the matrix counts as "allowed".
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.scheduling import AppointmentCompleted
from bmw.contracts.taxonomy import AppointmentKind
from bmw.devstack.authz import Call, Matrix, Requests, Side, matrix_tokens, uncovered, unmatched
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, service_under_test

pytestmark = pytest.mark.integration

MATRIX = Matrix.load(Path(__file__).with_name("authorisation.matrix"))
PERIOD = "2026-10"
IN_PERIOD = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
SCOPES = ("usage:read", "invoices:read", "org_units:write")


@dataclass
class Organisation:
    tenant: str
    unit: str
    contract: str
    invoice: str


@dataclass
class World:
    own: Organisation
    other: Organisation

    def of(self, side: Side) -> Organisation:
        if side is Side.ABSENT:
            return Organisation(*(str(uuid.uuid4()) for _ in range(4)))
        return self.own if side is Side.OWN else self.other


REQUESTS: Requests[World] = Requests()


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as running:
        yield running


async def _organisation(billing: ServiceUnderTest, admin: dict[str, str]) -> Organisation:
    body = {
        "name": "Matrix Zorg B.V.",
        "kvk_number": f"{uuid.uuid4().int % 10**8:08d}",
        "invoice_email": "crediteuren@matrix.example.nl",
        "addresses": {
            "invoice": {"street": "Stationsplein", "house_number": "1", "postal_code": "3511ED", "city": "Utrecht"}
        },
        "org_units": [{"name": "Logistiek"}],
    }
    created = await billing.client.post("/client-organisations", json=body, headers=admin)
    assert created.status_code == 201, created.text
    tenant = created.json()["id"]
    units = await billing.client.get(f"/client-organisations/{tenant}/org-units", headers=admin)
    assert units.status_code == 200, units.text
    contract = await billing.client.post(
        "/contracts",
        json={
            "tenant_id": tenant,
            "products": [
                {"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 9_500, "vat_rate": "21"},
                {
                    "code": "CONSULT",
                    "kind": "hour_bundle",
                    "unit_price_cents": 11_000,
                    "vat_rate": "21",
                    "included_quantity": "40",
                    "overage_unit_price_cents": 12_500,
                },
            ],
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
            "buyer_reference": "PO-MATRIX",
        },
        headers=admin,
    )
    assert contract.status_code == 201, contract.text
    completed = AppointmentCompleted(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.CONSULT,
        worker_id=uuid.uuid4(),
        start=IN_PERIOD,
        duration_minutes=45,
    )
    await billing.publish([CloudEvent.create(completed, tenant_id=uuid.UUID(tenant))])
    invoice: dict[str, Any] = {}

    async def invoiced() -> bool:
        nonlocal invoice
        run = await billing.client.post("/billing-runs", json={"period": PERIOD, "tenant_id": tenant}, headers=admin)
        listed = await billing.client.get("/invoices", params={"tenant_id": tenant}, headers=admin)
        invoice = next(iter(listed.json()), {}) if run.status_code == 201 and listed.status_code == 200 else {}
        return bool(invoice)

    await eventually(invoiced, what="the metered appointment to be invoiced")
    issued = await billing.client.post(f"/invoices/{invoice['id']}/issue", headers=admin)
    assert issued.status_code == 200, issued.text
    return Organisation(tenant, units.json()[0]["id"], contract.json()["id"], invoice["id"])


@pytest.fixture(scope="module")
async def world(billing: ServiceUnderTest, dev_keys: Any) -> World:
    admin = bearer(dev_keys.mint("provider_admin"))
    return World(await _organisation(billing, admin), await _organisation(billing, admin))


@pytest.fixture(scope="module")
def tokens(world: World, dev_keys: Any) -> dict[str, str | None]:
    return matrix_tokens(dev_keys.mint, uuid.UUID(world.own.tenant), scopes=SCOPES)


# -- the requests, one per operation ---------------------------------------------------------------------------

REQUESTS.simple("GET /healthz", "/healthz", tenanted=False)
REQUESTS.simple("GET /readyz", "/readyz", tenanted=False)
REQUESTS.simple("GET /client-organisations", "/client-organisations", tenanted=False)
REQUESTS.simple("GET /client-organisations/{tenant_id}", lambda w, s: f"/client-organisations/{w.of(s).tenant}")
REQUESTS.simple(
    "GET /client-organisations/{tenant_id}/org-units", lambda w, s: f"/client-organisations/{w.of(s).tenant}/org-units"
)
REQUESTS.simple("GET /contracts/{contract_id}", lambda w, s: f"/contracts/{w.of(s).contract}")
REQUESTS.simple("GET /invoices/{invoice_id}", lambda w, s: f"/invoices/{w.of(s).invoice}")
REQUESTS.simple("GET /invoices/{invoice_id}/invoice.html", lambda w, s: f"/invoices/{w.of(s).invoice}/invoice.html")
REQUESTS.simple("GET /invoices/{invoice_id}/ubl.xml", lambda w, s: f"/invoices/{w.of(s).invoice}/ubl.xml")
REQUESTS.simple(
    "GET /invoices/{invoice_id}/usage-statement", lambda w, s: f"/invoices/{w.of(s).invoice}/usage-statement"
)
REQUESTS.simple("POST /invoices/{invoice_id}/issue", lambda w, s: f"/invoices/{w.of(s).invoice}/issue")
REQUESTS.simple("POST /contracts/{contract_id}/renew", lambda w, s: f"/contracts/{w.of(s).contract}/renew")
# A person is the provider's to answer for (right of access): no organisation's contact asks about one.
REQUESTS.simple("GET /persons/{client_ref}/export", f"/persons/c_{uuid.uuid4().hex[:20]}/export", tenanted=False)


@REQUESTS.op("GET /contracts")
async def _list_contracts(world: World, side: Side, role: str) -> Call:
    return Call("/contracts", params={"tenant_id": world.of(side).tenant})


@REQUESTS.op("GET /invoices")
async def _list_invoices(world: World, side: Side, role: str) -> Call:
    return Call("/invoices", params={"tenant_id": world.of(side).tenant})


@REQUESTS.op("GET /usage/held")
async def _held_usage(world: World, side: Side, role: str) -> Call:
    return Call("/usage/held", params={"tenant_id": world.of(side).tenant})


@REQUESTS.op("GET /contracts/{contract_id}/usage")
async def _contract_usage(world: World, side: Side, role: str) -> Call:
    return Call(f"/contracts/{world.of(side).contract}/usage", params={"from": "2026-10-01", "to": "2026-10-31"})


@REQUESTS.op("POST /billing-runs")
async def _billing_run(world: World, side: Side, role: str) -> Call:
    return Call("/billing-runs", json={"period": PERIOD, "tenant_id": world.of(side).tenant})


@REQUESTS.op("POST /client-organisations", tenanted=False)
async def _register(world: World, side: Side, role: str) -> Call:
    return Call("/client-organisations", json={"name": f"Nieuw {uuid.uuid4().hex[:6]} B.V."})


@REQUESTS.op("PATCH /client-organisations/{tenant_id}")
async def _change_organisation(world: World, side: Side, role: str) -> Call:
    return Call(f"/client-organisations/{world.of(side).tenant}", json={"payment_terms_days": 30})


@REQUESTS.op("POST /client-organisations/{tenant_id}/org-units")
async def _add_unit(world: World, side: Side, role: str) -> Call:
    return Call(
        f"/client-organisations/{world.of(side).tenant}/org-units", json={"name": f"Team {uuid.uuid4().hex[:6]}"}
    )


@REQUESTS.op("PATCH /client-organisations/{tenant_id}/org-units/{unit_id}")
async def _change_unit(world: World, side: Side, role: str) -> Call:
    own = world.of(side)
    return Call(f"/client-organisations/{own.tenant}/org-units/{own.unit}", json={"name": "Logistiek en Transport"})


@REQUESTS.op("POST /contracts")
async def _new_contract(world: World, side: Side, role: str) -> Call:
    # Another year, so that the first allowed role creates it and the rest meet the overlap (409).
    body = {
        "tenant_id": world.of(side).tenant,
        "products": [{"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 9_500, "vat_rate": "21"}],
        "period_start": "2030-01-01",
        "period_end": "2030-12-31",
    }
    return Call("/contracts", json=body)


@REQUESTS.op("POST /contracts/{contract_id}/end")
async def _end_contract(world: World, side: Side, role: str) -> Call:
    return Call(f"/contracts/{world.of(side).contract}/end", json={"end_date": "2026-12-31"})


@REQUESTS.op("POST /invoices/{invoice_id}/credit-note")
async def _credit_note(world: World, side: Side, role: str) -> Call:
    return Call(f"/invoices/{world.of(side).invoice}/credit-note", json={"release_usage": False})


# -- the test --------------------------------------------------------------------------------------------------


async def test_every_operation_has_a_row_and_a_request(billing: ServiceUnderTest) -> None:
    assert await uncovered(billing.client, MATRIX, REQUESTS) == []


@pytest.mark.parametrize("operation", MATRIX.operations)
async def test_each_role_gets_what_the_matrix_promises(
    billing: ServiceUnderTest, world: World, tokens: dict[str, str | None], operation: str
) -> None:
    problems = await unmatched(billing.client, MATRIX, REQUESTS, world, operation, tokens)
    assert not problems, problems
