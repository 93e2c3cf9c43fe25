"""Signals' authorisation matrix (``authorisation.matrix`` beside this file), run against the real service:
every role × every operation × its own organisation and another one. An operation without a row fails.

The world: two client organisations, A (the callers' own; the account manager's portfolio) and B, each known
from billing's event with one org unit, and each holding a person counted under a pseudonym (intake's referral and
case events), a management action (recorded by its client contact) and a secondment observation (by a social
worker), a signal confirmed by a social worker (with the opportunity that opened) and a signal still awaiting
review. Signals are stored as the detector stores them (as ``test_review_opportunities.py`` does): raising one
through the detectors would take weeks of counts. A command that can succeed only once (a review, a stage move) is
sent twice by the first allowed role and then answers 409, which the matrix counts as "allowed".
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened, ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, SignalKind, Urgency
from bmw.devstack.authz import Builder, Call, Matrix, Outcome, Requests, Side, matrix_tokens, uncovered, unmatched
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually
from bmw.signals.adapters.tables import REFERRAL_CONTRIBUTIONS, SIGNALS
from bmw.signals.domain.weeks import AMSTERDAM

pytestmark = pytest.mark.integration

MATRIX = Matrix.load(Path(__file__).with_name("authorisation.matrix"))
TODAY = datetime.now(UTC).astimezone(AMSTERDAM).date()
THIS_WEEK = TODAY - timedelta(days=TODAY.weekday())
#: A complete week in the past, for history and management actions.
EARLIER_WEEK = THIS_WEEK - timedelta(weeks=10)
UNIT_NAME = "Logistiek"


@dataclasses.dataclass
class Organisation:
    """What one client organisation holds in signals, by id."""

    tenant: str
    unit: str
    #: Confirmed by a social worker: visible to the organisation's client callers.
    signal: str
    #: Awaiting a social worker's review.
    pending: str
    opportunity: str
    action: str
    client_ref: str


@dataclasses.dataclass
class World:
    own: Organisation
    other: Organisation
    #: An intervention of the catalogue as it stands, for a PUT that changes nothing.
    intervention: Mapping[str, Any]

    def of(self, side: Side) -> Organisation:
        if side is Side.ABSENT:
            made_up = Organisation(*(str(uuid.uuid4()) for _ in range(7)))
            return dataclasses.replace(made_up, client_ref="c_" + secrets.token_urlsafe(16))
        return self.own if side is Side.OWN else self.other


REQUESTS: Requests[World] = Requests()


async def _stored_signal(signals: ServiceUnderTest, tenant: uuid.UUID, unit: uuid.UUID, kind: SignalKind) -> str:
    """A raised, pending signal as the detector stores it: counts in the explanation, none in the summary."""
    signal_id = uuid.uuid4()
    evidence = {
        "categories": ["workload_stress"],
        "weeks": [THIS_WEEK.isoformat()],
        "counts": [9],
        "observed": 9,
        "expected": 1.2,
        "method": "negative_binomial_tail",
        "p_value": 0.00004,
        "score": 4.4,
        "threshold": 0.002,
        "min_count": 3,
        "baseline": {"weekly_rate": 0.4, "period_weeks": 52},
        "context": [],
        "observations": [],
        "explanation": "9 referrals in the week where 1.2 were expected: p = 4e-05 ≤ 0.002.",
        "summary": f"A {kind.value.replace('_', ' ')} in this unit, very strong.",
    }
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
                evidence=evidence,
            )
        )
    return str(signal_id)


async def _counted_person(signals: ServiceUnderTest, tenant: uuid.UUID, unit: uuid.UUID) -> str:
    """A person of the organisation as signals learns of them: intake's referral and case events, pseudonymous."""
    client_ref = "c_" + secrets.token_urlsafe(16)
    received = datetime.now(UTC)
    referral = ReferralReceived(
        referral_id=uuid.uuid4(),
        channel=Channel.SELF,
        org_unit_id=unit,
        category=Category.WORKLOAD_STRESS,
        urgency=Urgency.NORMAL,
        received_at=received,
    )
    opened = CaseOpened(
        case_id=uuid.uuid4(),
        referral_id=referral.referral_id,
        client_ref=client_ref,
        org_unit_id=unit,
        category=Category.WORKLOAD_STRESS,
        urgency=Urgency.NORMAL,
        sla_deadline=received + timedelta(days=5),
    )
    await signals.publish([CloudEvent.create(event, tenant_id=tenant) for event in (referral, opened)])

    async def linked() -> bool:
        async with signals.sessions() as session:
            found = await session.scalar(
                select(REFERRAL_CONTRIBUTIONS.c.client_ref).where(REFERRAL_CONTRIBUTIONS.c.client_ref == client_ref)
            )
        return found is not None

    await eventually(linked, what="signals to count the person's referral under their pseudonym")
    return client_ref


