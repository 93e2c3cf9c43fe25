"""Signals' aggregates and trends against the real PostgreSQL and broker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC)
# A whole past month, so that no test straddles a month's border: the middle of the month before last.
_FIRST = (TODAY.date().replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)
MONTH_START = _FIRST.replace(day=1)
WHEN = datetime(MONTH_START.year, MONTH_START.month, 15, 12, tzinfo=UTC)
MONTH = MONTH_START.strftime("%Y-%m")


def received(tenant: uuid.UUID, unit: uuid.UUID, category: Category, when: datetime = WHEN) -> CloudEvent:
    data = ReferralReceived(
        referral_id=uuid.uuid4(),
        channel=Channel.HR,
        org_unit_id=unit,
        category=category,
        urgency=Urgency.NORMAL,
        received_at=when,
    )
    return CloudEvent.create(data, tenant_id=tenant)


async def trends(signals: ServiceUnderTest, token: str, tenant: uuid.UUID, start: date, end: date) -> Any:
    return await signals.client.get(
        "/trends", params={"tenant_id": str(tenant), "from": str(start), "to": str(end)}, headers=bearer(token)
    )


def cells(report: dict[str, Any], month: str = MONTH) -> dict[tuple[str, str], dict[str, Any]]:
    """(unit name, category) → the unit's cell in the month; ("*", category) → the organisation's total."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in report["months"]:
        if entry["month"] != month:
            continue
        for category in entry["categories"]:
            found[("*", category["category"])] = {
                "count": category["total"],
                "suppressed": category["total_suppressed"],
            }
            for unit in category["units"]:
                found[(unit["org_unit_name"], category["category"])] = unit
    return found


async def wait_for(signals: ServiceUnderTest, token: str, tenant: uuid.UUID, what: str, check: Any) -> dict[str, Any]:
    latest: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal latest
        latest = (await trends(signals, token, tenant, MONTH_START, MONTH_START)).json()
        return bool(check(cells(latest)))

    await eventually(done, what=what)
    return latest


