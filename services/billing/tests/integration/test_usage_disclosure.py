"""What a client contact learns about people from billing: usage statements and contract usage (DESIGN §2 rule 2).

A client organisation with per-case trajectories and no-show fees: in the month before last three people each
start a trajectory and one person misses an appointment; last month five people start six trajectories (one of
them two) and two people miss one each. The invoices must show what is billed (three trajectories, one no-show);
nothing else the client can ask may say more about people than they do:

- a usage statement counts people per line only from k up, hides the rest, and gives no total over lines or
  invoices to subtract a shown line from (a person can be behind several lines, so lines do not add up either);
  a credit note's statement is its invoice's, nothing new to subtract;
- contract usage gives a client organisation whole calendar months only: a day or a week of no-show fees is the
  count of people who missed an appointment on dates the employer can put names to, and two windows a day apart
  would give one day. Whole months give exactly the invoices' quantities.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.billing.adapters.tables import USAGE
from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened
from bmw.contracts.events.scheduling import AppointmentNoShow
from bmw.contracts.taxonomy import AppointmentKind, Category, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, service_under_test

pytestmark = pytest.mark.integration

K = 5
_LAST = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)
LAST_MONTH = _LAST.replace(day=1)
MONTH_BEFORE = (LAST_MONTH - timedelta(days=1)).replace(day=1)
TRAJECTORY = {"code": "TRAJ", "kind": "trajectory_fixed_price", "unit_price_cents": 125_000, "vat_rate": "21"}
NO_SHOW = {"code": "NOSHOW", "kind": "no_show_fee", "unit_price_cents": 5_000, "vat_rate": "21"}


@pytest.fixture(scope="module")
async def billing(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("billing", infra, dev_keys) as running:
        yield running


def at(month: date, day: int) -> datetime:
    return datetime(month.year, month.month, day, 10, tzinfo=UTC)


def case_opened(tenant: uuid.UUID, client_ref: str, when: datetime) -> CloudEvent:
    data = CaseOpened(
        case_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        client_ref=client_ref,
        org_unit_id=uuid.uuid4(),
        category=Category.CONFLICT_MANAGER,
        urgency=Urgency.NORMAL,
        sla_deadline=when + timedelta(days=5),
    )
    return CloudEvent.create(data, tenant_id=tenant, time=when)


def no_show(tenant: uuid.UUID, when: datetime) -> CloudEvent:
    data = AppointmentNoShow(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.CONSULT,
        case_id=uuid.uuid4(),
        worker_id=uuid.uuid4(),
        start=when,
        duration_minutes=45,
    )
    return CloudEvent.create(data, tenant_id=tenant, time=when)


async def issued_invoice(billing: ServiceUnderTest, admin: dict[str, str], tenant: uuid.UUID, month: date) -> str:
    run = await billing.client.post(
        "/billing-runs", json={"period": month.strftime("%Y-%m"), "tenant_id": str(tenant)}, headers=admin
    )
    assert run.status_code == 201 and len(run.json()["drafts"]) == 1, run.text
    (draft,) = run.json()["drafts"]
    issued = await billing.client.post(f"/invoices/{draft}/issue", headers=admin)
    assert issued.status_code == 200, issued.text
    return str(draft)


@pytest.fixture(scope="module")
async def organisation(billing: ServiceUnderTest, dev_keys: Any) -> dict[str, Any]:
    admin = bearer(dev_keys.mint("provider_admin"))
    profile = {
        "name": "Klein B.V.",
        "kvk_number": f"{uuid.uuid4().int % 10**8:08d}",
        "invoice_email": "crediteuren@klein.example.nl",
        "addresses": {
            "invoice": {"street": "Stationsplein", "house_number": "1", "postal_code": "3511ED", "city": "Utrecht"}
        },
    }
    created = await billing.client.post("/client-organisations", json=profile, headers=admin)
    assert created.status_code == 201, created.text
    tenant = uuid.UUID(created.json()["id"])
    period_end = MONTH_BEFORE.replace(year=MONTH_BEFORE.year + 1) - timedelta(days=1)
    body = {
        "tenant_id": str(tenant),
        "products": [TRAJECTORY, NO_SHOW],
        "period_start": MONTH_BEFORE.isoformat(),
        "period_end": period_end.isoformat(),
    }
    contract = await billing.client.post("/contracts", json=body, headers=admin)
    assert contract.status_code == 201, contract.text
    events = [case_opened(tenant, f"c_{uuid.uuid4().hex[:12]}", at(MONTH_BEFORE, 10)) for _ in range(3)]
    events.append(no_show(tenant, at(MONTH_BEFORE, 12)))
    twice = f"c_{uuid.uuid4().hex[:12]}"
    events += [
        case_opened(tenant, ref, at(LAST_MONTH, 8))
        for ref in [twice] + [f"c_{n}{uuid.uuid4().hex[:10]}" for n in range(4)]
    ]
    events.append(case_opened(tenant, twice, at(LAST_MONTH, 20)))
    events += [no_show(tenant, at(LAST_MONTH, 3)), no_show(tenant, at(LAST_MONTH, 17))]
    await billing.publish(events)

    async def metered() -> bool:
        async with billing.sessions() as session:
            found = await session.scalar(select(func.count()).where(USAGE.c.tenant_id == tenant))
        return found == len(events)

    await eventually(metered, what=f"{len(events)} usage rows")
    return {
        "tenant": tenant,
        "contract": contract.json()["id"],
        "invoices": {
            month: await issued_invoice(billing, admin, tenant, month) for month in (MONTH_BEFORE, LAST_MONTH)
        },
        "contact": bearer(dev_keys.mint("client_contact", tenant_id=tenant)),
        "admin": admin,
    }


def quantities(lines: list[dict[str, Any]]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for line in lines:
        found[line["product_code"]] = found.get(line["product_code"], Decimal(0)) + Decimal(line["quantity"])
    return found


async def test_a_statement_counts_people_only_from_k_and_gives_no_total_to_subtract(
    billing: ServiceUnderTest, organisation: dict[str, Any]
) -> None:
    contact, admin = organisation["contact"], organisation["admin"]
    people: dict[date, dict[str, int | None]] = {}
    for month, invoice_id in organisation["invoices"].items():
        answer = await billing.client.get(f"/invoices/{invoice_id}/usage-statement", headers=contact)
        assert answer.status_code == 200, answer.text
        statement = answer.json()
        # Per line only: no number about people beside the lines' own (a total minus a shown line is a hidden one).
        assert set(statement) == {"invoice_id", "k_anonymity", "lines"}
        assert statement["k_anonymity"] == K
        for line in statement["lines"]:
            assert set(line) == {"product_code", "description", "quantity", "people", "suppressed"}
            assert line["people"] is None or line["people"] >= K, line
            assert line["suppressed"] is (line["people"] is None)
        people[month] = {line["product_code"]: line["people"] for line in statement["lines"]}
        # The statement's quantities are the invoice's: it tells the client nothing its invoice does not.
        invoice = (await billing.client.get(f"/invoices/{invoice_id}", headers=contact)).json()
        assert quantities(statement["lines"]) == quantities(invoice["lines"])
    # Three people (three trajectories): hidden. Five people in six trajectories: shown. No-shows name no one.
    assert people[MONTH_BEFORE] == {"TRAJ": None, "NOSHOW": None}
    assert people[LAST_MONTH] == {"TRAJ": 5, "NOSHOW": None}

    # A credit note's statement is its invoice's: nothing to subtract the one from the other.
    original = organisation["invoices"][LAST_MONTH]
    credit = await billing.client.post(f"/invoices/{original}/credit-note", json={}, headers=admin)
    assert credit.status_code == 201, credit.text
    statements = [
        (await billing.client.get(f"/invoices/{invoice}/usage-statement", headers=contact)).json()
        for invoice in (original, credit.json()["id"])
    ]
    assert statements[0]["lines"] == statements[1]["lines"]


async def test_a_client_asks_usage_per_whole_month_and_learns_only_its_invoices_quantities(
    billing: ServiceUnderTest, organisation: dict[str, Any]
) -> None:
    contact, admin = organisation["contact"], organisation["admin"]
    path = f"/contracts/{organisation['contract']}/usage"

    async def usage(headers: dict[str, str], first: date | None = None, last: date | None = None) -> Any:
        params = {key: str(value) for key, value in (("from", first), ("to", last)) if value is not None}
        return await billing.client.get(path, params=params, headers=headers)

    def used(answer: Any) -> dict[str, Decimal]:
        return {p["code"]: Decimal(p["quantity"]) + Decimal(p["overage_quantity"]) for p in answer.json()["products"]}

    # The day of the one no-show, a week around it, and a month shifted by a day: each a count of people who can be
    # named (and two of them a day apart, one day). Refused, naming the bound that is not a month's.
    end_before = LAST_MONTH - timedelta(days=1)
    refused = {
        (MONTH_BEFORE + timedelta(days=11), MONTH_BEFORE + timedelta(days=11)): {"query.from", "query.to"},
        (MONTH_BEFORE + timedelta(days=8), MONTH_BEFORE + timedelta(days=14)): {"query.from", "query.to"},
        (MONTH_BEFORE + timedelta(days=1), end_before): {"query.from"},
        (MONTH_BEFORE, end_before - timedelta(days=1)): {"query.to"},
        (MONTH_BEFORE, None): set(),  # from alone: up to the contract's last day, a month's end in this contract
    }
    for (first, last), paths in refused.items():
        answer = await usage(contact, first, last)
        if not paths:
            assert answer.status_code == 200, answer.text
            continue
        assert answer.status_code == 422, (first, last, answer.text)
        assert {field["path"] for field in answer.json()["error"]["fields"]} == paths

    # Whole months: exactly what the invoices bill, month by month and together.
    invoiced = {}
    for month, invoice_id in organisation["invoices"].items():
        invoiced[month] = quantities(
            (await billing.client.get(f"/invoices/{invoice_id}", headers=contact)).json()["lines"]
        )
    month_end = {MONTH_BEFORE: end_before, LAST_MONTH: _LAST}
    for month, last in month_end.items():
        answer = await usage(contact, month, last)
        assert answer.status_code == 200, answer.text
        assert used(answer) == invoiced[month]
    both = await usage(contact, MONTH_BEFORE, _LAST)
    assert used(both) == {
        code: invoiced[MONTH_BEFORE][code] + invoiced[LAST_MONTH][code] for code in ("TRAJ", "NOSHOW")
    }
    assert used(await usage(contact)) == used(both), "the whole contract period: the same months"

    # Provider staff ask any window: the day of the no-show holds one.
    day = MONTH_BEFORE + timedelta(days=11)
    staff = await usage(admin, day, day)
    assert staff.status_code == 200, staff.text
    assert used(staff) == {"TRAJ": Decimal(0), "NOSHOW": Decimal(1)}
