"""History an integration brings when a client organisation moves to this product: referrals with their
original date, counted in statistics, with no case, no consent and no person."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bmw.devstack.testing import bearer
from bmw.intake.adapters.tables import REFERRALS
from bmw.intake.application.referrals import expire_referrals
from bmw.intake.domain.referrals import HISTORY_WINDOW

pytestmark = pytest.mark.integration

RECEIVED = "intake.referral.received.v1"


def history(unit: uuid.UUID, at: datetime, **overrides: object) -> dict[str, object]:
    """A referral as an HR system pushes it from its history (without employee details)."""
    body: dict[str, object] = {
        "org_unit_id": str(unit),
        "category": "reorganisation_uncertainty",
        "urgency": "normal",
        "channel": "integration",
        "original_received_at": at.isoformat(),
    }
    body.update(overrides)
    return body


def integration(dev_keys: Any, tenant: uuid.UUID) -> dict[str, str]:
    """The HR system of ``tenant`` (one subject per tenant, so it reads back what it pushed)."""
    token = dev_keys.mint(
        "integration", sub=f"hr-system-{tenant}", tenant_id=tenant, scopes=["referrals:write", "referrals:read"]
    )
    return bearer(token)


def field_errors(response: Any) -> dict[str, str]:
    return {field["path"]: field["message"] for field in response.json()["error"]["fields"]}


async def test_an_integration_brings_a_referral_of_two_years_ago_as_history_without_a_case_or_person(
    intake: Any, flows: Any, dev_keys: Any
) -> None:
    tenant, unit = await flows.tenant()
    original = (datetime.now(UTC) - timedelta(days=730)).replace(microsecond=0)
    person = flows.person()
    headers = {**integration(dev_keys, tenant), "Idempotency-Key": f"history-{uuid.uuid4()}"}

    response = await intake.client.post("/referrals", json=history(unit, original, employee=person), headers=headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "historical"
    assert created["case_id"] is None
    assert datetime.fromisoformat(created["received_at"]) == original

    again = await intake.client.post("/referrals", json=history(unit, original, employee=person), headers=headers)
    assert again.status_code == 201 and again.json()["id"] == created["id"], "a repeat with its key is replayed"

    received = await flows.event(tenant, RECEIVED, referral_id=created["id"])
    assert datetime.fromisoformat(received["received_at"]) == original, "counted in the week it happened"
    assert received["historical"] is True
    assert received["channel"] == "integration" and received["category"] == "reorganisation_uncertainty"
    types = [kind for kind, _ in await flows.events(tenant)]
    assert types == [RECEIVED], "no consent asked, no case opened, and one event for the replayed repeat"

    read = await intake.client.get(f"/referrals/{created['id']}", headers=headers)
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "historical"
    assert datetime.fromisoformat(read.json()["received_at"]) == original

    assert await intake.stored_referrals(tenant) == (1, 0), "one referral, and no person behind it"
    async with intake.sessions() as session:
        row = (await session.execute(select(REFERRALS).where(REFERRALS.c.id == uuid.UUID(created["id"])))).one()
    assert row.person_id is None and row.status == "historical"
    dump = await flows.all_rows_as_text()
    for secret in person.values():
        assert flows.found_in(dump, secret) == [], f"{secret!r} was sent with history and must not be kept"


async def test_a_history_referral_does_not_expire_like_one_waiting_for_consent(
    intake: Any, flows: Any, dev_keys: Any
) -> None:
    tenant, unit = await flows.tenant()
    original = datetime.now(UTC) - timedelta(days=100)
    response = await intake.client.post(
        "/referrals", json=history(unit, original), headers=integration(dev_keys, tenant)
    )
    assert response.status_code == 201, response.text
    await expire_referrals(intake=intake.use_cases)
    read = await intake.client.get(f"/referrals/{response.json()['id']}", headers=integration(dev_keys, tenant))
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "historical", "it never waited for consent, so it cannot expire"


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(days=1), False),  # tomorrow
        (timedelta(minutes=-1), True),  # a minute ago
        (-HISTORY_WINDOW + timedelta(hours=1), True),  # just inside three years
        (-HISTORY_WINDOW - timedelta(hours=1), False),  # just outside
        (-timedelta(days=4 * 365), False),  # four years ago
    ],
)
async def test_an_original_date_lies_at_most_three_years_back_and_not_in_the_future(
    intake: Any, flows: Any, dev_keys: Any, offset: timedelta, accepted: bool
) -> None:
    tenant, unit = await flows.tenant()
    response = await intake.client.post(
        "/referrals", json=history(unit, datetime.now(UTC) + offset), headers=integration(dev_keys, tenant)
    )
    if accepted:
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "historical"
        assert await intake.stored_referrals(tenant) == (1, 0)
    else:
        assert response.status_code == 422, response.text
        assert "body.original_received_at" in field_errors(response)
        assert await intake.stored_referrals(tenant) == (0, 0)


@pytest.mark.parametrize("role", ["client_contact", "provider_admin"])
async def test_only_an_integration_may_send_an_original_date(intake: Any, flows: Any, dev_keys: Any, role: str) -> None:
    tenant, unit = await flows.tenant()
    body = history(
        unit,
        datetime.now(UTC) - timedelta(days=30),
        channel="hr",
        employee=flows.person(),
        employee_consented=True,
        tenant_id=str(tenant),
    )
    headers = bearer(dev_keys.mint(role, tenant_id=tenant if role == "client_contact" else None))
    response = await intake.client.post("/referrals", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert field_errors(response) == {"body.original_received_at": "only an integration may send an original date"}
    assert await intake.stored_referrals(tenant) == (0, 0)
    assert [kind for kind, _ in await flows.events(tenant)] == [], "refused: nothing announced"


async def test_only_history_may_leave_out_the_employee(intake: Any, flows: Any, dev_keys: Any) -> None:
    tenant, unit = await flows.tenant()
    now_body = history(unit, datetime.now(UTC))
    del now_body["original_received_at"]
    refused = await intake.client.post("/referrals", json=now_body, headers=integration(dev_keys, tenant))
    assert refused.status_code == 422, refused.text
    assert "body.employee" in field_errors(refused)
    assert await intake.stored_referrals(tenant) == (0, 0)
    channel = await intake.client.post(
        "/referrals",
        json=history(unit, datetime.now(UTC) - timedelta(days=9), channel="hr"),
        headers=integration(dev_keys, tenant),
    )
    assert channel.status_code == 403, "an integration refers through the integration channel, history or not"
    assert await intake.stored_referrals(tenant) == (0, 0)