async def test_cells_under_k_are_suppressed_and_duplicates_count_once(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (logistics, finance) = await signals.register_tenant("Logistiek", "Finance")
    events = [received(tenant, logistics, Category.DISMISSAL) for _ in range(5)]
    events += [received(tenant, finance, Category.CONFLICT_MANAGER)]
    await signals.publish(events)
    await signals.publish(events[:3])  # redelivered: must not be counted again
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    report = await wait_for(
        signals,
        token,
        tenant,
        "five dismissals and a hidden conflict",
        lambda c: c.get(("Logistiek", "dismissal"), {}).get("count") == 5 and ("Finance", "conflict_manager") in c,
    )
    found = cells(report)
    assert found[("Logistiek", "dismissal")]["suppressed"] is False
    assert found[("*", "dismissal")] == {"count": 5, "suppressed": False}
    hidden = found[("Finance", "conflict_manager")]
    assert hidden["count"] is None and hidden["suppressed"] is True
    # The organisation's total of that category would equal the hidden cell: hidden too.
    assert found[("*", "conflict_manager")] == {"count": None, "suppressed": True}
    # Finance had no dismissals: a zero names no one and is shown.
    assert found[("Finance", "dismissal")]["count"] == 0
    assert report["k"] == 5
    assert report["from"] == MONTH_START.isoformat()


async def test_nonzero_only_leaves_out_the_zero_cells_and_keeps_the_hidden_ones(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (logistics, finance, _hr) = await signals.register_tenant("Logistiek", "Finance", "HR")
    events = [received(tenant, logistics, Category.DISMISSAL) for _ in range(5)]
    events += [received(tenant, finance, Category.CONFLICT_MANAGER)]
    await signals.publish(events)
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    whole = await wait_for(
        signals,
        token,
        tenant,
        "five dismissals and a hidden conflict",
        lambda c: c.get(("Logistiek", "dismissal"), {}).get("count") == 5 and ("Finance", "conflict_manager") in c,
    )
    answer = await signals.client.get(
        "/trends",
        params={"tenant_id": str(tenant), "from": str(MONTH_START), "to": str(MONTH_START), "nonzero_only": "true"},
        headers=bearer(token),
    )
    assert answer.status_code == 200, answer.text
    short = answer.json()
    # The same months, categories and totals; of the units only those with referrals or hidden.
    assert [m["month"] for m in short["months"]] == [m["month"] for m in whole["months"]]
    expected = {key: cell for key, cell in cells(whole).items() if key[0] == "*" or cell["suppressed"] or cell["count"]}
    assert cells(short) == expected
    assert ("Finance", "conflict_manager") in expected and ("Logistiek", "dismissal") in expected
    assert ("Finance", "dismissal") not in cells(short) and ("HR", "dismissal") not in cells(short)


async def test_a_parent_total_minus_its_visible_children_reveals_nothing(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (north, south) = await signals.register_tenant("Noord", "Zuid")
    events = [received(tenant, north, Category.WORKLOAD_STRESS) for _ in range(7)]
    events += [received(tenant, south, Category.WORKLOAD_STRESS) for _ in range(2)]
    await signals.publish(events)
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    report = await wait_for(
        signals,
        token,
        tenant,
        "nine stress referrals",
        lambda c: ("Zuid", "workload_stress") in c and c[("Zuid", "workload_stress")]["suppressed"],
    )
    found = cells(report)
    north_cell, total = found[("Noord", "workload_stress")], found[("*", "workload_stress")]
    # Zuid's 2 is hidden; the total and Noord cannot both be visible, or total − Noord = 2.
    assert not (north_cell["count"] is not None and total["count"] is not None)


async def test_overlapping_periods_return_the_same_month_cells(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (unit,) = await signals.register_tenant("Planning")
    token = dev_keys.mint("provider_admin")
    await signals.publish([received(tenant, unit, Category.GRIEF) for _ in range(6)])
    await wait_for(
        signals, token, tenant, "six grief referrals", lambda c: c.get(("Planning", "grief"), {}).get("count") == 6
    )
    narrow = (await trends(signals, token, tenant, WHEN.date(), WHEN.date())).json()
    wide = (await trends(signals, token, tenant, MONTH_START - timedelta(days=40), WHEN.date())).json()
    assert [m["month"] for m in wide["months"]][-1] == MONTH
    assert cells(narrow) == cells(wide)


async def test_a_tenant_may_raise_k_but_not_lower_it(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (unit,) = await signals.register_tenant("ICT", k_anonymity=10)
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    await signals.publish([received(tenant, unit, Category.CAREER) for _ in range(7)])
    report = await wait_for(
        signals, token, tenant, "seven referrals hidden under k = 10", lambda c: ("ICT", "career") in c
    )
    assert report["k"] == 10
    assert cells(report)[("ICT", "career")]["suppressed"] is True


async def test_another_tenants_trends_are_forbidden_and_bad_periods_refused(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant_a, _ = await signals.register_tenant("A")
    tenant_b, _ = await signals.register_tenant("B")
    token_a = dev_keys.mint("client_contact", tenant_id=tenant_a)
    forbidden = await trends(signals, token_a, tenant_b, TODAY.date(), TODAY.date())
    assert forbidden.status_code == 403
    assert str(tenant_b) not in forbidden.text
    employee = dev_keys.mint("employee", tenant_id=tenant_a)
    assert (await trends(signals, employee, tenant_a, TODAY.date(), TODAY.date())).status_code == 403
    backwards = await trends(signals, token_a, tenant_a, TODAY.date(), (TODAY - timedelta(days=3)).date())
    assert backwards.status_code == 422
    assert backwards.json()["error"]["fields"][0]["path"] == "query.to"
    garbage = await signals.client.get(
        "/trends", params={"tenant_id": "nope", "from": "yesterday", "to": "2026-01-01"}, headers=bearer(token_a)
    )
    assert garbage.status_code == 422
    assert {f["path"] for f in garbage.json()["error"]["fields"]} == {"query.tenant_id", "query.from"}
