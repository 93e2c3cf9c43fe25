"""Contracts over HTTP against the real database and broker: every product kind, validation, access, ending
early, renewal with indexation, and the daily expiry notice."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import date, timedelta
from typing import Any

import pytest

from bmw.billing.application.contracts import notify_expiring_contracts, today_in_amsterdam
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.servicekit.uow import UnitOfWorkFactory

pytestmark = pytest.mark.integration

TOPIC = "bmw.billing.events"


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as service:
        yield service


async def register(billing: ServiceUnderTest, admin: str) -> str:
    created = await billing.client.post(
        "/client-organisations", json={"name": "Gemeente Testdorp"}, headers=bearer(admin)
    )
    assert created.status_code == 201, created.text
    tenant: str = created.json()["id"]
    return tenant


def every_product() -> list[dict[str, Any]]:
    return [
        {
            "code": "SUB",
            "kind": "subscription_per_employee_year",
            "unit_price_cents": 2400,
            "vat_rate": "21",
            "sessions_per_employee_per_year": 5,
            "overage_unit_price_cents": 7000,
        },
        {
            "code": "HOURS-40",
            "kind": "hour_bundle",
            "unit_price_cents": 9500,
            "vat_rate": "21",
            "included_quantity": "40",
            "overage_unit_price_cents": 11000,
        },
        {
            "code": "TRAJ",
            "kind": "trajectory_fixed_price",
            "unit_price_cents": 125000,
            "vat_rate": "exempt",
            "vat_exemption_reason": "Vrijgesteld: medische zorg (art. 11 lid 1 onderdeel g Wet OB)",
        },
        {"code": "WS-SESSION", "kind": "workshop_per_session", "unit_price_cents": 95000, "vat_rate": "9"},
        {"code": "WS-PERSON", "kind": "workshop_per_participant", "unit_price_cents": 7500, "vat_rate": "9"},
        {"code": "SECOND", "kind": "secondment_hourly", "unit_price_cents": 8999, "vat_rate": "0"},
        {"code": "LATE", "kind": "late_cancellation_fee", "unit_price_cents": 4000, "vat_rate": "21"},
        {"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 5000, "vat_rate": "21"},
    ]


def contract_body(tenant: str, *, start: date, end: date, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "products": every_product(),
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "buyer_reference": "HR-2026-17",
        "purchase_order": "PO 4500012345",
        "employees": 250,
        "invoicing_period": "quarter",
        "indexation_percent": "3.5",
    } | extra


async def events_about(
    billing: ServiceUnderTest, subject: str, count: int, *, kinds: Collection[str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The billing events about one subject (only of ``kinds`` when given), once ``count`` of them are on the
    topic. A contract that ends within 90 days is also announced as expiring: tests about other events pass
    the kinds they are about."""
    found: list[tuple[str, dict[str, Any]]] = []

    async def arrived() -> bool:
        nonlocal found
        records = await read_topic(
            billing.bootstrap, TOPIC, match=lambda h: h.get("ce_subject") == subject, idle_ms=300
        )
        found = [(h["ce_type"], json.loads(v)) for h, v in records if kinds is None or h["ce_type"] in kinds]
        return len(found) >= count

    await eventually(arrived, what=f"{count} events about {subject}")
    return found


