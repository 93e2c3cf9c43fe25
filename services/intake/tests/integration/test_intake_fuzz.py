"""A schemathesis fuzz of intake's OpenAPI: random requests as every role, no 5xx, no undocumented answer.

Part of the valid requests name a real referral, case and person (a consented referral whose case is assigned
to the fuzz's social worker), so real answers are checked against the documented schemas too. See
``bmw.devstack.fuzzing`` for the checks and ``BMW_FUZZ_EXAMPLES`` for a longer run.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from bmw.devstack.fuzzing import every_role, fuzz_openapi
from bmw.devstack.testing import bearer

pytestmark = pytest.mark.integration


async def test_every_intake_operation_answers_random_requests_as_documented(
    intake: SimpleNamespace, flows: Any, dev_keys: Any
) -> None:
    tenant, unit = await flows.tenant()
    worker_id, _ = flows.worker()
    referral = await flows.refer(tenant, unit)
    case_id = referral["case_id"]
    assign = {"worker_id": str(worker_id)}
    assigned = await intake.client.post(f"/cases/{case_id}/assign", json=assign, headers=flows.token("provider_admin"))
    assert assigned.status_code == 200, assigned.text
    known = {
        "tenant_id": [tenant],
        "referral_id": [referral["id"]],
        "case_id": [case_id],
        "client_ref": [(await flows.case(case_id)).client_ref],
    }

    report = await fuzz_openapi(intake.client, every_role(dev_keys, tenant, worker=worker_id), known=known)

    assert not report.failures, report.summary()
    assert set(report.outcomes) == set(report.operations), "every operation was answered"
    assert report.successes("GET /cases/{case_id}", "GET /referrals/{referral_id}", "GET /referrals"), (
        "the fuzz reached real rows"
    )


async def test_a_body_that_is_not_utf8_is_refused_naming_the_body(intake: SimpleNamespace, dev_keys: Any) -> None:
    """Found by the fuzz: FastAPI answered an undecodable body with a bare 400 that no operation documents."""
    headers = {**bearer(dev_keys.mint("provider_admin")), "Content-Type": "application/json"}
    refused = await intake.client.post(
        f"/cases/{uuid.uuid4()}/assign", content=b'{"worker_id": "\xff"}', headers=headers
    )
    assert refused.status_code == 422, refused.text
    assert [field["path"] for field in refused.json()["error"]["fields"]] == ["body"]
