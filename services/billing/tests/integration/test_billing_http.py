"""Billing's client registry, contracts and activity recording against the real database and broker."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.billing.adapters.tables import BILLABLE_ACTIVITY
from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.scheduling import AppointmentCompleted
from bmw.contracts.taxonomy import AppointmentKind
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as service:
        yield service


def kvk() -> str:
    return str(uuid.uuid4().int)[:8]


async def register(billing: ServiceUnderTest, token: str, **body: Any) -> Any:
    payload = {"name": "Gemeente Testdorp", "kvk_number": kvk(), "org_units": [{"name": "Burgerzaken"}]} | body
    return await billing.client.post("/client-organisations", json=payload, headers=bearer(token))


async def test_registering_a_client_organisation_announces_it_with_its_org_tree(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    root, child = uuid.uuid4(), uuid.uuid4()
    response = await register(
        billing,
        admin,
        org_units=[
            {"id": str(root), "name": "Sociaal Domein"},
            {"id": str(child), "name": "Jeugd", "parent_id": str(root)},
        ],
    )
    assert response.status_code == 201, response.text
    tenant = response.json()["id"]

    async def announced() -> bool:
        found = await read_topic(
            billing.bootstrap, "bmw.billing.events", match=lambda h: h.get("ce_tenantid") == tenant, idle_ms=300
        )
        return len(found) == 1

    await eventually(announced, what="billing.client.registered.v1 on the topic")
    (headers, value), *_ = await read_topic(
        billing.bootstrap, "bmw.billing.events", match=lambda h: h.get("ce_tenantid") == tenant
    )
    assert headers["ce_type"] == "billing.client.registered.v1"
    data = json.loads(value)
    assert {(u["name"], u["parent_id"]) for u in data["org_units"]} == {("Sociaal Domein", None), ("Jeugd", str(root))}


async def test_registration_refusals_change_nothing(billing: ServiceUnderTest, dev_keys: Any) -> None:
    admin = dev_keys.mint("provider_admin")
    number = kvk()
    assert (await register(billing, admin, kvk_number=number)).status_code == 201
    duplicate = await register(billing, admin, kvk_number=number)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["fields"][0]["path"] == "body.kvk_number"
    orphan = await register(billing, admin, org_units=[{"name": "Jeugd", "parent_id": str(uuid.uuid4())}])
    assert orphan.status_code == 422
    assert orphan.json()["error"]["fields"][0]["path"] == "body.org_units.0.parent_id"
    bad_kvk = await register(billing, admin, kvk_number="12AB")
    assert bad_kvk.status_code == 422
    contact = dev_keys.mint("client_contact", tenant_id=uuid.uuid4())
    assert (await register(billing, contact)).status_code == 403
    listing = (await billing.client.get("/client-organisations", headers=bearer(admin))).json()
    assert [o["kvk_number"] for o in listing].count(number) == 1


async def test_client_contacts_see_their_own_organisation_only(billing: ServiceUnderTest, dev_keys: Any) -> None:
    admin = dev_keys.mint("provider_admin")
    mine = (await register(billing, admin)).json()["id"]
    theirs = (await register(billing, admin)).json()["id"]
    contact = dev_keys.mint("client_contact", tenant_id=mine)
    assert (await billing.client.get(f"/client-organisations/{mine}", headers=bearer(contact))).status_code == 200
    other = await billing.client.get(f"/client-organisations/{theirs}", headers=bearer(contact))
    unknown = await billing.client.get(f"/client-organisations/{uuid.uuid4()}", headers=bearer(contact))
    assert other.status_code == unknown.status_code == 404
    assert other.json()["error"]["message"] == unknown.json()["error"]["message"]
    listed = (await billing.client.get("/client-organisations", headers=bearer(contact))).json()
    assert [o["id"] for o in listed] == [mine]
    manager = dev_keys.mint("account_manager", portfolio=[theirs])
    assert [o["id"] for o in (await billing.client.get("/client-organisations", headers=bearer(manager))).json()] == [
        theirs
    ]


async def test_adding_an_org_unit_publishes_the_full_profile(billing: ServiceUnderTest, dev_keys: Any) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = (await register(billing, admin)).json()["id"]
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    added = await billing.client.post(
        f"/client-organisations/{tenant}/org-units", json={"name": "Vergunningen"}, headers=bearer(contact)
    )
    assert added.status_code == 201, added.text
    assert sorted(u["name"] for u in added.json()["org_units"]) == ["Burgerzaken", "Vergunningen"]

    async def updated() -> bool:
        found = await read_topic(
            billing.bootstrap,
            "bmw.billing.events",
            match=lambda h: h.get("ce_tenantid") == tenant and h.get("ce_type") == "billing.client.updated.v1",
            idle_ms=300,
        )
        return len(found) == 1 and len(json.loads(found[0][1])["org_units"]) == 2

    await eventually(updated, what="billing.client.updated.v1 with both units")


async def test_contracts_are_validated_and_announced(billing: ServiceUnderTest, dev_keys: Any) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = (await register(billing, admin)).json()["id"]
    product = {
        "code": "HOURS-40",
        "kind": "hour_bundle",
        "unit_price_cents": 9500,
        "vat_rate": "21",
        "included_quantity": "40",
    }
    body = {"tenant_id": tenant, "products": [product], "period_start": "2026-01-01", "period_end": "2026-12-31"}
    created = await billing.client.post("/contracts", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    backwards = await billing.client.post("/contracts", json=body | {"period_end": "2025-12-31"}, headers=bearer(admin))
    assert backwards.status_code == 422
    no_products = await billing.client.post("/contracts", json=body | {"products": []}, headers=bearer(admin))
    assert no_products.status_code == 422
    assert no_products.json()["error"]["fields"][0]["path"] == "body.products"
    unknown = await billing.client.post(
        "/contracts", json=body | {"tenant_id": str(uuid.uuid4())}, headers=bearer(admin)
    )
    assert unknown.status_code == 422

    async def activated() -> bool:
        found = await read_topic(
            billing.bootstrap,
            "bmw.billing.events",
            match=lambda h: h.get("ce_subject") == created.json()["id"],
            idle_ms=300,
        )
        # (a contract ending within 90 days is also announced as expiring)
        return [h["ce_type"] for h, _ in found if h["ce_type"] != "billing.contract.expiring.v1"] == [
            "billing.contract.activated.v1"
        ]

    await eventually(activated, what="billing.contract.activated.v1")


async def test_billable_activity_is_recorded_once_per_source_event(billing: ServiceUnderTest) -> None:
    tenant = uuid.uuid4()
    completed = AppointmentCompleted(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.CONSULT,
        case_id=uuid.uuid4(),
        worker_id=uuid.uuid4(),
        start=datetime.now(UTC),
        duration_minutes=45,
    )
    event = CloudEvent.create(completed, tenant_id=tenant)
    await billing.publish([event, event, event])

    async def recorded() -> bool:
        async with billing.sessions() as session:
            count = await session.scalar(select(func.count()).where(BILLABLE_ACTIVITY.c.tenant_id == tenant))
        return count == 1

    await eventually(recorded, what="one activity record")
    async with billing.sessions() as session:
        row = (await session.execute(select(BILLABLE_ACTIVITY).where(BILLABLE_ACTIVITY.c.tenant_id == tenant))).one()
    assert row.source_event_id == event.id
    assert row.data["duration_minutes"] == 45