async def test_a_contract_with_every_product_kind_is_recorded_and_announced_with_its_entitlements(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await register(billing, admin)
    body = contract_body(tenant, start=date(2026, 1, 1), end=date(2026, 12, 31))
    created = await billing.client.post("/contracts", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    contract = created.json()
    assert contract["status"] == "active"
    assert (contract["buyer_reference"], contract["purchase_order"], contract["employees"]) == (
        "HR-2026-17",
        "PO 4500012345",
        250,
    )
    assert (contract["invoicing_period"], contract["indexation_percent"], contract["renewal_id"]) == (
        "quarter",
        "3.50",
        None,
    )
    by_code = {p["code"]: p for p in contract["products"]}
    assert by_code["HOURS-40"]["included_quantity"] == "40.00"
    assert by_code["TRAJ"]["vat_exemption_reason"].startswith("Vrijgesteld")

    read = await billing.client.get(f"/contracts/{contract['id']}", headers=bearer(admin))
    assert read.status_code == 200 and read.json() == contract

    ((kind, data),) = await events_about(billing, contract["id"], 1, kinds={"billing.contract.activated.v1"})
    assert kind == "billing.contract.activated.v1"
    wire = {p["code"]: p for p in data["products"]}
    assert wire["SUB"]["sessions_per_employee_per_year"] == 5
    assert wire["SUB"]["overage_unit_price_cents"] == 7000
    assert wire["HOURS-40"]["overage_unit_price_cents"] == 11000
    assert "vat_exemption_reason" not in wire["TRAJ"]
    assert (data["period_start"], data["period_end"]) == ("2026-01-01", "2026-12-31")


async def test_invalid_contracts_are_refused_naming_the_field_and_change_nothing(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await register(billing, admin)
    body = contract_body(tenant, start=date(2026, 1, 1), end=date(2026, 12, 31))

    async def refused(changed: dict[str, Any], status: int) -> list[str]:
        response = await billing.client.post("/contracts", json=changed, headers=bearer(admin))
        assert response.status_code == status, response.text
        return [f["path"] for f in response.json()["error"]["fields"]]

    assert await refused(body | {"period_end": "2025-12-31"}, 422) == ["body.period_end"]
    products = every_product()
    products[2] = {k: v for k, v in products[2].items() if k != "vat_exemption_reason"}
    assert await refused(body | {"products": products}, 422) == ["body.products.2.vat_exemption_reason"]
    twice = [*every_product()[:2], {"code": "SUB", "kind": "no_show_fee", "unit_price_cents": 1, "vat_rate": "21"}]
    assert await refused(body | {"products": twice}, 422) == ["body.products.2.code"]
    without_subscription = [p for p in every_product() if p["code"] != "SUB"]
    assert await refused(body | {"products": without_subscription}, 422) == ["body.employees"]
    assert await refused(body | {"invoicing_period": "week"}, 422) == ["body.invoicing_period"]
    bundle_without_hours = [{"code": "H", "kind": "hour_bundle", "unit_price_cents": 9500, "vat_rate": "21"}]
    assert await refused(body | {"products": bundle_without_hours, "employees": None}, 422) == [
        "body.products.0.included_quantity"
    ]
    float_price = [{"code": "N", "kind": "no_show_fee", "unit_price_cents": 12.5, "vat_rate": "21"}]
    assert await refused(body | {"products": float_price, "employees": None}, 422) == [
        "body.products.0.unit_price_cents"
    ]
    listed = await billing.client.get("/contracts", params={"tenant_id": tenant}, headers=bearer(admin))
    assert listed.json() == []


async def test_overlapping_contracts_with_the_same_product_kind_conflict(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await register(billing, admin)
    no_show = {"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 5000, "vat_rate": "21"}
    hours = {"code": "SECOND", "kind": "secondment_hourly", "unit_price_cents": 8500, "vat_rate": "21"}
    base = {"tenant_id": tenant, "period_start": "2026-01-01", "period_end": "2026-12-31"}
    first = await billing.client.post("/contracts", json=base | {"products": [no_show]}, headers=bearer(admin))
    assert first.status_code == 201, first.text

    overlapping = base | {"period_start": "2026-07-01", "period_end": "2027-06-30", "products": [hours, no_show]}
    clash = await billing.client.post("/contracts", json=overlapping, headers=bearer(admin))
    assert clash.status_code == 409, clash.text
    assert clash.json()["error"]["fields"][0]["path"] == "body.products.1.kind"
    assert clash.json()["error"]["details"]["contract_ids"] == [first.json()["id"]]

    other_kind = await billing.client.post(
        "/contracts", json=overlapping | {"products": [hours]}, headers=bearer(admin)
    )
    assert other_kind.status_code == 201, other_kind.text
    after = base | {"period_start": "2027-01-01", "period_end": "2027-12-31", "products": [no_show]}
    assert (await billing.client.post("/contracts", json=after, headers=bearer(admin))).status_code == 201
    listed = await billing.client.get("/contracts", params={"tenant_id": tenant}, headers=bearer(admin))
    assert len(listed.json()) == 3


async def test_contracts_are_read_by_admins_the_portfolio_and_the_clients_own_contacts_only(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    mine, theirs = await register(billing, admin), await register(billing, admin)
    fee = [{"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 5000, "vat_rate": "21"}]
    ids = {}
    for tenant in (mine, theirs):
        body = {"tenant_id": tenant, "products": fee, "period_start": "2026-01-01", "period_end": "2026-12-31"}
        created = await billing.client.post("/contracts", json=body, headers=bearer(admin))
        assert created.status_code == 201, created.text
        ids[tenant] = created.json()["id"]

    contact = dev_keys.mint("client_contact", tenant_id=mine)
    scoped = dev_keys.mint("integration", tenant_id=mine, scopes=["usage:read"])
    unscoped = dev_keys.mint("integration", tenant_id=mine, scopes=["invoices:read"])
    manager = dev_keys.mint("account_manager", portfolio=[theirs])
    worker = dev_keys.mint("social_worker")

    for token in (contact, scoped):
        own = await billing.client.get(f"/contracts/{ids[mine]}", headers=bearer(token))
        assert own.status_code == 200, own.text
        listed = await billing.client.get("/contracts", headers=bearer(token))
        assert [c["id"] for c in listed.json()] == [ids[mine]]
        other = await billing.client.get(f"/contracts/{ids[theirs]}", headers=bearer(token))
        unknown = await billing.client.get(f"/contracts/{uuid.uuid4()}", headers=bearer(token))
        assert other.status_code == unknown.status_code == 404
        assert other.json()["error"]["message"] == unknown.json()["error"]["message"]
        foreign = await billing.client.get("/contracts", params={"tenant_id": theirs}, headers=bearer(token))
        assert foreign.status_code == 403

    assert (await billing.client.get(f"/contracts/{ids[mine]}", headers=bearer(unscoped))).status_code == 403
    assert (await billing.client.get(f"/contracts/{ids[mine]}", headers=bearer(worker))).status_code == 403
    portfolio = await billing.client.get("/contracts", headers=bearer(manager))
    assert [c["id"] for c in portfolio.json()] == [ids[theirs]]
    assert (await billing.client.get(f"/contracts/{ids[mine]}", headers=bearer(manager))).status_code == 404
    body = {"tenant_id": mine, "products": fee, "period_start": "2027-01-01", "period_end": "2027-12-31"}
    assert (await billing.client.post("/contracts", json=body, headers=bearer(contact))).status_code == 403
    assert (await billing.client.post(f"/contracts/{ids[mine]}/renew", headers=bearer(manager))).status_code == 403


async def test_ending_a_contract_early_announces_its_new_last_day(billing: ServiceUnderTest, dev_keys: Any) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await register(billing, admin)
    body = contract_body(tenant, start=date(2026, 1, 1), end=date(2026, 12, 31))
    contract = (await billing.client.post("/contracts", json=body, headers=bearer(admin))).json()
    url = f"/contracts/{contract['id']}/end"

    outside = await billing.client.post(url, json={"end_date": "2027-01-31"}, headers=bearer(admin))
    assert outside.status_code == 422
    assert outside.json()["error"]["fields"][0]["path"] == "body.end_date"
    ended = await billing.client.post(url, json={"end_date": "2026-06-30"}, headers=bearer(admin))
    assert ended.status_code == 200, ended.text
    assert (ended.json()["status"], ended.json()["period_end"]) == ("ended", "2026-06-30")
    assert ended.json()["ended_at"] is not None
    again = await billing.client.post(url, json={"end_date": "2026-05-31"}, headers=bearer(admin))
    assert again.status_code == 409
    renew = await billing.client.post(f"/contracts/{contract['id']}/renew", headers=bearer(admin))
    assert renew.status_code == 409

    events = await events_about(
        billing, contract["id"], 2, kinds={"billing.contract.activated.v1", "billing.contract.ended.v1"}
    )
    assert [kind for kind, _ in events] == ["billing.contract.activated.v1", "billing.contract.ended.v1"]
    assert events[1][1]["period_end"] == "2026-06-30"


async def test_renewal_indexes_every_price_half_up_and_activates_the_next_period(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await register(billing, admin)
    body = contract_body(tenant, start=date(2026, 1, 1), end=date(2026, 12, 31))
    contract = (await billing.client.post("/contracts", json=body, headers=bearer(admin))).json()

    renewed = await billing.client.post(f"/contracts/{contract['id']}/renew", headers=bearer(admin))
    assert renewed.status_code == 201, renewed.text
    renewal = renewed.json()
    assert (renewal["period_start"], renewal["period_end"]) == ("2027-01-01", "2027-12-31")
    assert renewal["renewed_from_id"] == contract["id"]
    prices = {p["code"]: (p["unit_price_cents"], p["overage_unit_price_cents"]) for p in renewal["products"]}
    # 3.5 %: 2400 → 2484, 9500 → 9832.5 → 9833 (half up), 8999 → 9313.965 → 9314, 11000 → 11385.
    assert prices["SUB"] == (2484, 7245)
    assert prices["HOURS-40"] == (9833, 11385)
    assert prices["SECOND"] == (9314, None)
    assert prices["NOSHOW"] == (5175, None)
    assert (renewal["buyer_reference"], renewal["employees"]) == ("HR-2026-17", 250)

    original = (await billing.client.get(f"/contracts/{contract['id']}", headers=bearer(admin))).json()
    assert original["renewal_id"] == renewal["id"]
    twice = await billing.client.post(f"/contracts/{contract['id']}/renew", headers=bearer(admin))
    assert twice.status_code == 409

    short = await billing.client.post(
        f"/contracts/{renewal['id']}/renew",
        json={"renewal_months": 3, "indexation_percent": "0"},
        headers=bearer(admin),
    )
    assert short.status_code == 201, short.text
    assert (short.json()["period_start"], short.json()["period_end"]) == ("2028-01-01", "2028-03-31")

    ((kind, data),) = await events_about(billing, renewal["id"], 1)
    assert kind == "billing.contract.activated.v1"
    assert (data["period_start"], data["period_end"]) == ("2027-01-01", "2027-12-31")
    assert {p["code"]: p["unit_price_cents"] for p in data["products"]}["HOURS-40"] == 9833


async def test_the_expiry_notice_fires_once_and_not_for_renewed_or_self_renewing_contracts(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    today = today_in_amsterdam()
    fee = [{"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 5000, "vat_rate": "21"}]

    async def contract(ends_in: int, **extra: Any) -> dict[str, Any]:
        tenant = await register(billing, admin)
        body = {
            "tenant_id": tenant,
            "products": fee,
            "period_start": (today - timedelta(days=200)).isoformat(),
            "period_end": (today + timedelta(days=ends_in)).isoformat(),
        } | extra
        created = await billing.client.post("/contracts", json=body, headers=bearer(admin))
        assert created.status_code == 201, created.text
        result: dict[str, Any] = created.json()
        return result

    # A contract that already ends within the 90-day window is announced as it is recorded.
    expiring = await contract(60)
    events = await events_about(billing, expiring["id"], 2)
    assert [kind for kind, _ in events] == ["billing.contract.activated.v1", "billing.contract.expiring.v1"]
    assert events[1][1]["end_date"] == (today + timedelta(days=60)).isoformat()
    later = await contract(120)
    self_renewing = await contract(60, auto_renew=True)
    renewed = await contract(100)
    assert (await billing.client.post(f"/contracts/{renewed['id']}/renew", headers=bearer(admin))).status_code == 201

    uow = UnitOfWorkFactory(billing.sessions)
    first = await notify_expiring_contracts(uow=uow, today=today)
    assert {expiring["id"], later["id"], self_renewing["id"], renewed["id"]}.isdisjoint({str(c) for c in first})
    # Forty days on, the daily run announces the contract now inside the window, never the renewed one.
    second = await notify_expiring_contracts(uow=uow, today=today + timedelta(days=40))
    assert later["id"] in {str(c) for c in second}
    assert renewed["id"] not in {str(c) for c in second}
    # nothing more arrives for the first, and nothing at all for the self-renewing and renewed ones
    await notify_expiring_contracts(uow=uow, today=today + timedelta(days=41))
    assert len(await events_about(billing, expiring["id"], 2)) == 2
    for other in (self_renewing, renewed):
        assert [kind for kind, _ in await events_about(billing, other["id"], 1)] == ["billing.contract.activated.v1"]
