"""Commercial and capacity triggers, and a signal's resolution, through the real PostgreSQL and broker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import (
    ContractActivated,
    ContractExpiring,
    ContractProduct,
    ContractThresholdReached,
)
from bmw.contracts.events.intake import CaseOpened, ReferralReceived
from bmw.contracts.events.scheduling import AppointmentBooked, IntakeUnschedulable
from bmw.contracts.taxonomy import (
    AppointmentKind,
    Category,
    Channel,
    ProductKind,
    UnschedulableReason,
    Urgency,
    VatRate,
)
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.application.detection import evaluate_tenant
from bmw.signals.domain.weeks import AMSTERDAM

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(AMSTERDAM).date()
BUNDLE = ContractProduct(
    code="STRIPPENKAART-40",
    kind=ProductKind.HOUR_BUNDLE,
    unit_price_cents=11_500,
    vat_rate=VatRate.EXEMPT,
    included_quantity="40.00",
)


def contract(tenant: uuid.UUID, contract_id: uuid.UUID, end: date) -> CloudEvent:
    data = ContractActivated(
        contract_id=contract_id, products=[BUNDLE], period_start=TODAY - timedelta(days=300), period_end=end
    )
    return CloudEvent.create(data, tenant_id=tenant)


async def signals_of(signals: ServiceUnderTest, token: str, tenant: uuid.UUID, **params: str) -> list[dict[str, Any]]:
    response = await signals.client.get("/signals", params={"tenant_id": str(tenant), **params}, headers=bearer(token))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def events(signals: ServiceUnderTest, tenant: uuid.UUID, event_type: str) -> list[dict[str, Any]]:
    records = await read_topic(
        signals.bootstrap,
        "bmw.signals.events",
        match=lambda h: h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == event_type,
    )
    return [json.loads(value) for _, value in records]


async def test_a_bundle_running_out_opens_an_opportunity_at_once_and_a_new_contract_answers_it(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, _ = await signals.register_tenant("Kantoor")
    admin, manager = dev_keys.mint("provider_admin"), dev_keys.mint("account_manager", portfolio=[tenant])
    old = uuid.uuid4()
    await signals.publish([contract(tenant, old, TODAY + timedelta(days=200))])
    threshold = ContractThresholdReached(contract_id=old, product_code="STRIPPENKAART-40", percent=80)
    await signals.publish([CloudEvent.create(threshold, tenant_id=tenant)] * 2)  # a redelivery changes nothing

    async def raised() -> bool:
        return len(await signals_of(signals, admin, tenant, kind="bundle_threshold")) == 1

    await eventually(raised, what="a bundle-threshold signal")
    [signal] = await signals_of(signals, manager, tenant)
    assert signal["review_status"] == "not_required"  # about a contract, not about people
    assert "80 %" in signal["summary"]

    async def opportunity() -> list[dict[str, Any]]:
        answer = await signals.client.get("/opportunities", params={"tenant_id": str(tenant)}, headers=bearer(manager))
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    await eventually(lambda: _non_empty(opportunity()), what="the opportunity of the bundle signal")
    [offer] = await opportunity()
    assert offer["kind"] == "bundle_threshold" and offer["estimated_value_cents"] > 0

    # 100 % in the same week updates the 80 % signal; a new contract then answers it.
    full = ContractThresholdReached(contract_id=old, product_code="STRIPPENKAART-40", percent=100)
    await signals.publish([CloudEvent.create(full, tenant_id=tenant)])

    async def replaced() -> bool:
        current = await signals_of(signals, admin, tenant, kind="bundle_threshold", status="open")
        return len(current) == 1 and "100 %" in current[0]["summary"]

    await eventually(replaced, what="the signal to show 100 %")
    await signals.publish([contract(tenant, uuid.uuid4(), TODAY + timedelta(days=565))])

    async def answered() -> bool:
        return not await signals_of(signals, admin, tenant, kind="bundle_threshold", status="open")

    await eventually(answered, what="the new contract to resolve the bundle signal")
    resolved = await events(signals, tenant, "signals.signal.resolved.v1")
    assert [event["kind"] for event in resolved] == ["bundle_threshold"]


async def _non_empty(items: Any) -> bool:
    return bool(await items)


async def test_a_contract_ending_without_renewal_is_a_commercial_signal(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, _ = await signals.register_tenant("Gemeente")
    admin = dev_keys.mint("provider_admin")
    contract_id = uuid.uuid4()
    end = TODAY + timedelta(days=75)
    await signals.publish(
        [
            contract(tenant, contract_id, end),
            CloudEvent.create(ContractExpiring(contract_id=contract_id, end_date=end), tenant_id=tenant),
        ]
    )

    async def raised() -> bool:
        return len(await signals_of(signals, admin, tenant, kind="contract_ending")) == 1

    await eventually(raised, what="a contract-ending signal")
    [signal] = await signals_of(signals, admin, tenant, kind="contract_ending")
    assert end.isoformat() in signal["summary"]


async def test_repeated_manager_consultations_and_unschedulable_intakes_raise_at_the_next_run(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit,) = await signals.register_tenant("Fabriek")
    admin = dev_keys.mint("provider_admin")
    consultations = [
        AppointmentBooked(
            appointment_id=uuid.uuid4(),
            kind=AppointmentKind.MANAGER_CONSULTATION,
            worker_id=uuid.uuid4(),
            start=NOW - timedelta(days=7 * week),
            duration_minutes=60,
            topic=Category.CONFLICT_MANAGER,
        )
        for week in range(3)
    ]
    cases = [uuid.uuid4() for _ in range(3)]
    opened = [
        CaseOpened(
            case_id=case,
            referral_id=uuid.uuid4(),
            client_ref=f"c-{case}",
            org_unit_id=unit,
            category=Category.WORKLOAD_STRESS,
            urgency=Urgency.NORMAL,
            sla_deadline=NOW + timedelta(days=3),
        )
        for case in cases
    ]
    unschedulable = [
        IntakeUnschedulable(case_id=case, reason=UnschedulableReason.NO_CAPACITY_BEFORE_DEADLINE) for case in cases
    ]
    await signals.publish(
        [CloudEvent.create(data, tenant_id=tenant) for data in [*consultations, *opened, *unschedulable]]
    )

    async def run() -> set[str]:
        answer = await signals.client.post("/detection-runs", params={"tenant_id": str(tenant)}, headers=bearer(admin))
        assert answer.status_code == 200, answer.text
        return {signal["kind"] for signal in await signals_of(signals, admin, tenant)}

    async def both() -> bool:
        return {"repeated_manager_consultations", "capacity_shortfall"} <= await run()

    await eventually(both, what="manager-consultation and capacity signals")
    [consulting] = await signals_of(signals, admin, tenant, kind="repeated_manager_consultations")
    assert "conflict manager" in consulting["summary"]


async def test_a_signal_resolves_when_the_unit_is_back_at_its_baseline(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit,) = await signals.register_tenant("Magazijn")
    admin = dev_keys.mint("provider_admin")
    quiet = "\n".join(
        f"{(TODAY - timedelta(days=TODAY.weekday(), weeks=back)).isoformat()},Magazijn,dismissal,{back % 9 == 0:d}"
        for back in range(40, 0, -1)
    )
    imported = await signals.client.post(
        "/history-imports",
        params={"tenant_id": str(tenant)},
        content=f"week,org_unit,category,count\n{quiet}\n".encode(),
        headers={**bearer(admin), "content-type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    burst = [
        ReferralReceived(
            referral_id=uuid.uuid4(),
            channel=Channel.MANAGER,
            org_unit_id=unit,
            category=Category.DISMISSAL,
            urgency=Urgency.URGENT,
            received_at=NOW,
        )
        for _ in range(6)
    ]
    await signals.publish([CloudEvent.create(data, tenant_id=tenant) for data in burst])
    uow = UnitOfWorkFactory(signals.sessions)

    async def raised() -> bool:
        report = await evaluate_tenant(uow, tenant, today=TODAY, default_k=5)
        return bool(report.raised) or bool(await signals_of(signals, admin, tenant, status="open"))

    await eventually(raised, what="a reorganisation wave")
    # Three quiet weeks later the unit is back within its baseline: the signal resolves, once.
    later = TODAY + timedelta(weeks=4)
    first = await evaluate_tenant(uow, tenant, today=later, default_k=5)
    second = await evaluate_tenant(uow, tenant, today=later, default_k=5)
    assert len(first.resolved) == 1 and second.resolved == ()
    [signal] = await signals_of(signals, admin, tenant)
    assert signal["status"] == "resolved"
    assert signal["resolved_week"] == (later - timedelta(days=later.weekday(), weeks=1)).isoformat()

    async def announced() -> bool:
        return len(await events(signals, tenant, "signals.signal.resolved.v1")) == 1

    await eventually(announced, what="signals.signal.resolved.v1")
