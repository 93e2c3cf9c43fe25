"""The gateway under load and trouble, end to end: what a dashboard costs, a service that goes away, and live
updates over ``graphql-transport-ws``.

* **N+1**: one dashboard query over a client organisation of 50 org units makes as many service calls as the
  same query over one of 5, and no more than :data:`DASHBOARD_CALL_BOUND`. The services do not log each request,
  so the calls are counted on the wire: a second gateway process, started exactly as the stack starts its own,
  reaches the services through a counting proxy in this test (its ``GATEWAY_<SERVICE>_URL`` point there), and
  the proxy records every call with the ``x-correlation-id`` the gateway forwards from the GraphQL request.
* **A service stopped mid-test**: with the signals process stopped, ``me`` and the client organisation still
  resolve while ``signals`` is null with ``SERVICE_UNAVAILABLE``; started again the way the stack starts it, the
  same document resolves whole.
* **Subscriptions**: a provider admin's ``signalRaised`` receives a signal within a second of its event being
  published on Kafka, and a connection whose token expires is closed (4403, ``token expired``) at its ``exp``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
import jwt
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from gql import Client, GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportError, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from starlette.types import Message, Receive, Scope, Send
from websockets.exceptions import ConnectionClosed

from bmw.devstack.demo import DEMO_ACCOUNT_MANAGER_ID
from bmw.devstack.infra import free_port
from bmw.devstack.processes import ManagedProcess, terminate_groups
from bmw.devstack.stack import Stack
from bmw.devstack.testing import eventually

pytestmark = pytest.mark.e2e

AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")

#: Most service calls the dashboard below may cost, whatever the size of the organisation: one per field over
#: billing, signals and scheduling (10), plus one per management action whose ``effects`` it shows (signals has
#: no batch route for those; the test organisations have two actions each).
DASHBOARD_CALL_BOUND: Final = 12

#: The topic signals publishes its events on.
SIGNALS_TOPIC: Final = "bmw.signals.events"

# -- documents ---------------------------------------------------------------------------------------------

REGISTER = gql(
    """
    mutation Register($input: RegisterClientOrganisationInput!) {
      registerClientOrganisation(input: $input) {
        __typename
        ... on ClientOrganisationRegistered { clientOrganisation { id orgUnits { id children { id } } } }
        ... on ValidationFailed { message fields { path message } }
      }
    }
    """
)

CREATE_CONTRACT = gql(
    """
    mutation Contract($input: CreateContractInput!) {
      createContract(input: $input) {
        __typename
        ... on ContractCreated { contract { id } }
        ... on ValidationFailed { message fields { path message } }
      }
    }
    """
)

SUBMIT = gql(
    """
    mutation Submit($input: ReferralInput!) {
      submitReferral(input: $input) {
        __typename
        ... on ReferralSubmitted { referral { id } }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
      }
    }
    """
)

RECORD_ACTION = gql(
    """
    mutation Action($input: RecordManagementActionInput!) {
      recordManagementAction(input: $input) {
        __typename
        ... on ManagementActionRecorded { action { id } }
        ... on ValidationFailed { message fields { path message } }
      }
    }
    """
)

RECORD_OBSERVATION = gql(
    """
    mutation Observation($input: RecordSecondmentObservationInput!) {
      recordSecondmentObservation(input: $input) {
        __typename
        ... on SecondmentObservationRecorded { observation { id } }
        ... on ValidationFailed { message fields { path message } }
      }
    }
    """
)

TREND_UNITS = gql(
    """
    query TrendUnits($tenantId: ID!, $from: Date!, $to: Date!) {
      trends(tenantId: $tenantId, from: $from, to: $to) { cells { orgUnitId } }
    }
    """
)

#: An account manager's dashboard of one client organisation: everything the schema offers per org unit
#: (the unit tree, trend cells, signals, observations, the account's open signals) and per organisation.
DASHBOARD = gql(
    """
    query Dashboard($tenantId: ID!, $from: Date!, $to: Date!) {
      me { subject roles }
      clientOrganisation(id: $tenantId) {
        id
        name
        totalEmployees
        orgUnits {
          id
          name
          employees
          totalEmployees
          children { id name parentId employees totalEmployees children { id } }
        }
        contracts { id status periodEnd products { code kind includedQuantity } }
      }
      contractUsage(tenantId: $tenantId) {
        contracts { contract { id } products { code quantity bundleHoursUsed bundleUsedPercent } }
      }
      trends(tenantId: $tenantId, from: $from, to: $to) {
        k
        cells { month orgUnitId orgUnitName category count suppressed }
      }
      signals(tenantId: $tenantId, first: 100) {
        nodes { id orgUnitId orgUnitName kind summary reviewStatus }
      }
      managementActions(tenantId: $tenantId, first: 10) {
        nodes {
          id
          orgUnitName
          actionType
          effects { weeksBefore weeksAfter tooEarly final categories { category explanation } }
        }
      }
      secondmentObservations(tenantId: $tenantId, first: 100) {
        nodes { orgUnitId orgUnitName bottleneck severity }
      }
      accountOverview(tenantId: $tenantId) {
        name
        contracts { id daysToRenewal products { code used percentUsed } }
        openSignals { orgUnitName kind }
        pipeline { stage opportunities }
        workshops { theme sessions }
        secondmentHoursLast12Months
      }
      workshops(tenantId: $tenantId, first: 50) {
        nodes { id title seatsAvailable trainers { id name } }
      }
    }
    """
)

#: What a client contact's portal shows while one of the services may be down.
PORTAL = gql(
    """
    query Portal($tenantId: ID!) {
      me { subject roles tenantId }
      clientOrganisation(id: $tenantId) { id name orgUnits { id name } }
      signals(tenantId: $tenantId) { nodes { id kind summary } }
    }
    """
)

SIGNAL_RAISED = gql(
    """
    subscription Raised($tenantId: ID!) {
      signalRaised(tenantId: $tenantId) {
        eventId signalId tenantId orgUnitId kind reviewStatus suppressed occurredAt
      }
    }
    """
)

# -- helpers -----------------------------------------------------------------------------------------------


def with_variables(request: GraphQLRequest, variables: dict[str, Any]) -> GraphQLRequest:
    return GraphQLRequest(request, variable_values=variables)


def http_client(url: str, token: str, *, correlation_id: str | None = None) -> Client:
    """A gql client over HTTP; with ``correlation_id`` every request carries it as ``x-correlation-id``."""
    headers = {"Authorization": f"Bearer {token}"}
    if correlation_id is not None:
        headers["x-correlation-id"] = correlation_id
    transport = HTTPXAsyncTransport(url=url, headers=headers, timeout=30)
    return Client(transport=transport, fetch_schema_from_transport=False)


def ws_client(stack: Stack, token: str) -> Client:
    """A gql client over ``graphql-transport-ws``, authenticated in ``connection_init``."""
    transport = WebsocketsTransport(
        url=stack.graphql_url.replace("http://", "ws://", 1),
        init_payload={"authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


def fresh_subject() -> str:
    """A subject of its own, so that this file's calls do not spend another test's rate-limit budget."""
    return str(uuid.uuid4())


def period() -> dict[str, str]:
    today = datetime.now(AMSTERDAM).date()
    return {"from": str(today - timedelta(days=7)), "to": str(today)}


def referral_input(unit: str, category: str) -> dict[str, Any]:
    return {
        "orgUnitId": unit,
        "category": category,
        "urgency": "NORMAL",
        "channel": "HR",
        "employeeConsented": True,
        "employee": {"name": "Noor Visser", "email": f"noor.{uuid.uuid4().hex[:8]}@example.nl"},
    }


async def bounded(calls: Sequence[Callable[[], Awaitable[None]]], limit: int = 8) -> None:
    """Run ``calls`` concurrently, at most ``limit`` at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


