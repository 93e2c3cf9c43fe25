"""Intake's authorisation matrix (``authorisation.matrix`` beside this file), run against the real service:
every role × every operation × its own organisation and another one. An operation without a row fails.

The world: two client organisations, A (the callers' own; the account manager's portfolio) and B, each with an
org unit and three referrals, one per personal channel: an employee's self-referral, a client contact's HR
referral and an integration's referral. Each opened a case, booked (as scheduling would) with the
organisation's social worker; the HR and integration cases carry a closing report the employee consented to
share with HR. The matrix's employee, client contact, integration and social worker are A's people who made
(or were assigned) A's things, so "own" means the caller's own referral or assigned case, and "other" B's
people's. Break-glass (``X-Break-Glass-Reason``) is a dimension of its own: the matrix sends no reason, and
``test_cases_http.py`` covers the colleague who states one. Erasing a person can happen once, so the provider
admin's erase requests each get a fresh person.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest

from bmw.devstack.authz import Call, Matrix, Requests, Side, matrix_tokens, uncovered, unmatched
from bmw.devstack.testing import bearer

pytestmark = pytest.mark.integration

MATRIX = Matrix.load(Path(__file__).with_name("authorisation.matrix"))
SCOPES = ("referrals:read", "referrals:write")
#: The channel each role refers through (the one open to it where there is one; HR for the rest).
CHANNEL = {"employee": "self", "integration": "integration"}


@dataclasses.dataclass
class Organisation:
    """What one client organisation holds in intake, by id."""

    tenant: str
    unit: str
    #: The social worker every case of the organisation is assigned to.
    worker: str
    #: The employee's self-referral; its case is the social worker's.
    self_referral: str
    hr_referral: str
    integration_referral: str
    case: str
    client_ref: str

    def referral(self, role: str) -> str:
        """The caller's own referral where the role is personal; the HR one for everyone else."""
        return {"employee": self.self_referral, "integration": self.integration_referral}.get(role, self.hr_referral)


@dataclasses.dataclass
class People:
    """The subjects of one organisation's personal roles."""

    employee: str
    client_contact: str
    integration: str
    social_worker: str

    @classmethod
    def new(cls) -> People:
        tag = uuid.uuid4().hex[:8]
        return cls(f"employee-{tag}", f"hr-officer-{tag}", f"hr-system-{tag}", str(uuid.uuid4()))


@dataclasses.dataclass
class World:
    """A (the callers' own) and B, the subjects of A's people, and the steps to make more things."""

    own: Organisation
    other: Organisation
    people: People
    flows: Any

    def of(self, side: Side) -> Organisation:
        if side is Side.ABSENT:
            made_up = Organisation(*(str(uuid.uuid4()) for _ in range(8)))
            return dataclasses.replace(made_up, client_ref="c_" + secrets.token_urlsafe(16))
        return self.own if side is Side.OWN else self.other


REQUESTS: Requests[World] = Requests()


async def _organisation(intake: Any, flows: Any, dev_keys: Any, people: People) -> Organisation:
    tenant, unit = await flows.tenant()
    employee = flows.token("employee", tenant=tenant, sub=people.employee)
    contact = flows.token("client_contact", tenant=tenant, sub=people.client_contact)
    system = bearer(dev_keys.mint("integration", tenant_id=tenant, sub=people.integration, scopes=SCOPES))
    worker_id = uuid.UUID(people.social_worker)
    worker = flows.token("social_worker", sub=people.social_worker)
    own = await flows.refer(tenant, unit, channel="self", referrer=employee)
    hr = await flows.refer(tenant, unit, channel="hr", referrer=contact)
    pushed = await flows.refer(tenant, unit, channel="integration", referrer=system)
    await asyncio.gather(*(flows.book(tenant, r["case_id"], worker_id) for r in (own, hr, pushed)))
    for referral in (hr, pushed):
        text = {"kind": "closing_report", "text": flows.text("closing report")}
        written = await intake.client.post(f"/cases/{referral['case_id']}/dossier", json=text, headers=worker)
        assert written.status_code == 201, written.text
        grant = {"recipient": "hr", "item": "closing_report", "granted": True, "method": "written"}
        consented = await intake.client.post(f"/referrals/{referral['id']}/consents", json=grant, headers=worker)
        assert consented.status_code == 201, consented.text
    client_ref = (await flows.case(own["case_id"])).client_ref
    referrals = own["id"], hr["id"], pushed["id"]
    return Organisation(str(tenant), str(unit), people.social_worker, *referrals, own["case_id"], client_ref)


