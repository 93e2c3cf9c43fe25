"""An org unit's headcount (employees) against the real database and broker: it round-trips through the API,
bad values are refused by name and change nothing, the database refuses what the API would, and it reaches the
events the other services copy, and their local copies (bmw.servicekit.tenants) through each one's migrations."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from bmw.billing.adapters.tables import ORGANISATION_UNITS
from bmw.contracts.events.billing import ClientRegistered, ClientUpdated
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.servicekit.db import create_engine, session_factory, transaction
from bmw.servicekit.migrations import upgrade
from bmw.servicekit.tenants import TENANT_METADATA, OrgUnitRow, apply_profile, org_units

pytestmark = pytest.mark.integration

TOPIC = "bmw.billing.events"


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as service:
        yield service


@pytest.fixture
def admin(dev_keys: Any) -> dict[str, str]:
    return bearer(dev_keys.mint("provider_admin"))


async def register(billing: ServiceUnderTest, headers: dict[str, str], units: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"name": f"Zorggroep {uuid.uuid4().hex[:6]} B.V.", "org_units": units}
    response = await billing.client.post("/client-organisations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def events_of(billing: ServiceUnderTest, tenant: str, count: int, what: str) -> list[dict[str, Any]]:
    """Wait until ``count`` events of the tenant are on the topic; return their data in order."""
    found: list[tuple[dict[str, str], bytes]] = []

    async def arrived() -> bool:
        nonlocal found
        found = await read_topic(billing.bootstrap, TOPIC, match=lambda h: h.get("ce_tenantid") == tenant, idle_ms=300)
        return len(found) >= count

    await eventually(arrived, what=what)
    return [json.loads(value) for _, value in found]


def headcounts(units: list[dict[str, Any]]) -> dict[str, int | None]:
    return {unit["name"]: unit["employees"] for unit in units}


async def test_a_headcount_round_trips_through_the_api_and_reaches_every_profile_event(
    billing: ServiceUnderTest, dev_keys: Any, admin: dict[str, str]
) -> None:
    care, office = uuid.uuid4(), uuid.uuid4()
    created = await register(
        billing,
        admin,
        [
            {"id": str(care), "name": "Zorg", "employees": 250},
            {"id": str(office), "name": "Kantoor", "parent_id": str(care), "kind": "location"},
        ],
    )
    tenant = created["id"]
    assert headcounts(created["org_units"]) == {"Zorg": 250, "Kantoor": None}
    read = (await billing.client.get(f"/client-organisations/{tenant}", headers=admin)).json()
    assert headcounts(read["org_units"]) == {"Zorg": 250, "Kantoor": None}

    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    units = f"/client-organisations/{tenant}/org-units"
    added = await billing.client.post(units, json={"name": "Thuiszorg", "employees": 12}, headers=contact)
    assert added.status_code == 201, added.text
    recounted = await billing.client.patch(f"{units}/{care}", json={"employees": 240}, headers=contact)
    assert recounted.status_code == 200, recounted.text
    # a change that leaves the headcount out keeps it; null clears it
    renamed = await billing.client.patch(f"{units}/{care}", json={"name": "Zorg & Welzijn"}, headers=contact)
    assert renamed.status_code == 200, renamed.text
    assert headcounts(renamed.json()["org_units"])["Zorg & Welzijn"] == 240
    counted = await billing.client.patch(f"{units}/{office}", json={"employees": 35}, headers=contact)
    assert counted.status_code == 200, counted.text
    cleared = await billing.client.patch(f"{units}/{office}", json={"employees": None}, headers=contact)
    assert cleared.status_code == 200, cleared.text
    assert headcounts(cleared.json()["org_units"]) == {"Zorg & Welzijn": 240, "Kantoor": None, "Thuiszorg": 12}

    tree = (await billing.client.get(units, headers=contact)).json()
    assert [(n["name"], n["employees"], [(c["name"], c["employees"]) for c in n["children"]]) for n in tree] == [
        ("Thuiszorg", 12, []),
        ("Zorg & Welzijn", 240, [("Kantoor", None)]),
    ]
    async with billing.sessions() as session:
        rows = await session.execute(
            select(ORGANISATION_UNITS.c.name, ORGANISATION_UNITS.c.employees).where(
                ORGANISATION_UNITS.c.tenant_id == tenant
            )
        )
        stored = {row.name: row.employees for row in rows}
    assert stored == {"Zorg & Welzijn": 240, "Kantoor": None, "Thuiszorg": 12}

    events = await events_of(billing, tenant, 6, "the registration and five unit changes")
    assert [headcounts(data["org_units"]) for data in events] == [
        {"Zorg": 250, "Kantoor": None},
        {"Zorg": 250, "Kantoor": None, "Thuiszorg": 12},
        {"Zorg": 240, "Kantoor": None, "Thuiszorg": 12},
        {"Zorg & Welzijn": 240, "Kantoor": None, "Thuiszorg": 12},
        {"Zorg & Welzijn": 240, "Kantoor": 35, "Thuiszorg": 12},
        {"Zorg & Welzijn": 240, "Kantoor": None, "Thuiszorg": 12},
    ]
    # the published data is what the contract model reads back
    first = ClientRegistered.model_validate(events[0])
    assert {u.name: u.employees for u in first.org_units} == {"Zorg": 250, "Kantoor": None}
    assert {u.name: u.employees for u in ClientUpdated.model_validate(events[4]).org_units}["Kantoor"] == 35


@pytest.mark.parametrize("bad", [0, -5, 12.5, 12.0, "12", True, 1_000_001], ids=repr)
async def test_a_bad_headcount_is_refused_by_name_and_changes_nothing(
    billing: ServiceUnderTest, admin: dict[str, str], bad: object
) -> None:
    name = f"Weigerachtig {uuid.uuid4().hex[:6]}"
    refused = await billing.client.post(
        "/client-organisations",
        json={"name": name, "org_units": [{"name": "Zorg", "employees": bad}]},
        headers=admin,
    )
    assert refused.status_code == 422, refused.text
    assert [f["path"] for f in refused.json()["error"]["fields"]] == ["body.org_units.0.employees"]
    listed = (await billing.client.get("/client-organisations", headers=admin)).json()
    assert name not in [o["name"] for o in listed]

    created = await register(billing, admin, [{"name": "Zorg", "employees": 80}])
    tenant, unit = created["id"], created["org_units"][0]["id"]
    units = f"/client-organisations/{tenant}/org-units"
    added = await billing.client.post(units, json={"name": "Thuiszorg", "employees": bad}, headers=admin)
    assert added.status_code == 422, added.text
    assert [f["path"] for f in added.json()["error"]["fields"]] == ["body.employees"]
    changed = await billing.client.patch(f"{units}/{unit}", json={"employees": bad}, headers=admin)
    assert changed.status_code == 422, changed.text
    assert [f["path"] for f in changed.json()["error"]["fields"]] == ["body.employees"]

    after = (await billing.client.get(f"/client-organisations/{tenant}", headers=admin)).json()
    assert headcounts(after["org_units"]) == {"Zorg": 80}
    events = await events_of(billing, tenant, 1, "the registration")
    assert len(events) == 1  # the refusals published nothing


async def test_the_database_refuses_a_headcount_of_zero_too(billing: ServiceUnderTest, admin: dict[str, str]) -> None:
    created = await register(billing, admin, [{"name": "Zorg", "employees": 3}])
    unit = created["org_units"][0]["id"]
    async with billing.sessions() as session:
        with pytest.raises(IntegrityError, match="ck_organisation_units_employees_positive"):
            await session.execute(update(ORGANISATION_UNITS).where(ORGANISATION_UNITS.c.id == unit).values(employees=0))


def _tenant_copy_differences(connection: Connection) -> list[Any]:
    """What the migrated schema lacks or has more than the kit's tables of the local copy."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": lambda name, kind, parents: kind != "table" or name in TENANT_METADATA.tables,
        },
    )
    return list(compare_metadata(context, TENANT_METADATA))


