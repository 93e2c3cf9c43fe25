"""Disclosure to a referrer: the company doctor receives the closing report only with consent in force."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from bmw.intake.adapters.tables import ACCESS_LOG

pytestmark = pytest.mark.integration


async def test_the_company_doctor_gets_the_closing_report_only_while_the_employee_consents(
    intake: Any, flows: Any
) -> None:
    tenant, unit = await flows.tenant()
    doctor_sub = f"doctor-{uuid.uuid4().hex[:8]}"
    doctor = flows.token("client_contact", tenant=tenant, sub=doctor_sub)
    worker_id, worker = flows.worker()
    created = await flows.refer(tenant, unit, channel="company_doctor", referrer=doctor)
    referral_id, case_id = created["id"], created["case_id"]
    await flows.book(tenant, case_id, worker_id)
    report = flows.text("closing report")
    assert (await intake.client.post(f"/cases/{case_id}/start", headers=worker)).status_code == 200
    written = await intake.client.post(
        f"/cases/{case_id}/dossier", json={"kind": "closing_report", "text": report}, headers=worker
    )
    assert written.status_code == 201, written.text
    path = f"/referrals/{referral_id}/closing-report"

    refused = await intake.client.get(path, headers=doctor)
    assert refused.status_code == 403, "no consent yet"

    hr_only = {"recipient": "hr", "item": "closing_report", "granted": True, "method": "written"}
    assert (
        await intake.client.post(f"/referrals/{referral_id}/consents", json=hr_only, headers=worker)
    ).status_code == 201
    assert (await intake.client.get(path, headers=doctor)).status_code == 403, "consent for HR is not for the doctor"

    grant = {"recipient": "company_doctor", "item": "closing_report", "granted": True, "method": "written"}
    assert (
        await intake.client.post(f"/referrals/{referral_id}/consents", json=grant, headers=worker)
    ).status_code == 201
    disclosed = await intake.client.get(path, headers=doctor)
    assert disclosed.status_code == 200, disclosed.text
    assert disclosed.json()["reports"] == [report]

    colleague = flows.token("client_contact", tenant=tenant)
    assert (await intake.client.get(path, headers=colleague)).status_code == 404, "only the referrer"

    withdraw = {**grant, "granted": False}
    assert (
        await intake.client.post(f"/referrals/{referral_id}/consents", json=withdraw, headers=worker)
    ).status_code == 201
    assert (await intake.client.get(path, headers=doctor)).status_code == 403, "a withdrawal is in force at once"

    async with intake.sessions() as session:
        logged = (
            await session.execute(
                select(ACCESS_LOG.c.action, ACCESS_LOG.c.resource).where(
                    ACCESS_LOG.c.actor == doctor_sub, ACCESS_LOG.c.case_id == uuid.UUID(case_id)
                )
            )
        ).all()
    assert [(row.action, row.resource) for row in logged] == [("disclose", "closing_report")]
