"""Signals' aggregates and trends against the real PostgreSQL and broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, service_under_test

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC)


@pytest.fixture(scope="session")
async def signals(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("signals", infra, dev_keys) as service:
        yield service


def received(tenant: uuid.UUID, unit: uuid.UUID, category: Category, when: datetime = TODAY) -> CloudEvent:
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


async def wait_for_total(
    signals: ServiceUnderTest, token: str, tenant: uuid.UUID, expected: int, cells: int | None = None
) -> Any:
    """Poll the report until it has counted ``expected`` visible referrals (hidden cells count as unknown) and,
    when given, shows ``cells`` cells (a suppressed cell arrives after the visible ones are complete)."""
    start, end = (TODAY - timedelta(days=7)).date(), TODAY.date()
    latest: dict[str, Any] = {}

    async def counted() -> bool:
        nonlocal latest
        latest = (await trends(signals, token, tenant, start, end)).json()
        visible = sum(cell["count"] or 0 for cell in latest["cells"])
        return visible == expected and (cells is None or len(latest["cells"]) == cells)

    await eventually(counted, what=f"{expected} visible referrals in the trends")
    return latest


async def test_cells_under_k_are_suppressed_and_duplicates_count_once(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (logistics, finance) = await signals.register_tenant("Logistiek", "Finance")
    events = [received(tenant, logistics, Category.DISMISSAL) for _ in range(5)]
    events += [received(tenant, finance, Category.CONFLICT_MANAGER)]
    await signals.publish(events)
    await signals.publish(events[:3])  # redelivered: must not be counted again
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    report = await wait_for_total(signals, token, tenant, 5, cells=2)
    cells = {(c["org_unit_name"], c["category"]): c for c in report["cells"]}
    assert cells[("Logistiek", "dismissal")] == {
        "org_unit_id": str(logistics),
        "org_unit_name": "Logistiek",
        "category": "dismissal",
        "count": 5,
        "suppressed": False,
    }
    hidden = cells[("Finance", "conflict_manager")]
    assert hidden["count"] is None and hidden["suppressed"] is True
    assert report["k"] == 5


async def test_four_is_suppressed_five_is_visible(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (unit,) = await signals.register_tenant("Burgerzaken")
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    await signals.publish([received(tenant, unit, Category.WORKLOAD_STRESS) for _ in range(4)])

    async def four_hidden() -> bool:
        body = (await trends(signals, token, tenant, TODAY.date(), TODAY.date())).json()
        return body["cells"] == [
            {
                "org_unit_id": str(unit),
                "org_unit_name": "Burgerzaken",
                "category": "workload_stress",
                "count": None,
                "suppressed": True,
            }
        ]

    await eventually(four_hidden, what="a suppressed cell of four")
    await signals.publish([received(tenant, unit, Category.WORKLOAD_STRESS)])
    report = await wait_for_total(signals, token, tenant, 5)
    assert report["cells"][0]["suppressed"] is False


async def test_a_tenant_may_raise_k_but_not_lower_it(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (unit,) = await signals.register_tenant("ICT", k_anonymity=10)
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    await signals.publish([received(tenant, unit, Category.CAREER) for _ in range(7)])

    async def seven_hidden() -> bool:
        body = (await trends(signals, token, tenant, TODAY.date(), TODAY.date())).json()
        return body["k"] == 10 and len(body["cells"]) == 1 and body["cells"][0]["suppressed"]

    await eventually(seven_hidden, what="seven referrals hidden under k = 10")


async def test_weeks_outside_the_period_are_not_counted(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (unit,) = await signals.register_tenant("Planning")
    token = dev_keys.mint("provider_admin")
    old = TODAY - timedelta(weeks=10)
    await signals.publish([received(tenant, unit, Category.GRIEF, when=old) for _ in range(6)])
    await signals.publish([received(tenant, unit, Category.GRIEF) for _ in range(5)])
    await wait_for_total(signals, token, tenant, 5)  # the last week only
    whole = (await trends(signals, token, tenant, (old - timedelta(days=1)).date(), TODAY.date())).json()
    assert whole["cells"][0]["count"] == 11


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