@pytest.mark.parametrize("service", ["intake", "scheduling", "signals"])
async def test_the_headcount_reaches_the_local_copy_of_each_service_that_keeps_one(
    billing: ServiceUnderTest, infra: Any, admin: dict[str, str], service: str
) -> None:
    created = await register(billing, admin, [{"name": "Zorg", "employees": 250}, {"name": "Kantoor"}])
    tenant = created["id"]
    [registered] = await events_of(billing, tenant, 1, "billing.client.registered.v1")

    # The service's own migrations, on a scratch database, must give the tables the kit writes to.
    database_url = infra.database_url(f"{service}_headcount", fresh=True)
    await asyncio.to_thread(upgrade, f"bmw.{service}.migrations", database_url)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_tenant_copy_differences) == []
        sessions = session_factory(engine)
        # In transactions as the service's units of work open them: behind its tenant walls, with the whole view.
        async with transaction(sessions) as session:
            await apply_profile(session, ClientRegistered.model_validate(registered))
        async with transaction(sessions) as session:
            copied = await org_units(session, uuid.UUID(tenant))
    finally:
        await engine.dispose()

    by_name = {unit["name"]: uuid.UUID(unit["id"]) for unit in created["org_units"]}
    assert copied == [
        OrgUnitRow(id=by_name["Kantoor"], name="Kantoor", parent_id=None, employees=None),
        OrgUnitRow(id=by_name["Zorg"], name="Zorg", parent_id=None, employees=250),
    ]
