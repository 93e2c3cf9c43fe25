"""Each audience's main journey through the running gateway, against the real services, broker and database.

Everything goes through GraphQL with a real client library (``gql``: HTTP for queries and mutations, the
``graphql-transport-ws`` WebSocket for the account manager's live pipeline), as a portal, an account manager's
tool, a social worker's agenda app or a client's HR system would. The client validates every document against
the committed contract (``gateway/schema.graphql``) before it is sent, so a journey also fails when the schema
it relies on changes.

1. A client contact's dashboard: one document, everything about their own organisation; cases are out of
   reach and the other demo organisation is refused field by field.
2. An account manager working the demo's Logistiek reorganisation wave: a social worker confirms it, the
   opportunity it opens is moved to won, and the account overview shows it (with the moves arriving live).
3. A social worker's week: agenda, caseload, one case, free slots, a consult booked and cancelled again.
4. An integration pushing a referral and pulling the invoice the provider issued, in UBL; its documents are
   trusted documents, so the journey also works where integrations are restricted to those.

The stack is shared by the session (its demo data is the story of ``bmw.devstack.demo``); each journey only
relies on what the demo loads and on what it does itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import pytest
from gql import Client, GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from graphql import OperationDefinitionNode, parse, print_ast

from bmw.devstack.demo import DemoTenant
from bmw.devstack.stack import Stack
from bmw.devstack.testing import eventually
from bmw.gateway.trusted_documents import default_registry_path, document_hash

pytestmark = pytest.mark.e2e

AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")

#: The committed contract; documents are validated against it on the client side.
SCHEMA_SDL: Final = (Path(__file__).resolve().parents[2] / "gateway" / "schema.graphql").read_text(encoding="utf-8")

#: The trusted documents registry (sha256 → text) the gateway loads.
TRUSTED: Final[dict[str, str]] = json.loads(default_registry_path().read_text(encoding="utf-8"))

# -- documents -------------------------------------------------------------------------------------------------

DASHBOARD = gql(
    """
    query Dashboard($tenantId: ID!, $from: Date!, $to: Date!) {
      me { subject roles tenantId }
      clientOrganisation(id: $tenantId) { id name kAnonymity orgUnits { id name employees } }
      contractUsage(tenantId: $tenantId) {
        tenantId
        contracts { contract { id tenantId status } products { code kind quantity amount { cents formatted } } }
      }
      trends(tenantId: $tenantId, from: $from, to: $to) {
        tenantId k cells { month orgUnitId orgUnitName category count suppressed }
      }
      signals(tenantId: $tenantId) { nodes { id tenantId kind orgUnitId reviewStatus summary internal { observed } } }
      workshops(tenantId: $tenantId) { nodes { id tenantId theme title seatsAvailable capacity } }
      invoices(tenantId: $tenantId) { nodes { id tenantId status number gross { formatted } } }
    }
    """
)

OTHER_ORGANISATION = gql(
    """
    query OtherOrganisation($tenantId: ID!) {
      me { tenantId }
      clientOrganisation(id: $tenantId) { id name }
      contractUsage(tenantId: $tenantId) { tenantId }
      signals(tenantId: $tenantId) { nodes { id } }
      workshops(tenantId: $tenantId) { nodes { id } }
      invoices(tenantId: $tenantId) { nodes { id } }
    }
    """
)

CASE = gql(
    """
    query Case($id: ID!) {
      case(id: $id) { id tenantId workerId status category history { nodes { status at } } }
    }
    """
)

COVERING_READ = gql(
    """
    query CoveringRead($id: ID!, $reason: String) {
      case(id: $id, breakGlassReason: $reason) { id workerId dossier(first: 5) { nodes { kind } } }
    }
    """
)

FALSE_ALARMS = gql(
    """
    query FalseAlarms($tenantId: ID!) {
      falseAlarms(tenantId: $tenantId) {
        tenantId since kinds { kind raised confirmed dismissed pending thresholdFactor }
      }
    }
    """
)

CASELOAD = gql(
    """
    query Caseload {
      caseload(first: 100) { nodes { id tenantId workerId status category } pageInfo { hasNextPage } }
    }
    """
)

SIGNALS = gql(
    """
    query Signals($tenantId: ID!, $kind: SignalKind, $reviewStatus: ReviewStatus) {
      signals(tenantId: $tenantId, kind: $kind, reviewStatus: $reviewStatus, first: 200) {
        nodes { id tenantId kind orgUnitId orgUnitName reviewStatus summary internal { observed suppressed } }
      }
    }
    """
)

REVIEW = gql(
    """
    mutation Review($input: ReviewSignalInput!) {
      reviewSignal(input: $input) {
        __typename
        ... on SignalReviewed { opportunityId signal { id reviewStatus internal { reviewReason reviewedBy } } }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
        ... on NotFound { message }
        ... on Conflict { message }
        ... on ServiceUnavailable { message }
      }
    }
    """
)

NOTE = gql(
    """
    mutation Note($input: AddOpportunityNoteInput!) {
      addOpportunityNote(input: $input) {
        __typename
        ... on OpportunityNoteAdded { note { id author note fromStage toStage } }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
        ... on NotFound { message }
        ... on ServiceUnavailable { message }
      }
    }
    """
)

HIT_RATE = gql(
    """
    query HitRate($tenantId: ID, $kind: SignalKind) {
      opportunityStatistics(tenantId: $tenantId) { kind won lost open winRate }
      interventions(signalKind: $kind, first: 50) { nodes { code titleEn signalKinds listPriceEuros active } }
    }
    """
)

OPPORTUNITIES = gql(
    """
    query Opportunities($tenantId: ID!, $stage: OpportunityStage) {
      opportunities(tenantId: $tenantId, stage: $stage, first: 200) {
        nodes {
          id tenantId signalId kind orgUnitId stage recommended estimatedValueCents
          recommendations { code priceCents }
        }
      }
    }
    """
)

MOVE = gql(
    """
    mutation Move($input: MoveOpportunityInput!) {
      moveOpportunity(input: $input) {
        __typename
        ... on OpportunityMoved {
          opportunity { id stage wonIntervention estimatedValueCents notes { fromStage toStage note } }
        }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
        ... on NotFound { message }
        ... on Conflict { message }
        ... on ServiceUnavailable { message }
      }
    }
    """
)

ACCOUNT = gql(
    """
    query Account($tenantId: ID!) {
      accountOverview(tenantId: $tenantId) {
        tenantId name
        openSignals { id kind reviewStatus }
        pipeline { stage opportunities estimatedValueCents }
        openOpportunityValueCents
      }
    }
    """
)

OPPORTUNITY_CHANGED = gql(
    """
    subscription Pipeline {
      opportunityChanged { eventId change opportunityId signalId tenantId stage previousStage }
    }
    """
)

WEEK = gql(
    """
    query Week($from: DateTime!, $to: DateTime!) {
      me { subject roles }
      agenda(from: $from, to: $to, first: 200) {
        nodes { id tenantId workerId kind caseId start end status }
        pageInfo { hasNextPage }
      }
    }
    """
)

AGENDA = gql(
    """
    query Agenda($from: DateTime!, $to: DateTime!, $status: AppointmentStatus) {
      agenda(from: $from, to: $to, status: $status, first: 200) { nodes { id kind caseId status } }
    }
    """
)

FREE_SLOTS = gql(
    """
    query FreeSlots($tenantId: ID!, $from: DateTime!, $specialism: String) {
      freeSlots(tenantId: $tenantId, from: $from, kind: CONSULT, specialism: $specialism, first: 10) {
        nodes { workerId workerName start end durationMinutes locations }
      }
    }
    """
)

BOOK = gql(
    """
    mutation Book($input: BookAppointmentInput!) {
      bookAppointment(input: $input) {
        __typename
        ... on AppointmentBooked {
          appointment { id tenantId workerId kind caseId start end status location durationMinutes }
        }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
        ... on NotFound { message }
        ... on Conflict { message }
        ... on ServiceUnavailable { message }
      }
    }
    """
)

CANCEL = gql(
    """
    mutation Cancel($input: CancelAppointmentInput!) {
      cancelAppointment(input: $input) {
        __typename
        ... on AppointmentCancelled { lateCancellation cancelledBy appointment { id status } }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
        ... on NotFound { message }
        ... on Conflict { message }
        ... on ServiceUnavailable { message }
      }
    }
    """
)

RUN_BILLING = gql(
    """
    mutation RunBilling($input: RunBillingInput!) {
      runBilling(input: $input) {
        __typename
        ... on BillingRunCompleted { run { period periodStart periodEnd draftInvoiceIds skipped { tenantId reason } } }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
        ... on NotFound { message }
        ... on ServiceUnavailable { message }
      }
    }
    """
)

DRAFTS = gql(
    """
    query Drafts($tenantId: ID!) {
      invoices(tenantId: $tenantId, status: DRAFT, first: 200) { nodes { id tenantId status periodStart } }
    }
    """
)

ISSUE = gql(
    """
    mutation Issue($input: IssueInvoiceInput!) {
      issueInvoice(input: $input) {
        __typename
        ... on InvoiceIssued { invoice { id tenantId status number issueDate gross { cents } } }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
        ... on NotFound { message }
        ... on Conflict { message }
        ... on ServiceUnavailable { message }
      }
    }
    """
)


def operation_name(text: str) -> str | None:
    """The name of a document's (first) operation."""
    definition = parse(text).definitions[0]
    assert isinstance(definition, OperationDefinitionNode)
    return definition.name.value if definition.name else None


