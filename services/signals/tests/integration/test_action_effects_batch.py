"""Several actions' effects in one call: what a portal's page of actions costs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bmw.devstack.testing import ServiceUnderTest, bearer
from bmw.signals.domain.weeks import AMSTERDAM

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).astimezone(AMSTERDAM).date()


async def test_one_call_answers_for_every_visible_action_and_leaves_out_the_others(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit, other_unit) = await signals.register_tenant("Inkoop", "Verkoop")
    other, (foreign_unit,) = await signals.register_tenant("Elders")
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    stranger = dev_keys.mint("client_contact", tenant_id=other)

    async def record(token: str, tenant_id: uuid.UUID, unit_id: uuid.UUID, weeks_ago: int) -> str:
        answer = await signals.client.post(
            "/management-actions",
            json={
                "tenant_id": str(tenant_id),
                "org_unit_id": str(unit_id),
                "action_type": "individual_talks_held",
                "occurred_on": str(TODAY - timedelta(weeks=weeks_ago)),
            },
            headers=bearer(token),
        )
        assert answer.status_code == 201, answer.text
        action_id: str = answer.json()["id"]
        return action_id

    mine = [await record(contact, tenant, unit, 6), await record(contact, tenant, other_unit, 3)]
    theirs = await record(stranger, other, foreign_unit, 4)

    params = [("action_id", action) for action in [*mine, theirs, str(uuid.uuid4()), mine[0]]]
    batch = await signals.client.get("/management-actions/effects", params=params, headers=bearer(contact))
    assert batch.status_code == 200, batch.text
    # Mine, each once and in order; another organisation's and an unknown one left out, as 404s would be.
    assert [item["action"]["id"] for item in batch.json()] == mine
    single = await signals.client.get(f"/management-actions/{mine[1]}/effects", headers=bearer(contact))
    assert batch.json()[1] == single.json()

    too_many = [("action_id", str(uuid.uuid4())) for _ in range(51)]
    refused = await signals.client.get("/management-actions/effects", params=too_many, headers=bearer(contact))
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["path"] == "query.action_id"
