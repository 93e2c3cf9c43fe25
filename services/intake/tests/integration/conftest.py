"""The intake app in process, on the session's real PostgreSQL and broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.devstack.testing import service_under_test
from bmw.intake.adapters.tables import PERSONS, REFERRALS


@pytest.fixture(scope="session")
async def intake(infra: Any, dev_keys: Any) -> AsyncIterator[SimpleNamespace]:
    async with service_under_test("intake", infra, dev_keys, consumer_backoff_seconds=0.05) as service:

        async def stored_referrals(tenant: uuid.UUID) -> tuple[int, int]:
            async with service.sessions() as session:
                referrals = await session.scalar(select(func.count()).where(REFERRALS.c.tenant_id == tenant))
                clients = await session.scalar(select(func.count()).where(PERSONS.c.tenant_id == tenant))
            return int(referrals or 0), int(clients or 0)

        yield SimpleNamespace(
            client=service.client,
            register_tenant=service.register_tenant,
            stored_referrals=stored_referrals,
            bootstrap=service.bootstrap,
        )


def referral_body(org_unit: uuid.UUID, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "org_unit_id": str(org_unit),
        "category": "reorganisation_uncertainty",
        "urgency": "normal",
        "channel": "hr",
        "employee": {"name": "Sanne de Vries", "email": "sanne@example.nl"},
        "employee_consented": True,
    }
    body.update(overrides)
    return body


@pytest.fixture
def body() -> Callable[..., dict[str, object]]:
    return referral_body
