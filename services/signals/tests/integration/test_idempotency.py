"""``Idempotency-Key`` on signals' POST endpoints, through the real PostgreSQL: a retried request gets the first
answer and acts once; the same key with another body (or on another signal or opportunity) is refused.

Signals are written straight into signals' table, as the detector stores them; everything else goes through
the HTTP API.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.sql import Select

from bmw.contracts.taxonomy import SignalKind
from bmw.devstack.testing import ServiceUnderTest, bearer
from bmw.servicekit.app import ServiceRuntime
from bmw.servicekit.idempotency import KEY_RETENTION
from bmw.servicekit.tables import OUTBOX
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.tables import (
    IDEMPOTENCY_KEYS,
    MANAGEMENT_ACTIONS,
    OPPORTUNITIES,
    OPPORTUNITY_NOTES,
    SECONDMENT_OBSERVATIONS,
    SIGNALS,
)
from bmw.signals.bootstrap import service_spec
from bmw.signals.domain.weeks import AMSTERDAM
from bmw.signals.settings import SignalsSettings

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).astimezone(AMSTERDAM).date()
THIS_WEEK = TODAY - timedelta(days=TODAY.weekday())


# -- builders -----------------------------------------------------------------------------------------------


def keyed(token: str, purpose: str) -> dict[str, str]:
    """Headers of a caller with a fresh Idempotency-Key."""
    return {**bearer(token), "Idempotency-Key": f"{purpose}-{uuid.uuid4()}"}


async def count(signals: ServiceUnderTest, query: Select[Any]) -> int:
    async with signals.sessions() as session:
        return int(await session.scalar(query) or 0)


async def pending_signal(signals: ServiceUnderTest, tenant: uuid.UUID, unit: uuid.UUID, kind: SignalKind) -> uuid.UUID:
    """A raised signal waiting for review, as the detector stores it."""
    signal_id = uuid.uuid4()
    async with signals.sessions() as session, session.begin():
        await session.execute(
            insert(SIGNALS).values(
                id=signal_id,
                tenant_id=tenant,
                org_unit_id=unit,
                kind=kind.value,
                raised_week=THIS_WEEK,
                status="open",
                review_status="pending",
                method="negative_binomial_tail",
                observed=9,
                expected=1.2,
                p_value=0.00004,
                score=4.4,
                suppressed=False,
                evidence={
                    "categories": [],
                    "weeks": [THIS_WEEK.isoformat()],
                    "counts": [9],
                    "explanation": "9 referrals in the week where 1.2 were expected.",
                    "summary": f"A {kind.value.replace('_', ' ')} in this unit, very strong.",
                },
            )
        )
    return signal_id


def refused_for_the_key(response: httpx.Response) -> bool:
    """The kit's answer to a key reused with another request: 422 naming the header."""
    return response.status_code == 422 and [f["path"] for f in response.json()["error"]["fields"]] == [
        "header.Idempotency-Key"
    ]


# -- creating -----------------------------------------------------------------------------------------------


async def test_a_repeated_management_action_is_recorded_once_and_answered_alike(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit,) = await signals.register_tenant("Unit")
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    body = {
        "tenant_id": str(tenant),
        "org_unit_id": str(unit),
        "action_type": "reorganisation_announced",
        "occurred_on": str(TODAY),
    }
    headers = keyed(contact, "action")
    first, second = await asyncio.gather(
        signals.client.post("/management-actions", json=body, headers=headers),
        signals.client.post("/management-actions", json=body, headers=headers),
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] == second.json()["id"]
    third = await signals.client.post("/management-actions", json=body, headers=headers)
    assert third.status_code == 201, third.text
    assert third.json() == first.json()
    actions = select(func.count()).where(MANAGEMENT_ACTIONS.c.tenant_id == tenant)
    assert await count(signals, actions) == 1

    different = await signals.client.post(
        "/management-actions", json={**body, "action_type": "individual_talks_held"}, headers=headers
    )
    assert refused_for_the_key(different), different.text
    # The key is the caller's own: another client contact's request with the same key is a request of its own.
    colleague = {
        **bearer(dev_keys.mint("client_contact", tenant_id=tenant)),
        "Idempotency-Key": headers["Idempotency-Key"],
    }
    theirs = await signals.client.post("/management-actions", json=body, headers=colleague)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    # Without a key a repeat is a new action, as before.
    unkeyed = await signals.client.post("/management-actions", json=body, headers=bearer(contact))
    assert unkeyed.status_code == 201, unkeyed.text
    assert await count(signals, actions) == 3


