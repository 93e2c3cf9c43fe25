"""The gateway's authorisation matrix (``gateway_authorisation.matrix`` beside this file), run against the whole
stack: every role × every root field of the GraphQL schema × its own client organisation and another one.

An operation is a root field (``query trends``, ``mutation bookAppointment``, ``subscription signalRaised``), read
from the committed schema; a root field without a row or a request fails
:func:`test_every_root_field_has_a_row_and_a_request`. Each request selects ``__typename`` (and a mutation's refusal
messages), so that the outcome is the root field's own: a GraphQL error on that field counts by its
``extensions.code`` (UNAUTHENTICATED → unauth, FORBIDDEN → deny, NOT_FOUND → hidden, BAD_USER_INPUT → invalid), a
mutation's result union by its member (Forbidden → deny, NotFound → hidden, ValidationFailed → invalid, Conflict →
allow: authorised, but the state forbids it), data without an error → allow; anything else (an internal error, a
service unavailable, a rate limit, an error the document itself caused) is an error no row can promise. Without a
token the gateway answers 200 with UNAUTHENTICATED on each field (no request-wide 401: a document may mix fields
that need no one), so anonymous is "unauth". Subscriptions run over the gateway's ``graphql-transport-ws``
WebSocket: without a valid token the connection is closed at ``connection_init`` (4403: unauth); a refused
subscribe is answered with an ``error`` message (its code, as above); one that stands delivers nothing until
something happens, so "allow" is a subscription that stood :data:`SUBSCRIBE_WINDOW` seconds without a refusal
(refusals come before the stream starts).

The world: the own organisation is the demo's municipality (``stack.tenants[1]``), the other one the demo's Van der
Veen, whose data the journeys (``test_journeys.py``, later in the session) rely on: nothing here changes what they
assert. What would (an org unit or a contract added to Van der Veen, its invoices) is asked of a third organisation
registered here instead, the "stranger": billing's and the organisation profile's "other" is the stranger. The
matrix employee refers themselves (so the referral is their own); burnout is the demo social worker's specialism
alone, so both sides' self-referrals become her cases (the social worker's "own" is her case, for either
organisation: social workers serve every organisation). Commands that succeed only once are ordered by the matrix's
columns: the provider admin comes last and meets the state the others left (a repeated cancellation, review or
move is a Conflict, counted as allowed); a command an admin can do only once per thing (an erasure) gets a person
per side whom nobody before the admin may erase.

The tenant-bound roles' answers about the other organisation must equal their answers about made-up ids
(:data:`Side.ABSENT`): GraphQL answers every outcome with HTTP 200, so the comparison is on the outcome (each
observation gets the status its outcome has over plain HTTP) and, stricter, on the refusal's message. The world is
seeded once and every operation observed up front (several at once, roles in column order within each); each
operation's test then compares its own observations, so one failing operation fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from graphql import GraphQLObjectType, GraphQLSchema, GraphQLUnionType, build_schema, get_named_type
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bmw.devstack.authz import (
    ROLES,
    TENANT_BOUND,
    Call,
    Matrix,
    Mismatch,
    Observed,
    Outcome,
    Requests,
    Side,
    check_coverage,
    compare,
    draft_row,
    matrix_tokens,
    observe,
    report,
)
from bmw.devstack.stack import Stack
from bmw.devstack.testing import eventually

pytestmark = pytest.mark.e2e

MATRIX: Final = Matrix.load(Path(__file__).with_name("gateway_authorisation.matrix"))

#: The committed contract: its root fields are the operations, and each request's variables are typed from it.
SCHEMA: Final[GraphQLSchema] = build_schema(
    (Path(__file__).resolve().parents[2] / "gateway" / "schema.graphql").read_text(encoding="utf-8")
)

#: Every scope an integration can hold (billing's and intake's): the matrix integration has them all.
SCOPES: Final = ("referrals:read", "referrals:write", "usage:read", "invoices:read", "org_units:write")

#: How long a subscription must stand without a refusal to count as allowed (refusals come before it starts).
SUBSCRIBE_WINDOW: Final = 1.5

#: Far enough ahead that nothing booked here meets the slots the social worker's journey books (two weeks out).
BOOKING_HORIZON: Final = timedelta(days=22)

#: The year the matrix's contracts and invoices are for: before every contract of the demo, so that no run here
#: bills the demo's usage and no contract here is in force today.
LEDGER_YEAR: Final = 2019

#: An hour's appointment and the quarter of an hour scheduling keeps free around each, with room to spare.
SLOT_SPACING: Final = timedelta(minutes=90)

GRAPHQL_PATH: Final = "/graphql"

# -- outcomes ------------------------------------------------------------------------------------------------

#: ``extensions.code`` of an error on the root field.
CODES: Final = {
    "UNAUTHENTICATED": Outcome.UNAUTH,
    "FORBIDDEN": Outcome.DENY,
    "NOT_FOUND": Outcome.HIDDEN,
    "BAD_USER_INPUT": Outcome.INVALID,
    "CONFLICT": Outcome.ALLOW,
}
#: Members of a mutation's result union that are refusals; every other member is the success.
REFUSALS: Final = {
    "Forbidden": Outcome.DENY,
    "NotFound": Outcome.HIDDEN,
    "ValidationFailed": Outcome.INVALID,
    "Conflict": Outcome.ALLOW,
    "ServiceUnavailable": Outcome.ERROR,
}
#: The status each outcome has over plain HTTP: the absent rule of :func:`compare` compares statuses.
STATUS: Final = {
    Outcome.ALLOW: 200,
    Outcome.UNAUTH: 401,
    Outcome.DENY: 403,
    Outcome.HIDDEN: 404,
    Outcome.INVALID: 422,
    Outcome.ERROR: 500,
}


def root_outcome(field_name: str, body: Mapping[str, Any]) -> Outcome:
    """The outcome of ``field_name`` in a GraphQL response body (or a subscription's ``next``/``error`` payload)."""
    errors = list(body.get("errors") or [])
    mine = [error for error in errors if error.get("path") == [field_name]]
    if len(mine) != len(errors):
        return Outcome.ERROR  # refused as a whole, or an error below the root field: the document is wrong
    if mine:
        return CODES.get(str((mine[0].get("extensions") or {}).get("code")), Outcome.ERROR)
    value = (body.get("data") or {}).get(field_name)
    if isinstance(value, dict) and "__typename" in value:
        return REFUSALS.get(str(value["__typename"]), Outcome.ALLOW)
    return Outcome.ALLOW


def classify(operation: str) -> Callable[[httpx.Response], Outcome]:
    """The classifier of one operation's answers, for :func:`observe`."""
    field_name = operation.split(" ", 1)[1]

    def outcome(response: httpx.Response) -> Outcome:
        if response.status_code == 401:
            return Outcome.UNAUTH
        if response.status_code != 200:
            return Outcome.ERROR
        return root_outcome(field_name, response.json())

    return outcome


def refusal_message(body: str) -> str | None:
    """The message of the (first) error or refusal in an answer, with any request id left out."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        parsed = json.loads(body)
        errors = parsed.get("errors") or (parsed.get("payload") if isinstance(parsed.get("payload"), list) else None)
        if errors:
            return str(errors[0].get("message", "")).split("; quote request id", 1)[0]
        for value in (parsed.get("data") or {}).values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
    return None


def leaks(operation: str, observed: Mapping[tuple[str, Side], Observed]) -> list[Mismatch]:
    """Tenant-bound answers about the other organisation whose refusal reads differently from the one about a
    made-up id (the outcome is compared by :func:`compare`; this compares the words)."""
    found = []
    for (role, side), absent in observed.items():
        if side is not Side.ABSENT:
            continue
        other = observed[role, Side.OTHER]
        if refusal_message(other.body) != refusal_message(absent.body):
            found.append(
                Mismatch(
                    operation,
                    role,
                    side,
                    other.outcome,
                    absent.outcome,
                    absent.status,
                    f"another message than for another organisation's ({other.body[:200]}): {absent.body}",
                )
            )
    return found


# -- documents -----------------------------------------------------------------------------------------------


def root_type(kind: str) -> GraphQLObjectType:
    found = {"query": SCHEMA.query_type, "mutation": SCHEMA.mutation_type, "subscription": SCHEMA.subscription_type}
    root = found[kind]
    assert root is not None, f"the schema has no {kind} type"
    return root


def schema_operations() -> set[str]:
    """Every root field of the committed schema as ``<kind> <field>``."""
    return {f"{kind} {name}" for kind in ("query", "mutation", "subscription") for name in root_type(kind).fields}


def selection(kind: str, field_name: str) -> str:
    """``__typename``, and for a mutation's result union the refusals' messages (and the fields a validation
    names): what a refusal says is compared between another organisation's thing and a made-up one."""
    result = get_named_type(root_type(kind).fields[field_name].type)
    if not isinstance(result, GraphQLUnionType):
        return "__typename"
    members = {member.name for member in result.types}
    said = [f"... on {name} {{ message }}" for name in sorted(members & set(REFUSALS) - {"ValidationFailed"})]
    if "ValidationFailed" in members:
        said.append("... on ValidationFailed { message fields { path message } }")
    return " ".join(["__typename", *said])


def document(operation: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A GraphQL request for ``operation`` with ``arguments`` as variables, typed as the schema declares them,
    selecting only what :func:`selection` says (every root field is an object, a union or a list of objects)."""
    kind, field_name = operation.split(" ", 1)
    declared = root_type(kind).fields[field_name].args
    variables = ", ".join(f"${name}: {declared[name].type}" for name in arguments)
    passed = ", ".join(f"{name}: ${name}" for name in arguments)
    head = f"{kind} Matrix({variables})" if variables else f"{kind} Matrix"
    call = f"{field_name}({passed})" if passed else field_name
    return {"query": f"{head} {{ {call} {{ {selection(kind, field_name)} }} }}", "variables": dict(arguments)}


def request(operation: str, **arguments: Any) -> Call:
    return Call(GRAPHQL_PATH, json=document(operation, arguments))


# -- the world -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    """What the matrix asks about in one client organisation."""

    tenant: str
    unit: str
    #: A self-referral of an employee (on the own side: the matrix employee's own), its case (the demo social
    #: worker's) and the person (client reference).
    referral: str
    case: str
    client: str
    #: A consult of that case in her agenda, and a manager consultation the organisation's client contact booked.
    consult: str
    consultation: str
    #: A workshop she gives, open to self-registration.
    workshop: str
    #: A signal as its organisation sees it (one that needs no review where there is one), one to review, and the
    #: opportunity a confirmed signal opened.
    signal: str
    review: str
    opportunity: str
    #: A person (client reference) only a provider admin may erase.
    person: str


@dataclass(frozen=True)
class Ledger:
    """Billing's side of one organisation: its profile, invoices issued (one to read, one to credit) and a draft."""

    tenant: str
    unit: str
    invoice: str
    to_credit: str
    draft: str


def made_up_organisation() -> Organisation:
    people = {"client", "person"}
    return Organisation(
        **{
            f.name: f"c_{secrets.token_urlsafe(16)}" if f.name in people else str(uuid.uuid4())
            for f in dataclasses.fields(Organisation)
        }
    )


def made_up_ledger() -> Ledger:
    return Ledger(*(str(uuid.uuid4()) for _ in range(5)))


@dataclass
class World:
    """Both organisations' things, billing's sides, and the demo social worker's free time to book."""

    own: Organisation
    other: Organisation
    own_ledger: Ledger
    other_ledger: Ledger
    #: The demo social worker (the matrix's social worker) and free starts in her agenda (see free_starts).
    worker: str
    slots: list[str] = field(default_factory=list)

    def of(self, side: Side) -> Organisation:
        if side is Side.ABSENT:
            return made_up_organisation()
        return self.own if side is Side.OWN else self.other

    def ledger(self, side: Side) -> Ledger:
        if side is Side.ABSENT:
            return made_up_ledger()
        return self.own_ledger if side is Side.OWN else self.other_ledger

    def slot(self) -> str:
        assert self.slots, "no free slot left in the demo social worker's agenda"
        return self.slots.pop(0)


class Gateway:
    """The seeding's GraphQL client: every answer must be without errors."""

    def __init__(self, client: httpx.AsyncClient, stack: Stack) -> None:
        self.client = client
        self.stack = stack

    async def __call__(self, token: str, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.client.post(
            GRAPHQL_PATH, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        data: dict[str, Any] = body["data"]
        return data

    async def member(self, token: str, query: str, expected: str, **variables: Any) -> dict[str, Any]:
        """A mutation's result, asserted to be the union member ``expected``."""
        data = await self(token, query, **variables)
        (result,) = data.values()
        assert result["__typename"] == expected, result
        member: dict[str, Any] = result
        return member


SUBMIT: Final = """
mutation Submit($input: ReferralInput!) {
  submitReferral(input: $input) { __typename ... on ReferralSubmitted { referral { id caseId } } }
}"""
CASE: Final = "query Case($id: ID!) { case(id: $id) { id workerId clientRef } }"
FREE: Final = """
query Free($tenantId: ID!, $from: DateTime!, $to: DateTime!) {
  freeSlots(tenantId: $tenantId, from: $from, to: $to, kind: INTAKE, specialism: "burnout", first: 200) {
    nodes { workerId start }
  }
}"""
BOOK: Final = """
mutation Book($input: BookAppointmentInput!) {
  bookAppointment(input: $input) {
    __typename ... on AppointmentBooked { appointment { id } } ... on Conflict { message } ... on Forbidden { message }
  }
}"""
WORKSHOP: Final = """
mutation Workshop($input: ScheduleWorkshopInput!) {
  scheduleWorkshop(input: $input) { __typename ... on WorkshopScheduled { workshop { id } } }
}"""
SIGNALS: Final = """
query Signals($tenantId: ID!) {
  signals(tenantId: $tenantId, first: 200) { nodes { id tenantId kind reviewStatus } }
}"""
OPPORTUNITIES: Final = """
query Opportunities($tenantId: ID!) { opportunities(tenantId: $tenantId, first: 200) { nodes { id signalId } } }"""
REVIEW: Final = """
mutation Review($input: ReviewSignalInput!) {
  reviewSignal(input: $input) { __typename ... on SignalReviewed { opportunityId } }
}"""
REGISTER: Final = """
mutation Register($input: RegisterClientOrganisationInput!) {
  registerClientOrganisation(input: $input) {
    __typename ... on ClientOrganisationRegistered { clientOrganisation { id orgUnits { id } } }
  }
}"""
CONTRACT: Final = """
mutation Contract($input: CreateContractInput!) { createContract(input: $input) { __typename } }"""
RUN: Final = """
mutation Run($input: RunBillingInput!) {
  runBilling(input: $input) { __typename ... on BillingRunCompleted { run { draftInvoiceIds skipped { reason } } } }
}"""
ISSUE: Final = "mutation Issue($input: IssueInvoiceInput!) { issueInvoice(input: $input) { __typename } }"
UNITS: Final = "query Units($id: ID!) { clientOrganisation(id: $id) { orgUnits { id } } }"
ACTIONS: Final = "query Actions($tenantId: ID!) { managementActions(tenantId: $tenantId) { __typename } }"

#: The kind the demo's reorganisation-wave journey reviews itself: never reviewed here.
JOURNEY_SIGNAL: Final = "REORGANISATION_WAVE"


def employee(first_name: str) -> dict[str, str]:
    """Contact details of a made-up employee, unique to this run (the log scan looks for them)."""
    surname = "".join(secrets.choice("bcdfghjklmnprstvwz") + secrets.choice("aeiou") for _ in range(4)).capitalize()
    return {"name": f"{first_name} {surname}", "email": f"{first_name.lower()}.{surname.lower()}@example.nl"}


async def free_starts(gateway: Gateway, admin: str, tenant: str, worker: str) -> list[str]:
    """The demo social worker's free starts from :data:`BOOKING_HORIZON` on, far enough apart that an intake, a
    consult or a one-hour workshop at one never comes within scheduling's quarter-hour buffer of another."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + BOOKING_HORIZON
    found = await gateway(
        admin, FREE, tenantId=tenant, **{"from": start.isoformat(), "to": (start + timedelta(days=30)).isoformat()}
    )
    starts: list[str] = []
    last: datetime | None = None
    for slot in found["freeSlots"]["nodes"]:
        at = datetime.fromisoformat(slot["start"])
        if slot["workerId"] == worker and (last is None or at - last >= SLOT_SPACING):
            starts.append(slot["start"])
            last = at
    return starts


async def self_referral(gateway: Gateway, token: str, unit: str, worker: str) -> tuple[str, str, str]:
    """An employee refers themselves for burnout risk: the case opens at once, and scheduling books its intake with
    the one burnout specialist, which makes it her case. Returns the referral, the case and the person."""
    submitted = await gateway.member(
        token,
        SUBMIT,
        "ReferralSubmitted",
        input={
            "orgUnitId": unit,
            "category": "BURNOUT_RISK",
            "urgency": "NORMAL",
            "channel": "SELF",
            "employee": employee("Matrix"),
        },
    )
    referral, case = submitted["referral"]["id"], submitted["referral"]["caseId"]
    assert case, submitted
    return referral, case, await client_ref(gateway, case, worker)


async def client_ref(gateway: Gateway, case: str, worker: str) -> str:
    """The case's client reference, once its intake made it ``worker``'s case: only the assigned social worker
    reads a case (provider admins do not)."""
    found: dict[str, Any] = {}
    token = gateway.stack.mint("social_worker", sub=worker)

    async def assigned() -> bool:
        response = await gateway.client.post(
            GRAPHQL_PATH, json={"query": CASE, "variables": {"id": case}}, headers={"Authorization": f"Bearer {token}"}
        )
        found.update((response.json().get("data") or {}).get("case") or {})
        return found.get("workerId") == worker

    await eventually(assigned, what=f"the case's intake booked with social worker {worker}")
    return str(found["clientRef"])


async def erasable_person(
    gateway: Gateway, contact: str, unit: str, category: str, worker: str, personal_data: set[str]
) -> str:
    """A person referred by HR with their consent, in a category only ``worker`` (not the demo social worker) takes
    at this organisation; their client reference. The matrix erases them, so what was sent of them goes to the
    session's log scan here (intake cannot give it back afterwards)."""
    contact_details = employee("Wisbaar")
    personal_data.update(contact_details.values())
    submitted = await gateway.member(
        contact,
        SUBMIT,
        "ReferralSubmitted",
        input={
            "orgUnitId": unit,
            "category": category,
            "urgency": "NORMAL",
            "channel": "HR",
            "employeeConsented": True,
            "employee": contact_details,
        },
    )
    case = submitted["referral"]["caseId"]
    assert case, submitted
    return await client_ref(gateway, case, worker)


async def organisation(
    gateway: Gateway,
    stack: Stack,
    *,
    admin: str,
    tenant: str,
    unit: str,
    employee_token: str,
    world: World,
    eraser: tuple[str, str],
    personal_data: set[str],
) -> Organisation:
    """Seed one demo organisation: a self-referral and a consult of its case, a manager consultation, a workshop, a
    reviewed signal (its opportunity) and a person to erase; what does not wait for another thing, at once."""
    contact = stack.mint("client_contact", sub=f"matrix-contact-{uuid.uuid4()}", tenant_id=tenant)
    worker = stack.mint("social_worker", sub=world.worker)

    async def referred() -> tuple[str, str, str, str]:
        referral, case, person = await self_referral(gateway, employee_token, unit, world.worker)
        booking = {"tenantId": tenant, "workerId": world.worker, "kind": "CONSULT", "caseId": case}
        consult = await gateway.member(admin, BOOK, "AppointmentBooked", input=booking | {"start": world.slot()})
        return referral, case, person, consult["appointment"]["id"]

    async def consultation() -> str:
        booking = {"workerId": world.worker, "kind": "MANAGER_CONSULTATION", "topic": "WORKLOAD_STRESS"}
        booked = await gateway.member(contact, BOOK, "AppointmentBooked", input=booking | {"start": world.slot()})
        return str(booked["appointment"]["id"])

    async def workshop() -> str:
        scheduled = await gateway.member(
            admin, WORKSHOP, "WorkshopScheduled", input=workshop_input(tenant, world.worker, world.slot())
        )
        return str(scheduled["workshop"]["id"])

    async def signals() -> tuple[str, str, str]:
        found = (await gateway(admin, SIGNALS, tenantId=tenant))["signals"]["nodes"]
        assert found, "the demo raised signals for both organisations"
        released = [s["id"] for s in found if s["reviewStatus"] == "NOT_REQUIRED"]
        return ((released or [found[0]["id"]])[0], *await opportunity_of(gateway, admin, worker, found))

    (
        (referral, case, person, consult),
        manager_consultation,
        workshop_id,
        (signal, opportunity, review),
        erasable,
    ) = await asyncio.gather(
        referred(),
        consultation(),
        workshop(),
        signals(),
        erasable_person(gateway, contact, unit, *eraser, personal_data),
    )
    return Organisation(
        tenant=tenant,
        unit=unit,
        referral=referral,
        case=case,
        client=person,
        consult=consult,
        consultation=manager_consultation,
        workshop=workshop_id,
        signal=signal,
        review=review,
        opportunity=opportunity,
        person=erasable,
    )


async def opportunity_of(gateway: Gateway, admin: str, worker: str, signals: list[dict[str, Any]]) -> tuple[str, str]:
    """An opportunity of the organisation (a social worker confirms a pending signal, which opens one) and a signal
    for the matrix to review: a second pending one if the demo raised one, else the confirmed one (a Conflict to the
    reviewers). The journey's reorganisation wave is left alone."""
    pending = [s["id"] for s in signals if s["reviewStatus"] == "PENDING" and s["kind"] != JOURNEY_SIGNAL]
    confirmed = [s["id"] for s in signals if s["reviewStatus"] == "CONFIRMED" and s["kind"] != JOURNEY_SIGNAL]
    if pending:
        reviewed = await gateway.member(
            worker,
            REVIEW,
            "SignalReviewed",
            input={"signalId": pending[0], "decision": "CONFIRMED", "reason": "MATCHES_WHAT_WE_SEE"},
        )
        return reviewed["opportunityId"], pending[-1]
    # Confirmed by an earlier run over the same data (a kept `bmw dev` database): its opportunity is there.
    assert confirmed, f"the demo raised a signal to review besides the journey's: {signals}"
    found = await gateway(admin, OPPORTUNITIES, tenantId=signals[0]["tenantId"])
    opened = [o["id"] for o in found["opportunities"]["nodes"] if o["signalId"] == confirmed[0]]
    assert opened, found
    return opened[0], confirmed[0]


def workshop_input(tenant: str, trainer: str, start: str) -> dict[str, Any]:
    return {
        "tenantId": tenant,
        "theme": "STRESS_AND_RESILIENCE",
        "location": "VIDEO",
        "start": start,
        "durationMinutes": 60,
        "capacity": 40,
        "trainerIds": [trainer],
        "selfRegistration": True,
        "overrideHours": False,
    }


def contract_input(tenant: str, year: int) -> dict[str, Any]:
    return {
        "tenantId": tenant,
        "products": [
            {
                "code": "MATRIX-ABO",
                "kind": "SUBSCRIPTION_PER_EMPLOYEE_YEAR",
                "unitPriceCents": 2_400,
                "vatRate": "STANDARD",
            }
        ],
        "periodStart": f"{year}-01-01",
        "periodEnd": f"{year}-12-31",
        "employees": 12,
        "buyerReference": "MATRIX",
    }


def registration(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "kvkNumber": f"{secrets.randbelow(10**8):08d}",
        "invoiceEmail": "crediteuren@matrix.example.nl",
        "addresses": {
            "invoice": {"street": "Stationsplein", "houseNumber": "1", "postalCode": "3511 ED", "city": "Utrecht"}
        },
        "orgUnits": [{"name": "Bedrijfsbureau"}],
    }


async def ledger(gateway: Gateway, admin: str, tenant: str) -> Ledger:
    """A contract in :data:`LEDGER_YEAR`, January and February billed and issued, March billed and left a draft."""
    await gateway.member(admin, CONTRACT, "ContractCreated", input=contract_input(tenant, LEDGER_YEAR))
    invoices = []
    for month in ("01", "02", "03"):
        run = await gateway.member(
            admin, RUN, "BillingRunCompleted", input={"period": f"{LEDGER_YEAR}-{month}", "tenantId": tenant}
        )
        drafts = run["run"]["draftInvoiceIds"]
        assert len(drafts) == 1, run
        invoices.append(drafts[0])
        if month != "03":
            await gateway.member(admin, ISSUE, "InvoiceIssued", input={"invoiceId": drafts[0]})
    units = await gateway(admin, UNITS, id=tenant)
    return Ledger(tenant, units["clientOrganisation"]["orgUnits"][0]["id"], *invoices)


async def ledgers(gateway: Gateway, admin: str, own: str, stranger: str) -> tuple[Ledger, Ledger]:
    """Both ledgers at once."""
    found = await asyncio.gather(ledger(gateway, admin, own), ledger(gateway, admin, stranger))
    return found[0], found[1]


@dataclass(frozen=True)
class Setting:
    """The world and the tokens of the matrix's callers."""

    world: World
    tokens: dict[str, str | None]


async def seed(stack: Stack, client: httpx.AsyncClient, personal_data: set[str]) -> Setting:
    """The world, through the gateway as its users would make it, and a token per role: the tenant-bound roles and
    the account manager's portfolio are the municipality; the employee's and the social worker's subjects are the
    self-referring employee's and the demo social worker's; everyone else has a subject of their own (so that the
    gateway's per-identity rate limit counts the matrix apart from the journeys)."""
    gateway = Gateway(client, stack)
    admin = stack.mint("provider_admin", sub=f"matrix-admin-{uuid.uuid4()}")
    other_demo, own_demo = stack.tenants[0], stack.tenants[1]
    worker = stack.demo_workers[0].id
    subs = {role: f"matrix-{role}-{uuid.uuid4()}" for role in ROLES[1:]}
    subs["social_worker"] = worker
    tokens = matrix_tokens(stack.mint, uuid.UUID(own_demo.id), scopes=SCOPES, subs=subs)
    own_employee = tokens["employee"]
    assert own_employee is not None
    other_employee = stack.mint("employee", sub=f"matrix-colleague-{uuid.uuid4()}", tenant_id=other_demo.id)

    registered, slots = await asyncio.gather(
        gateway.member(
            admin,
            REGISTER,
            "ClientOrganisationRegistered",
            input=registration(f"Matrix Vreemde {uuid.uuid4().hex[:6]} B.V."),
        ),
        free_starts(gateway, admin, own_demo.id, worker),
    )
    stranger = registered["clientOrganisation"]["id"]
    assert len(slots) >= 20, f"the demo social worker has room in her agenda three weeks out: {slots}"
    world = World(made_up_organisation(), made_up_organisation(), made_up_ledger(), made_up_ledger(), worker, slots)
    # The people to erase go to other social workers than the demo one (grief: the municipality's grief counsellor;
    # undesirable behaviour: the confidential advisor), whose intakes take none of her slots.
    counsellor = next(w.id for w in stack.demo_workers if w.name == "Ingrid Bakker")
    advisor = next(w.id for w in stack.demo_workers if w.name == "Mohamed El Amrani")

    async def signals_knows_the_stranger() -> bool:
        response = await client.post(
            GRAPHQL_PATH,
            json={"query": ACTIONS, "variables": {"tenantId": stranger}},
            headers={"Authorization": f"Bearer {admin}"},
        )
        return response.status_code == 200 and not response.json().get("errors")

    seed_organisation = partial(organisation, gateway, stack, admin=admin, world=world, personal_data=personal_data)
    world.own, world.other, (world.own_ledger, world.other_ledger), _ = await asyncio.gather(
        seed_organisation(
            tenant=own_demo.id,
            unit=own_demo.org_units[0].id,
            employee_token=own_employee,
            eraser=("GRIEF", counsellor),
        ),
        seed_organisation(
            tenant=other_demo.id,
            unit=next(u.id for u in other_demo.org_units if u.name == "HR"),
            employee_token=other_employee,
            eraser=("UNDESIRABLE_BEHAVIOUR", advisor),
        ),
        ledgers(gateway, admin, own_demo.id, stranger),
        eventually(signals_knows_the_stranger, what="signals to learn of the organisation registered here"),
    )
    return Setting(world, tokens)


# -- the requests, one per root field ------------------------------------------------------------------------

REQUESTS: Requests[World] = Requests()


def today() -> date:
    return datetime.now(UTC).date()


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


def _untenanted(operation: str, **arguments: Any) -> None:
    async def build(world: World, side: Side, role: str) -> Call:
        return request(operation, **arguments)

    REQUESTS.op(operation, tenanted=False)(build)


def _by_tenant(
    operation: str, argument: str = "tenantId", *, ledger: bool = False, also: Mapping[str, Any] | None = None
) -> None:
    async def build(world: World, side: Side, role: str) -> Call:
        tenant = world.ledger(side).tenant if ledger else world.of(side).tenant
        return request(operation, **{argument: tenant}, **(also or {}))

    REQUESTS.op(operation)(build)


def _by_id(operation: str, pick: Callable[[World, Side], str], argument: str = "id") -> None:
    async def build(world: World, side: Side, role: str) -> Call:
        return request(operation, **{argument: pick(world, side)})

    REQUESTS.op(operation)(build)


_untenanted("query me")
_untenanted("query interventions")
_untenanted("query portfolio")
_untenanted("query clientOrganisations")
_untenanted("query managementActionEffects", actionType="REORGANISATION_ANNOUNCED")
_untenanted("query caseload")
_untenanted("query myReferrals")
_untenanted("query myAppointments")
_untenanted("subscription opportunityChanged")
_untenanted("subscription appointmentChanged")

_by_tenant("query trends", also={"from": str(today() - timedelta(days=90)), "to": str(today())})
_by_tenant("query signals")
_by_tenant("query falseAlarms")
_by_tenant("query opportunityStatistics")
_by_tenant("query opportunities")
_by_tenant("query accountOverview")
_by_tenant("query managementActions")
_by_tenant("query secondmentObservations")
_by_tenant("query workshops")
_by_tenant("subscription signalRaised")
_by_tenant("query clientOrganisation", "id", ledger=True)
_by_tenant("query contractUsage", ledger=True)
_by_tenant("query invoices", ledger=True)

_by_id("query signal", lambda w, s: w.of(s).signal)
_by_id("query opportunity", lambda w, s: w.of(s).opportunity)
_by_id("query case", lambda w, s: w.of(s).case)
_by_id("query invoice", lambda w, s: w.ledger(s).invoice)
_by_id("query personalData", lambda w, s: w.of(s).client, "clientRef")


@REQUESTS.op("query freeSlots")
async def _free_slots(world: World, side: Side, role: str) -> Call:
    return request("query freeSlots", tenantId=world.of(side).tenant, kind="CONSULT", **{"from": later(21)})


@REQUESTS.op("query agenda")
async def _agenda(world: World, side: Side, role: str) -> Call:
    # The organisation is a filter of the caller's agenda: provider staff read every organisation's.
    return request("query agenda", tenantId=world.of(side).tenant, **{"from": later(0), "to": later(60)})


# Mutations. Every input is valid for the role that sends it; what a role may not do is refused for who it is.


@REQUESTS.op("mutation submitReferral")
async def _submit_referral(world: World, side: Side, role: str) -> Call:
    organisation = world.of(side)
    channel = {"employee": "SELF", "integration": "INTEGRATION"}.get(role, "HR")
    return request(
        "mutation submitReferral",
        input={
            "tenantId": organisation.tenant,
            "orgUnitId": organisation.unit,
            # Grief: the one specialist serves the municipality; a referral waits for consent anyway, except a
            # self-referral, whose intake then takes one of her slots and no one else's.
            "category": "GRIEF",
            "urgency": "NORMAL",
            "channel": channel,
            "employee": employee("Verwezen"),
        },
    )


@REQUESTS.op("mutation registerClientOrganisation", tenanted=False)
async def _register(world: World, side: Side, role: str) -> Call:
    return request("mutation registerClientOrganisation", input=registration(f"Matrix {uuid.uuid4().hex[:6]} B.V."))


@REQUESTS.op("mutation addOrgUnit")
async def _add_org_unit(world: World, side: Side, role: str) -> Call:
    return request(
        "mutation addOrgUnit", input={"tenantId": world.ledger(side).tenant, "name": f"Team {uuid.uuid4().hex[:6]}"}
    )


@REQUESTS.op("mutation createContract")
async def _create_contract(world: World, side: Side, role: str) -> Call:
    # A year before the ledger's: the first allowed caller creates it, a second meets the overlap (Conflict).
    return request("mutation createContract", input=contract_input(world.ledger(side).tenant, LEDGER_YEAR - 1))


@REQUESTS.op("mutation runBilling")
async def _run_billing(world: World, side: Side, role: str) -> Call:
    return request("mutation runBilling", input={"period": f"{LEDGER_YEAR}-04", "tenantId": world.ledger(side).tenant})


@REQUESTS.op("mutation issueInvoice")
async def _issue_invoice(world: World, side: Side, role: str) -> Call:
    return request("mutation issueInvoice", input={"invoiceId": world.ledger(side).draft})


@REQUESTS.op("mutation issueCreditNote")
async def _issue_credit_note(world: World, side: Side, role: str) -> Call:
    return request("mutation issueCreditNote", input={"invoiceId": world.ledger(side).to_credit, "releaseUsage": False})


@REQUESTS.op("mutation bookAppointment")
async def _book(world: World, side: Side, role: str) -> Call:
    organisation = world.of(side)
    booking: dict[str, Any] = {"tenantId": organisation.tenant, "workerId": world.worker, "start": world.slot()}
    if role == "client_contact":  # what a client contact books: advice for a manager
        booking |= {"kind": "MANAGER_CONSULTATION", "topic": "CONFLICT_MANAGER"}
    else:  # a consult of the case: the social worker's own agenda
        booking |= {"kind": "CONSULT", "caseId": organisation.case}
    return request("mutation bookAppointment", input=booking)


@REQUESTS.op("mutation cancelAppointment")
async def _cancel(world: World, side: Side, role: str) -> Call:
    organisation = world.of(side)
    # A client contact's own appointment is their manager consultation; anyone else's, the case's consult (the
    # employee's own, in the social worker's agenda).
    appointment = organisation.consultation if role == "client_contact" else organisation.consult
    return request("mutation cancelAppointment", input={"appointmentId": appointment})


@REQUESTS.op("mutation scheduleWorkshop")
async def _schedule_workshop(world: World, side: Side, role: str) -> Call:
    return request("mutation scheduleWorkshop", input=workshop_input(world.of(side).tenant, world.worker, world.slot()))


@REQUESTS.op("mutation registerForWorkshop")
async def _register_for_workshop(world: World, side: Side, role: str) -> Call:
    registering: dict[str, Any] = {"workshopId": world.of(side).workshop}
    if role != "employee":  # an employee takes a seat themselves; anyone else nominates a participant
        registering |= {"participantRef": f"matrix-{uuid.uuid4().hex[:12]}", "displayName": "Deelnemer"}
    return request("mutation registerForWorkshop", input=registering)


def _consent(world: World, side: Side, role: str) -> dict[str, Any]:
    consent: dict[str, Any] = {"referralId": world.of(side).referral, "recipient": "MANAGER", "item": "ATTENDANCE"}
    if role in {"social_worker", "provider_admin"}:  # staff record what the employee told them
        consent["method"] = "VERBAL"
    return consent


@REQUESTS.op("mutation giveConsent")
async def _give_consent(world: World, side: Side, role: str) -> Call:
    return request("mutation giveConsent", input=_consent(world, side, role))


@REQUESTS.op("mutation withdrawConsent")
async def _withdraw_consent(world: World, side: Side, role: str) -> Call:
    return request("mutation withdrawConsent", input=_consent(world, side, role))


@REQUESTS.op("mutation eraseClient")
async def _erase(world: World, side: Side, role: str) -> Call:
    return request("mutation eraseClient", input={"clientRef": world.of(side).person})


@REQUESTS.op("mutation recordManagementAction")
async def _record_action(world: World, side: Side, role: str) -> Call:
    # The stranger's: an action at Van der Veen would be a change point for the demo's detection.
    ledger = world.ledger(side)
    action = {
        "tenantId": ledger.tenant,
        "orgUnitId": ledger.unit,
        "actionType": "TEAM_COACHING_STARTED",
        "occurredOn": str(today() - timedelta(days=400)),
    }
    return request("mutation recordManagementAction", input=action)


@REQUESTS.op("mutation recordSecondmentObservation")
async def _record_observation(world: World, side: Side, role: str) -> Call:
    ledger = world.ledger(side)
    observation = {
        "tenantId": ledger.tenant,
        "orgUnitId": ledger.unit,
        "bottleneck": "WORKLOAD_AFTER_STAFF_CUTS",
        "observedOn": str(today() - timedelta(days=30)),
        "severity": 1,
    }
    return request("mutation recordSecondmentObservation", input=observation)


@REQUESTS.op("mutation reviewSignal")
async def _review(world: World, side: Side, role: str) -> Call:
    review = {"signalId": world.of(side).review, "decision": "CONFIRMED", "reason": "MATCHES_WHAT_WE_SEE"}
    return request("mutation reviewSignal", input=review)


@REQUESTS.op("mutation moveOpportunity")
async def _move(world: World, side: Side, role: str) -> Call:
    move = {"opportunityId": world.of(side).opportunity, "stage": "CONTACTED", "note": "HR gebeld."}
    return request("mutation moveOpportunity", input=move)


@REQUESTS.op("mutation addOpportunityNote")
async def _note(world: World, side: Side, role: str) -> Call:
    return request(
        "mutation addOpportunityNote", input={"opportunityId": world.of(side).opportunity, "note": "Afspraak gepland."}
    )


@REQUESTS.op("mutation putIntervention", tenanted=False)
async def _put_intervention(world: World, side: Side, role: str) -> Call:
    intervention = {
        "code": "MATRIX-GESPREK",
        "titleNl": "Matrixgesprek",
        "titleEn": "Matrix conversation",
        "description": "Een gesprek om de autorisatiematrix te testen.",
        "productKind": "HOUR_BUNDLE",
        "quantity": "2",
        "listPriceCents": 25_000,
        "signalKinds": ["STRESS_SURGE"],
        "rank": 90,
        "active": False,
    }
    return request("mutation putIntervention", input=intervention)


# -- subscriptions -------------------------------------------------------------------------------------------


async def subscribe_once(url: str, token: str | None, payload: Mapping[str, Any]) -> tuple[Outcome, str]:
    """Connect, authenticate in ``connection_init`` and subscribe; the outcome and what the gateway said."""
    field_name = str(payload["query"]).split("{", 2)[1].split("(")[0].strip()
    init: dict[str, Any] = {"type": "connection_init", "payload": {}}
    if token is not None:
        init["payload"] = {"authorization": f"Bearer {token}"}
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=10) as socket:
        await socket.send(json.dumps(init))
        try:
            acknowledged = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            said = json.dumps({"close": code, "reason": closed.rcvd.reason if closed.rcvd else None})
            return (Outcome.UNAUTH if code == 4403 else Outcome.ERROR), said
        if acknowledged.get("type") != "connection_ack":
            return Outcome.ERROR, json.dumps(acknowledged)
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=SUBSCRIBE_WINDOW))
        except TimeoutError:
            await socket.send(json.dumps({"id": "1", "type": "complete"}))
            return Outcome.ALLOW, json.dumps({"standing": SUBSCRIBE_WINDOW})
        except ConnectionClosed as closed:
            return Outcome.ERROR, json.dumps({"close": closed.rcvd.code if closed.rcvd else None})
    if message.get("type") == "error":
        return root_outcome(field_name, {"errors": message.get("payload")}), json.dumps(message)
    if message.get("type") == "next":
        return root_outcome(field_name, message.get("payload") or {}), json.dumps(message)
    return Outcome.ERROR, json.dumps(message)  # completed at once: the subscription did not stand


async def observe_subscription(
    url: str, world: World, operation: str, tokens: Mapping[str, str | None]
) -> dict[tuple[str, Side], Observed]:
    """As :func:`observe`, over the WebSocket; every attempt at once, so that the matrix waits one window."""
    registered = REQUESTS.get(operation)
    attempts: list[tuple[str, Side]] = []
    for role in ROLES:
        sides = [Side.OWN]
        if registered.tenanted:
            sides += [Side.OTHER, Side.ABSENT] if role in TENANT_BOUND else [Side.OTHER]
        attempts += [(role, side) for side in sides]
    calls = [await registered.build(world, side, role) for role, side in attempts]
    results = await asyncio.gather(
        *(subscribe_once(url, tokens[role], call.json) for (role, _), call in zip(attempts, calls, strict=True))
    )
    return {
        attempt: Observed(outcome, STATUS[outcome], said)
        for attempt, (outcome, said) in zip(attempts, results, strict=True)
    }


# -- the tests -----------------------------------------------------------------------------------------------

#: Operations observed at once: the matrix sends some 900 requests, one role after another within an operation
#: (the provider admin last, see the module's docstring), several operations side by side.
CONCURRENT_OPERATIONS: Final = 6


async def observe_operation(
    stack: Stack, client: httpx.AsyncClient, setting: Setting, operation: str
) -> dict[tuple[str, Side], Observed]:
    """Every role's outcome of ``operation``, each with the status its outcome would have over plain HTTP."""
    if operation.startswith("subscription "):
        url = stack.graphql_url.replace("http://", "ws://", 1)
        return await observe_subscription(url, setting.world, operation, setting.tokens)
    seen = await observe(
        client, REQUESTS, setting.world, operation, setting.tokens, method="POST", classify=classify(operation)
    )
    return {key: dataclasses.replace(found, status=STATUS[found.outcome]) for key, found in seen.items()}


@pytest.fixture(scope="module")
async def gateway_client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def observations(
    stack: Stack, gateway_client: httpx.AsyncClient, personal_data: set[str]
) -> dict[str, dict[tuple[str, Side], Observed] | BaseException]:
    """What every role got for every operation with a builder; an operation whose observing failed keeps its
    exception, to fail its own test only."""
    setting = await seed(stack, gateway_client, personal_data)
    gate = asyncio.Semaphore(CONCURRENT_OPERATIONS)

    async def one(operation: str) -> dict[tuple[str, Side], Observed]:
        async with gate:
            return await observe_operation(stack, gateway_client, setting, operation)

    operations = [operation for operation in MATRIX.operations if operation in REQUESTS.operations]
    found = await asyncio.gather(*(one(operation) for operation in operations), return_exceptions=True)
    return dict(zip(operations, found, strict=True))


def test_every_root_field_has_a_row_and_a_request() -> None:
    assert check_coverage(MATRIX, REQUESTS, schema_operations()) == []


@pytest.mark.parametrize("operation", MATRIX.operations)
async def test_each_role_gets_what_the_matrix_promises(
    observations: Mapping[str, dict[tuple[str, Side], Observed] | BaseException], operation: str
) -> None:
    if operation not in REQUESTS.operations:
        pytest.fail(f"{operation} has no request builder")
    observed = observations[operation]
    if isinstance(observed, BaseException):
        raise observed
    mismatches = compare(MATRIX, operation, observed) + leaks(operation, observed)
    assert not mismatches, f"{report(mismatches)}\nobserved: {draft_row(operation, observed)}"
