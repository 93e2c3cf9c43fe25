"""The rights of the person in billing: the right-of-access export, erasure, and the retention job, against the
real database and broker.

Data is seeded the way it arrives in production: intake's ``intake.case.opened.v1`` and scheduling's
``scheduling.appointment.completed.v1`` (metered under a contract made over HTTP), invoiced by a billing run.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.billing.__main__ import retention
from bmw.billing.adapters.tables import BILLABLE_ACTIVITY, USAGE
from bmw.billing.application.persons import apply_retention
from bmw.billing.settings import BillingSettings
from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened, ClientErased
from bmw.contracts.events.scheduling import AppointmentCompleted
from bmw.contracts.taxonomy import AppointmentKind, Category, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, service_under_test
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import TenantScope, scoped

pytestmark = pytest.mark.integration

PERIOD = "2026-09"
IN_PERIOD = datetime(2026, 9, 8, 9, 0, tzinfo=UTC)
TRAJECTORY = {
    "code": "TRAJ",
    "kind": "trajectory_fixed_price",
    "unit_price_cents": 125_000,
    "vat_rate": "exempt",
    "vat_exemption_reason": "Vrijgesteld van btw (art. 11 lid 1 Wet OB)",
}
HOURS = {
    "code": "UREN",
    "kind": "hour_bundle",
    "unit_price_cents": 11_000,
    "vat_rate": "exempt",
    "vat_exemption_reason": "Vrijgesteld van btw (art. 11 lid 1 Wet OB)",
    "included_quantity": "40",
}


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as service:
        yield service


def admin(dev_keys: Any) -> dict[str, str]:
    return bearer(dev_keys.mint("provider_admin"))


def new_ref() -> str:
    return "c_" + secrets.token_urlsafe(16)


async def client_with_contract(billing: ServiceUnderTest, dev_keys: Any) -> uuid.UUID:
    body = {
        "name": "Privacy Zorg B.V.",
        "kvk_number": f"{uuid.uuid4().int % 10**8:08d}",
        "invoice_email": "crediteuren@privacy.example.nl",
        "payment_terms_days": 30,
        "addresses": {
            "invoice": {"street": "Stationsplein", "house_number": "1", "postal_code": "3511ED", "city": "Utrecht"}
        },
        "org_units": [{"name": "Logistiek"}],
    }
    created = await billing.client.post("/client-organisations", json=body, headers=admin(dev_keys))
    assert created.status_code == 201, created.text
    tenant = uuid.UUID(created.json()["id"])
    contract = {
        "tenant_id": str(tenant),
        "products": [TRAJECTORY, HOURS],
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
    }
    made = await billing.client.post("/contracts", json=contract, headers=admin(dev_keys))
    assert made.status_code == 201, made.text
    return tenant


async def a_case_with_an_appointment(
    billing: ServiceUnderTest, tenant: uuid.UUID, client_ref: str, at: datetime
) -> tuple[uuid.UUID, list[CloudEvent]]:
    """Intake opens the person's case (a trajectory) and scheduling reports its completed intake (an hour)."""
    case_id = uuid.uuid4()
    opened = CaseOpened(
        case_id=case_id,
        referral_id=uuid.uuid4(),
        client_ref=client_ref,
        org_unit_id=uuid.uuid4(),
        category=Category.CONFLICT_MANAGER,
        urgency=Urgency.NORMAL,
        sla_deadline=at + timedelta(days=7),
    )
    completed = AppointmentCompleted(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.INTAKE,
        case_id=case_id,
        worker_id=uuid.uuid4(),
        start=at + timedelta(days=1),
        duration_minutes=60,
    )
    events = [
        CloudEvent.create(opened, tenant_id=tenant, time=at),
        CloudEvent.create(completed, tenant_id=tenant, time=at + timedelta(days=1, hours=1)),
    ]
    await billing.publish(events)
    return case_id, events


async def metered(billing: ServiceUnderTest, tenant: uuid.UUID, count: int) -> None:
    async def arrived() -> bool:
        async with billing.sessions() as session:
            found = await session.scalar(select(func.count()).where(USAGE.c.tenant_id == tenant))
        return found == count

    await eventually(arrived, what=f"{count} usage rows")


