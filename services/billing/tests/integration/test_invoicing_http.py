"""Billing runs, issuing, gapless numbers, credit notes and e-invoices, end to end through the API: usage
arrives as scheduling's events on the real broker and leaves as a UBL invoice that validates."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bmw.billing.adapters.invoice_tables import INVOICES
from bmw.billing.adapters.tables import USAGE
from bmw.billing.application.invoicing import issue_due_drafts
from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened
from bmw.contracts.events.scheduling import AppointmentCompleted, AppointmentNoShow
from bmw.contracts.taxonomy import AppointmentKind, Category, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, metric_value, read_topic, service_under_test
from bmw.servicekit.uow import UnitOfWorkFactory

pytestmark = pytest.mark.integration

PERIOD = "2026-10"
IN_PERIOD = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as running:
        yield running


def admin(dev_keys: Any) -> dict[str, str]:
    return bearer(dev_keys.mint("provider_admin"))


async def client_organisation(billing: ServiceUnderTest, dev_keys: Any, name: str = "Acme Zorg B.V.") -> str:
    kvk = f"{uuid.uuid4().int % 10**8:08d}"
    body = {
        "name": name,
        "kvk_number": kvk,
        "invoice_email": "crediteuren@acme.example.nl",
        "payment_terms_days": 30,
        "addresses": {
            "invoice": {"street": "Stationsplein", "house_number": "1", "postal_code": "3511ED", "city": "Utrecht"}
        },
        "org_units": [{"name": "Logistiek"}],
    }
    created = await billing.client.post("/client-organisations", json=body, headers=admin(dev_keys))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def contract(
    billing: ServiceUnderTest, dev_keys: Any, tenant: str, *products: dict[str, Any], **extra: Any
) -> str:
    body = {
        "tenant_id": tenant,
        "products": list(products),
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "buyer_reference": "PO-BMW-2026",
        **extra,
    }
    created = await billing.client.post("/contracts", json=body, headers=admin(dev_keys))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


HOURS = {
    "code": "UREN",
    "kind": "hour_bundle",
    "unit_price_cents": 11_000,
    "vat_rate": "exempt",
    "vat_exemption_reason": "Vrijgesteld van btw (art. 11 lid 1 Wet OB)",
    "included_quantity": "40",
    "overage_unit_price_cents": 12_500,
}
NO_SHOW = {"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 9_500, "vat_rate": "21"}


async def completed_appointments(billing: ServiceUnderTest, tenant: str, minutes: list[int]) -> list[CloudEvent]:
    events = [
        CloudEvent.create(
            AppointmentCompleted(
                appointment_id=uuid.uuid4(),
                kind=AppointmentKind.CONSULT,
                worker_id=uuid.uuid4(),
                start=IN_PERIOD + timedelta(days=n),
                duration_minutes=length,
            ),
            tenant_id=uuid.UUID(tenant),
        )
        for n, length in enumerate(minutes)
    ]
    await billing.publish(events)
    return events


async def metered(billing: ServiceUnderTest, tenant: str, count: int) -> None:
    async def arrived() -> bool:
        async with billing.sessions() as session:
            found = await session.scalar(select(func.count()).where(USAGE.c.tenant_id == uuid.UUID(tenant)))
        return found == count

    await eventually(arrived, what=f"{count} usage rows")


async def run(
    billing: ServiceUnderTest, dev_keys: Any, tenant: str | None = None, period: str = PERIOD
) -> dict[str, Any]:
    body = {"period": period, **({"tenant_id": tenant} if tenant else {})}
    response = await billing.client.post("/billing-runs", json=body, headers=admin(dev_keys))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_completed_appointments_and_a_no_show_become_a_draft_then_a_valid_issued_e_invoice(
    billing: ServiceUnderTest, dev_keys: Any, validate_einvoice: Callable[[bytes], list[str]]
) -> None:
    tenant = await client_organisation(billing, dev_keys)
    await contract(billing, dev_keys, tenant, HOURS, NO_SHOW)
    events = await completed_appointments(billing, tenant, [60, 45, 90])
    no_show = AppointmentNoShow(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.CONSULT,
        worker_id=uuid.uuid4(),
        start=IN_PERIOD,
        duration_minutes=45,
    )
    await billing.publish([CloudEvent.create(no_show, tenant_id=uuid.UUID(tenant)), events[0], events[0]])  # a repeat
    await metered(billing, tenant, 4)

    made = await run(billing, dev_keys, tenant)
    assert len(made["drafts"]) == 1 and made["skipped"] == []
    draft_id = made["drafts"][0]
    draft = (await billing.client.get(f"/invoices/{draft_id}", headers=admin(dev_keys))).json()
    assert draft["status"] == "draft" and draft["number"] is None
    hours = next(line for line in draft["lines"] if line["product_code"] == "UREN")
    assert hours["quantity"] == "3.25" and hours["unit_code"] == "HUR" and hours["vat_category"] == "E"
    assert draft["net_cents"] == 3_5750 + 9_500  # 3.25 h x 110.00 + one no-show fee
    assert draft["vat_cents"] == 1_995  # 21 % of the no-show fee only
    assert draft["buyer_reference"] == "PO-BMW-2026"
    contact = bearer(dev_keys.mint("client_contact", tenant_id=uuid.UUID(tenant)))
    assert (await billing.client.get(f"/invoices/{draft_id}", headers=contact)).status_code == 404, "drafts stay ours"
    not_yet = await billing.client.get(f"/invoices/{draft_id}/ubl.xml", headers=admin(dev_keys))
    assert not_yet.status_code == 409
    concept = await billing.client.get(f"/invoices/{draft_id}/invoice.html", headers=admin(dev_keys))
    assert concept.status_code == 200 and "CONCEPT" in concept.text

    again = await run(billing, dev_keys, tenant)
    assert again["drafts"] == [] and "already has a draft invoice" in again["skipped"][0]["reason"]

    issued = await billing.client.post(f"/invoices/{draft_id}/issue", headers=admin(dev_keys))
    assert issued.status_code == 200, issued.text
    number = issued.json()["number"]
    assert re.fullmatch(r"\d{4}-\d{6}", number)
    twice = await billing.client.post(f"/invoices/{draft_id}/issue", headers=admin(dev_keys))
    assert twice.status_code == 409
    xml = await billing.client.get(f"/invoices/{draft_id}/ubl.xml", headers=contact)
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert validate_einvoice(xml.content) == []
    html = await billing.client.get(f"/invoices/{draft_id}/invoice.html", headers=contact)
    assert number in html.text and "CONCEPT" not in html.text
    listed = (await billing.client.get("/invoices", params={"tenant_id": tenant}, headers=contact)).json()
    assert [i["number"] for i in listed] == [number]

    async def announced() -> bool:
        records = await read_topic(
            billing.bootstrap,
            "bmw.billing.events",
            match=lambda h: h.get("ce_type") == "billing.invoice.issued.v1" and h.get("ce_subject") == draft_id,
            idle_ms=300,
        )
        return len(records) == 1 and json.loads(records[0][1])["gross_cents"] == 3_5750 + 9_500 + 1_995

    await eventually(announced, what="one invoice.issued event with the totals")


async def test_an_issued_invoice_never_changes_and_a_credit_note_nets_it_to_zero(
    billing: ServiceUnderTest, dev_keys: Any, validate_einvoice: Callable[[bytes], list[str]]
) -> None:
    tenant = await client_organisation(billing, dev_keys, "Gemeente Voorbeeld")
    await contract(billing, dev_keys, tenant, HOURS)
    await completed_appointments(billing, tenant, [60, 60])
    await metered(billing, tenant, 2)
    (draft_id,) = (await run(billing, dev_keys, tenant))["drafts"]
    original = (await billing.client.post(f"/invoices/{draft_id}/issue", headers=admin(dev_keys))).json()
    async with billing.sessions() as session:
        with pytest.raises(Exception, match="is final"):
            async with session.begin():
                await session.execute(
                    update(INVOICES)
                    .where(INVOICES.c.id == uuid.UUID(draft_id))
                    .values(net_cents=1, gross_cents=1, vat_cents=0)
                )
    contact = bearer(dev_keys.mint("client_contact", tenant_id=uuid.UUID(tenant)))
    refused = await billing.client.post(f"/invoices/{draft_id}/credit-note", json={}, headers=contact)
    assert refused.status_code == 403
    note = await billing.client.post(
        f"/invoices/{draft_id}/credit-note", json={"release_usage": True}, headers=admin(dev_keys)
    )
    assert note.status_code == 201, note.text
    credit = note.json()
    assert credit["kind"] == "credit_note" and credit["corrects_invoice_id"] == draft_id
    assert credit["gross_cents"] + original["gross_cents"] == 0 and credit["net_cents"] + original["net_cents"] == 0
    xml = await billing.client.get(f"/invoices/{credit['id']}/ubl.xml", headers=admin(dev_keys))
    assert b"<CreditNote" in xml.content and validate_einvoice(xml.content) == []
    second = await billing.client.post(f"/invoices/{draft_id}/credit-note", json={}, headers=admin(dev_keys))
    assert second.status_code == 409
    async with billing.sessions() as session:
        reopened = await session.scalar(
            select(func.count()).where(USAGE.c.tenant_id == uuid.UUID(tenant), USAGE.c.status == "open")
        )
    assert reopened == 2, "the usage is open again for the next run"


async def test_concurrent_issuing_gives_gapless_unique_numbers(billing: ServiceUnderTest, dev_keys: Any) -> None:
    tenants = [await client_organisation(billing, dev_keys, f"Klant {n}") for n in range(8)]
    for tenant in tenants:
        await contract(billing, dev_keys, tenant, HOURS)
        await completed_appointments(billing, tenant, [45])
    for tenant in tenants:
        await metered(billing, tenant, 1)
    runs = await asyncio.gather(*(run(billing, dev_keys, tenant, "2026-Q4") for tenant in tenants))
    drafts = [draft for made in runs for draft in made["drafts"]]
    assert len(drafts) == 8
    issued = await asyncio.gather(
        *(billing.client.post(f"/invoices/{draft}/issue", headers=admin(dev_keys)) for draft in drafts)
    )
    assert all(r.status_code == 200 for r in issued), [r.text for r in issued if r.status_code != 200]
    numbers = sorted(int(r.json()["number"].split("-")[1]) for r in issued)
    assert len(set(numbers)) == 8
    async with billing.sessions() as session:
        every = sorted(
            int(n.split("-")[1])
            for n in await session.scalars(
                select(INVOICES.c.number).where(INVOICES.c.number.like(f"{datetime.now(UTC).year}-%"))
            )
        )
    assert every == list(range(1, len(every) + 1)), "no number skipped or used twice, whatever ran before"


async def test_two_concurrent_runs_of_one_period_make_one_draft(billing: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = await client_organisation(billing, dev_keys, "Tweemaal B.V.")
    await contract(billing, dev_keys, tenant, HOURS)
    await completed_appointments(billing, tenant, [30])
    await metered(billing, tenant, 1)
    first, second = await asyncio.gather(
        run(billing, dev_keys, tenant, "2026-11"), run(billing, dev_keys, tenant, "2026-11")
    )
    assert len(first["drafts"]) + len(second["drafts"]) == 1
    async with billing.sessions() as session:
        count = await session.scalar(select(func.count()).where(INVOICES.c.tenant_id == uuid.UUID(tenant)))
    assert count == 1


def run_count(text: str, scope: str) -> float:
    """How many billing runs of ``scope`` the metrics have timed."""
    return metric_value(text, "bmw_billing_run_duration_seconds_count", scope=scope) or 0.0


async def test_the_metrics_time_each_billing_run(billing: ServiceUnderTest, dev_keys: Any) -> None:
    before = run_count((await billing.client.get("/metrics")).text, "one")
    tenant = await client_organisation(billing, dev_keys, "Gemeten B.V.")
    await run(billing, dev_keys, tenant, "2026-10")
    scraped = await billing.client.get("/metrics")
    assert scraped.status_code == 200
    assert run_count(scraped.text, "one") == before + 1
    assert 'bmw_http_requests_total{method="POST",route="/billing-runs",status="201"}' in scraped.text
    assert tenant not in scraped.text, "no organisation in a label"


async def test_bad_periods_and_outsiders_are_refused(billing: ServiceUnderTest, dev_keys: Any) -> None:
    bad = await billing.client.post("/billing-runs", json={"period": "2026-13"}, headers=admin(dev_keys))
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "body.period"
    worker = bearer(dev_keys.mint("social_worker"))
    assert (await billing.client.post("/billing-runs", json={"period": PERIOD}, headers=worker)).status_code == 403
    stranger = bearer(dev_keys.mint("client_contact", tenant_id=uuid.uuid4()))
    assert (await billing.client.get(f"/invoices/{uuid.uuid4()}", headers=stranger)).status_code == 404
    assert (await billing.client.get("/invoices", headers=stranger)).status_code == 422


async def test_drafts_are_issued_automatically_after_the_grace_period(billing: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = await client_organisation(billing, dev_keys, "Automatisch B.V.")
    await contract(billing, dev_keys, tenant, HOURS)
    await completed_appointments(billing, tenant, [60])
    await metered(billing, tenant, 1)
    (draft_id,) = (await run(billing, dev_keys, tenant, "2026-12"))["drafts"]
    uow = UnitOfWorkFactory(billing.sessions)
    grace = SimpleNamespace(auto_issue_after_hours=72)
    assert await issue_due_drafts(uow, grace, now=datetime.now(UTC) + timedelta(hours=1)) == 0  # type: ignore[arg-type]
    assert await issue_due_drafts(uow, grace, now=datetime.now(UTC) + timedelta(hours=73)) >= 1  # type: ignore[arg-type]
    issued = (await billing.client.get(f"/invoices/{draft_id}", headers=admin(dev_keys))).json()
    assert issued["status"] == "issued" and issued["number"] is not None


async def test_a_usage_statement_counts_people_only_from_k_upward(billing: ServiceUnderTest, dev_keys: Any) -> None:
    trajectory = {"code": "TRAJECT", "kind": "trajectory_fixed_price", "unit_price_cents": 125_000, "vat_rate": "21"}
    counts = {}
    for people in (5, 4):
        tenant = await client_organisation(billing, dev_keys, f"Statement {people} B.V.")
        await contract(billing, dev_keys, tenant, trajectory)
        opened = [
            CloudEvent.create(
                CaseOpened(
                    case_id=uuid.uuid4(),
                    referral_id=uuid.uuid4(),
                    client_ref=f"c_{uuid.uuid4().hex[:12]}",
                    org_unit_id=uuid.uuid4(),
                    category=Category.WORKLOAD_STRESS,
                    urgency=Urgency.NORMAL,
                    sla_deadline=IN_PERIOD + timedelta(days=5),
                ),
                tenant_id=uuid.UUID(tenant),
                time=IN_PERIOD,
            )
            for _ in range(people)
        ]
        await billing.publish(opened)
        await metered(billing, tenant, people)
        (draft_id,) = (await run(billing, dev_keys, tenant))["drafts"]
        await billing.client.post(f"/invoices/{draft_id}/issue", headers=admin(dev_keys))
        contact = bearer(dev_keys.mint("client_contact", tenant_id=uuid.UUID(tenant)))
        statement = await billing.client.get(f"/invoices/{draft_id}/usage-statement", headers=contact)
        assert statement.status_code == 200, statement.text
        (line,) = statement.json()["lines"]
        assert line["quantity"] == f"{people}.00"
        counts[people] = (line["people"], line["suppressed"])
        invoice = (await billing.client.get(f"/invoices/{draft_id}", headers=contact)).json()
        assert all("c_" not in line["description"] for line in invoice["lines"]), "no client pseudonym on an invoice"
    assert counts == {5: (5, False), 4: (None, True)}


async def test_a_quarterly_subscription_is_billed_with_its_quarter_and_never_twice(
    billing: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = await client_organisation(billing, dev_keys, "Kwartaal B.V.")
    subscription = {
        "code": "ABO",
        "kind": "subscription_per_employee_year",
        "unit_price_cents": 2_850,
        "vat_rate": "21",
    }
    await contract(billing, dev_keys, tenant, subscription, employees=100, invoicing_period="quarter")
    november = await run(billing, dev_keys, tenant, "2026-11")
    assert november["drafts"] == [] and "nothing to bill" in november["skipped"][0]["reason"]
    (december,) = (await run(billing, dev_keys, tenant, "2026-12"))["drafts"]
    draft = (await billing.client.get(f"/invoices/{december}", headers=admin(dev_keys))).json()
    (line,) = draft["lines"]
    assert (line["quantity"], line["unit_code"], draft["net_cents"]) == ("300.00", "MON", 71_250), "3 months exactly"
    quarter = await run(billing, dev_keys, tenant, "2026-Q4")
    assert quarter["drafts"] == [] and "overlaps the invoice" in quarter["skipped"][0]["reason"]