async def _organisation(signals: ServiceUnderTest, dev_keys: Any) -> Organisation:
    tenant, (unit,) = await signals.register_tenant(UNIT_NAME)
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    worker = bearer(dev_keys.mint("social_worker"))
    action = await signals.client.post(
        "/management-actions",
        json={
            "tenant_id": str(tenant),
            "org_unit_id": str(unit),
            "action_type": "reorganisation_announced",
            "occurred_on": EARLIER_WEEK.isoformat(),
        },
        headers=contact,
    )
    assert action.status_code == 201, action.text
    observed = await signals.client.post("/secondment-observations", json=_observation(tenant, unit), headers=worker)
    assert observed.status_code == 201, observed.text
    signal = await _stored_signal(signals, tenant, unit, SignalKind.REORGANISATION_WAVE)
    confirmed = await signals.client.post(
        f"/signals/{signal}/review", json={"decision": "confirmed", "reason": "matches_what_we_see"}, headers=worker
    )
    assert confirmed.status_code == 200, confirmed.text
    opportunity = confirmed.json()["opportunity_id"]
    assert opportunity is not None
    pending = await _stored_signal(signals, tenant, unit, SignalKind.STRESS_SURGE)
    client_ref = await _counted_person(signals, tenant, unit)
    return Organisation(str(tenant), str(unit), signal, pending, opportunity, action.json()["id"], client_ref)


def _observation(tenant: uuid.UUID | str, unit: uuid.UUID | str) -> dict[str, Any]:
    return {
        "tenant_id": str(tenant),
        "org_unit_id": str(unit),
        "bottleneck": "workload_after_staff_cuts",
        "observed_on": (TODAY - timedelta(days=3)).isoformat(),
        "severity": 2,
    }


@pytest.fixture(scope="module")
async def world(signals: ServiceUnderTest, dev_keys: Any) -> World:
    catalogue = await signals.client.get("/interventions", headers=bearer(dev_keys.mint("provider_admin")))
    assert catalogue.status_code == 200, catalogue.text
    first = catalogue.json()[0]
    own, other = await asyncio.gather(_organisation(signals, dev_keys), _organisation(signals, dev_keys))
    return World(own, other, first)


@pytest.fixture(scope="module")
def tokens(world: World, dev_keys: Any) -> dict[str, str | None]:
    # Signals defines no integration scopes: an integration reads what its organisation's client contact reads.
    return matrix_tokens(dev_keys.mint, uuid.UUID(world.own.tenant))


# -- the requests, one per operation ---------------------------------------------------------------------------

REQUESTS.simple("GET /healthz", "/healthz", tenanted=False)
REQUESTS.simple("GET /readyz", "/readyz", tenanted=False)
REQUESTS.simple("GET /accounts", "/accounts", tenanted=False)
REQUESTS.simple("GET /interventions", "/interventions", tenanted=False)
REQUESTS.simple("GET /history-imports/template.csv", "/history-imports/template.csv", tenanted=False)
REQUESTS.simple("GET /accounts/{tenant_id}", lambda w, s: f"/accounts/{w.of(s).tenant}")
REQUESTS.simple("GET /signals/{signal_id}", lambda w, s: f"/signals/{w.of(s).signal}")
REQUESTS.simple("GET /opportunities/{opportunity_id}", lambda w, s: f"/opportunities/{w.of(s).opportunity}")
REQUESTS.simple(
    "GET /management-actions/{action_id}/effects", lambda w, s: f"/management-actions/{w.of(s).action}/effects"
)
REQUESTS.simple("GET /persons/{client_ref}/export", lambda w, s: f"/persons/{w.of(s).client_ref}/export")


def _of_tenant(path: str) -> Builder[World]:
    """A read of one organisation named by the ``tenant_id`` query parameter."""

    async def build(world: World, side: Side, role: str) -> Call:
        return Call(path, params={"tenant_id": world.of(side).tenant})

    return build


