"""Client organisations as billing's system of record, against the real database and broker: full profiles,
validation that changes nothing, the org unit tree, the events other services copy, and who may read what."""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bmw.billing.adapters.tables import (
    ORGANISATION_ADDRESSES,
    ORGANISATION_CONTACTS,
    ORGANISATION_UNITS,
    ORGANISATIONS,
)
from bmw.billing.application import organisations as organisations_use
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.servicekit.db import session_factory
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import NO_TENANT, WHOLE_SERVICE, TenantScope, scoped

pytestmark = pytest.mark.integration

TOPIC = "bmw.billing.events"
#: The data of billing.client.registered.v1 / .updated.v1: nothing about contacts or addresses.
PROFILE_EVENT_FIELDS = {"tenant_id", "name", "kvk_number", "org_units", "account_manager_id", "k_anonymity"}
#: A company's omzetbelastingnummer (elfproef) and a sole trader's btw-id (mod 97).
COMPANY_VAT_ID = "NL004495445B01"
SOLE_TRADER_VAT_ID = "NL002455799B11"


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as service:
        yield service


@pytest.fixture
def admin(dev_keys: Any) -> dict[str, str]:
    return bearer(dev_keys.mint("provider_admin"))


def kvk() -> str:
    return f"{uuid.uuid4().int % 10**8:08d}"


def full_profile(name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or f"Transport Van der Veen {uuid.uuid4().hex[:6]} B.V.",
        "kvk_number": kvk(),
        "vat_id": "nl 0044.954.45 b01",
        "account_manager_id": "am-henk",
        "k_anonymity": 6,
        "payment_terms_days": 14,
        "invoice_email": "facturen@vanderveen.example.com",
        "electronic_address": {"scheme": "0106", "identifier": "17089342"},
        "addresses": {
            "visiting": {
                "street": "Havenweg",
                "house_number": "12A",
                "postal_code": "5048ab",
                "city": "Tilburg",
            },
            "invoice": {
                "street": "Postbus",
                "house_number": "400",
                "postal_code": "5000 AK",
                "city": "Tilburg",
                "country": "nl",
            },
        },
        "contacts": [
            {"role": "hr", "name": "Ingrid Hoeksema", "email": "i.hoeksema@vanderveen.example.com"},
            {
                "role": "finance",
                "name": "Pieter Dekker",
                "email": "p.dekker@vanderveen.example.com",
                "phone": "+31 13 555 0101",
            },
        ],
        "org_units": [],
    }


#: Strings of the full profile that are personal or address data: none of them may appear in an event.
NEVER_IN_EVENTS = (
    "Hoeksema",
    "Dekker",
    "vanderveen.example.com",
    "Havenweg",
    "5048 AB",
    "5048ab",
    "Postbus",
    "555 0101",
)


