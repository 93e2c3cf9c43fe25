"""The gateway's protections: cost limit, trusted documents, rate limits, request size limit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)
from starlette.types import Message, Receive, Scope, Send

from bmw.gateway.cost import DocumentCost, cost_limit_rule
from bmw.gateway.graphql_http import GRAPHQL_RESPONSE_JSON
from bmw.gateway.pagination import Connection
from bmw.gateway.rate_limit import RateLimiter
from bmw.gateway.request_size import RequestSizeLimit
from bmw.gateway.schema import Protection, build_schema
from bmw.gateway.settings import GatewaySettings
from bmw.gateway.testing import (
    INTAKE,
    ORG_UNIT,
    TENANT,
    FakeServices,
    SigningKey,
    graphql,
    json_body,
    make_settings,
    serve,
)
from bmw.gateway.trusted_documents import TrustedDocuments, default_registry_path, document_hash

ME = "query Me {\n  me {\n    subject\n    roles\n    tenantId\n  }\n}"
ME_HASH = document_hash(ME)
SUBMIT_REFERRAL_HASH = "d6f8c0e9df6bc77ee5c23015b748e3762de7efae10eb938fb621ff529314fddf"
UNKNOWN_HASH = "0" * 64


def errors_of(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert "data" not in body, body
    errors: list[dict[str, Any]] = body["errors"]
    return errors


# -- cost ---------------------------------------------------------------------------------------


@strawberry.type
class Leaf:
    name: str


@strawberry.type
class Item:
    name: str

    @strawberry.field
    def children(self, first: int | None = None) -> Connection[Leaf]:
        raise NotImplementedError


@strawberry.type
class CostQuery:
    @strawberry.field
    def items(self, first: int | None = None) -> Connection[Item]:
        raise NotImplementedError

    @strawberry.field
    def item(self) -> Item:
        raise NotImplementedError


COST_SCHEMA = strawberry.Schema(query=CostQuery)._schema


def cost_of(document: str) -> int:
    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    [operation] = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    return DocumentCost(COST_SCHEMA, fragments).operation(operation)


@pytest.mark.parametrize(
    ("document", "cost"),
    [
        # Every field 1.
        ("{ item { name } }", 2),
        ("{ __typename item { __typename name } }", 4),
        # A connection's selection counts once per item: 50 when `first` is absent ...
        ("{ items { edges { node { name } } } }", 1 + 50 * 3),
        # ... `first` when written ...
        ("{ items(first: 4) { edges { node { name } } pageInfo { hasNextPage } } }", 1 + 4 * (3 + 2)),
        # ... and the largest page (200) when it comes from a variable.
        ("query Q($n: Int) { items(first: $n) { nodes { name } } }", 1 + 200 * 2),
        # Nesting multiplies.
        (
            "{ items(first: 10) { edges { node { name children(first: 5) { nodes { name } } } } } }",
            1 + 10 * (1 + 1 + 1 + (1 + 5 * 2)),
        ),
        # Fragments and inline fragments count where they are spread.
        (
            "{ items(first: 3) { nodes { ...F ... on Item { name } } } } fragment F on Item { name }",
            1 + 3 * (1 + 1 + 1),
        ),
    ],
)
def test_the_cost_of_a_document(document: str, cost: int) -> None:
    assert cost_of(document) == cost


def test_a_cyclic_fragment_does_not_hang_the_cost() -> None:
    document = "{ item { ...A } } fragment A on Item { name ...B } fragment B on Item { ...A }"

    errors = validate(COST_SCHEMA, parse(document), [*specified_rules, cost_limit_rule(100)])

    # The standard rule reports the cycle; the cost rule finishes and stays quiet.
    assert [error.message for error in errors] == ["Cannot spread fragment 'A' within itself via 'B'."]


def test_the_cost_rule_refuses_above_the_limit_with_cost_and_limit() -> None:
    rule = cost_limit_rule(150)
    within = "{ items(first: 49) { edges { node { name } } } }"  # 1 + 49 * 3 = 148
    beyond = "query Big { items { edges { node { name } } } }"  # 1 + 50 * 3 = 151

    assert validate(COST_SCHEMA, parse(within), [rule]) == []
    [error] = validate(COST_SCHEMA, parse(beyond), [rule])

    assert isinstance(error, GraphQLError)
    assert error.message.startswith("operation Big costs 151, more than the limit of 150")
    assert error.extensions == {"code": "COST_LIMIT_EXCEEDED", "cost": 151, "maxCost": 150}


@pytest.mark.asyncio
async def test_a_too_costly_document_is_refused_before_it_runs(signing_key: SigningKey, services: FakeServices) -> None:
    settings = make_settings(signing_key, max_cost=3)
    token = signing_key.mint("provider_admin", sub="admin-1")

    async with serve(settings, services) as gateway:
        refused = await graphql(gateway, "{ me { subject roles tenantId } }", token=token, accept=GRAPHQL_RESPONSE_JSON)
        served = await graphql(gateway, "{ me { subject roles } }", token=token, accept=GRAPHQL_RESPONSE_JSON)

    assert refused.status_code == 400
    [error] = errors_of(refused)
    assert error["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 4, "maxCost": 3}
    assert "costs 4, more than the limit of 3" in error["message"]
    assert served.status_code == 200
    assert served.json() == {"data": {"me": {"subject": "admin-1", "roles": ["PROVIDER_ADMIN"]}}}


def test_the_default_limits(signing_key: SigningKey) -> None:
    settings = make_settings(signing_key)

    assert (settings.max_cost, Protection().max_cost) == (5000, 5000)
    assert (settings.rate_limit_per_minute, settings.rate_limit_burst) == (600, 100)
    assert settings.max_request_bytes == 100_000


# -- trusted documents --------------------------------------------------------------------------


def test_the_registry_keys_are_the_hashes_of_their_documents() -> None:
    raw = json.loads(default_registry_path().read_text(encoding="utf-8"))

    assert raw, "the registry is empty"
    assert {key: document_hash(text) for key, text in raw.items()} == {key: key for key in raw}
    assert len(TrustedDocuments.load(default_registry_path())) == len(raw)


def test_the_registry_has_the_integration_journey() -> None:
    registry = TrustedDocuments.load(default_registry_path())
    root_fields = {
        selection.name.value
        for text in registry.documents.values()
        for definition in parse(text).definitions
        if isinstance(definition, OperationDefinitionNode)
        for selection in definition.selection_set.selections
        if isinstance(selection, FieldNode)
    }

    assert {"submitReferral", "addOrgUnit", "invoices", "invoice", "contractUsage"} <= root_fields


def test_every_trusted_document_validates_against_the_schema_and_its_limits() -> None:
    schema = build_schema()
    rules = [*specified_rules, *Protection().validation_rules()]
    registry = TrustedDocuments.load(default_registry_path())

    problems = {
        text.split("(")[0].split("{")[0].strip(): [error.message for error in errors]
        for text in registry.documents.values()
        if (errors := validate(schema._schema, parse(text), rules))
    }

    assert problems == {}


def test_a_registry_with_a_wrong_hash_is_refused_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "trusted_documents.json"
    path.write_text(json.dumps({UNKNOWN_HASH: ME}), encoding="utf-8")

    with pytest.raises(ValueError, match="not the sha256 of their documents"):
        TrustedDocuments.load(path)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": ME_HASH}}},
        {"documentId": f"sha256:{ME_HASH}"},
        # An Apollo client sends text and hash once the server said it did not know the hash.
        {"query": ME, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": ME_HASH}}},
    ],
)
async def test_a_trusted_document_by_hash_runs_over_post(
    gateway: httpx.AsyncClient, signing_key: SigningKey, body: dict[str, Any]
) -> None:
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await gateway.post(
        "/graphql", json=body, headers={"authorization": f"Bearer {token}", "accept": "application/json"}
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"me": {"subject": "admin-1", "roles": ["PROVIDER_ADMIN"], "tenantId": None}}}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "params",
    [
        {"documentId": f"sha256:{ME_HASH}"},
        {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": ME_HASH}})},
    ],
)
@pytest.mark.parametrize("accept", ["application/json", "*/*"])
async def test_a_trusted_document_by_hash_runs_over_get(
    gateway: httpx.AsyncClient, signing_key: SigningKey, params: dict[str, str], accept: str
) -> None:
    # With `*/*` and no `query`, a GET would otherwise be taken for a browser asking for GraphiQL.
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await gateway.get(
        "/graphql", params=params, headers={"authorization": f"Bearer {token}", "accept": accept}
    )

    assert response.status_code == 200
    assert response.json()["data"]["me"]["subject"] == "admin-1"


@pytest.mark.asyncio
async def test_a_trusted_mutation_by_hash_is_refused_over_get(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("integration", tenant_id=TENANT)

    response = await gateway.get(
        "/graphql",
        params={"documentId": f"sha256:{SUBMIT_REFERRAL_HASH}", "variables": "{}"},
        headers={"authorization": f"Bearer {token}", "accept": GRAPHQL_RESPONSE_JSON},
    )

    assert response.status_code == 405
    assert services.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("accept", "status"), [(GRAPHQL_RESPONSE_JSON, 400), ("application/json", 200)])
async def test_an_unknown_hash_is_persisted_query_not_found(
    gateway: httpx.AsyncClient, accept: str, status: int
) -> None:
    response = await gateway.post(
        "/graphql",
        json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": UNKNOWN_HASH}}},
        headers={"accept": accept},
    )

    assert response.status_code == status
    [error] = errors_of(response)
    assert error["extensions"] == {"code": "PERSISTED_QUERY_NOT_FOUND"}
    assert UNKNOWN_HASH in error["message"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"query": "{ me { subject } }", "documentId": f"sha256:{ME_HASH}"}, "does not match"),
        ({"documentId": ME_HASH}, 'documentId must be "sha256:"'),
        ({"documentId": "sha256:not-hex"}, "64 hex digits"),
        (
            {"documentId": f"sha256:{ME_HASH}", "extensions": {"persistedQuery": {"sha256Hash": UNKNOWN_HASH}}},
            "different",
        ),
        ({"extensions": {"persistedQuery": {"version": 1}}}, "needs a sha256Hash"),
    ],
)
async def test_a_malformed_document_reference_is_a_bad_request(
    gateway: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await gateway.post("/graphql", json=body, headers={"accept": GRAPHQL_RESPONSE_JSON})

    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert message in error["message"]


def referral_created(request: httpx.Request) -> httpx.Response:
    body = json_body(request)
    return httpx.Response(
        201,
        json={
            "id": "44444444-4444-4444-8444-444444444444",
            "tenant_id": body["tenant_id"],
            "org_unit_id": body["org_unit_id"],
            "category": body["category"],
            "urgency": body["urgency"],
            "channel": body["channel"],
            "status": "case_opened",
            "case_id": "55555555-5555-4555-8555-555555555555",
            "received_at": "2026-03-02T09:15:00Z",
        },
    )


REFERRAL_VARIABLES = {
    "input": {
        "orgUnitId": str(ORG_UNIT),
        "category": "WORKLOAD_STRESS",
        "urgency": "NORMAL",
        "channel": "HR",
        "employee": {"name": "Sanne de Vries", "email": "sanne@example.nl"},
        "employeeConsented": True,
    }
}


@pytest.mark.asyncio
async def test_a_restricted_integration_runs_trusted_documents_and_is_refused_free_text(
    signing_key: SigningKey, services: FakeServices
) -> None:
    services.on("POST", INTAKE, "/referrals", referral_created)
    settings = make_settings(signing_key, integrations_trusted_documents_only=True)
    headers = {"authorization": f"Bearer {signing_key.mint('integration', tenant_id=TENANT)}"}
    free_text = "mutation { submitReferral(input: {}) { __typename } }"

    async with serve(settings, services) as gateway:
        refused = await gateway.post("/graphql", json={"query": free_text}, headers=headers)
        by_hash = await gateway.post(
            "/graphql",
            json={"documentId": f"sha256:{SUBMIT_REFERRAL_HASH}", "variables": REFERRAL_VARIABLES},
            headers=headers,
        )
        # The exact text of a trusted document is as good as its hash.
        in_full = await gateway.post("/graphql", json={"query": ME}, headers=headers)

    [error] = errors_of(refused)
    assert error["extensions"] == {"code": "TRUSTED_DOCUMENT_REQUIRED"}
    assert "integrations may only run trusted documents" in error["message"]
    assert len(services.calls(INTAKE, "/referrals")) == 1
    assert by_hash.json()["data"]["submitReferral"] == {
        "__typename": "ReferralSubmitted",
        "referral": {
            "id": "44444444-4444-4444-8444-444444444444",
            "status": "CASE_OPENED",
            "caseId": "55555555-5555-4555-8555-555555555555",
        },
    }
    assert in_full.json()["data"]["me"]["roles"] == ["INTEGRATION"]


@pytest.mark.asyncio
async def test_the_restriction_is_for_integrations_only(signing_key: SigningKey, services: FakeServices) -> None:
    settings = make_settings(signing_key, integrations_trusted_documents_only=True)
    token = signing_key.mint("client_contact", tenant_id=TENANT, sub="hr-officer-7")

    async with serve(settings, services) as gateway:
        response = await graphql(gateway, "{ me { subject } }", token=token)

    assert response.json() == {"data": {"me": {"subject": "hr-officer-7"}}}


@pytest.mark.asyncio
async def test_an_unrestricted_integration_may_send_free_text(
    gateway: httpx.AsyncClient, signing_key: SigningKey
) -> None:
    token = signing_key.mint("integration", tenant_id=TENANT, sub="payroll-sync")

    response = await graphql(gateway, "{ me { subject } }", token=token)

    assert response.json() == {"data": {"me": {"subject": "payroll-sync"}}}


@pytest.mark.parametrize(
    ("environment", "setting", "restricted"),
    [("production", None, True), ("development", None, False), ("test", None, False), ("test", True, True)],
)
def test_integrations_are_restricted_by_default_only_in_production(
    signing_key: SigningKey, environment: str, setting: bool | None, restricted: bool
) -> None:
    settings = make_settings(signing_key, environment=environment, integrations_trusted_documents_only=setting)

    assert settings.integrations_restricted_to_trusted_documents is restricted


# -- rate limits --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)

    assert [limiter.acquire("a") for _ in range(3)] == [None, None, None]
    assert limiter.acquire("a") == pytest.approx(1.0)
    clock.now += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") is None
    assert limiter.acquire("b") is None


def test_idle_buckets_are_dropped_and_the_number_of_buckets_is_bounded() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst=2, clock=clock, max_buckets=3)

    for caller in ("a", "b", "c", "d", "e"):
        limiter.acquire(caller)
    assert len(limiter) == 3

    clock.now += 2.0  # two seconds refill a bucket of two: every bucket is full again
    limiter.acquire("f")
    assert len(limiter) == 1


def rate_limited_settings(signing_key: SigningKey) -> GatewaySettings:
    return make_settings(signing_key, rate_limit_per_minute=6, rate_limit_burst=2)


@pytest.mark.asyncio
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, "application/json"])
async def test_a_caller_over_the_limit_gets_429_with_a_retry_hint(
    signing_key: SigningKey, services: FakeServices, accept: str
) -> None:
    token = signing_key.mint("provider_admin", sub="admin-1")

    async with serve(rate_limited_settings(signing_key), services) as gateway:
        allowed = [await graphql(gateway, ME, token=token, accept=accept) for _ in range(2)]
        refused = await graphql(gateway, ME, token=token, accept=accept)

    assert [response.status_code for response in allowed] == [200, 200]
    assert refused.status_code == 429
    # Six a minute: one every ten seconds.
    assert refused.headers["retry-after"] == "10"
    [error] = errors_of(refused)
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfterSeconds": 10}
    assert "retry in 10 s" in error["message"]


@pytest.mark.asyncio
async def test_rate_limits_are_per_identity(signing_key: SigningKey, services: FakeServices) -> None:
    busy = signing_key.mint("client_contact", tenant_id=TENANT, sub="busy-portal")
    other = signing_key.mint("client_contact", tenant_id=TENANT, sub="quiet-portal")

    async with serve(rate_limited_settings(signing_key), services) as gateway:
        busy_statuses = [(await graphql(gateway, ME, token=busy)).status_code for _ in range(3)]
        other_statuses = [(await graphql(gateway, ME, token=other)).status_code for _ in range(2)]
        anonymous_statuses = [(await graphql(gateway, ME)).status_code for _ in range(3)]
        # A token that does not verify gives no identity: it counts against its address, now empty.
        forged = await graphql(gateway, ME, token="not-a-token")

    assert busy_statuses == [200, 200, 429]
    assert other_statuses == [200, 200]
    assert anonymous_statuses == [200, 200, 429]
    assert forged.status_code == 429


# -- request size -------------------------------------------------------------------------------


def padded_body(size: int) -> bytes:
    """A JSON GraphQL request of exactly ``size`` bytes."""
    skeleton = json.dumps({"query": "{ __typename }", "variables": {"pad": ""}}).encode()
    return json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * (size - len(skeleton))}}).encode()


@pytest.mark.asyncio
async def test_a_body_over_the_limit_is_413(signing_key: SigningKey, services: FakeServices) -> None:
    settings = make_settings(signing_key, max_request_bytes=2048)
    headers = {"content-type": "application/json", "accept": GRAPHQL_RESPONSE_JSON}

    async with serve(settings, services) as gateway:
        within = await gateway.post("/graphql", content=padded_body(2048), headers=headers)
        beyond = await gateway.post("/graphql", content=padded_body(2049), headers=headers)

    assert within.status_code == 200
    assert within.json() == {"data": {"__typename": "Query"}}
    assert beyond.status_code == 413
    assert beyond.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert beyond.headers["x-request-id"]
    [error] = errors_of(beyond)
    assert error["extensions"] == {"code": "REQUEST_TOO_LARGE", "maxBytes": 2048}
    assert "larger than 2048 bytes" in error["message"]


@pytest.mark.asyncio
async def test_a_chunked_body_over_the_limit_is_413(signing_key: SigningKey, services: FakeServices) -> None:
    settings = make_settings(signing_key, max_request_bytes=2048)
    body = padded_body(4096)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    async with serve(settings, services) as gateway:
        response = await gateway.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json", "accept": "application/json"}
        )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert errors_of(response)[0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


@pytest.mark.asyncio
async def test_a_get_with_a_query_string_over_the_limit_is_413(signing_key: SigningKey, services: FakeServices) -> None:
    settings = make_settings(signing_key, max_request_bytes=2048)
    query = "{ " + "__typename " * 200 + "}"

    async with serve(settings, services) as gateway:
        response = await gateway.get("/graphql", params={"query": query}, headers={"accept": "application/json"})

    assert response.status_code == 413


class RecordingApp:
    """An ASGI app that records the body it received."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def call(middleware: RequestSizeLimit, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[Message]:
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": headers, "query_string": b""}
    await middleware(scope, receive, send)
    return sent


@pytest.mark.asyncio
async def test_the_size_limit_refuses_before_the_app_reads_anything() -> None:
    app = RecordingApp()
    middleware = RequestSizeLimit(app, max_bytes=10)

    declared = await call(middleware, [(b"content-length", b"11")], [b"x" * 11])
    chunked = await call(middleware, [], [b"x" * 6, b"x" * 6])
    within = await call(middleware, [], [b"x" * 5, b"x" * 5])

    assert declared[0]["status"] == 413
    assert chunked[0]["status"] == 413
    assert within[0]["status"] == 204
    # Only the request within the limit reached the app, with its body intact.
    assert app.bodies == [b"x" * 10]
