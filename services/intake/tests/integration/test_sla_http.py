"""The SLA deadline that travels in intake.case.opened.v1, in a week with Dutch public holidays."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.devstack.testing import read_topic
from bmw.intake.application.referrals import EmployeeContact, SubmitReferral, submit_referral
from bmw.servicekit.auth import TokenVerifier

pytestmark = pytest.mark.integration

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("received", "urgency", "deadline"),
    [
        # Wednesday 23 December 2026; Christmas (Fri 25) and the weekend do not count, nor Boxing Day (Sat 26):
        # 5 working days are Thu 24, Mon 28, Tue 29, Wed 30, Thu 31 December.
        (
            datetime(2026, 12, 23, 10, 0, tzinfo=AMSTERDAM),
            Urgency.NORMAL,
            datetime(2026, 12, 31, 17, 0, tzinfo=AMSTERDAM),
        ),
        # Thursday 31 December 2026, urgent: New Year's Day (Fri 1 January) does not count: Mon 4, Tue 5, Wed 6.
        (datetime(2026, 12, 31, 9, 0, tzinfo=AMSTERDAM), Urgency.URGENT, datetime(2027, 1, 6, 17, 0, tzinfo=AMSTERDAM)),
        # Wednesday 13 May 2026, urgent: Ascension Day (Thu 14 May) does not count: Fri 15, Mon 18, Tue 19.
        (
            datetime(2026, 5, 13, 16, 0, tzinfo=AMSTERDAM),
            Urgency.URGENT,
            datetime(2026, 5, 19, 17, 0, tzinfo=AMSTERDAM),
        ),
    ],
)
async def test_the_published_sla_deadline_skips_weekends_and_public_holidays(
    intake: Any, dev_keys: Any, received: datetime, urgency: Urgency, deadline: datetime
) -> None:
    tenant, (unit,) = await intake.register_tenant("Logistiek")
    pinned = dataclasses.replace(intake.use_cases, clock=lambda: received)
    verifier = TokenVerifier(dev_keys.public_pem, issuer="bmw-dev", audience="bmw")
    principal = verifier.verify(dev_keys.mint("client_contact", tenant_id=tenant))
    response = await submit_referral(
        SubmitReferral(
            tenant_id=tenant,
            org_unit_id=unit,
            category=Category.WORKLOAD_STRESS,
            urgency=urgency,
            channel=Channel.HR,
            employee=EmployeeContact(name="Eva Kok", email="eva.kok@example.nl", phone=None),
            employee_consented=True,
            language="nl",
        ),
        principal=principal,
        intake=pinned,
        idempotency=None,
        render=lambda referral: {"id": str(referral.id)},
    )
    records: list[tuple[dict[str, str], bytes]] = []
    while not records:
        records = await read_topic(
            intake.bootstrap,
            "bmw.intake.events",
            match=lambda h: h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == "intake.case.opened.v1",
            idle_ms=500,
        )
    opened = json.loads(records[0][1])
    assert opened["referral_id"] == response["id"]
    assert datetime.fromisoformat(opened["sla_deadline"]) == deadline