async def export(billing: ServiceUnderTest, client_ref: str, headers: dict[str, str]) -> Any:
    response = await billing.client.get(f"/persons/{client_ref}/export", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_export_holds_the_usage_of_the_persons_case_and_nothing_after_erasure(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = await client_with_contract(billing, dev_keys)
    anna, bert = new_ref(), new_ref()
    anna_case, anna_events = await a_case_with_an_appointment(billing, tenant, anna, IN_PERIOD)
    bert_case, bert_events = await a_case_with_an_appointment(billing, tenant, bert, IN_PERIOD + timedelta(days=2))
    await metered(billing, tenant, 4)
    run = await billing.client.post(
        "/billing-runs", json={"period": PERIOD, "tenant_id": str(tenant)}, headers=admin(dev_keys)
    )
    assert run.status_code == 201, run.text
    [draft] = run.json()["drafts"]
    issued = await billing.client.post(f"/invoices/{draft}/issue", headers=admin(dev_keys))
    assert issued.status_code == 200, issued.text
    number = issued.json()["number"]

    exported = await export(billing, anna, admin(dev_keys))
    assert exported["client_ref"] == anna
    usage = {row["activity"]: row for row in exported["usage"]}
    assert set(usage) == {"case_opened", "appointment_completed"}
    trajectory, hour = usage["case_opened"], usage["appointment_completed"]
    assert (trajectory["product_code"], trajectory["case_id"], trajectory["quantity"]) == (
        "TRAJ",
        str(anna_case),
        "1.00",
    )
    assert (hour["product_code"], hour["unit"], hour["quantity"]) == ("UREN", "hour", "1.00")
    assert {row["invoice_number"] for row in exported["usage"]} == {number}
    assert {row["status"] for row in exported["usage"]} == {"invoiced"}
    assert [a["source_event_id"] for a in exported["activity"]] == [str(e.id) for e in anna_events]
    assert exported["activity"][0]["facts"]["client_ref"] == anna
    assert exported["activity"][1]["facts"]["case_id"] == str(anna_case)
    text = str(exported)
    assert bert not in text and str(bert_case) not in text and str(bert_events[1].id) not in text, "nobody else's"
    assert len((await export(billing, bert, admin(dev_keys)))["usage"]) == 2

    async with billing.sessions() as session:
        money_before = sorted(
            (
                await session.execute(
                    select(USAGE.c.id, USAGE.c.quantity, USAGE.c.unit_price_cents, USAGE.c.invoice_id).where(
                        USAGE.c.tenant_id == tenant
                    )
                )
            ).all()
        )
    erased = ClientErased(client_ref=anna, erased_at=datetime.now(UTC))
    await billing.publish([CloudEvent.create(erased, tenant_id=tenant, subject=anna)])

    async def forgotten() -> bool:
        found = await export(billing, anna, admin(dev_keys))
        return not (found["usage"] or found["activity"])

    await eventually(forgotten, what="billing to apply the erasure")
    async with billing.sessions() as session:
        money_after = sorted(
            (
                await session.execute(
                    select(USAGE.c.id, USAGE.c.quantity, USAGE.c.unit_price_cents, USAGE.c.invoice_id).where(
                        USAGE.c.tenant_id == tenant
                    )
                )
            ).all()
        )
    assert money_after == money_before, "the money stays"
    assert len((await export(billing, bert, admin(dev_keys)))["usage"]) == 2, "Bert is still there"


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("social_worker", {}),
        ("account_manager", {"portfolio": []}),
        ("client_contact", {"tenant_id": uuid.uuid4()}),
        ("employee", {"tenant_id": uuid.uuid4()}),
        ("integration", {"tenant_id": uuid.uuid4(), "scopes": ["usage:read", "invoices:read"]}),
    ],
)
async def test_only_provider_admins_ask(
    billing: ServiceUnderTest, dev_keys: Any, role: str, claims: dict[str, Any]
) -> None:
    refused = await billing.client.get(f"/persons/{new_ref()}/export", headers=bearer(dev_keys.mint(role, **claims)))
    assert refused.status_code == 403, refused.text


