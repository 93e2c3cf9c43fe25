"""Intake's referral API against the real PostgreSQL and broker."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bmw.devstack.testing import bearer, read_topic
from bmw.intake.adapters.repository import IntakeRepository
from bmw.intake.adapters.tables import CASES, CONSENTS, PERSONS, REFERRALS
from bmw.servicekit.db import session_factory
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import WHOLE_SERVICE, TenantScope, scoped

pytestmark = pytest.mark.integration


async def test_a_consented_referral_opens_a_case_and_publishes_both_events_without_personal_data(
    intake: Any, dev_keys: Any, body: Any
) -> None:
    tenant, (unit,) = await intake.register_tenant("Logistiek")
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    response = await intake.client.post("/referrals", json=body(unit), headers=bearer(token))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "case_opened"
    assert created["case_id"] is not None
    assert created["tenant_id"] == str(tenant)

    records = await read_topic(
        intake.bootstrap, "bmw.intake.events", match=lambda h: h.get("ce_tenantid") == str(tenant), idle_ms=500
    )
    while len(records) < 3:  # the relay publishes right after the commit
        records = await read_topic(
            intake.bootstrap, "bmw.intake.events", match=lambda h: h.get("ce_tenantid") == str(tenant), idle_ms=500
        )
    types = [headers["ce_type"] for headers, _ in records]
    assert types == ["intake.referral.received.v1", "intake.consent.changed.v1", "intake.case.opened.v1"]
    for headers, value in records:
        assert headers["ce_source"] == "/bmw/intake"
        assert headers["ce_specversion"] == "1.0"
        text = value.decode()
        assert "Sanne" not in text and "sanne@example.nl" not in text, "no personal data on the wire"
    consent = json.loads(records[1][1])
    assert consent["purpose"] == "provider:referral" and consent["granted"] is True
    opened = json.loads(records[2][1])
    assert opened["case_id"] == created["case_id"]
    stored = await intake.client.get(f"/referrals/{created['id']}", headers=bearer(dev_keys.mint("provider_admin")))
    assert stored.json()["status"] == "case_opened", "the stored referral, not only the answer, has its case"
    assert stored.json()["details"]["case_id"] == created["case_id"]
    assert opened["client_ref"].startswith("c_")


async def test_a_referral_without_consent_waits_and_opens_no_case(intake: Any, dev_keys: Any, body: Any) -> None:
    tenant, (unit,) = await intake.register_tenant("Planning")
    token = dev_keys.mint("client_contact", tenant_id=tenant)
    response = await intake.client.post(
        "/referrals", json=body(unit, channel="manager", employee_consented=False), headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "awaiting_consent"
    assert response.json()["case_id"] is None


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"category": "feeling_blue"}, "body.category"),
        ({"org_unit_id": None}, "body.org_unit_id"),
        ({"urgency": 3}, "body.urgency"),
        ({"employee_consented": "maybe"}, "body.employee_consented"),
        ({"employee": {"name": "X"}}, "body.employee"),
        ({"employee": {"name": "X", "email": "not-an-address"}}, "body.employee.email"),
        ({"surprise": "field"}, "body.surprise"),
    ],
)
async def test_malformed_referrals_get_422_naming_the_field_and_store_nothing(
    intake: Any, dev_keys: Any, body: Any, change: dict[str, object], path: str
) -> None:
    tenant, (unit,) = await intake.register_tenant("Finance")
    payload = body(unit, **change)
    if change.get("org_unit_id", "") is None:
        del payload["org_unit_id"]
    response = await intake.client.post(
        "/referrals", json=payload, headers=bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert path in [field["path"] for field in error["fields"]]
    assert await intake.stored_referrals(tenant) == (0, 0)


async def test_an_org_unit_of_another_client_organisation_is_refused(intake: Any, dev_keys: Any, body: Any) -> None:
    tenant_a, _ = await intake.register_tenant("HR")
    _, (unit_of_b,) = await intake.register_tenant("HR")
    response = await intake.client.post(
        "/referrals", json=body(unit_of_b), headers=bearer(dev_keys.mint("client_contact", tenant_id=tenant_a))
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"] == "body.org_unit_id"
    assert await intake.stored_referrals(tenant_a) == (0, 0)


async def test_a_token_of_tenant_a_cannot_submit_for_tenant_b(intake: Any, dev_keys: Any, body: Any) -> None:
    tenant_a, _ = await intake.register_tenant("ICT")
    tenant_b, (unit_b,) = await intake.register_tenant("ICT")
    response = await intake.client.post(
        "/referrals",
        json=body(unit_b, tenant_id=str(tenant_b)),
        headers=bearer(dev_keys.mint("client_contact", tenant_id=tenant_a)),
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert await intake.stored_referrals(tenant_b) == (0, 0)


async def test_an_employee_may_only_refer_themselves(intake: Any, dev_keys: Any, body: Any) -> None:
    tenant, (unit,) = await intake.register_tenant("Facilitair")
    employee = dev_keys.mint("employee", tenant_id=tenant)
    refused = await intake.client.post("/referrals", json=body(unit, channel="hr"), headers=bearer(employee))
    assert refused.status_code == 403
    accepted = await intake.client.post(
        "/referrals", json=body(unit, channel="self", employee_consented=False), headers=bearer(employee)
    )
    assert accepted.status_code == 201
    assert accepted.json()["status"] == "case_opened", "a self-referral is the employee's own consent"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"],
)
async def test_requests_without_a_valid_token_get_401_and_store_nothing(
    intake: Any, body: Any, header: str | None
) -> None:
    tenant, (unit,) = await intake.register_tenant("Sociaal Domein")
    headers = {"Authorization": header} if header else {}
    response = await intake.client.post("/referrals", json=body(unit, tenant_id=str(tenant)), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert await intake.stored_referrals(tenant) == (0, 0)


async def test_an_expired_or_foreign_token_is_refused(intake: Any, dev_keys: Any, body: Any) -> None:
    from datetime import UTC, datetime, timedelta

    import jwt

    from bmw.devstack.pytest_plugin import make_dev_keys

    tenant, (unit,) = await intake.register_tenant("Burgerzaken")
    past = datetime.now(UTC) - timedelta(hours=2)
    claims = {"iss": "bmw-dev", "aud": "bmw", "sub": "x", "iat": past, "exp": past + timedelta(minutes=30)}
    expired = jwt.encode(
        {**claims, "roles": ["client_contact"], "tenant_id": str(tenant)}, dev_keys.private_pem, algorithm="RS256"
    )
    foreign = make_dev_keys().mint("client_contact", tenant_id=tenant)
    wrong_audience = dev_keys.mint("client_contact", tenant_id=tenant, audience="someone-else")
    for token in (expired, foreign, wrong_audience):
        response = await intake.client.post("/referrals", json=body(unit), headers=bearer(token))
        assert response.status_code == 401, token
    assert await intake.stored_referrals(tenant) == (0, 0)


async def test_referrers_read_their_own_referral_and_no_one_elses(intake: Any, dev_keys: Any, body: Any) -> None:
    tenant, (unit,) = await intake.register_tenant("Inkoop")
    other_tenant, _ = await intake.register_tenant("Inkoop")
    author = dev_keys.mint("client_contact", tenant_id=tenant, sub="hr-officer-1")
    created = (await intake.client.post("/referrals", json=body(unit), headers=bearer(author))).json()
    path = f"/referrals/{created['id']}"
    assert (await intake.client.get(path, headers=bearer(author))).status_code == 200
    colleague = dev_keys.mint("client_contact", tenant_id=tenant, sub="hr-officer-2")
    stranger = dev_keys.mint("client_contact", tenant_id=other_tenant)
    missing = await intake.client.get(f"/referrals/{uuid.uuid4()}", headers=bearer(author))
    for token in (colleague, stranger):
        response = await intake.client.get(path, headers=bearer(token))
        assert response.status_code == 404
        assert response.json()["error"]["message"] == missing.json()["error"]["message"]


async def test_an_integration_refers_only_with_its_scope_and_only_through_its_channel(
    intake: Any, dev_keys: Any, body: Any
) -> None:
    tenant, (unit,) = await intake.register_tenant("Personeelszaken")
    scoped = dev_keys.mint("integration", tenant_id=tenant, scopes=["referrals:write"])
    unscoped = dev_keys.mint("integration", tenant_id=tenant, scopes=["invoices:read"])
    payload = body(unit, channel="integration")
    refused = await intake.client.post("/referrals", json=payload, headers=bearer(unscoped))
    assert refused.status_code == 403
    assert "referrals:write" in refused.json()["error"]["message"]
    assert await intake.stored_referrals(tenant) == (0, 0)
    wrong_channel = await intake.client.post("/referrals", json=body(unit, channel="hr"), headers=bearer(scoped))
    assert wrong_channel.status_code == 403
    accepted = await intake.client.post("/referrals", json=payload, headers=bearer(scoped))
    assert accepted.status_code == 201, accepted.text
    listing = await intake.client.get("/referrals", headers=bearer(scoped))
    assert listing.status_code == 403, "reading needs referrals:read"


async def test_a_token_that_is_both_employee_and_client_contact_never_gets_details_with_the_organisations_list(
    intake: Any, dev_keys: Any, body: Any
) -> None:
    tenant, (unit,) = await intake.register_tenant("Inkoop")
    subject = str(uuid.uuid4())
    own = dev_keys.mint("employee", tenant_id=tenant, sub=subject)
    mine = await intake.client.post(
        "/referrals", json=body(unit, channel="self", employee_consented=False), headers=bearer(own)
    )
    assert mine.status_code == 201, mine.text
    colleague = await intake.client.post(
        "/referrals",
        json=body(unit, employee={"name": "Bram Jansen", "email": "bram@example.nl"}, category="conflict_colleagues"),
        headers=bearer(dev_keys.mint("client_contact", tenant_id=tenant)),
    )
    assert colleague.status_code == 201, colleague.text

    now = int(time.time())
    mixed = jwt.encode(
        {
            "iss": dev_keys.issuer,
            "aud": dev_keys.audience,
            "sub": subject,
            "exp": now + 300,
            "roles": ["employee", "client_contact"],
            "tenant_id": str(tenant),
        },
        dev_keys.private_pem,
        algorithm="RS256",
    )
    listed = await intake.client.get("/referrals", headers=bearer(mixed))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert {item["id"] for item in items} == {mine.json()["id"], colleague.json()["id"]}
    assert all(item["details"] is None for item in items), "the organisation's list is status only"

    alone = await intake.client.get("/referrals", headers=bearer(own))
    assert [(item["id"], item["details"]["category"]) for item in alone.json()["items"]] == [
        (mine.json()["id"], "reorganisation_uncertainty")
    ]


# -- tenant walls: row-level security holds where the application's filter is forgotten ------------------------


async def test_the_wall_holds_when_the_referral_list_forgets_its_tenant_filter(
    intake: Any, dev_keys: Any, body: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, (my_unit,) = await intake.register_tenant("Magazijn")
    theirs, (their_unit,) = await intake.register_tenant("Magazijn")
    contact = dev_keys.mint("client_contact", tenant_id=mine)
    for tenant, unit in ((mine, my_unit), (theirs, their_unit)):
        sent = await intake.client.post(
            "/referrals", json=body(unit), headers=bearer(dev_keys.mint("client_contact", tenant_id=tenant))
        )
        assert sent.status_code == 201, sent.text

    async def forgetful(self: IntakeRepository, *, limit: int, **_: Any) -> list[tuple[Any, Any]]:
        rows = (await self.session.execute(select(REFERRALS).limit(limit))).all()  # no WHERE tenant_id = ...
        return [(self._referral(row), None) for row in rows]

    monkeypatch.setattr(IntakeRepository, "referrals_page", forgetful)
    listed = await intake.client.get("/referrals", params={"limit": 100}, headers=bearer(contact))
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"], "the organisation's own referral is listed"
    assert {item["tenant_id"] for item in listed.json()["items"]} == {str(mine)}


async def test_people_cases_and_dossiers_of_another_organisation_are_invisible_inside_a_scope(
    intake: Any, dev_keys: Any, body: Any
) -> None:
    mine, (my_unit,) = await intake.register_tenant("Kantoor")
    theirs, (their_unit,) = await intake.register_tenant("Kantoor")
    for tenant, unit in ((mine, my_unit), (theirs, their_unit)):
        sent = await intake.client.post(
            "/referrals", json=body(unit), headers=bearer(dev_keys.mint("client_contact", tenant_id=tenant))
        )
        assert sent.status_code == 201, sent.text
    engine = create_async_engine(intake.database_url)  # as the service connects: held by FORCE ROW LEVEL SECURITY
    uow = UnitOfWorkFactory(session_factory(engine))
    try:
        with scoped(TenantScope(tenant_ids=frozenset({mine}))):
            async with uow() as work:
                people = set((await work.session.scalars(select(PERSONS.c.tenant_id))).all())
                cases = set((await work.session.scalars(select(CASES.c.tenant_id))).all())
                consents = (await work.session.execute(select(CONSENTS.c.person_id))).all()
                owners = set(
                    (
                        await work.session.scalars(
                            select(PERSONS.c.tenant_id).where(PERSONS.c.id.in_([row.person_id for row in consents]))
                        )
                    ).all()
                )
        assert people == {mine} and cases == {mine}
        assert owners <= {mine}, "a consent is visible only with its person"
        with scoped(WHOLE_SERVICE):
            async with uow() as work:
                assert {mine, theirs} <= set((await work.session.scalars(select(CASES.c.tenant_id))).all())
    finally:
        await engine.dispose()