@pytest.fixture(scope="module")
async def world(intake: Any, flows: Any, dev_keys: Any) -> World:
    people = People.new()
    own, other = await asyncio.gather(
        _organisation(intake, flows, dev_keys, people), _organisation(intake, flows, dev_keys, People.new())
    )
    return World(own, other, people, flows)


@pytest.fixture(scope="module")
def tokens(world: World, dev_keys: Any) -> dict[str, str | None]:
    subs = {
        "employee": world.people.employee,
        "client_contact": world.people.client_contact,
        "integration": world.people.integration,
        "social_worker": world.people.social_worker,
    }
    return matrix_tokens(dev_keys.mint, uuid.UUID(world.own.tenant), scopes=SCOPES, subs=subs)


# -- the requests, one per operation ---------------------------------------------------------------------------

REQUESTS.simple("GET /healthz", "/healthz", tenanted=False)
REQUESTS.simple("GET /readyz", "/readyz", tenanted=False)
REQUESTS.simple("GET /cases", "/cases", tenanted=False)
REQUESTS.simple("GET /cases/escalated", "/cases/escalated", tenanted=False)
REQUESTS.simple("GET /cases/{case_id}", lambda w, s: f"/cases/{w.of(s).case}")
REQUESTS.simple("GET /cases/{case_id}/dossier", lambda w, s: f"/cases/{w.of(s).case}/dossier")
REQUESTS.simple("POST /cases/{case_id}/start", lambda w, s: f"/cases/{w.of(s).case}/start")
REQUESTS.simple("POST /cases/{case_id}/reopen", lambda w, s: f"/cases/{w.of(s).case}/reopen")
REQUESTS.simple("GET /persons/{client_ref}/export", lambda w, s: f"/persons/{w.of(s).client_ref}/export")


@REQUESTS.op("POST /referrals")
async def _refer(world: World, side: Side, role: str) -> Call:
    found = world.of(side)
    body = {
        "tenant_id": found.tenant,
        "org_unit_id": found.unit,
        "category": "workload_stress",
        "urgency": "normal",
        "channel": CHANNEL.get(role, "hr"),
        "employee": world.flows.person(),
        "employee_consented": False,
    }
    return Call("/referrals", json=body)


@REQUESTS.op("GET /referrals")
async def _list_referrals(world: World, side: Side, role: str) -> Call:
    return Call("/referrals", params={"tenant_id": world.of(side).tenant})


@REQUESTS.op("GET /referrals/{referral_id}")
async def _read_referral(world: World, side: Side, role: str) -> Call:
    return Call(f"/referrals/{world.of(side).referral(role)}")


@REQUESTS.op("GET /referrals/{referral_id}/consents")
async def _consent_history(world: World, side: Side, role: str) -> Call:
    return Call(f"/referrals/{world.of(side).referral(role)}/consents")


@REQUESTS.op("POST /referrals/{referral_id}/consents")
async def _give_consent(world: World, side: Side, role: str) -> Call:
    grant = {"recipient": "manager", "item": "attendance", "granted": True, "method": "portal"}
    return Call(f"/referrals/{world.of(side).referral(role)}/consents", json=grant)


@REQUESTS.op("GET /referrals/{referral_id}/closing-report")
async def _closing_report(world: World, side: Side, role: str) -> Call:
    return Call(f"/referrals/{world.of(side).referral(role)}/closing-report")


