"""A schemathesis fuzz of scheduling's OpenAPI: random requests as every role, no 5xx, no undocumented answer.

Part of the valid requests name a real social worker (serving the fuzz's client organisation) and one of
their appointments, so real answers (an .ics file too) are checked against the documented schemas. See
``bmw.devstack.fuzzing`` for the checks and ``BMW_FUZZ_EXAMPLES`` for a longer run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bmw.devstack.fuzzing import every_role, fuzz_openapi
from bmw.devstack.testing import ServiceUnderTest, bearer, service_under_test

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")  # stopped after the fuzz: nothing else uses this instance
async def scheduling(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as service:
        yield service


async def test_every_scheduling_operation_answers_random_requests_as_documented(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, worker_id = uuid.uuid4(), uuid.uuid4()
    admin = bearer(dev_keys.mint("provider_admin"))
    worker = bearer(dev_keys.mint("social_worker", sub=str(worker_id)))
    body = {"id": str(worker_id), "name": "Fuzz Werker", "tenant_ids": [str(tenant)]}
    created = await scheduling.client.post("/workers", json=body, headers=admin)
    assert created.status_code == 201, created.text
    start = datetime.now(UTC) + timedelta(days=2)
    window = {"from": start.isoformat(), "to": (start + timedelta(days=10)).isoformat(), "kind": "consult"}
    slots = await scheduling.client.get(f"/workers/{worker_id}/free-slots", params=window, headers=worker)
    assert slots.status_code == 200, slots.text
    booking = {"worker_id": str(worker_id), "tenant_id": str(tenant), "kind": "consult"}
    booked = await scheduling.client.post(
        "/appointments", json={**booking, "start": slots.json()["slots"][0]}, headers=worker
    )
    assert booked.status_code == 201, booked.text
    known = {
        "tenant_id": [tenant],
        "worker_id": [worker_id],
        "appointment_id": [booked.json()["id"]],
        # A period the listings accept (their bounds cannot be said in the schema): as times, then as days.
        "from": [start.isoformat(), start.date().isoformat()],
        "to": [(start + timedelta(days=7)).isoformat(), (start + timedelta(days=7)).date().isoformat()],
    }

    report = await fuzz_openapi(scheduling.client, every_role(dev_keys, tenant, worker=worker_id), known=known)

    assert not report.failures, report.summary()
    assert set(report.outcomes) == set(report.operations), "every operation was answered"
    assert report.successes("GET /workers/{worker_id}", "GET /appointments/{appointment_id}"), (
        "the fuzz reached real rows"
    )


async def test_a_backwards_time_off_period_names_the_query_parameter(
    scheduling: ServiceUnderTest, dev_keys: Any
) -> None:
    """Found by the fuzz: the refusal of a listing's period named ``body.end``, which a GET does not have."""
    start = datetime.now(UTC)
    period = {"from": start.isoformat(), "to": (start - timedelta(hours=1)).isoformat()}
    admin = bearer(dev_keys.mint("provider_admin"))
    refused = await scheduling.client.get(f"/workers/{uuid.uuid4()}/time-off", params=period, headers=admin)
    assert refused.status_code == 422
    assert [field["path"] for field in refused.json()["error"]["fields"]] == ["query.to"]


async def test_a_worker_id_registered_twice_is_a_conflict(scheduling: ServiceUnderTest, dev_keys: Any) -> None:
    """Found by the fuzz: the second registration of an id was a 500 (the insert fails before the commit)."""
    admin = bearer(dev_keys.mint("provider_admin"))
    body = {"id": str(uuid.uuid4()), "name": "Dubbel"}
    assert (await scheduling.client.post("/workers", json=body, headers=admin)).status_code == 201
    again = await scheduling.client.post("/workers", json=body, headers=admin)
    assert again.status_code == 409, again.text
    assert [field["path"] for field in again.json()["error"]["fields"]] == ["body.id"]