for _path in (
    "/signals",
    "/false-alarms",
    "/history-imports",
    "/management-actions",
    "/opportunities",
    "/opportunities/statistics",
    "/secondment-observations",
):
    REQUESTS.op(f"GET {_path}")(_of_tenant(_path))


@REQUESTS.op("GET /trends")
async def _trends(world: World, side: Side, role: str) -> Call:
    period = {"from": (THIS_WEEK - timedelta(weeks=12)).isoformat(), "to": TODAY.isoformat()}
    return Call("/trends", params={"tenant_id": world.of(side).tenant, **period})


@REQUESTS.op("POST /detection-runs")
async def _detect(world: World, side: Side, role: str) -> Call:
    return Call("/detection-runs", params={"tenant_id": world.of(side).tenant})


@REQUESTS.op("POST /history-imports")
async def _import_history(world: World, side: Side, role: str) -> Call:
    # The same small file each time: a repeat changes nothing and answers the earlier import.
    week = EARLIER_WEEK.isocalendar()
    rows = [{"week": f"{week.year}-W{week.week:02d}", "org_unit": UNIT_NAME, "category": "career", "count": 2}]
    return Call("/history-imports", params={"tenant_id": world.of(side).tenant}, json=rows)


@REQUESTS.op("PUT /interventions/{code}", tenanted=False)
async def _put_intervention(world: World, side: Side, role: str) -> Call:
    # The intervention as it is: a replacement that changes nothing for the other tests of the session.
    current = dict(world.intervention)
    code = current.pop("code")
    current.pop("updated_at", None)
    return Call(f"/interventions/{code}", json=current)


@REQUESTS.op("GET /management-action-effects", tenanted=False)
async def _action_type_effects(world: World, side: Side, role: str) -> Call:
    return Call("/management-action-effects", params={"action_type": "reorganisation_announced"})


@REQUESTS.op("POST /management-actions")
async def _record_action(world: World, side: Side, role: str) -> Call:
    found = world.of(side)
    body = {
        "tenant_id": found.tenant,
        "org_unit_id": found.unit,
        "action_type": "individual_talks_held",
        "occurred_on": TODAY.isoformat(),
    }
    return Call("/management-actions", json=body)


@REQUESTS.op("GET /management-actions/effects")
async def _many_action_effects(world: World, side: Side, role: str) -> Call:
    return Call("/management-actions/effects", params={"action_id": world.of(side).action})


def _left_out_is_hidden(response: httpx.Response) -> Outcome:
    """The batch read leaves out an action the caller may not see, where a single read answers 404: an empty
    answer to a request for one action is that 404, and counts as hidden."""
    if response.status_code == 200 and response.json() == []:
        return Outcome.HIDDEN
    return Outcome.of(response.status_code)


#: Operations whose answer is not told by the status alone.
CLASSIFY = {"GET /management-actions/effects": _left_out_is_hidden}


@REQUESTS.op("POST /secondment-observations")
async def _observe(world: World, side: Side, role: str) -> Call:
    found = world.of(side)
    return Call("/secondment-observations", json=_observation(found.tenant, found.unit))


@REQUESTS.op("POST /signals/{signal_id}/review")
async def _review(world: World, side: Side, role: str) -> Call:
    body = {"decision": "dismissed", "reason": "too_small_to_act_on"}
    return Call(f"/signals/{world.of(side).pending}/review", json=body)


@REQUESTS.op("POST /opportunities/{opportunity_id}/stage")
async def _move(world: World, side: Side, role: str) -> Call:
    return Call(f"/opportunities/{world.of(side).opportunity}/stage", json={"stage": "contacted"})


@REQUESTS.op("POST /opportunities/{opportunity_id}/notes")
async def _note(world: World, side: Side, role: str) -> Call:
    return Call(f"/opportunities/{world.of(side).opportunity}/notes", json={"note": "Gebeld met P&O."})


# -- the test --------------------------------------------------------------------------------------------------


async def test_every_operation_has_a_row_and_a_request(signals: ServiceUnderTest) -> None:
    assert await uncovered(signals.client, MATRIX, REQUESTS) == []


@pytest.mark.parametrize("operation", MATRIX.operations)
async def test_each_role_gets_what_the_matrix_promises(
    signals: ServiceUnderTest, world: World, tokens: dict[str, str | None], operation: str
) -> None:
    problems = await unmatched(
        signals.client, MATRIX, REQUESTS, world, operation, tokens, classify=CLASSIFY.get(operation)
    )
    assert not problems, problems
