"""Scheduling's staff records and pending intakes against the real database and broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened
from bmw.contracts.taxonomy import Category, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, service_under_test
from bmw.scheduling.adapters.tables import PENDING_INTAKES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
async def scheduling(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as service:
        yield service


async def test_provider_admins_add_social_workers_and_others_cannot(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    admin = dev_keys.mint("provider_admin")
    tenant = uuid.uuid4()
    body = {
        "name": "Fatima El Amrani",
        "specialisms": ["burnout", "burnout"],
        "languages": ["nl", "ar"],
        "tenant_ids": [str(tenant)],
    }
    created = await scheduling.client.post("/workers", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    assert created.json()["specialisms"] == ["burnout"]
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    assert (await scheduling.client.post("/workers", json=body, headers=bearer(contact))).status_code == 403
    bad = await scheduling.client.post("/workers", json=body | {"languages": ["Dutch"]}, headers=bearer(admin))
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["path"] == "body.languages.0"
    listing = (await scheduling.client.get("/workers", headers=bearer(admin))).json()
    assert created.json()["id"] in [w["id"] for w in listing]


async def test_an_opened_case_waits_for_its_intake_once(scheduling: ServiceUnderTest) -> None:
    tenant = uuid.uuid4()
    opened = CaseOpened(
        case_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        client_ref="c_test",
        org_unit_id=uuid.uuid4(),
        category=Category.BURNOUT_RISK,
        urgency=Urgency.URGENT,
        sla_deadline=datetime.now(UTC) + timedelta(days=3),
        needed_specialism="burnout",
    )
    event = CloudEvent.create(opened, tenant_id=tenant)
    await scheduling.publish([event, event])

    async def waiting() -> bool:
        async with scheduling.sessions() as session:
            rows = (await session.execute(select(PENDING_INTAKES).where(PENDING_INTAKES.c.tenant_id == tenant))).all()
        return len(rows) == 1 and rows[0].needed_specialism == "burnout"

    await eventually(waiting, what="one pending intake")