async def test_a_repeated_observation_is_recorded_once_and_answered_alike(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit,) = await signals.register_tenant("Unit")
    worker = dev_keys.mint("social_worker", sub=f"worker-{uuid.uuid4()}")
    body = {
        "tenant_id": str(tenant),
        "org_unit_id": str(unit),
        "bottleneck": "managers_avoid_individual_talks",
        "observed_on": str(TODAY - timedelta(days=2)),
        "severity": 2,
    }
    headers = keyed(worker, "observation")
    first = await signals.client.post("/secondment-observations", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await signals.client.post("/secondment-observations", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    observations = select(func.count()).where(SECONDMENT_OBSERVATIONS.c.tenant_id == tenant)
    assert await count(signals, observations) == 1

    different = await signals.client.post("/secondment-observations", json={**body, "severity": 3}, headers=headers)
    assert refused_for_the_key(different), different.text
    assert await count(signals, observations) == 1


# -- review and the pipeline --------------------------------------------------------------------------------


async def test_a_retried_review_replays_the_first_answer_instead_of_a_conflict(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit,) = await signals.register_tenant("Unit")
    signal_id = await pending_signal(signals, tenant, unit, SignalKind.REORGANISATION_WAVE)
    other_id = await pending_signal(signals, tenant, unit, SignalKind.STRESS_SURGE)
    worker = dev_keys.mint("social_worker", sub=f"worker-{uuid.uuid4()}")
    body = {"decision": "confirmed", "reason": "matches_what_we_see", "note": "Zien we ook."}
    headers = keyed(worker, "review")

    first = await signals.client.post(f"/signals/{signal_id}/review", json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["signal"]["review_status"] == "confirmed"
    assert first.json()["opportunity_id"] is not None
    retried = await signals.client.post(f"/signals/{signal_id}/review", json=body, headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json() == first.json()
    # Without the key the same review is refused: the signal is no longer pending.
    unkeyed = await signals.client.post(f"/signals/{signal_id}/review", json=body, headers=bearer(worker))
    assert unkeyed.status_code == 409, unkeyed.text

    opened = select(func.count()).where(OPPORTUNITIES.c.signal_id == signal_id)
    assert await count(signals, opened) == 1
    reviewed_events = select(func.count()).where(
        OUTBOX.c.tenant_id == tenant, OUTBOX.c.event_type == "signals.signal.reviewed.v1"
    )
    assert await count(signals, reviewed_events) == 1

    dismissal = {"decision": "dismissed", "reason": "data_artefact"}
    different = await signals.client.post(f"/signals/{signal_id}/review", json=dismissal, headers=headers)
    assert refused_for_the_key(different), different.text
    # The same key and body on another signal is another request, not the first signal's answer.
    elsewhere = await signals.client.post(f"/signals/{other_id}/review", json=body, headers=headers)
    assert refused_for_the_key(elsewhere), elsewhere.text
    async with signals.sessions() as session:
        still = await session.scalar(select(SIGNALS.c.review_status).where(SIGNALS.c.id == other_id))
    assert still == "pending"


async def test_a_repeated_stage_move_and_note_act_once(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (unit,) = await signals.register_tenant("Unit")
    signal_id = await pending_signal(signals, tenant, unit, SignalKind.LEADERSHIP_CONFLICT_CLUSTER)
    worker = dev_keys.mint("social_worker")
    reviewed = await signals.client.post(
        f"/signals/{signal_id}/review",
        json={"decision": "confirmed", "reason": "supported_by_observations"},
        headers=bearer(worker),
    )
    assert reviewed.status_code == 200, reviewed.text
    opportunity_id = reviewed.json()["opportunity_id"]
    manager = dev_keys.mint("account_manager", portfolio=[tenant], sub=f"manager-{uuid.uuid4()}")
    notes = select(func.count()).where(OPPORTUNITY_NOTES.c.opportunity_id == uuid.UUID(opportunity_id))

    move = {"stage": "contacted", "note": "HR gebeld"}
    move_headers = keyed(manager, "stage")
    moved = await signals.client.post(f"/opportunities/{opportunity_id}/stage", json=move, headers=move_headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"] == "contacted"
    # Without the key the repeat would be a 409 (contacted → contacted); with it, the first answer.
    replayed = await signals.client.post(f"/opportunities/{opportunity_id}/stage", json=move, headers=move_headers)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == moved.json()
    assert await count(signals, notes) == 1
    moves = select(func.count()).where(
        OUTBOX.c.tenant_id == tenant, OUTBOX.c.event_type == "signals.opportunity.stage_changed.v1"
    )
    assert await count(signals, moves) == 1
    other_move = {"stage": "lost", "loss_reason": "no_budget"}
    refused = await signals.client.post(f"/opportunities/{opportunity_id}/stage", json=other_move, headers=move_headers)
    assert refused_for_the_key(refused), refused.text

    note = {"note": "Start in maart"}
    note_headers = keyed(manager, "note")
    noted = await signals.client.post(f"/opportunities/{opportunity_id}/notes", json=note, headers=note_headers)
    assert noted.status_code == 201, noted.text
    again = await signals.client.post(f"/opportunities/{opportunity_id}/notes", json=note, headers=note_headers)
    assert again.status_code == 201, again.text
    assert again.json() == noted.json()
    assert await count(signals, notes) == 2  # the move's note and this one, once
    other_note = await signals.client.post(
        f"/opportunities/{opportunity_id}/notes", json={"note": "Toch april"}, headers=note_headers
    )
    assert refused_for_the_key(other_note), other_note.text
    assert await count(signals, notes) == 2


# -- retention ----------------------------------------------------------------------------------------------


async def test_housekeeping_forgets_keys_older_than_seven_days(
    signals: ServiceUnderTest, infra: Any, dev_keys: Any
) -> None:
    settings = SignalsSettings(
        database_url=infra.database_url("signals_it"),
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        jwt_public_key=dev_keys.public_pem,
        housekeeping_check_seconds=120,
    )
    [job] = [job for job in service_spec(settings).periodic_jobs if job.name == "housekeeping"]
    assert job.interval_seconds == 120

    subject = f"housekeeping-{uuid.uuid4()}"
    now = datetime.now(UTC)
    ages = {"old": KEY_RETENTION + timedelta(hours=1), "recent": KEY_RETENTION - timedelta(hours=1)}
    async with signals.sessions() as session, session.begin():
        await session.execute(
            insert(IDEMPOTENCY_KEYS),
            [
                {
                    "subject": subject,
                    "key": name,
                    "request_hash": "h",
                    "status_code": 201,
                    "response": {},
                    "created_at": now - age,
                }
                for name, age in ages.items()
            ],
        )
    # The job only uses the runtime's units of work.
    runtime = cast(ServiceRuntime, SimpleNamespace(uow=UnitOfWorkFactory(signals.sessions)))
    forgotten = await job.run(runtime)
    assert isinstance(forgotten, int) and forgotten >= 1
    async with signals.sessions() as session:
        kept = (
            await session.scalars(select(IDEMPOTENCY_KEYS.c.key).where(IDEMPOTENCY_KEYS.c.subject == subject))
        ).all()
    assert kept == ["recent"]


def test_housekeeping_runs_hourly_by_default() -> None:
    defaults = SignalsSettings(database_url="postgresql+asyncpg://unused@/unused")
    assert defaults.housekeeping_check_seconds == 3600
