"""Metering against the real database and broker: billable events become usage exactly once, bundle
thresholds fire once each, held usage waits for a contract, corrections, erasure."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.billing.adapters.tables import BILLABLE_ACTIVITY, USAGE
from bmw.billing.application.metering import billable_usage, mark_usage_invoiced
from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.base import EventData
from bmw.contracts.events.intake import CaseOpened, ClientErased
from bmw.contracts.events.scheduling import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentNoShow,
    SecondmentHoursLogged,
    WorkshopCompleted,
)
from bmw.contracts.taxonomy import AppointmentKind, CancelledBy, Category, Urgency, WorkshopTheme
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test

pytestmark = pytest.mark.integration

TOPIC = "bmw.billing.events"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as service:
        yield service


async def organisation(billing: ServiceUnderTest, admin: str) -> uuid.UUID:
    created = await billing.client.post("/client-organisations", json={"name": "Zorg BV"}, headers=bearer(admin))
    assert created.status_code == 201, created.text
    return uuid.UUID(created.json()["id"])


async def contract(billing: ServiceUnderTest, admin: str, tenant: uuid.UUID, *products: dict[str, Any]) -> str:
    body = {
        "tenant_id": str(tenant),
        "products": list(products),
        "period_start": (NOW.date() - timedelta(days=60)).isoformat(),
        "period_end": (NOW.date() + timedelta(days=300)).isoformat(),
    }
    created = await billing.client.post("/contracts", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    contract_id: str = created.json()["id"]
    return contract_id


BUNDLE = {
    "code": "HOURS-10",
    "kind": "hour_bundle",
    "unit_price_cents": 9500,
    "vat_rate": "21",
    "included_quantity": "10",
    "overage_unit_price_cents": 11000,
}
NO_SHOW = {"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 5000, "vat_rate": "21"}
LATE = {"code": "LATE", "kind": "late_cancellation_fee", "unit_price_cents": 4000, "vat_rate": "21"}
TRAJECTORY = {
    "code": "TRAJ",
    "kind": "trajectory_fixed_price",
    "unit_price_cents": 125000,
    "vat_rate": "exempt",
    "vat_exemption_reason": "Medische zorg",
}
WORKSHOP = {"code": "WS", "kind": "workshop_per_participant", "unit_price_cents": 7500, "vat_rate": "9"}
SECONDMENT = {"code": "SECOND", "kind": "secondment_hourly", "unit_price_cents": 8500, "vat_rate": "21"}


def completed(minutes: int = 60, *, at: datetime = NOW, kind: AppointmentKind = AppointmentKind.CONSULT) -> Any:
    return AppointmentCompleted(
        appointment_id=uuid.uuid4(),
        kind=kind,
        case_id=uuid.uuid4(),
        worker_id=uuid.uuid4(),
        start=at - timedelta(days=1),
        duration_minutes=minutes,
    )


def envelope(data: EventData, tenant: uuid.UUID, *, time: datetime | None = None) -> CloudEvent:
    return CloudEvent.create(data, tenant_id=tenant, time=time)


async def usage_rows(billing: ServiceUnderTest, tenant: uuid.UUID) -> Sequence[Any]:
    async with billing.sessions() as session:
        return (
            await session.execute(select(USAGE).where(USAGE.c.tenant_id == tenant).order_by(USAGE.c.occurred_at))
        ).all()


async def wait_for_rows(billing: ServiceUnderTest, tenant: uuid.UUID, count: int, what: str) -> Sequence[Any]:
    rows: Sequence[Any] = []

    async def enough() -> bool:
        nonlocal rows
        rows = await usage_rows(billing, tenant)
        return len(rows) >= count

    await eventually(enough, what=what)
    return rows


async def processed(billing: ServiceUnderTest, *events: CloudEvent) -> None:
    """Wait until billing has applied these events (it keeps each billable event's activity)."""
    ids = [e.id for e in events]

    async def done() -> bool:
        async with billing.sessions() as session:
            count = await session.scalar(select(func.count()).where(BILLABLE_ACTIVITY.c.source_event_id.in_(ids)))
        return count == len(ids)

    await eventually(done, what="billing to apply the events")


async def billing_events(
    billing: ServiceUnderTest, tenant: uuid.UUID, event_type: str, count: int
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        nonlocal found
        records = await read_topic(
            billing.bootstrap,
            TOPIC,
            match=lambda h: h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == event_type,
            idle_ms=300,
        )
        found = [json.loads(value) for _, value in records]
        return len(found) >= count

    await eventually(arrived, what=f"{count} x {event_type}")
    return found


async def test_the_same_completed_appointment_delivered_three_times_is_metered_once(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await organisation(billing, admin)
    contract_id = await contract(billing, admin, tenant, BUNDLE)
    event = envelope(completed(45), tenant)
    await billing.publish([event, event, event])

    (row,) = await wait_for_rows(billing, tenant, 1, "the usage of the appointment")
    assert (row.source_event_id, row.status, str(row.contract_id)) == (event.id, "open", contract_id)
    assert (row.product_code, row.kind, row.unit, row.quantity, row.unit_price_cents) == (
        "HOURS-10",
        "hour_bundle",
        "hour",
        Decimal("0.75"),
        9500,
    )
    await billing.publish([event])  # a late redelivery
    recorded = await billing_events(billing, tenant, "billing.usage.recorded.v1", 1)
    assert [(r["source_event_id"], r["quantity"], r["product_code"]) for r in recorded] == [
        (str(event.id), "0.75", "HOURS-10")
    ]
    assert len(await usage_rows(billing, tenant)) == 1


async def test_bundle_thresholds_fire_once_each_and_the_straddling_appointment_is_split(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await organisation(billing, admin)
    contract_id = await contract(billing, admin, tenant, BUNDLE)
    # 9 hours, then 1.5 hours straddling the 10 included, then 2 more hours: 12.5 hours, 2.5 of them overage.
    hours = [*(completed(60) for _ in range(9)), completed(90), completed(60), completed(60)]
    events = [envelope(data, tenant) for data in hours]
    await billing.publish(events)
    await billing.publish(events[-3:])  # redelivered: changes nothing

    rows = await wait_for_rows(billing, tenant, 13, "13 usage rows (one event split in two)")
    base = [r for r in rows if not r.overage]
    over = [r for r in rows if r.overage]
    assert sum(r.quantity for r in base) == Decimal(10)
    assert sum(r.quantity for r in over) == Decimal("2.50")
    assert {r.unit_price_cents for r in over} == {11000}
    split = [r for r in rows if r.source_event_id == events[9].id]
    assert sorted((r.portion, r.quantity) for r in split) == [("base", Decimal(1)), ("overage", Decimal("0.50"))]

    reached = await billing_events(billing, tenant, "billing.contract.threshold_reached.v1", 2)
    more = [envelope(completed(60), tenant) for _ in range(2)]
    await billing.publish(more)
    await processed(billing, *more)
    reached = await billing_events(billing, tenant, "billing.contract.threshold_reached.v1", 2)
    assert sorted(r["percent"] for r in reached) == [80, 100]
    assert {(r["contract_id"], r["product_code"]) for r in reached} == {(contract_id, "HOURS-10")}

    contact = dev_keys.mint("client_contact", tenant_id=str(tenant))
    usage = await billing.client.get(f"/contracts/{contract_id}/usage", headers=bearer(contact))
    assert usage.status_code == 200, usage.text
    (bundle,) = usage.json()["products"]
    assert (bundle["quantity"], bundle["amount_cents"]) == ("10.00", 95000)
    assert (bundle["overage_quantity"], bundle["overage_amount_cents"]) == ("4.50", 49500)
    assert (bundle["included_quantity"], bundle["bundle_hours_used"], bundle["unit"]) == ("10.00", "14.50", "hour")
    stranger = dev_keys.mint("client_contact", tenant_id=str(uuid.uuid4()))
    hidden = await billing.client.get(f"/contracts/{contract_id}/usage", headers=bearer(stranger))
    assert hidden.status_code == 404


async def test_usage_without_a_contract_is_held_listed_and_metered_once_a_contract_covers_it(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await organisation(billing, admin)
    no_show = AppointmentNoShow(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.INTAKE,
        case_id=uuid.uuid4(),
        worker_id=uuid.uuid4(),
        start=NOW - timedelta(days=2),
        duration_minutes=60,
    )
    events = [envelope(completed(45), tenant), envelope(no_show, tenant)]
    await billing.publish(events)
    await wait_for_rows(billing, tenant, 2, "two held usage rows")

    held = await billing.client.get("/usage/held", params={"tenant_id": str(tenant)}, headers=bearer(admin))
    assert held.status_code == 200, held.text
    assert sorted((h["activity"], h["quantity"], h["unit"]) for h in held.json()) == [
        ("appointment_completed", "0.75", "hour"),
        ("appointment_no_show", "1.00", "occurrence"),
    ]
    contact = dev_keys.mint("client_contact", tenant_id=str(tenant))
    assert (await billing.client.get("/usage/held", headers=bearer(contact))).status_code == 403

    contract_id = await contract(billing, admin, tenant, BUNDLE, NO_SHOW)
    rows = await usage_rows(billing, tenant)
    assert sorted((r.status, r.product_code, r.quantity) for r in rows) == [
        ("open", "HOURS-10", Decimal("0.75")),
        ("open", "NOSHOW", Decimal(1)),
    ]
    assert {str(r.contract_id) for r in rows} == {contract_id}
    after = await billing.client.get("/usage/held", params={"tenant_id": str(tenant)}, headers=bearer(admin))
    assert after.json() == []
    recorded = await billing_events(billing, tenant, "billing.usage.recorded.v1", 2)
    assert sorted(r["source_event_id"] for r in recorded) == sorted(str(e.id) for e in events)


async def test_what_the_contract_does_not_price_is_not_billed(billing: ServiceUnderTest, dev_keys: Any) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await organisation(billing, admin)
    await contract(billing, admin, tenant, BUNDLE, LATE)

    def appointment(model: Any, **extra: Any) -> CloudEvent:
        data = model(
            appointment_id=uuid.uuid4(),
            kind=AppointmentKind.CONSULT,
            case_id=uuid.uuid4(),
            worker_id=uuid.uuid4(),
            start=NOW - timedelta(days=1),
            duration_minutes=45,
            **extra,
        )
        return envelope(data, tenant)

    no_show = appointment(AppointmentNoShow)  # no no-show fee in the contract
    by_provider = appointment(AppointmentCancelled, late=True, cancelled_by=CancelledBy.PROVIDER)
    in_time = appointment(AppointmentCancelled, late=False, cancelled_by=CancelledBy.EMPLOYEE)
    late = appointment(AppointmentCancelled, late=True, cancelled_by=CancelledBy.EMPLOYEE)
    workshop = envelope(
        WorkshopCompleted(
            workshop_id=uuid.uuid4(), theme=WorkshopTheme.SELF_MANAGEMENT, start=NOW, participants_count=12
        ),
        tenant,
    )
    await billing.publish([no_show, by_provider, in_time, late, workshop])
    await processed(billing, no_show, by_provider, in_time, late, workshop)

    rows = await usage_rows(billing, tenant)
    assert [(r.source_event_id, r.product_code, r.quantity) for r in rows] == [(late.id, "LATE", Decimal(1))]


async def test_a_trajectory_bills_per_case_and_erasure_clears_the_client_ref(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await organisation(billing, admin)
    await contract(billing, admin, tenant, TRAJECTORY, WORKSHOP)
    case_id = uuid.uuid4()
    opened = CaseOpened(
        case_id=case_id,
        referral_id=uuid.uuid4(),
        client_ref="c_erase_me",
        org_unit_id=uuid.uuid4(),
        category=Category.GRIEF,
        urgency=Urgency.NORMAL,
        sla_deadline=NOW + timedelta(days=5),
        employee_login="a" * 64,
    )
    other = opened.model_copy(update={"case_id": uuid.uuid4(), "client_ref": "c_keep"})
    await billing.publish([envelope(opened, tenant), envelope(other, tenant)])
    rows = await wait_for_rows(billing, tenant, 2, "two trajectory usage rows")
    assert {(r.case_id, r.client_ref, r.product_code, r.unit_price_cents) for r in rows} >= {
        (case_id, "c_erase_me", "TRAJ", 125000)
    }

    await billing.publish([envelope(ClientErased(client_ref="c_erase_me"), tenant)])

    async def forgotten() -> bool:
        return {r.client_ref for r in await usage_rows(billing, tenant)} == {None, "c_keep"}

    await eventually(forgotten, what="usage rows to lose the erased client_ref")
    rows = await usage_rows(billing, tenant)
    assert len(rows) == 2 and all(r.status == "open" for r in rows)
    async with billing.sessions() as session:
        kept = (
            await session.execute(select(BILLABLE_ACTIVITY.c.data).where(BILLABLE_ACTIVITY.c.tenant_id == tenant))
        ).scalars()
        stored = list(kept)
    assert "c_erase_me" not in json.dumps(stored)
    assert all("employee_login" not in data for data in stored)


async def test_the_latest_secondment_log_is_authoritative_before_and_after_invoicing(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = await organisation(billing, admin)
    await contract(billing, admin, tenant, SECONDMENT)
    worker, day = uuid.uuid4(), NOW.date() - timedelta(days=3)

    def logged(hours: str, seconds: int) -> CloudEvent:
        data = SecondmentHoursLogged(worker_id=worker, hours=Decimal(hours), date=day)
        return envelope(data, tenant, time=NOW + timedelta(seconds=seconds))

    first, corrected = logged("7.50", 0), logged("6.00", 10)
    await billing.publish([first, corrected])
    await processed(billing, first, corrected)
    (row,) = await usage_rows(billing, tenant)
    assert (row.quantity, row.status, row.source_event_id) == (Decimal(6), "open", corrected.id)

    stale = logged("9.00", 5)  # logged before the correction, arrived after it
    await billing.publish([stale])
    await processed(billing, stale)
    assert [r.quantity for r in await usage_rows(billing, tenant)] == [Decimal(6)]

    invoice = uuid.uuid4()
    async with billing.sessions() as session, session.begin():
        lines = await billable_usage(session, tenant_id=tenant, first=day - timedelta(days=1), last=NOW.date())
        assert [line.quantity for line in lines] == [Decimal(6)]
        assert await mark_usage_invoiced(session, usage_ids=[line.id for line in lines], invoice_id=invoice) == 1
        assert await mark_usage_invoiced(session, usage_ids=[line.id for line in lines], invoice_id=invoice) == 0

    raised = logged("8.00", 20)
    await billing.publish([raised])
    await processed(billing, raised)
    rows = await usage_rows(billing, tenant)
    assert sorted((r.status, r.quantity) for r in rows) == [("invoiced", Decimal(6)), ("open", Decimal(2))]
    correction = next(r for r in rows if r.status == "open")
    assert correction.corrects_usage_id == row.id and correction.unit_price_cents == 8500
