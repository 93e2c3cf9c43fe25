"""A schemathesis fuzz of signals' OpenAPI: random requests as every role, no 5xx, no undocumented answer.

Part of the valid requests name a real client organisation, one of its management actions and a period the
trends accept, so real answers are checked against the documented schemas too. See ``bmw.devstack.fuzzing``
for the checks and ``BMW_FUZZ_EXAMPLES`` for a longer run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bmw.devstack.fuzzing import every_role, fuzz_openapi
from bmw.devstack.testing import ServiceUnderTest, bearer

pytestmark = pytest.mark.integration


async def test_every_signals_operation_answers_random_requests_as_documented(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit,) = await signals.register_tenant("Operations")
    today = datetime.now(UTC).date()
    action = {
        "tenant_id": str(tenant),
        "org_unit_id": str(unit),
        "action_type": "reorganisation_announced",
        "occurred_on": today.isoformat(),
    }
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    created = await signals.client.post("/management-actions", json=action, headers=contact)
    assert created.status_code == 201, created.text
    known = {
        "tenant_id": [tenant],
        "action_id": [created.json()["id"]],
        # A period the trends accept (its bounds cannot be said in the schema).
        "from": [(today - timedelta(weeks=26)).isoformat()],
        "to": [today.isoformat()],
    }

    report = await fuzz_openapi(signals.client, every_role(dev_keys, tenant), known=known)

    assert not report.failures, report.summary()
    assert set(report.outcomes) == set(report.operations), "every operation was answered"
    assert report.successes("GET /accounts/{tenant_id}", "GET /management-actions/{action_id}/effects"), (
        "the fuzz reached real rows"
    )
