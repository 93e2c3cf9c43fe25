"""Consent per recipient and item, the expiry of unconsented referrals, and idempotent submissions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.contracts.pseudonyms import login_digest
from bmw.intake.adapters.tables import CASES
from bmw.intake.application.referrals import expire_referrals

pytestmark = pytest.mark.integration


def consent(recipient: str, item: str, granted: bool = True, **extra: Any) -> dict[str, Any]:
    return {"recipient": recipient, "item": item, "granted": granted, **extra}


async def test_a_social_worker_records_consent_only_in_the_organisations_they_serve(
    intake: Any, flows: Any, body: Any
) -> None:
    (served, served_unit), (other, other_unit) = await flows.tenant(), await flows.tenant()
    theirs = await flows.refer(served, served_unit, consented=False)
    foreign = await flows.refer(other, other_unit, consented=False)
    worker = flows.token("social_worker", sub=str(uuid.uuid4()), serves=[served])
    verbal = consent("provider", "referral", method="verbal")

    missing = await intake.client.post(f"/referrals/{uuid.uuid4()}/consents", json=verbal, headers=worker)
    refused = await intake.client.post(f"/referrals/{foreign['id']}/consents", json=verbal, headers=worker)
    assert refused.status_code == missing.status_code == 404, "another organisation's referral looks absent"
    assert (await intake.client.get(f"/referrals/{foreign['id']}", headers=worker)).status_code == 404
    referred = await intake.client.post(
        "/referrals",
        json=body(other_unit, tenant_id=str(other), employee=flows.person()),
        headers=worker,
    )
    assert referred.status_code == 403, referred.text
    given = await intake.client.post(f"/referrals/{theirs['id']}/consents", json=verbal, headers=worker)
    assert given.status_code == 201, given.text
    assert (await intake.client.get(f"/referrals/{foreign['id']}", headers=flows.token("provider_admin"))).json()[
        "status"
    ] == "awaiting_consent", "nothing changed in the other organisation"


async def test_consent_opens_the_case_and_decides_what_the_referrer_learns(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    hr = flows.token("client_contact", tenant=tenant, sub=f"hr-{uuid.uuid4()}")
    created = await flows.refer(tenant, unit, consented=False, channel="hr", referrer=hr)
    assert created["status"] == "awaiting_consent"
    assert created["case_id"] is None
    referral = created["id"]
    async with intake.sessions() as session:
        cases = await session.scalar(select(func.count()).where(CASES.c.referral_id == uuid.UUID(referral)))
    assert cases == 0, "no case before the employee consents"

    worker_id, worker = flows.worker()
    consents = f"/referrals/{referral}/consents"
    given = await intake.client.post(consents, json=consent("provider", "referral", method="verbal"), headers=worker)
    assert given.status_code == 201, given.text
    assert given.json()["recorded_by"] == str(worker_id)
    assert given.json()["method"] == "verbal"

    seen = await intake.client.get(f"/referrals/{referral}", headers=worker)
    assert seen.status_code == 200, seen.text
    case_id = seen.json()["details"]["case_id"]
    assert case_id is not None
    opened = await flows.event(tenant, "intake.case.opened.v1", referral_id=referral)
    assert opened["case_id"] == case_id
    assert opened["client_ref"] == (await flows.case(case_id)).client_ref

    async def attended_for_hr() -> object:
        response = await intake.client.get(f"/referrals/{referral}", headers=hr)
        assert response.status_code == 200, response.text
        assert response.json()["details"] is None, "a referrer never sees the category or the case"
        return response.json()["attended"]

    manager_may_know = await intake.client.post(consents, json=consent("manager", "attendance"), headers=worker)
    assert manager_may_know.status_code == 201, manager_may_know.text
    assert await attended_for_hr() is None

    await flows.book(tenant, case_id, worker_id)
    started = await intake.client.post(f"/cases/{case_id}/start", headers=worker)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "in_progress"
    assert await attended_for_hr() is None, "the manager's consent tells HR nothing"

    hr_may_know = await intake.client.post(consents, json=consent("hr", "attendance"), headers=worker)
    assert hr_may_know.status_code == 201, hr_may_know.text
    assert await attended_for_hr() is True

    withdrawn = await intake.client.post(consents, json=consent("hr", "attendance", False), headers=worker)
    assert withdrawn.status_code == 201, withdrawn.text
    assert await attended_for_hr() is None

    history = await intake.client.get(consents, headers=worker)
    assert history.status_code == 200, history.text
    entries = history.json()["items"]
    assert [(e["recipient"], e["item"], e["granted"]) for e in entries] == [
        ("provider", "referral", True),
        ("manager", "attendance", True),
        ("hr", "attendance", True),
        ("hr", "attendance", False),
    ]
    moments = [datetime.fromisoformat(e["recorded_at"]) for e in entries]
    assert moments == sorted(moments)

    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    lapsed = await intake.client.post(consents, json=consent("hr", "closing_report", valid_until=past), headers=worker)
    assert lapsed.status_code == 422, lapsed.text
    assert "body.valid_until" in [f["path"] for f in lapsed.json()["error"]["fields"]]

    statistics = await intake.client.post(consents, json=consent("manager", "anonymised_statistics"), headers=worker)
    assert statistics.status_code == 422, statistics.text

    for headers in (hr, flows.token("client_contact", tenant=tenant)):
        refused = await intake.client.post(consents, json=consent("hr", "attendance"), headers=headers)
        assert refused.status_code == 404, refused.text
        assert (await intake.client.get(consents, headers=headers)).status_code == 404
    assert len((await intake.client.get(consents, headers=worker)).json()["items"]) == 4, "refusals record nothing"
    paged = await intake.client.get(consents, params={"limit": 3}, headers=worker)
    assert len(paged.json()["items"]) == 3
    rest = await intake.client.get(consents, params={"limit": 3, "cursor": paged.json()["next_cursor"]}, headers=worker)
    assert [(e["recipient"], e["granted"]) for e in rest.json()["items"]] == [("hr", False)]
    assert rest.json()["next_cursor"] is None


async def test_consent_to_the_referral_marks_it_case_opened_and_a_second_one_conflicts(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    created = await flows.refer(tenant, unit, consented=False)
    _, worker = flows.worker()
    consents = f"/referrals/{created['id']}/consents"
    given = await intake.client.post(consents, json=consent("provider", "referral"), headers=worker)
    assert given.status_code == 201, given.text

    seen = await intake.client.get(f"/referrals/{created['id']}", headers=worker)
    assert seen.json()["details"]["case_id"] is not None
    assert seen.json()["status"] == "case_opened"
    again = await intake.client.post(consents, json=consent("provider", "referral"), headers=worker)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["details"]["current_state"] == "case_opened"
    await expire_referrals(intake=intake.use_cases, now=datetime.now(UTC) + timedelta(days=15))
    later = await intake.client.get(f"/referrals/{created['id']}", headers=worker)
    assert later.json()["status"] == "case_opened", "a referral with a case never expires"


async def test_a_referral_without_consent_expires_after_14_days(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    manager = flows.token("client_contact", tenant=tenant)
    created = await flows.refer(tenant, unit, consented=False, channel="manager", referrer=manager)
    assert created["status"] == "awaiting_consent"

    await expire_referrals(intake=intake.use_cases, now=datetime.now(UTC) + timedelta(days=13))
    still = await intake.client.get(f"/referrals/{created['id']}", headers=manager)
    assert still.json()["status"] == "awaiting_consent", "13 days is within the consent window"
    expired = await expire_referrals(intake=intake.use_cases, now=datetime.now(UTC) + timedelta(days=15))
    assert expired >= 1

    seen = await intake.client.get(f"/referrals/{created['id']}", headers=manager)
    assert seen.json()["status"] == "expired"
    data = await flows.event(tenant, "intake.referral.expired.v1", referral_id=created["id"])
    assert data["org_unit_id"] == str(unit)

    _, worker = flows.worker()
    late = await intake.client.post(
        f"/referrals/{created['id']}/consents", json=consent("provider", "referral"), headers=worker
    )
    assert late.status_code == 409, late.text
    assert late.json()["error"]["details"]["current_state"] == "expired"
    async with intake.sessions() as session:
        cases = await session.scalar(select(func.count()).where(CASES.c.referral_id == uuid.UUID(created["id"])))
    assert cases == 0


async def test_the_same_idempotency_key_replays_the_first_answer(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    referrer = flows.token("client_contact", tenant=tenant, sub="hr-idempotent")
    body = {
        "org_unit_id": str(unit),
        "category": "career",
        "urgency": "normal",
        "channel": "hr",
        "employee": flows.person(),
        "employee_consented": True,
    }
    key = {"Idempotency-Key": f"submit-{uuid.uuid4()}"}
    first = await intake.client.post("/referrals", json=body, headers={**referrer, **key})
    second = await intake.client.post("/referrals", json=body, headers={**referrer, **key})
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert second.json() == first.json()
    assert await intake.stored_referrals(tenant) == (1, 1)

    other_body = {**body, "category": "grief"}
    refused = await intake.client.post("/referrals", json=other_body, headers={**referrer, **key})
    assert refused.status_code == 422, refused.text
    assert [f["path"] for f in refused.json()["error"]["fields"]] == ["header.Idempotency-Key"]
    assert await intake.stored_referrals(tenant) == (1, 1)

    colleague = flows.token("client_contact", tenant=tenant, sub="hr-colleague")
    theirs = await intake.client.post("/referrals", json=body, headers={**colleague, **key})
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"], "keys are scoped to their caller"
    assert await intake.stored_referrals(tenant) == (2, 2)

    found = await flows.events(
        tenant,
        until=lambda f: sum(kind == "intake.case.opened.v1" for kind, _ in f) >= 2,
        what="both cases opened",
    )
    received = [data["referral_id"] for kind, data in found if kind == "intake.referral.received.v1"]
    assert sorted(received) == sorted([first.json()["id"], theirs.json()["id"]]), "a replay publishes nothing"


async def test_a_self_referral_tells_scheduling_the_employees_login_digest_and_an_hr_referral_does_not(
    intake: Any, flows: Any
) -> None:
    tenant, unit = await flows.tenant()
    subject = f"employee-{uuid.uuid4()}"
    employee = flows.token("employee", tenant=tenant, sub=subject)
    own = await flows.refer(tenant, unit, channel="self", referrer=employee)
    by_hr = await flows.refer(tenant, unit)
    mine = await flows.event(tenant, "intake.case.opened.v1", referral_id=own["id"])
    theirs = await flows.event(tenant, "intake.case.opened.v1", referral_id=by_hr["id"])
    assert mine["employee_login"] == login_digest(subject), "so the employee can see their own appointments"
    assert subject not in str(mine), "the login itself never travels"
    assert theirs.get("employee_login") is None, "HR's login is not the employee's"