def trusted(name: str) -> GraphQLRequest:
    """The registered trusted document whose operation is ``name``, as the integration sends it."""
    matches = [text for text in TRUSTED.values() if operation_name(text) == name]
    assert len(matches) == 1, f"one trusted document named {name} expected, found {len(matches)}"
    return gql(matches[0])


INTEGRATION_SUBMIT: Final = trusted("SubmitReferral")
INTEGRATION_INVOICES: Final = trusted("Invoices")
INTEGRATION_INVOICE: Final = trusted("Invoice")
INTEGRATION_USAGE: Final = trusted("ContractUsage")

# -- helpers ---------------------------------------------------------------------------------------------------


def client(stack: Stack, token: str) -> Client:
    """A GraphQL-over-HTTP client with the caller's token, validating documents against the committed schema."""
    transport = HTTPXAsyncTransport(url=stack.graphql_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(transport=transport, schema=SCHEMA_SDL, fetch_schema_from_transport=False)


def live_client(stack: Stack, token: str) -> Client:
    """A ``graphql-transport-ws`` client authenticated in its ``connection_init`` payload."""
    transport = WebsocketsTransport(
        url=stack.graphql_url.replace("http://", "ws://", 1),
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    return Client(transport=transport, schema=SCHEMA_SDL, fetch_schema_from_transport=False)


async def run(session: AsyncClientSession, document: GraphQLRequest, **variables: Any) -> dict[str, Any]:
    """Execute ``document`` and return its data (any error fails the journey with the gateway's message)."""
    result: dict[str, Any] = await session.execute(GraphQLRequest(document, variable_values=variables))
    return result


def outcome(data: Mapping[str, Any], field: str, expected: str) -> dict[str, Any]:
    """A mutation's result union member, asserted to be ``expected`` (else the refusal is shown)."""
    member: dict[str, Any] = data[field]
    assert member["__typename"] == expected, member
    return member


async def refused(session: AsyncClientSession, document: GraphQLRequest, **variables: Any) -> TransportQueryError:
    """Execute ``document`` expecting a GraphQL error response; return it for inspection."""
    with pytest.raises(TransportQueryError) as caught:
        await session.execute(GraphQLRequest(document, variable_values=variables))
    return caught.value


def codes_by_field(error: TransportQueryError) -> dict[str, str]:
    """``extensions.code`` of each error, by the top-level field it is about."""
    return {str(e["path"][0]): e.get("extensions", {}).get("code") for e in error.errors or [] if e.get("path")}


def this_month() -> str:
    """The month this ISO week is counted in on signals' monthly grid: the month of its Thursday."""
    today = datetime.now(AMSTERDAM).date()
    return (today - timedelta(days=today.weekday()) + timedelta(days=3)).strftime("%Y-%m")


def monday_of_this_week() -> date:
    """Monday of this ISO week in Europe/Amsterdam, where a social worker's week begins."""
    today = datetime.now(AMSTERDAM).date()
    return today - timedelta(days=today.weekday())


def amsterdam_midnight(day: date) -> datetime:
    """The start of ``day`` in Europe/Amsterdam."""
    return datetime.combine(day, time(), tzinfo=AMSTERDAM)


def instant(value: str) -> datetime:
    """A GraphQL DateTime as an aware datetime, to compare instants whatever their offset."""
    return datetime.fromisoformat(value)


def unit_id(tenant: DemoTenant, name: str) -> str:
    """The id of the demo organisation's org unit called ``name``."""
    return next(unit.id for unit in tenant.org_units if unit.name == name)


# -- 1. a client contact's dashboard ---------------------------------------------------------------------------


async def test_a_client_contact_sees_their_own_dashboard_and_nothing_else(stack: Stack) -> None:
    van_der_veen, municipality = stack.tenants[0], stack.tenants[1]
    contact = stack.mint("client_contact", tenant_id=van_der_veen.id)
    today = datetime.now(AMSTERDAM).date()
    period = {"from": str(today.replace(day=1) - timedelta(days=62)), "to": str(today)}

    async with client(stack, contact) as session:
        dashboard = await run(session, DASHBOARD, tenantId=van_der_veen.id, **period)

    assert dashboard["me"]["tenantId"] == van_der_veen.id
    assert dashboard["me"]["roles"] == ["CLIENT_CONTACT"]

    organisation = dashboard["clientOrganisation"]
    assert (organisation["id"], organisation["name"]) == (van_der_veen.id, van_der_veen.name)
    assert {u["name"] for u in organisation["orgUnits"]} == {u.name for u in van_der_veen.org_units}
    k = organisation["kAnonymity"]

    usage = dashboard["contractUsage"]
    assert usage["tenantId"] == van_der_veen.id
    assert [c["contract"]["status"] for c in usage["contracts"]] == ["ACTIVE"]
    assert usage["contracts"][0]["contract"]["tenantId"] == van_der_veen.id
    products = {p["code"]: p for p in usage["contracts"][0]["products"]}
    assert products["STRIPPENKAART-40"]["kind"] == "HOUR_BUNDLE"

    # The reorganisation in Logistiek shows as a visible cell; every count shown is at least k, the rest hidden.
    trends = dashboard["trends"]
    assert trends["tenantId"] == van_der_veen.id and trends["k"] == k
    logistiek = unit_id(van_der_veen, "Logistiek")
    wave = [
        c
        for c in trends["cells"]
        if c["orgUnitId"] == logistiek and c["category"] == "REORGANISATION_UNCERTAINTY" and c["month"] == this_month()
    ]
    assert len(wave) == 1 and not wave[0]["suppressed"] and wave[0]["count"] >= 7
    for cell in trends["cells"]:
        assert (cell["count"] is None) == cell["suppressed"], cell
        assert cell["suppressed"] or cell["count"] >= k, cell

    # Signals: only released ones (confirmed, or needing no review), without counts. The demo's contract-ending
    # notice needs no review, so there is at least that one.
    signals = dashboard["signals"]["nodes"]
    assert signals, "the demo's contract-ending signal is released to the organisation"
    for signal in signals:
        assert signal["tenantId"] == van_der_veen.id
        assert signal["reviewStatus"] in {"CONFIRMED", "NOT_REQUIRED"}, signal
        assert signal["internal"] is None

    workshops = dashboard["workshops"]["nodes"]
    assert any(w["theme"] == "CONDUCTING_DISMISSAL_CONVERSATIONS" for w in workshops), workshops
    assert all(w["tenantId"] == van_der_veen.id for w in workshops)
    assert all(i["tenantId"] == van_der_veen.id and i["status"] == "ISSUED" for i in dashboard["invoices"]["nodes"])

    # No path from the portal to a case: the organisation's own cases (as their social worker lists them) are
    # neither in the dashboard nor reachable by id.
    async with client(stack, stack.mint("social_worker")) as worker_session:
        caseload = (await run(worker_session, CASELOAD))["caseload"]["nodes"]
    own_cases = [c["id"] for c in caseload if c["tenantId"] == van_der_veen.id]
    assert own_cases, "the demo's referrals opened cases at Van der Veen for the demo social worker"
    assert not any(case_id in json.dumps(dashboard) for case_id in own_cases)
    async with client(stack, contact) as session:
        case_refusal = await refused(session, CASE, id=own_cases[0])
        caseload_refusal = await refused(session, CASELOAD)
        other = await refused(session, DASHBOARD, tenantId=municipality.id, **period)
        partial = await refused(session, OTHER_ORGANISATION, tenantId=municipality.id)
    assert case_refusal.data == {"case": None}
    assert codes_by_field(case_refusal) == {"case": "FORBIDDEN"}
    assert codes_by_field(caseload_refusal) == {"caseload": "FORBIDDEN"}

    # The other demo organisation: every field about it is refused, and nothing of it is shown.
    refused_fields = ["clientOrganisation", "contractUsage", "trends", "signals", "workshops", "invoices"]
    assert codes_by_field(other) == dict.fromkeys(refused_fields, "FORBIDDEN")
    assert municipality.name not in json.dumps(other.data)
    # Field by field, the refusals leave the rest of the document standing. Asked without `trends`: that field
    # is non-null in the schema, so its refusal nulls the whole response (`other.data` above).
    nullable = [field for field in refused_fields if field != "trends"]
    assert partial.data is not None
    assert partial.data["me"]["tenantId"] == van_der_veen.id
    assert codes_by_field(partial) == dict.fromkeys(nullable, "FORBIDDEN")
    assert all(partial.data[field] is None for field in nullable)
    assert municipality.name not in json.dumps(partial.data)


# -- 2. an account manager works an opportunity from a signal to won -------------------------------------------


@contextlib.asynccontextmanager
async def following_the_pipeline(stack: Stack, token: str) -> AsyncIterator[list[dict[str, Any]]]:
    """Collect the caller's ``opportunityChanged`` events while the block runs."""
    received: list[dict[str, Any]] = []

    async with live_client(stack, token) as live:

        async def listen() -> None:
            async for result in live.subscribe(OPPORTUNITY_CHANGED):
                received.append(result["opportunityChanged"])

        task = asyncio.create_task(listen())
        # The subscribe message is sent once the task runs; give it time to be registered before anything happens
        # (the events themselves take longer still: outbox, Kafka, the gateway's feed).
        await asyncio.sleep(0.5)
        try:
            yield received
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_an_account_manager_works_the_reorganisation_wave_from_signal_to_won(stack: Stack) -> None:
    van_der_veen = stack.tenants[0]
    logistiek = unit_id(van_der_veen, "Logistiek")
    manager_id = str(uuid.uuid4())
    manager = stack.mint("account_manager", sub=manager_id, portfolio=[t.id for t in stack.tenants])
    worker = stack.mint("social_worker")
    contact = stack.mint("client_contact", tenant_id=van_der_veen.id)

    # The demo ran detection: Logistiek's reorganisation wave waits for a social worker's review, unseen by the
    # account manager until then.
    async with client(stack, worker) as session:
        pending = await run(
            session, SIGNALS, tenantId=van_der_veen.id, kind="REORGANISATION_WAVE", reviewStatus="PENDING"
        )
    waves = [s for s in pending["signals"]["nodes"] if s["orgUnitId"] == logistiek]
    assert len(waves) == 1, pending
    wave = waves[0]
    assert wave["orgUnitName"] == "Logistiek" and wave["internal"]["observed"] >= 12
    async with client(stack, manager) as session:
        before = await run(session, SIGNALS, tenantId=van_der_veen.id)
    assert wave["id"] not in {s["id"] for s in before["signals"]["nodes"]}

    async with following_the_pipeline(stack, manager) as changes:
        async with client(stack, worker) as session:
            reviewed = outcome(
                await run(
                    session,
                    REVIEW,
                    input={
                        "signalId": wave["id"],
                        "decision": "CONFIRMED",
                        "reason": "MATCHES_WHAT_WE_SEE",
                        "note": "Past bij wat we in de intakes uit Logistiek horen.",
                        "idempotencyKey": str(uuid.uuid4()),
                    },
                ),
                "reviewSignal",
                "SignalReviewed",
            )
        assert reviewed["signal"]["reviewStatus"] == "CONFIRMED"
        assert reviewed["signal"]["internal"]["reviewReason"] == "MATCHES_WHAT_WE_SEE"
        assert reviewed["signal"]["internal"]["reviewedBy"] == stack.demo_workers[0].id
        opportunity_id = reviewed["opportunityId"]
        assert opportunity_id

        async with client(stack, manager) as session:

            async def opened() -> dict[str, Any] | None:
                found = await run(session, OPPORTUNITIES, tenantId=van_der_veen.id, stage="NEW")
                return next((o for o in found["opportunities"]["nodes"] if o["id"] == opportunity_id), None)

            async def is_open() -> bool:
                return await opened() is not None

            await eventually(is_open, what="the confirmed wave's opportunity in the account manager's pipeline")
            opportunity = await opened()
            assert opportunity is not None
            assert (opportunity["signalId"], opportunity["kind"]) == (wave["id"], "REORGANISATION_WAVE")
            assert opportunity["orgUnitId"] == logistiek
            prices = {r["code"]: r["priceCents"] for r in opportunity["recommendations"]}
            assert opportunity["recommended"] and set(opportunity["recommended"]) == set(prices)
            sold = opportunity["recommended"][-1]  # not necessarily the best one: the client chose

            called = outcome(
                await run(
                    session,
                    NOTE,
                    input={"opportunityId": opportunity_id, "note": "HR gebeld; afspraak met de directie gepland."},
                ),
                "addOpportunityNote",
                "OpportunityNoteAdded",
            )["note"]
            assert (called["fromStage"], called["toStage"]) == (None, None)
            assert called["note"].startswith("HR gebeld") and called["author"] == manager_id

            for stage in ("CONTACTED", "PROPOSED"):
                moved = outcome(
                    await run(
                        session,
                        MOVE,
                        input={"opportunityId": opportunity_id, "stage": stage, "note": f"{stage.lower()} HR"},
                    ),
                    "moveOpportunity",
                    "OpportunityMoved",
                )
                assert moved["opportunity"]["stage"] == stage
            won = outcome(
                await run(
                    session,
                    MOVE,
                    input={"opportunityId": opportunity_id, "stage": "WON", "wonIntervention": sold},
                ),
                "moveOpportunity",
                "OpportunityMoved",
            )["opportunity"]
            assert (won["stage"], won["wonIntervention"]) == ("WON", sold)
            assert won["estimatedValueCents"] == prices[sold]
            assert [(n["fromStage"], n["toStage"]) for n in won["notes"]] == [
                (None, None),
                ("NEW", "CONTACTED"),
                ("CONTACTED", "PROPOSED"),
                ("PROPOSED", "WON"),
            ]

            hit_rate = await run(session, HIT_RATE, tenantId=van_der_veen.id, kind="REORGANISATION_WAVE")
            waves_sold = next(k for k in hit_rate["opportunityStatistics"] if k["kind"] == "REORGANISATION_WAVE")
            assert waves_sold["won"] >= 1 and waves_sold["winRate"] is not None
            catalogue = hit_rate["interventions"]["nodes"]
            assert sold in {i["code"] for i in catalogue}
            assert all("REORGANISATION_WAVE" in i["signalKinds"] and i["active"] for i in catalogue)

            overview = (await run(session, ACCOUNT, tenantId=van_der_veen.id))["accountOverview"]
        assert overview["tenantId"] == van_der_veen.id and overview["name"] == van_der_veen.name
        pipeline = {p["stage"]: p for p in overview["pipeline"]}
        assert pipeline["WON"]["opportunities"] >= 1
        assert pipeline["WON"]["estimatedValueCents"] >= prices[sold]
        open_value = sum(p["estimatedValueCents"] for s, p in pipeline.items() if s not in {"WON", "LOST"})
        assert overview["openOpportunityValueCents"] == open_value
        assert {"id": wave["id"], "kind": "REORGANISATION_WAVE", "reviewStatus": "CONFIRMED"} in overview["openSignals"]

        # The moves reach the account manager live, through signals' events on Kafka.
        def stages_seen() -> list[tuple[str, str | None, str]]:
            return [
                (c["change"], c["previousStage"], c["stage"]) for c in changes if c["opportunityId"] == opportunity_id
            ]

        async def all_moves_arrived() -> bool:
            return ("STAGE_CHANGED", "PROPOSED", "WON") in stages_seen()

        await eventually(all_moves_arrived, what="the opportunity's moves on the opportunityChanged subscription")
    assert ("CREATED", None, "NEW") in stages_seen()
    assert ("STAGE_CHANGED", "NEW", "CONTACTED") in stages_seen()
    assert all(c["tenantId"] in {t.id for t in stack.tenants} for c in changes)

    # Confirmed, the wave is released to the organisation as well: without its counts.
    async with client(stack, contact) as session:
        released = await run(session, SIGNALS, tenantId=van_der_veen.id, kind="REORGANISATION_WAVE")
    shown = [s for s in released["signals"]["nodes"] if s["id"] == wave["id"]]
    assert len(shown) == 1 and shown[0]["reviewStatus"] == "CONFIRMED" and shown[0]["internal"] is None


# -- 3. a social worker's week ---------------------------------------------------------------------------------


async def test_a_social_worker_plans_the_week_books_a_consult_and_cancels_it(stack: Stack) -> None:
    me = stack.demo_workers[0]
    worker = stack.mint("social_worker")
    monday = monday_of_this_week()
    week_from, week_to = amsterdam_midnight(monday), amsterdam_midnight(monday + timedelta(weeks=2))

    async with client(stack, worker) as session:
        week = await run(session, WEEK, **{"from": week_from.isoformat(), "to": week_to.isoformat()})
        assert week["me"]["subject"] == me.id and week["me"]["roles"] == ["SOCIAL_WORKER"]
        agenda = week["agenda"]["nodes"]
        assert agenda, "the demo's referrals booked intakes with the demo social worker"
        assert all(a["workerId"] == me.id for a in agenda)
        starts = [instant(a["start"]) for a in agenda]
        assert starts == sorted(starts) and all(week_from <= s < week_to for s in starts)

        caseload = (await run(session, CASELOAD))["caseload"]["nodes"]
        assert caseload and all(c["workerId"] == me.id for c in caseload)
        assert all(c["status"] != "CLOSED" for c in caseload)
        chosen = next((c for c in caseload if c["tenantId"] == stack.tenants[0].id), None)
        assert chosen is not None, "the demo social worker has cases at Van der Veen"
        case = (await run(session, CASE, id=chosen["id"]))["case"]
        assert (case["id"], case["workerId"], case["tenantId"]) == (chosen["id"], me.id, chosen["tenantId"])
        assert case["history"]["nodes"], "a case has at least its opening in its history"

        review_record = (await run(session, FALSE_ALARMS, tenantId=case["tenantId"]))["falseAlarms"]
        assert review_record["tenantId"] == case["tenantId"]
        assert all(k["raised"] == k["confirmed"] + k["dismissed"] + k["pending"] for k in review_record["kinds"])

    # A colleague covering for her reads the case only with a stated reason, which intake logs.
    async with client(stack, stack.mint("social_worker", sub=str(uuid.uuid4()))) as colleague:
        without = await refused(colleague, COVERING_READ, id=chosen["id"])
        assert without.errors and without.errors[0]["extensions"]["code"] == "FORBIDDEN"
        assert "breakGlassReason" in without.errors[0]["message"]
        covered = (await run(colleague, COVERING_READ, id=chosen["id"], reason="Collega ziek; cliënt belt in crisis"))[
            "case"
        ]
        assert (covered["id"], covered["workerId"]) == (chosen["id"], me.id)
        assert covered["dossier"] is not None, "the reason reaches the dossier read as well"

    async with client(stack, worker) as session:
        # Two days ahead, so that cancelling is never a late (billable) cancellation. Only the demo social worker
        # has the burnout specialism: every slot offered is hers.
        search_from = datetime.now(UTC) + timedelta(days=2)
        slots = (
            await run(
                session,
                FREE_SLOTS,
                tenantId=case["tenantId"],
                specialism="burnout",
                **{"from": search_from.isoformat()},
            )
        )["freeSlots"]["nodes"]
        assert slots and all(s["workerId"] == me.id and s["workerName"] == me.name for s in slots)
        assert all(instant(s["start"]) >= search_from for s in slots)

        booked: dict[str, Any] | None = None
        booked_start: str | None = None
        for slot in slots:  # an intake booked automatically meanwhile may take a slot: then the next one
            result = (
                await run(
                    session,
                    BOOK,
                    input={  # no tenantId: the gateway takes the case's organisation from intake
                        "workerId": me.id,
                        "kind": "CONSULT",
                        "start": slot["start"],
                        "caseId": case["id"],
                        "location": "VIDEO",
                        "idempotencyKey": str(uuid.uuid4()),
                    },
                )
            )["bookAppointment"]
            if result["__typename"] == "Conflict":
                continue
            assert result["__typename"] == "AppointmentBooked", result
            booked, booked_start = result["appointment"], slot["start"]
            break
        assert booked is not None and booked_start is not None, "every free slot offered was taken"
        assert (booked["kind"], booked["caseId"], booked["workerId"]) == ("CONSULT", case["id"], me.id)
        assert (booked["status"], booked["location"]) == ("BOOKED", "VIDEO")
        assert instant(booked["start"]) == instant(booked_start)
        window = {"from": booked["start"], "to": booked["end"]}
        in_agenda = (await run(session, AGENDA, status="BOOKED", **window))["agenda"]["nodes"]
        assert {"id": booked["id"], "kind": "CONSULT", "caseId": case["id"], "status": "BOOKED"} in in_agenda

        cancelled = outcome(
            await run(session, CANCEL, input={"appointmentId": booked["id"]}),
            "cancelAppointment",
            "AppointmentCancelled",
        )
        assert cancelled["appointment"] == {"id": booked["id"], "status": "CANCELLED"}
        assert (cancelled["lateCancellation"], cancelled["cancelledBy"]) == (False, "SOCIAL_WORKER")
        still_booked = (await run(session, AGENDA, status="BOOKED", **window))["agenda"]["nodes"]
        assert booked["id"] not in {a["id"] for a in still_booked}
        again = outcome(
            await run(session, CANCEL, input={"appointmentId": booked["id"]}), "cancelAppointment", "Conflict"
        )
        assert "cancel" in again["message"]


# -- 4. an integration pushes a referral and pulls an invoice --------------------------------------------------


async def test_an_integration_pushes_a_referral_and_pulls_the_issued_invoice_as_ubl(stack: Stack) -> None:
    van_der_veen, municipality = stack.tenants[0], stack.tenants[1]
    integration = stack.mint(
        "integration", tenant_id=van_der_veen.id, scopes=["referrals:write", "invoices:read", "usage:read"]
    )
    admin = stack.mint("provider_admin")
    # Sent as text, these are exactly the registered documents: trusted where integrations are restricted.
    for document in (INTEGRATION_SUBMIT, INTEGRATION_INVOICES, INTEGRATION_INVOICE, INTEGRATION_USAGE):
        assert document_hash(print_ast(document.document)) in TRUSTED

    async with client(stack, integration) as session:
        submitted = outcome(
            await run(
                session,
                INTEGRATION_SUBMIT,
                input={
                    "orgUnitId": unit_id(van_der_veen, "Planning"),
                    "category": "WORKLOAD_STRESS",
                    "urgency": "NORMAL",
                    "channel": "INTEGRATION",
                    "employeeConsented": True,
                    "employee": {"name": "Daan Visser", "email": "daan.visser@example.nl"},
                },
            ),
            "submitReferral",
            "ReferralSubmitted",
        )
        assert submitted["referral"]["status"] == "CASE_OPENED" and submitted["referral"]["caseId"]
        usage = (await run(session, INTEGRATION_USAGE, tenantId=van_der_veen.id))["contractUsage"]
        assert usage["tenantId"] == van_der_veen.id

    # The provider bills this month (Van der Veen's subscription is billed monthly) and issues the draft.
    month_start = datetime.now(AMSTERDAM).date().replace(day=1)
    async with client(stack, admin) as session:
        run_result = outcome(
            await run(
                session, RUN_BILLING, input={"period": month_start.strftime("%Y-%m"), "tenantId": van_der_veen.id}
            ),
            "runBilling",
            "BillingRunCompleted",
        )["run"]
        assert run_result["periodStart"] == str(month_start)
        drafts = (await run(session, DRAFTS, tenantId=van_der_veen.id))["invoices"]["nodes"]
        this_period = [d["id"] for d in drafts if d["periodStart"] == str(month_start)]
        assert len(this_period) == 1, (run_result, drafts)
        assert set(run_result["draftInvoiceIds"]) <= set(this_period)
        issued = outcome(
            await run(session, ISSUE, input={"invoiceId": this_period[0]}), "issueInvoice", "InvoiceIssued"
        )["invoice"]
    assert (issued["tenantId"], issued["status"]) == (van_der_veen.id, "ISSUED")
    assert issued["number"] and issued["gross"]["cents"] > 0

    async with client(stack, integration) as session:
        listed = (await run(session, INTEGRATION_INVOICES, tenantId=van_der_veen.id))["invoices"]
        nodes = [edge["node"] for edge in listed["edges"]]
        assert {"__typename": "Invoice", "id": issued["id"], "number": issued["number"], "status": "ISSUED"} in nodes
        assert all(n["status"] == "ISSUED" for n in nodes)

        invoice = (await run(session, INTEGRATION_INVOICE, id=issued["id"]))["invoice"]
        assert (invoice["id"], invoice["number"], invoice["status"]) == (issued["id"], issued["number"], "ISSUED")
        ubl = invoice["ublXml"]
        assert ubl.startswith("<?xml") and "<Invoice" in ubl
        assert f"<cbc:ID>{issued['number']}</cbc:ID>" in ubl

        # Its own tenant only.
        elsewhere = await refused(session, INTEGRATION_INVOICES, tenantId=municipality.id)
    assert codes_by_field(elsewhere) == {"invoices": "FORBIDDEN"}