@REQUESTS.op("POST /cases/{case_id}/triage")
async def _triage(world: World, side: Side, role: str) -> Call:
    body = {"category": "workload_stress", "urgency": "normal", "language": "nl"}
    return Call(f"/cases/{world.of(side).case}/triage", json=body)


@REQUESTS.op("POST /cases/{case_id}/close")
async def _close(world: World, side: Side, role: str) -> Call:
    return Call(f"/cases/{world.of(side).case}/close", json={"outcome": "resolved"})


@REQUESTS.op("POST /cases/{case_id}/assign")
async def _assign(world: World, side: Side, role: str) -> Call:
    # To the worker it already has, so that the social worker's case stays theirs for the other rows.
    found = world.of(side)
    return Call(f"/cases/{found.case}/assign", json={"worker_id": found.worker})


@REQUESTS.op("POST /cases/{case_id}/dossier")
async def _write_dossier(world: World, side: Side, role: str) -> Call:
    body = {"kind": "progress", "text": world.flows.text("progress note")}
    return Call(f"/cases/{world.of(side).case}/dossier", json=body)


@REQUESTS.op("POST /persons/{client_ref}/erase")
async def _erase(world: World, side: Side, role: str) -> Call:
    # Erasure happens once, so the provider admin, who may erase, gets a fresh person of the side's organisation.
    # Every other role is sent the world's person: one let through would erase it, and this row and the export's
    # would fail.
    found = world.of(side)
    if side is Side.ABSENT or role != "provider_admin":
        return Call(f"/persons/{found.client_ref}/erase")
    referral = await world.flows.refer(uuid.UUID(found.tenant), uuid.UUID(found.unit))
    client_ref = (await world.flows.case(referral["case_id"])).client_ref
    return Call(f"/persons/{client_ref}/erase")


# -- the test --------------------------------------------------------------------------------------------------


async def test_every_operation_has_a_row_and_a_request(intake: Any) -> None:
    assert await uncovered(intake.client, MATRIX, REQUESTS) == []


@pytest.mark.parametrize("operation", MATRIX.operations)
async def test_each_role_gets_what_the_matrix_promises(
    intake: Any, world: World, tokens: dict[str, str | None], operation: str
) -> None:
    problems = await unmatched(intake.client, MATRIX, REQUESTS, world, operation, tokens)
    assert not problems, problems


#: The operations on one referral that are personal to the referrer or the employee behind it.
PERSONAL = (
    "GET /referrals/{referral_id}",
    "GET /referrals/{referral_id}/consents",
    "POST /referrals/{referral_id}/consents",
    "GET /referrals/{referral_id}/closing-report",
)


async def test_a_colleagues_referral_in_the_own_organisation_looks_like_none(
    intake: Any, world: World, tokens: dict[str, str | None]
) -> None:
    """The matrix's "other" is another organisation; within the caller's own, another person's referral (the
    employee's colleague's, the HR officer's colleague's) must answer exactly as a made-up one does."""
    colleagues = {
        "employee": world.own.hr_referral,
        "client_contact": world.own.integration_referral,
        "integration": world.own.hr_referral,
    }
    for role, referral in colleagues.items():
        headers = bearer(str(tokens[role]))
        for operation in PERSONAL:
            method, template = operation.split(" ", 1)
            call = await REQUESTS.get(operation).build(world, Side.OWN, role)
            answers = {}
            for which in (referral, str(uuid.uuid4())):
                path = template.replace("{referral_id}", which)
                response = await intake.client.request(method, path, json=call.json, headers=headers)
                answers[which] = (response.status_code, response.json()["error"]["message"])
            assert set(answers.values()) == {(404, "referral not found")}, (role, operation, answers)
    listed = await intake.client.get("/referrals", headers=bearer(str(tokens["employee"])))
    assert listed.status_code == 200, listed.text
    mine = {item["id"] for item in listed.json()["items"]}
    assert world.own.self_referral in mine
    assert not mine & {world.own.hr_referral, world.own.integration_referral}, "only the employee's own referrals"