@dataclass(frozen=True)
class Organisation:
    """A client organisation this file registered, with its org units (parents first)."""

    id: str
    units: list[str]


def org_unit_tree(units: int) -> list[dict[str, Any]]:
    """``units`` org units as departments of about ten units each: a parent with the rest below it."""
    parents = [str(uuid.uuid4()) for _ in range(max(1, units // 10))]
    tree: list[dict[str, Any]] = [
        {"id": parent, "name": f"Afdeling {number + 1}", "employees": 20} for number, parent in enumerate(parents)
    ]
    for number in range(units - len(parents)):
        tree.append(
            {
                "id": str(uuid.uuid4()),
                "name": f"Team {number + 1}",
                "parentId": parents[number % len(parents)],
                "employees": 10 + number % 7,
            }
        )
    return tree


async def register_organisation(
    stack: Stack, name: str, tree: list[dict[str, Any]], *, with_contract: bool = True
) -> Organisation:
    """Onboard an organisation with these org units (each with its ``id``) through the gateway as a provider
    admin and, ``with_contract``, give it a contract for an hour bundle this year."""
    admin = stack.mint("provider_admin", sub=fresh_subject())
    today = datetime.now(AMSTERDAM).date()
    async with http_client(stack.graphql_url, admin) as session:
        registered = await session.execute(
            with_variables(
                REGISTER,
                {"input": {"name": name, "accountManagerId": DEMO_ACCOUNT_MANAGER_ID, "orgUnits": tree}},
            )
        )
        outcome = registered["registerClientOrganisation"]
        assert outcome["__typename"] == "ClientOrganisationRegistered", outcome
        organisation = outcome["clientOrganisation"]
        assert sum(1 + len(unit["children"]) for unit in organisation["orgUnits"]) == len(tree)
        if not with_contract:
            return Organisation(id=organisation["id"], units=[unit["id"] for unit in tree])
        contract = {
            "tenantId": organisation["id"],
            "periodStart": str(today.replace(month=1, day=1)),
            "periodEnd": str(today.replace(month=12, day=31)),
            "products": [
                {
                    "code": "STRIPPENKAART-40",
                    "kind": "HOUR_BUNDLE",
                    "unitPriceCents": 11_500,
                    "vatRate": "STANDARD",
                    "includedQuantity": "40",
                    "overageUnitPriceCents": 12_500,
                }
            ],
        }
        created = await session.execute(with_variables(CREATE_CONTRACT, {"input": contract}))
        assert created["createContract"]["__typename"] == "ContractCreated", created
    return Organisation(id=organisation["id"], units=[unit["id"] for unit in tree])


async def submit_referral(session: AsyncClientSession, unit: str, category: str) -> None:
    """Submit one referral, waiting until intake has learnt the unit from billing's event."""

    async def accepted() -> bool:
        result = await session.execute(with_variables(SUBMIT, {"input": referral_input(unit, category)}))
        outcome = result["submitReferral"]
        if outcome["__typename"] == "ReferralSubmitted":
            return True
        # Only "intake does not know this unit yet" is worth waiting for.
        assert outcome["__typename"] == "ValidationFailed", outcome
        assert [f["path"] for f in outcome["fields"]] == ["input.orgUnitId"], outcome
        return False

    await eventually(accepted, timeout=30, what="intake to learn the org units from billing")


async def fill_dashboard(stack: Stack, organisation: Organisation) -> None:
    """Give every org unit something to show: a referral (a trend cell) and an observation; and record two
    management actions for the organisation."""
    tenant = organisation.id
    contact = stack.mint("client_contact", sub=fresh_subject(), tenant_id=tenant)
    worker = stack.mint("social_worker", sub=fresh_subject())
    today = datetime.now(AMSTERDAM).date()
    async with http_client(stack.graphql_url, contact) as referrals, http_client(stack.graphql_url, worker) as notes:
        await submit_referral(referrals, organisation.units[0], "WORKLOAD_STRESS")

        async def refer(unit: str) -> None:
            result = await referrals.execute(with_variables(SUBMIT, {"input": referral_input(unit, "WORKLOAD_STRESS")}))
            assert result["submitReferral"]["__typename"] == "ReferralSubmitted", result

        async def observe(unit: str) -> None:
            observation = {
                "tenantId": tenant,
                "orgUnitId": unit,
                "bottleneck": "WORKLOAD_AFTER_STAFF_CUTS",
                "observedOn": str(today - timedelta(days=2)),
                "severity": 2,
            }
            result = await notes.execute(with_variables(RECORD_OBSERVATION, {"input": observation}))
            assert result["recordSecondmentObservation"]["__typename"] == "SecondmentObservationRecorded", result

        await bounded(
            [partial(refer, unit) for unit in organisation.units[1:]]
            + [partial(observe, unit) for unit in organisation.units]
        )
        for action in (
            {
                "tenantId": tenant,
                "actionType": "WORKLOAD_MEASURES_TAKEN",
                "occurredOn": str(today - timedelta(days=20)),
            },
            {
                "tenantId": tenant,
                "orgUnitId": organisation.units[0],
                "actionType": "TEAM_COACHING_STARTED",
                "occurredOn": str(today - timedelta(days=5)),
            },
        ):
            recorded = await referrals.execute(with_variables(RECORD_ACTION, {"input": action}))
            assert recorded["recordManagementAction"]["__typename"] == "ManagementActionRecorded", recorded

    # Signals counts the referrals from intake's events: wait until every unit has its trend cell.
    manager = stack.mint("account_manager", sub=fresh_subject(), portfolio=[tenant])
    async with http_client(stack.graphql_url, manager) as session:

        async def every_unit_counted() -> bool:
            report = await session.execute(with_variables(TREND_UNITS, {"tenantId": tenant, **period()}))
            return {cell["orgUnitId"] for cell in report["trends"]["cells"]} >= set(organisation.units)

        await eventually(every_unit_counted, timeout=60, what="signals to count a referral in every org unit")


# -- a gateway whose service calls are counted ---------------------------------------------------------------


@dataclass(frozen=True)
class ServiceCall:
    """One request the gateway made to a service."""

    service: str
    method: str
    path: str
    correlation_id: str | None


@dataclass
class CountingProxy:
    """An ASGI app in front of the services: ``/<service>/<path>`` goes to ``<service URL>/<path>`` unchanged, and
    each call is remembered (health checks aside)."""

    upstreams: Mapping[str, str]
    calls: list[ServiceCall] = field(default_factory=list)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))

    def made_in(self, correlation_id: str) -> list[ServiceCall]:
        return [call for call in self.calls if call.correlation_id == correlation_id]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http", scope["type"]
        service, _, rest = scope["path"].lstrip("/").partition("/")
        path = f"/{rest}"
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        if path not in ("/readyz", "/healthz"):
            self.calls.append(ServiceCall(service, scope["method"], path, headers.get("x-correlation-id")))
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        forwarded = {name: value for name, value in headers.items() if name not in ("host", "content-length")}
        query = scope["query_string"].decode("latin-1")
        url = f"{self.upstreams[service]}{path}" + (f"?{query}" if query else "")
        try:
            upstream = await self.http.request(scope["method"], url, headers=forwarded, content=body)
        except httpx.TransportError:
            await send({"type": "http.response.start", "status": 502, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        dropped = {"content-length", "transfer-encoding", "connection", "content-encoding"}
        answer = [(k.encode(), v.encode()) for k, v in upstream.headers.multi_items() if k.lower() not in dropped]
        answer.append((b"content-length", str(len(upstream.content)).encode()))
        await send({"type": "http.response.start", "status": upstream.status_code, "headers": answer})
        await send({"type": "http.response.body", "body": upstream.content})


@dataclass(frozen=True)
class CountedGateway:
    """A second gateway process of the stack, its service calls counted by ``proxy``."""

    graphql_url: str
    proxy: CountingProxy


@pytest.fixture
async def counted_gateway(stack: Stack) -> AsyncIterator[CountedGateway]:
    proxy = CountingProxy({name: endpoint.url for name, endpoint in stack.services.items()})
    proxy_port = free_port(stack.host)
    server = uvicorn.Server(
        uvicorn.Config(proxy, host=stack.host, port=proxy_port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    process: ManagedProcess | None = None
    try:

        async def listening() -> bool:
            return server.started

        await eventually(listening, timeout=10, what="the counting proxy to listen")
        env = stack.gateway_env()
        for name in stack.services:
            env[f"GATEWAY_{name.upper()}_URL"] = f"http://{stack.host}:{proxy_port}/{name}"
        env["KAFKA_BOOTSTRAP_SERVERS"] = ""  # no subscriptions needed here
        port = free_port(stack.host)
        command = stack.launcher("gateway", ["serve", "--host", stack.host, "--port", str(port)])
        process = stack.supervisor.start("gateway-counted", command, env=env)
        url = f"http://{stack.host}:{port}"
        # Blocking polls, in a thread: the proxy answering the gateway's readiness checks runs on this loop.
        await asyncio.to_thread(process.wait_ready, url, stack.ready_timeout)
        yield CountedGateway(graphql_url=f"{url}/graphql", proxy=proxy)
    finally:
        if process is not None:
            await asyncio.to_thread(terminate_groups, [process.popen])
        server.should_exit = True
        await serving
        await proxy.http.aclose()


async def dashboard_calls(
    gateway: CountedGateway, stack: Stack, tenant: str
) -> tuple[dict[str, Any], list[ServiceCall]]:
    """Run the dashboard once through the counted gateway; its data and the service calls it caused."""
    correlation = f"dashboard-{uuid.uuid4()}"
    manager = stack.mint("account_manager", sub=fresh_subject(), portfolio=[tenant])
    before = len(gateway.proxy.calls)
    async with http_client(gateway.graphql_url, manager, correlation_id=correlation) as session:
        data = await session.execute(with_variables(DASHBOARD, {"tenantId": tenant, **period()}))
    during = gateway.proxy.calls[before:]
    # Nothing else talks to this gateway: every call it made meanwhile carries the dashboard's correlation id.
    assert during == gateway.proxy.made_in(correlation), during
    return data, during


def summary(calls: list[ServiceCall]) -> Counter[str]:
    """Calls per service and route (ids left out), to compare two dashboards."""
    return Counter(f"{call.service} {call.method} {_route(call.path)}" for call in calls)


def _route(path: str) -> str:
    parts = []
    for part in path.split("/"):
        try:
            uuid.UUID(part)
        except ValueError:
            parts.append(part)
        else:
            parts.append("{id}")
    return "/".join(parts)


# -- 1. the N+1 check -----------------------------------------------------------------------------------------


async def test_a_dashboard_over_50_org_units_costs_as_many_service_calls_as_one_over_5(
    stack: Stack, counted_gateway: CountedGateway
) -> None:
    small = await register_organisation(stack, "Klein Bedrijf B.V.", org_unit_tree(5))
    large = await register_organisation(stack, "Groot Concern N.V.", org_unit_tree(50))
    await asyncio.gather(fill_dashboard(stack, small), fill_dashboard(stack, large))

    small_data, small_calls = await dashboard_calls(counted_gateway, stack, small.id)
    large_data, large_calls = await dashboard_calls(counted_gateway, stack, large.id)

    # The dashboards show every unit: the tree, a trend cell and an observation each.
    for data, organisation in ((small_data, small), (large_data, large)):
        tree = data["clientOrganisation"]["orgUnits"]
        shown = {unit["id"] for unit in tree} | {child["id"] for unit in tree for child in unit["children"]}
        assert shown == set(organisation.units)
        assert {cell["orgUnitId"] for cell in data["trends"]["cells"]} >= set(organisation.units)
        observed = data["secondmentObservations"]["nodes"]
        assert {o["orgUnitId"] for o in observed} == set(organisation.units)
        assert all(o["orgUnitName"] for o in observed)
        assert len(data["managementActions"]["nodes"]) == 2
        assert all(action["effects"] is not None for action in data["managementActions"]["nodes"])
        assert data["accountOverview"]["contracts"], data["accountOverview"]
        assert data["contractUsage"]["contracts"], data["contractUsage"]

    # The counting changes nothing: the stack's own gateway shows the same organisation and trends.
    manager = stack.mint("account_manager", sub=fresh_subject(), portfolio=[large.id])
    async with http_client(stack.graphql_url, manager) as session:
        direct = await session.execute(with_variables(DASHBOARD, {"tenantId": large.id, **period()}))
    assert direct["clientOrganisation"] == large_data["clientOrganisation"]
    assert direct["trends"] == large_data["trends"]

    assert len(large_calls) <= DASHBOARD_CALL_BOUND, summary(large_calls)
    # Ten times the org units, not one call more: the same calls to the same routes.
    assert summary(large_calls) == summary(small_calls)


# -- 2. a subscription receives a raised signal within a second; one whose token expires is closed ------------


def history_csv(units: list[str], weeks: int = 52, seed: int = 7) -> bytes:
    """A year of ordinary weeks before the product: a referral now and then, in every unit."""
    rng = random.Random(seed)
    today = datetime.now(AMSTERDAM).date()
    this_week = today - timedelta(days=today.weekday())
    lines = ["week;org_unit;category;count"]
    for back in range(weeks, 0, -1):
        monday = this_week - timedelta(weeks=back)
        for name in units:
            for category in ("reorganisation_uncertainty", "workload_stress", "conflict_manager"):
                lines.append(f"{monday.isoformat()};{name};{category};{int(rng.random() < 0.15)}")
    return ("\n".join(lines) + "\n").encode()


async def kafka_timestamp(stack: Stack, event_id: str) -> float:
    """When the event with this id was published on signals' topic (the record's timestamp, epoch seconds)."""
    consumer = AIOKafkaConsumer(
        SIGNALS_TOPIC,
        bootstrap_servers=stack.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    headers = {name: value.decode(errors="replace") for name, value in record.headers}
                    if headers.get("ce_id") == event_id:
                        return float(record.timestamp) / 1000
    finally:
        await consumer.stop()
    raise AssertionError(f"event {event_id} not found on {SIGNALS_TOPIC}")


async def test_a_raised_signal_reaches_a_subscriber_within_a_second(stack: Stack) -> None:
    admin = stack.mint("provider_admin", sub=fresh_subject())
    now = datetime.now(UTC)
    names = ["Logistiek", "Finance"]
    tree = [{"id": str(uuid.uuid4()), "name": name} for name in names]
    # No contract: a contract ending soon would raise a signal of its own.
    organisation = await register_organisation(stack, f"Golf Logistiek {now:%H%M%S} B.V.", tree, with_contract=False)
    logistics, finance = organisation.units
    signals = stack.services["signals"].url
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {admin}"}, timeout=30) as http:

        async def history_imported() -> bool:
            response = await http.post(
                f"{signals}/history-imports",
                params={"tenant_id": organisation.id},
                content=history_csv(names),
                headers={"content-type": "text/csv"},
            )
            assert response.status_code in (201, 404, 422), response.text  # 404/422: not known to signals yet
            return response.status_code == 201

        await eventually(history_imported, what="signals to learn the organisation and take its history")

        received: list[tuple[float, dict[str, Any]]] = []
        async with ws_client(stack, admin) as live:

            async def listen() -> None:
                request = with_variables(SIGNAL_RAISED, {"tenantId": organisation.id})
                async for result in live.subscribe(request):
                    received.append((time.time(), result["signalRaised"]))

            listening = asyncio.create_task(listen())
            try:
                await asyncio.sleep(0.5)  # the subscribe message is on its way before anything happens
                contact = stack.mint("client_contact", sub=fresh_subject(), tenant_id=organisation.id)
                async with http_client(stack.graphql_url, contact) as session:
                    # A burst of reorganisation worries in the team this week, after a quiet year.
                    await submit_referral(session, logistics, "REORGANISATION_UNCERTAINTY")
                    for category in ["REORGANISATION_UNCERTAINTY"] * 5 + ["DISMISSAL"] * 3:
                        await submit_referral(session, logistics, category)
                    await submit_referral(session, finance, "WORKLOAD_STRESS")

                raised_by_run: list[str] = []
                responded_at = 0.0

                def waves() -> list[tuple[float, dict[str, Any]]]:
                    return [(at, signal) for at, signal in received if signal["kind"] == "REORGANISATION_WAVE"]

                async def raised() -> bool:
                    nonlocal responded_at
                    if waves():
                        return True  # signals' own periodic detection run was first
                    run = await http.post(f"{signals}/detection-runs", params={"tenant_id": organisation.id})
                    responded_at = time.time()
                    assert run.status_code == 200, run.text
                    raised_by_run.extend(run.json()["raised"])
                    return bool(raised_by_run)

                await eventually(raised, timeout=60, what="the burst to raise a signal")

                async def delivered() -> bool:
                    return bool(waves())

                await eventually(delivered, timeout=5, what="the raised signal to reach the subscriber")
            finally:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening

    arrived_at, signal = waves()[0]
    assert signal["tenantId"] == organisation.id
    assert signal["orgUnitId"] == logistics
    assert signal["reviewStatus"] == "PENDING"
    if raised_by_run:
        assert signal["signalId"] in raised_by_run
    published_at = await kafka_timestamp(stack, signal["eventId"])
    assert arrived_at - published_at <= 1.0, f"arrived {arrived_at - published_at:.3f} s after it was published"
    # Measured from the detection run that raised it (the event is published before the run answers, or just after).
    reference = responded_at if raised_by_run else published_at
    assert arrived_at - reference <= 1.0, f"arrived {arrived_at - reference:.3f} s after the detection run answered"


def close_of(error: BaseException) -> ConnectionClosed | None:
    """The WebSocket close behind a gql transport error, if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionClosed):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def end_of(stream: AsyncIterator[dict[str, Any]]) -> TransportError | None:
    """How a subscription that should deliver nothing ends: the transport's error, or None if it completed."""
    try:
        async for result in stream:
            raise AssertionError(f"nothing was to be delivered, got {result}")
    except TransportError as error:
        return error
    return None


async def test_a_subscription_is_closed_when_its_token_expires(stack: Stack) -> None:
    tenant = stack.tenants[0].id
    token = stack.mint("provider_admin", sub=fresh_subject(), ttl=timedelta(seconds=4))
    expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
    assert expires - time.time() > 1.5, "the token must still be valid when the connection opens"

    async with ws_client(stack, token) as live:
        request = with_variables(SIGNAL_RAISED, {"tenantId": tenant})
        ended = await asyncio.wait_for(end_of(live.subscribe(request)), timeout=expires - time.time() + 10)
        closed_at = time.time()

    close = close_of(ended) if ended is not None else None
    assert close is not None, f"not closed by the server: {ended!r}"
    assert close.rcvd is not None and close.rcvd.code == 4403, close
    assert close.rcvd.reason == "token expired", close
    assert expires - 0.5 <= closed_at <= expires + 2.0, f"closed {closed_at - expires:+.2f} s from the expiry"


# -- 3. a service stopped mid-test --------------------------------------------------------------------------


def _stop(process: ManagedProcess) -> None:
    terminate_groups([process.popen])


async def restart_service(stack: Stack, name: str) -> ManagedProcess:
    """Start a stopped service again exactly as :class:`Stack` starts it, on the same port, and wait until it is
    ready. The previous run's log is kept next to the new one (``<name>.before-restart.log``)."""
    old = stack.supervisor.get(name)
    if old.log_path.exists():
        shutil.copyfile(old.log_path, old.log_path.with_name(f"{name}.before-restart.log"))
    port = httpx.URL(stack.services[name].url).port
    command = stack.launcher(name, ["serve", "--host", stack.host, "--port", str(port)])
    process = stack.supervisor.start(name, command, env=stack.service_env(name))
    # The stack keeps its running servers to report crashes (Stack.crashed()); the restarted one replaces the old.
    servers: list[ManagedProcess] = stack._servers
    servers[servers.index(old)] = process
    await asyncio.to_thread(process.wait_ready, stack.services[name].url, stack.ready_timeout)
    return process


async def test_with_signals_stopped_the_rest_of_the_document_still_resolves(stack: Stack) -> None:
    tenant = stack.tenants[0]
    contact = stack.mint("client_contact", sub=fresh_subject(), tenant_id=tenant.id)
    variables = {"tenantId": tenant.id}
    signals = stack.supervisor.get("signals")
    assert signals.alive

    async with http_client(stack.graphql_url, contact) as session:
        whole = await session.execute(with_variables(PORTAL, variables))
        assert whole["signals"] is not None

        await asyncio.to_thread(_stop, signals)
        try:
            assert signals.returncode is not None, "signals still runs"
            with pytest.raises(TransportQueryError) as refused:
                await session.execute(with_variables(PORTAL, variables))
        finally:
            await restart_service(stack, "signals")

        data, errors = refused.value.data, refused.value.errors
        assert data is not None and errors is not None
        assert data["me"]["tenantId"] == tenant.id
        assert data["clientOrganisation"]["id"] == tenant.id
        assert {unit["id"] for unit in data["clientOrganisation"]["orgUnits"]} == {u.id for u in tenant.org_units}
        assert data["signals"] is None
        assert [error["path"] for error in errors] == [["signals"]]
        assert errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert "signals" in errors[0]["message"] and "unavailable" in errors[0]["message"]

        # Started again, the same document resolves whole (execute raises on any error).
        again = await session.execute(with_variables(PORTAL, variables))
        assert again["signals"] is not None
        assert (again["me"], again["clientOrganisation"]) == (whole["me"], whole["clientOrganisation"])
    assert not stack.crashed()