async def register(billing: ServiceUnderTest, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = await billing.client.post("/client-organisations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def events_of(
    billing: ServiceUnderTest, tenant: str, count: int, what: str
) -> list[tuple[dict[str, str], bytes]]:
    """Wait until ``count`` events of the tenant are on the topic; return them in order."""
    found: list[tuple[dict[str, str], bytes]] = []

    async def arrived() -> bool:
        nonlocal found
        found = await read_topic(billing.bootstrap, TOPIC, match=lambda h: h.get("ce_tenantid") == tenant, idle_ms=300)
        return len(found) >= count

    await eventually(arrived, what=what)
    return found


async def stored(billing: ServiceUnderTest, name: str) -> int:
    async with billing.sessions() as session:
        count = await session.scalar(select(func.count()).where(ORGANISATIONS.c.name == name))
    return int(count or 0)


# -- registration and change -----------------------------------------------------------------------


async def test_a_full_profile_is_registered_normalised_and_announced_without_contacts_or_addresses(
    billing: ServiceUnderTest, admin: dict[str, str]
) -> None:
    root, site = uuid.uuid4(), uuid.uuid4()
    body = full_profile() | {
        "org_units": [
            {"id": str(root), "name": "Logistiek"},
            {"id": str(site), "name": "Tilburg", "parent_id": str(root), "kind": "location"},
        ]
    }
    created = await register(billing, admin, body)
    tenant = created["id"]
    assert created["vat_id"] == COMPANY_VAT_ID
    assert created["addresses"]["visiting"] == {
        "street": "Havenweg",
        "house_number": "12A",
        "postal_code": "5048 AB",
        "city": "Tilburg",
        "country": "NL",
    }
    assert created["addresses"]["postal"] is None
    assert created["payment_terms_days"] == 14
    assert [c["name"] for c in created["contacts"]] == ["Ingrid Hoeksema", "Pieter Dekker"]
    assert created["electronic_address"] == {"scheme": "0106", "identifier": "17089342"}
    assert (await billing.client.get(f"/client-organisations/{tenant}", headers=admin)).json() == created

    [(headers, value)] = await events_of(billing, tenant, 1, "billing.client.registered.v1")
    assert headers["ce_type"] == "billing.client.registered.v1"
    data = json.loads(value)
    assert set(data) == PROFILE_EVENT_FIELDS
    assert data["name"] == body["name"]
    assert data["kvk_number"] == body["kvk_number"]
    assert data["account_manager_id"] == "am-henk"
    assert data["k_anonymity"] == 6
    assert {(u["name"], u["parent_id"], u["kind"]) for u in data["org_units"]} == {
        ("Logistiek", None, "department"),
        ("Tilburg", str(root), "location"),
    }
    text = value.decode()
    assert not [word for word in NEVER_IN_EVENTS if word in text]


async def test_a_change_publishes_the_full_new_profile(billing: ServiceUnderTest, admin: dict[str, str]) -> None:
    created = await register(billing, admin, full_profile() | {"org_units": [{"name": "Planning"}]})
    tenant = created["id"]
    new_kvk = kvk()
    change = {
        "name": "Van der Veen Logistiek B.V.",
        "kvk_number": new_kvk,
        "vat_id": SOLE_TRADER_VAT_ID,
        "account_manager_id": "am-fatima",
        "k_anonymity": 8,
        "payment_terms_days": 45,
        "addresses": {
            "invoice": {"street": "Kade", "house_number": "3", "postal_code": "3011aa", "city": "Rotterdam"},
            "postal": {
                "street": "Rue Neuve",
                "house_number": "1",
                "postal_code": "1000",
                "city": "Brussel",
                "country": "BE",
            },
        },
        "contacts": [{"role": "management", "name": "Sanne Bakker", "email": "s.bakker@vanderveen.example.com"}],
    }
    response = await billing.client.patch(f"/client-organisations/{tenant}", json=change, headers=admin)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["name"] == "Van der Veen Logistiek B.V."
    assert changed["vat_id"] == SOLE_TRADER_VAT_ID
    assert changed["payment_terms_days"] == 45
    # the visiting address was not named: it stays; the named ones are replaced
    assert changed["addresses"]["visiting"]["street"] == "Havenweg"
    assert changed["addresses"]["invoice"]["postal_code"] == "3011 AA"
    assert changed["addresses"]["postal"]["country"] == "BE"
    assert [c["name"] for c in changed["contacts"]] == ["Sanne Bakker"]
    assert changed["invoice_email"] == "facturen@vanderveen.example.com"
    assert (await billing.client.get(f"/client-organisations/{tenant}", headers=admin)).json() == changed

    found = await events_of(billing, tenant, 2, "billing.client.updated.v1")
    assert [h["ce_type"] for h, _ in found] == ["billing.client.registered.v1", "billing.client.updated.v1"]
    data = json.loads(found[1][1])
    assert data == {
        "tenant_id": tenant,
        "name": "Van der Veen Logistiek B.V.",
        "kvk_number": new_kvk,
        "org_units": [
            {
                "id": created["org_units"][0]["id"],
                "name": "Planning",
                "parent_id": None,
                "kind": "department",
                "employees": None,
            }
        ],
        "account_manager_id": "am-fatima",
        "k_anonymity": 8,
    }
    assert "Bakker" not in found[1][1].decode() and "Rotterdam" not in found[1][1].decode()

    # removing an address and clearing optional fields; a change that changes nothing publishes nothing
    cleared = await billing.client.patch(
        f"/client-organisations/{tenant}",
        json={"addresses": {"postal": None}, "vat_id": None, "electronic_address": None, "account_manager_id": None},
        headers=admin,
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["addresses"]["postal"] is None
    assert cleared.json()["vat_id"] is None and cleared.json()["electronic_address"] is None
    same = await billing.client.patch(f"/client-organisations/{tenant}", json={"payment_terms_days": 45}, headers=admin)
    assert same.status_code == 200
    raised = await billing.client.patch(f"/client-organisations/{tenant}", json={"k_anonymity": 9}, headers=admin)
    assert raised.status_code == 200
    found = await events_of(billing, tenant, 4, "the third billing.client.updated.v1")
    assert [json.loads(v)["k_anonymity"] for _, v in found] == [6, 8, 8, 9]  # nothing for the change to nothing
    assert json.loads(found[2][1])["account_manager_id"] is None


async def test_an_old_style_payload_still_registers_with_defaults(
    billing: ServiceUnderTest, admin: dict[str, str]
) -> None:
    created = await register(
        billing, admin, {"name": "Gemeente Oud", "kvk_number": kvk(), "org_units": [{"name": "Burgerzaken"}]}
    )
    assert created["payment_terms_days"] == 30
    assert created["k_anonymity"] == 5
    assert created["vat_id"] is None and created["contacts"] == []
    assert created["addresses"] == {"visiting": None, "postal": None, "invoice": None}
    assert created["org_units"][0]["kind"] == "department"


# -- refusals change nothing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"kvk_number": "1234567"}, "body.kvk_number"),
        ({"kvk_number": "1234567A"}, "body.kvk_number"),
        ({"vat_id": "NL004495446B01"}, "body.vat_id"),
        ({"vat_id": "NL123"}, "body.vat_id"),
        ({"vat_id": "US123456789"}, "body.vat_id"),
        ({"vat_id": "DE136695977"}, "body.vat_id"),
        (
            {"addresses": {"visiting": {"street": "A", "house_number": "1", "postal_code": "0123 AB", "city": "X"}}},
            "body.addresses.visiting.postal_code",
        ),
        (
            {
                "addresses": {
                    "invoice": {"street": "A", "house_number": "1", "postal_code": "1234", "city": "X", "country": "DE"}
                }
            },
            "body.addresses.invoice.postal_code",
        ),
        (
            {
                "addresses": {
                    "postal": {"street": "A", "house_number": "1", "postal_code": "1234", "city": "X", "country": "XX"}
                }
            },
            "body.addresses.postal.country",
        ),
        ({"payment_terms_days": 120}, "body.payment_terms_days"),
        ({"payment_terms_days": 3}, "body.payment_terms_days"),
        ({"k_anonymity": 4}, "body.k_anonymity"),
        ({"contacts": [{"role": "ceo", "name": "X", "email": "x@example.com"}]}, "body.contacts.0.role"),
        ({"contacts": [{"role": "hr", "name": "X", "email": "not-an-email"}]}, "body.contacts.0.email"),
        ({"invoice_email": "nope"}, "body.invoice_email"),
        ({"electronic_address": {"scheme": "0106", "identifier": "123"}}, "body.electronic_address.identifier"),
        ({"electronic_address": {"scheme": "1234", "identifier": "123"}}, "body.electronic_address.scheme"),
        # text no one types: PostgreSQL cannot store NUL, a terminal escape, an override that disguises a name
        ({"kvk_number": "1234\x005678"}, "body.kvk_number"),
        ({"payment_terms_days": 14, "account_manager_id": "am-\x1b[2Jhenk"}, "body.account_manager_id"),
        ({"contacts": [{"role": "hr", "name": "Jan \u202enesnaJ", "email": "j@example.com"}]}, "body.contacts.0.name"),
    ],
)
async def test_invalid_fields_are_refused_by_name_and_nothing_is_stored(
    billing: ServiceUnderTest, admin: dict[str, str], change: dict[str, Any], path: str
) -> None:
    body = full_profile() | change
    refused = await billing.client.post("/client-organisations", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    assert path in [f["path"] for f in refused.json()["error"]["fields"]]
    assert await stored(billing, body["name"]) == 0

    # the same change to a registered organisation is refused too, and leaves it as it was
    created = await register(billing, admin, full_profile())
    before = (await billing.client.get(f"/client-organisations/{created['id']}", headers=admin)).json()
    patched = await billing.client.patch(f"/client-organisations/{created['id']}", json=change, headers=admin)
    assert patched.status_code == 422, patched.text
    assert path in [f["path"] for f in patched.json()["error"]["fields"]]
    assert (await billing.client.get(f"/client-organisations/{created['id']}", headers=admin)).json() == before


async def test_sql_looking_names_are_only_names_and_one_name_is_stored_one_way(
    billing: ServiceUnderTest, admin: dict[str, str]
) -> None:
    hostile = f"Robert'); DROP TABLE organisations;-- {uuid.uuid4().hex[:6]} B.V."
    created = await register(billing, admin, full_profile(hostile))
    read = await billing.client.get(f"/client-organisations/{created['id']}", headers=admin)
    assert read.json()["name"] == hostile
    assert await stored(billing, hostile) == 1
    probe = await billing.client.get("/client-organisations/1 OR 1=1", headers=admin)
    assert probe.status_code == 422
    assert probe.json()["error"]["fields"][0]["path"] == "path.tenant_id"

    # "Zoë" typed as e + combining diaeresis is stored as the one-character ë: one name, one spelling
    composed = f"Zoë Hüsken {uuid.uuid4().hex[:6]} B.V."
    typed = await register(billing, admin, full_profile(unicodedata.normalize("NFD", composed)))
    assert typed["name"] == composed
    assert await stored(billing, composed) == 1


async def test_the_small_cell_threshold_only_goes_up_and_required_fields_cannot_be_cleared(
    billing: ServiceUnderTest, admin: dict[str, str]
) -> None:
    tenant = (await register(billing, admin, full_profile() | {"k_anonymity": 7}))["id"]
    lower = await billing.client.patch(f"/client-organisations/{tenant}", json={"k_anonymity": 6}, headers=admin)
    assert lower.status_code == 422
    assert lower.json()["error"]["fields"][0] == {
        "path": "body.k_anonymity",
        "message": "configurable upward only: at least the current 7",
    }
    nulls = await billing.client.patch(
        f"/client-organisations/{tenant}", json={"name": None, "contacts": None}, headers=admin
    )
    assert nulls.status_code == 422
    assert {f["path"] for f in nulls.json()["error"]["fields"]} == {"body.name", "body.contacts"}
    assert (await billing.client.get(f"/client-organisations/{tenant}", headers=admin)).json()["k_anonymity"] == 7
    higher = await billing.client.patch(f"/client-organisations/{tenant}", json={"k_anonymity": 10}, headers=admin)
    assert higher.json()["k_anonymity"] == 10
    found = await events_of(billing, tenant, 2, "the raised threshold announced")
    assert [json.loads(v)["k_anonymity"] for _, v in found] == [7, 10]


async def test_a_kvk_number_belongs_to_one_organisation(billing: ServiceUnderTest, admin: dict[str, str]) -> None:
    first = await register(billing, admin, full_profile())
    second = await register(billing, admin, full_profile())
    duplicate_body = full_profile() | {"kvk_number": first["kvk_number"]}
    duplicate = await billing.client.post("/client-organisations", json=duplicate_body, headers=admin)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["fields"][0]["path"] == "body.kvk_number"
    assert await stored(billing, duplicate_body["name"]) == 0
    taken = await billing.client.patch(
        f"/client-organisations/{second['id']}", json={"kvk_number": first["kvk_number"]}, headers=admin
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["fields"][0]["path"] == "body.kvk_number"
    unchanged = await billing.client.get(f"/client-organisations/{second['id']}", headers=admin)
    assert unchanged.json()["kvk_number"] == second["kvk_number"]


# -- the org unit tree ------------------------------------------------------------------------------


async def test_org_units_are_added_renamed_and_moved_as_a_tree(
    billing: ServiceUnderTest, dev_keys: Any, admin: dict[str, str]
) -> None:
    tenant = (await register(billing, admin, full_profile()))["id"]
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    units = f"/client-organisations/{tenant}/org-units"

    async def add(name: str, parent: str | None = None, kind: str = "department") -> str:
        body = {"name": name, "parent_id": parent, "kind": kind}
        response = await billing.client.post(units, json=body, headers=contact)
        assert response.status_code == 201, response.text
        return str(next(u["id"] for u in response.json()["org_units"] if u["name"] == name))

    operations = await add("Operations")
    logistics = await add("Logistiek", operations)
    warehouse = await add("Magazijn", logistics)
    site = await add("Vestiging Tilburg", kind="location")

    # a move under the unit itself or under one of its descendants is a cycle
    for target in (operations, logistics, warehouse):
        cycle = await billing.client.patch(f"{units}/{operations}", json={"parent_id": target}, headers=contact)
        assert cycle.status_code == 422, cycle.text
        assert cycle.json()["error"]["fields"][0]["path"] == "body.parent_id"

    renamed = await billing.client.patch(
        f"{units}/{logistics}", json={"name": "Logistiek & Transport"}, headers=contact
    )
    assert renamed.status_code == 200, renamed.text
    moved = await billing.client.patch(f"{units}/{warehouse}", json={"parent_id": site}, headers=contact)
    assert moved.status_code == 200, moved.text
    to_top = await billing.client.patch(f"{units}/{logistics}", json={"parent_id": None}, headers=admin)
    assert to_top.status_code == 200, to_top.text

    tree = (await billing.client.get(units, headers=contact)).json()

    def shape(nodes: list[dict[str, Any]]) -> list[Any]:
        return [(n["name"], n["kind"], shape(n["children"])) for n in nodes]

    assert shape(tree) == [
        ("Logistiek & Transport", "department", []),
        ("Operations", "department", []),
        ("Vestiging Tilburg", "location", [("Magazijn", "department", [])]),
    ]
    found = await events_of(billing, tenant, 8, "one update per unit change")
    assert [h["ce_type"] for h, _ in found].count("billing.client.updated.v1") == 7
    last = {u["name"]: u["parent_id"] for u in json.loads(found[-1][1])["org_units"]}
    assert last == {"Operations": None, "Logistiek & Transport": None, "Magazijn": site, "Vestiging Tilburg": None}


async def test_a_parent_must_be_a_unit_of_the_same_organisation(
    billing: ServiceUnderTest, admin: dict[str, str]
) -> None:
    mine = await register(billing, admin, full_profile() | {"org_units": [{"name": "Finance"}]})
    theirs = await register(billing, admin, full_profile() | {"org_units": [{"name": "Inkoop"}]})
    foreign = theirs["org_units"][0]["id"]
    own = mine["org_units"][0]["id"]
    units = f"/client-organisations/{mine['id']}/org-units"

    added = await billing.client.post(units, json={"name": "Crediteuren", "parent_id": foreign}, headers=admin)
    assert added.status_code == 422
    assert added.json()["error"]["fields"][0]["path"] == "body.parent_id"
    moved = await billing.client.patch(f"{units}/{own}", json={"parent_id": foreign}, headers=admin)
    assert moved.status_code == 422
    assert moved.json()["error"]["fields"][0]["path"] == "body.parent_id"
    other_units = await billing.client.patch(f"{units}/{foreign}", json={"name": "Mine now"}, headers=admin)
    assert other_units.status_code == 404
    async with billing.sessions() as session:
        rows = (
            await session.execute(select(ORGANISATION_UNITS).where(ORGANISATION_UNITS.c.tenant_id == mine["id"]))
        ).all()
        foreign_row = (
            await session.execute(select(ORGANISATION_UNITS).where(ORGANISATION_UNITS.c.id == foreign))
        ).one()
    assert [(r.name, r.parent_id) for r in rows] == [("Finance", None)]
    assert foreign_row.name == "Inkoop"

    # a tree sent at registration is checked the same way, and a refused one stores nothing
    a, b = uuid.uuid4(), uuid.uuid4()
    cyclic = full_profile() | {
        "org_units": [
            {"id": str(a), "name": "A", "parent_id": str(b)},
            {"id": str(b), "name": "B", "parent_id": str(a)},
        ]
    }
    refused = await billing.client.post("/client-organisations", json=cyclic, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["path"] == "body.org_units.0.parent_id"
    assert await stored(billing, cyclic["name"]) == 0
    reused = full_profile() | {"org_units": [{"id": foreign, "name": "Copy"}]}
    clash = await billing.client.post("/client-organisations", json=reused, headers=admin)
    assert clash.status_code == 409
    assert clash.json()["error"]["fields"][0]["path"] == "body.org_units.0.id"
    assert await stored(billing, reused["name"]) == 0


# -- who may read and change what ---------------------------------------------------------------------


async def test_who_may_read_which_organisation(billing: ServiceUnderTest, dev_keys: Any, admin: dict[str, str]) -> None:
    mine = (await register(billing, admin, full_profile()))["id"]
    theirs = (await register(billing, admin, full_profile()))["id"]

    contact = bearer(dev_keys.mint("client_contact", tenant_id=mine))
    own = await billing.client.get(f"/client-organisations/{mine}", headers=contact)
    assert own.status_code == 200
    assert len(own.json()["contacts"]) == 2
    other = await billing.client.get(f"/client-organisations/{theirs}", headers=contact)
    unknown = await billing.client.get(f"/client-organisations/{uuid.uuid4()}", headers=contact)
    assert other.status_code == unknown.status_code == 404
    assert other.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert (await billing.client.get(f"/client-organisations/{theirs}/org-units", headers=contact)).status_code == 404
    assert [o["id"] for o in (await billing.client.get("/client-organisations", headers=contact)).json()] == [mine]

    manager = bearer(dev_keys.mint("account_manager", portfolio=[mine]))
    assert (await billing.client.get(f"/client-organisations/{mine}", headers=manager)).json()["contacts"]
    outside = await billing.client.get(f"/client-organisations/{theirs}", headers=manager)
    assert outside.status_code == 403
    assert (await billing.client.get(f"/client-organisations/{uuid.uuid4()}", headers=manager)).status_code == 403
    assert [o["id"] for o in (await billing.client.get("/client-organisations", headers=manager)).json()] == [mine]

    integration = bearer(dev_keys.mint("integration", tenant_id=mine, scopes=["org_units:write"]))
    as_machine = await billing.client.get(f"/client-organisations/{mine}", headers=integration)
    assert as_machine.status_code == 200
    assert as_machine.json()["contacts"] is None  # personal data is not for machine clients
    listed = (await billing.client.get("/client-organisations", headers=integration)).json()
    assert [(o["id"], o["contacts"]) for o in listed] == [(mine, None)]

    every = [o["id"] for o in (await billing.client.get("/client-organisations", headers=admin)).json()]
    assert {mine, theirs} <= set(every)
    for role in ("social_worker", "employee"):
        token = bearer(dev_keys.mint(role, tenant_id=mine if role == "employee" else None))
        assert (await billing.client.get("/client-organisations", headers=token)).status_code == 403
        assert (await billing.client.get(f"/client-organisations/{mine}", headers=token)).status_code == 403
    assert (await billing.client.get("/client-organisations")).status_code == 401


async def test_who_may_change_what(billing: ServiceUnderTest, dev_keys: Any, admin: dict[str, str]) -> None:
    mine = (await register(billing, admin, full_profile()))["id"]
    theirs = (await register(billing, admin, full_profile()))["id"]
    change = {"name": "Overgenomen B.V."}
    for caller in (
        bearer(dev_keys.mint("client_contact", tenant_id=mine)),
        bearer(dev_keys.mint("account_manager", portfolio=[mine])),
        bearer(dev_keys.mint("integration", tenant_id=mine, scopes=["org_units:write"])),
    ):
        assert (
            await billing.client.patch(f"/client-organisations/{mine}", json=change, headers=caller)
        ).status_code == 403
    assert (
        await billing.client.post(
            "/client-organisations", json=full_profile(), headers=bearer(dev_keys.mint("account_manager"))
        )
    ).status_code == 403

    contact = bearer(dev_keys.mint("client_contact", tenant_id=mine))
    elsewhere = await billing.client.post(
        f"/client-organisations/{theirs}/org-units", json={"name": "X"}, headers=contact
    )
    assert elsewhere.status_code == 403
    unscoped = bearer(dev_keys.mint("integration", tenant_id=mine, scopes=["referrals:write"]))
    no_scope = await billing.client.post(
        f"/client-organisations/{mine}/org-units", json={"name": "X"}, headers=unscoped
    )
    assert no_scope.status_code == 403
    scoped = bearer(dev_keys.mint("integration", tenant_id=mine, scopes=["org_units:write"]))
    pushed = await billing.client.post(
        f"/client-organisations/{mine}/org-units", json={"name": "HR-systeem"}, headers=scoped
    )
    assert pushed.status_code == 201, pushed.text
    assert pushed.json()["contacts"] is None

    async with billing.sessions() as session:
        names = (
            (await session.execute(select(ORGANISATIONS.c.name).where(ORGANISATIONS.c.id.in_([mine, theirs]))))
            .scalars()
            .all()
        )
        units = (
            (await session.execute(select(ORGANISATION_UNITS.c.name).where(ORGANISATION_UNITS.c.tenant_id == theirs)))
            .scalars()
            .all()
        )
    assert "Overgenomen B.V." not in names
    assert units == []


async def test_contacts_and_addresses_are_stored_in_their_own_rows(
    billing: ServiceUnderTest, admin: dict[str, str]
) -> None:
    tenant = (await register(billing, admin, full_profile()))["id"]
    async with billing.sessions() as session:
        contacts = (
            await session.execute(
                select(ORGANISATION_CONTACTS.c.role, ORGANISATION_CONTACTS.c.position)
                .where(ORGANISATION_CONTACTS.c.tenant_id == tenant)
                .order_by(ORGANISATION_CONTACTS.c.position)
            )
        ).all()
        kinds = (
            (
                await session.execute(
                    select(ORGANISATION_ADDRESSES.c.kind).where(ORGANISATION_ADDRESSES.c.tenant_id == tenant)
                )
            )
            .scalars()
            .all()
        )
    assert [tuple(c) for c in contacts] == [("hr", 0), ("finance", 1)]
    assert sorted(kinds) == ["invoice", "visiting"]


# -- tenant walls: row-level security holds where the application's filter is forgotten ------------------------


async def test_a_query_without_a_tenant_filter_sees_only_the_scopes_organisations(
    billing: ServiceUnderTest, admin: dict[str, str]
) -> None:
    """Connected as the service is (the tables' owner, held by FORCE ROW LEVEL SECURITY), not as the test's view."""
    mine = (await register(billing, admin, full_profile() | {"org_units": [{"name": "Finance"}]}))["id"]
    theirs = (await register(billing, admin, full_profile() | {"org_units": [{"name": "Inkoop"}]}))["id"]
    engine = create_async_engine(billing.database_url)
    uow = UnitOfWorkFactory(session_factory(engine))
    everyone = select(ORGANISATIONS.c.id)  # no WHERE: what a forgetful query looks like
    units = select(ORGANISATION_UNITS.c.tenant_id, ORGANISATION_UNITS.c.name)
    try:
        with scoped(TenantScope(tenant_ids=frozenset({uuid.UUID(mine)}))):
            async with uow() as work:
                seen = set((await work.session.scalars(everyone)).all())
                seen_units = (await work.session.execute(units)).all()
        assert seen == {uuid.UUID(mine)}
        assert [(str(row.tenant_id), row.name) for row in seen_units] == [(mine, "Finance")]

        with scoped(TenantScope(tenant_ids=frozenset({uuid.UUID(mine)}))):
            async with uow(tenant_id=uuid.UUID(theirs)) as work:  # asking for another organisation narrows to none
                assert (await work.session.scalars(everyone)).all() == []

        with scoped(NO_TENANT):
            async with uow() as work:
                assert (await work.session.scalars(everyone)).all() == []

        async with engine.connect() as bare:  # no scope set at all: the wall's default is no organisation
            assert (await bare.execute(everyone)).all() == []

        with scoped(WHOLE_SERVICE):
            async with uow() as work:
                assert {uuid.UUID(mine), uuid.UUID(theirs)} <= set((await work.session.scalars(everyone)).all())
    finally:
        await engine.dispose()


async def test_a_row_for_another_organisation_cannot_be_written_from_inside_a_scope(
    billing: ServiceUnderTest, admin: dict[str, str]
) -> None:
    mine = uuid.UUID((await register(billing, admin, full_profile()))["id"])
    theirs = uuid.UUID((await register(billing, admin, full_profile()))["id"])
    engine = create_async_engine(billing.database_url)
    uow = UnitOfWorkFactory(session_factory(engine))
    try:
        with scoped(TenantScope(tenant_ids=frozenset({mine}))), pytest.raises(DBAPIError, match="row-level security"):
            async with uow() as work:
                await work.session.execute(
                    insert(ORGANISATION_UNITS).values(id=uuid.uuid4(), tenant_id=theirs, name="Planted")
                )
        with scoped(TenantScope(tenant_ids=frozenset({mine}))):
            async with uow() as work:
                moved = await work.session.execute(
                    update(ORGANISATION_UNITS).where(ORGANISATION_UNITS.c.tenant_id == theirs).values(name="Taken")
                )
                assert moved.rowcount == 0, "another organisation's rows are not there to update"
                await work.commit()
    finally:
        await engine.dispose()
    async with billing.sessions() as session:
        names = (
            await session.scalars(select(ORGANISATION_UNITS.c.name).where(ORGANISATION_UNITS.c.tenant_id == theirs))
        ).all()
    assert "Planted" not in names and "Taken" not in names


async def test_the_wall_holds_when_the_application_forgets_its_filter(
    billing: ServiceUnderTest, dev_keys: Any, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = (await register(billing, admin, full_profile()))["id"]
    theirs = (await register(billing, admin, full_profile()))["id"]
    original = organisations_use.load_organisations

    async def forgetful(session: Any, tenant_ids: Any) -> Any:
        return await original(session, None)  # the filter the application should have passed, dropped

    monkeypatch.setattr(organisations_use, "load_organisations", forgetful)
    contact = bearer(dev_keys.mint("client_contact", tenant_id=mine))
    listed = await billing.client.get("/client-organisations", headers=contact)
    assert listed.status_code == 200, listed.text
    assert [organisation["id"] for organisation in listed.json()] == [mine]
    manager = bearer(dev_keys.mint("account_manager", portfolio=[theirs]))
    portfolio = await billing.client.get("/client-organisations", headers=manager)
    assert [organisation["id"] for organisation in portfolio.json()] == [theirs]
    everything = await billing.client.get("/client-organisations", headers=admin)
    assert {mine, theirs} <= {organisation["id"] for organisation in everything.json()}


async def test_the_role_the_service_runs_as_owns_nothing_and_cannot_take_the_walls_down(
    billing: ServiceUnderTest,
) -> None:
    engine = create_async_engine(billing.database_url)
    try:
        async with engine.connect() as connection:
            me = await connection.scalar(text("SELECT current_user"))
            bypass = await connection.scalar(
                text("SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user")
            )
            owned = await connection.scalar(text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user"))
            assert (me.endswith("_app"), bypass, owned) == (True, False, 0)
        for attempt in (
            "ALTER TABLE organisations DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE organisations NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY tenant_wall ON organisations",
            "CREATE OR REPLACE FUNCTION bmw_may_see(tenant uuid) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
        ):
            async with engine.connect() as connection:
                with pytest.raises(DBAPIError, match="must be owner|permission denied"):
                    await connection.execute(text(attempt))
        async with engine.connect() as connection:
            await connection.execute(text("SET row_security = off"))
            with pytest.raises(DBAPIError, match="row-level security"):
                await connection.execute(select(ORGANISATIONS.c.id))
    finally:
        await engine.dispose()