async def test_an_unknown_ref_is_empty_and_a_malformed_one_is_refused(billing: ServiceUnderTest, dev_keys: Any) -> None:
    unknown = new_ref()
    empty = await export(billing, unknown, admin(dev_keys))
    assert (empty["client_ref"], empty["usage"], empty["activity"]) == (unknown, [], [])
    assert (await billing.client.get(f"/persons/{unknown}/export")).status_code == 401
    for malformed in ("c_short", "client-0123456789", "c_" + "z" * 41):
        refused = await billing.client.get(f"/persons/{malformed}/export", headers=admin(dev_keys))
        assert refused.status_code == 422, (malformed, refused.text)
        assert refused.json()["error"]["fields"][0]["path"] == "path.client_ref"


async def test_retention_drops_the_pseudonym_of_old_usage_and_keeps_the_money(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = await client_with_contract(billing, dev_keys)
    old, new = new_ref(), new_ref()
    await a_case_with_an_appointment(billing, tenant, old, IN_PERIOD)
    await a_case_with_an_appointment(billing, tenant, new, IN_PERIOD + timedelta(days=10))
    await metered(billing, tenant, 4)
    # Two years on, between the two cases: the first is past the period, the second is not yet.
    now = IN_PERIOD + timedelta(days=730 + 5)
    uow = UnitOfWorkFactory(billing.sessions)

    async def state() -> list[tuple[Any, ...]]:
        async with billing.sessions() as session:
            usage = await session.execute(
                select(USAGE.c.id, USAGE.c.client_ref, USAGE.c.quantity, USAGE.c.unit_price_cents, USAGE.c.status)
                .where(USAGE.c.tenant_id == tenant)
                .order_by(USAGE.c.occurred_at, USAGE.c.id)
            )
            activity = await session.execute(
                select(BILLABLE_ACTIVITY.c.source_event_id, BILLABLE_ACTIVITY.c.data)
                .where(BILLABLE_ACTIVITY.c.tenant_id == tenant)
                .order_by(BILLABLE_ACTIVITY.c.occurred_at)
            )
            return [tuple(row) for row in (*usage.all(), *activity.all())]

    before = await state()
    with scoped(TenantScope(tenant_ids=frozenset({tenant}))):  # this test's organisation only
        dry = await apply_retention(uow=uow, retention_days=730, now=now, dry_run=True)
        assert (dry.usage, dry.activity, dry.dry_run) == (1, 1, True), "the old case's trajectory and its event"
        assert await state() == before, "a dry run changes nothing"
        report = await apply_retention(uow=uow, retention_days=730, now=now)
    assert (report.usage, report.activity, report.dry_run) == (1, 1, False)

    after = await state()
    usage_before, usage_after = before[:4], after[:4]
    assert [row[1] for row in usage_before] == [old, None, new, None], "a case's trajectory carries its pseudonym"
    assert [row[1] for row in usage_after] == [None, None, new, None], "only the new case keeps it"
    assert [(r[0], *r[2:]) for r in usage_after] == [(r[0], *r[2:]) for r in usage_before], "the money stays"
    assert sum(Decimal(row[2]) * row[3] for row in usage_after) == Decimal(2 * 125_000 + 2 * 11_000)
    activity_after = [row[1] for row in after[4:]]
    assert "client_ref" not in activity_after[0] and activity_after[2]["client_ref"] == new
    assert (await export(billing, old, admin(dev_keys)))["usage"] == []
    assert len((await export(billing, new, admin(dev_keys)))["usage"]) == 2


async def test_the_retention_command_says_in_one_line_what_a_dry_run_would_do(billing: ServiceUnderTest) -> None:
    # What `python -m bmw.billing retention --dry-run` prints, run in process (a new interpreter costs seconds).
    settings = BillingSettings(database_url=billing.database_url, kafka_bootstrap_servers=billing.bootstrap)
    line = await retention(settings, dry_run=True)
    assert re.fullmatch(
        r"would drop the person's pseudonym from \d+ usage row\(s\) and \d+ kept event\(s\) "
        r"older than 730 days \(before \d{4}-\d\d-\d\d\); amounts and invoices unchanged",
        line,
    ), line
