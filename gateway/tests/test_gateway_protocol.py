"""GraphQL over HTTP: methods, media types, status codes, limits, introspection, health."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from strawberry.extensions.validation_cache import _get_validate_cache

from bmw.gateway.graphql_http import GRAPHQL_RESPONSE_JSON, negotiate
from bmw.gateway.schema import DOCUMENT_CACHE_SIZE, Protection, build_schema
from bmw.gateway.testing import (
    BILLING,
    INTAKE,
    SCHEDULING,
    SIGNALS,
    TENANT,
    FakeServices,
    SigningKey,
    graphql,
    make_settings,
    serve,
)

ME = "{ me { subject roles tenantId } }"
GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"


@pytest.mark.asyncio
async def test_me_describes_the_caller(gateway: httpx.AsyncClient, signing_key: SigningKey) -> None:
    token = signing_key.mint("client_contact", tenant_id=TENANT, sub="hr-officer-7")

    response = await graphql(gateway, ME, token=token)

    assert response.json() == {
        "data": {"me": {"subject": "hr-officer-7", "roles": ["CLIENT_CONTACT"], "tenantId": str(TENANT)}}
    }


@pytest.mark.asyncio
async def test_without_a_token_me_is_null_with_an_unauthenticated_error(gateway: httpx.AsyncClient) -> None:
    response = await graphql(gateway, ME)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": None}
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


@pytest.mark.asyncio
async def test_a_partial_response_is_200_also_for_graphql_response_json(gateway: httpx.AsyncClient) -> None:
    # Authentication is decided by the schema, field by field: a field error, not a request error.
    response = await graphql(gateway, ME, accept=GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.asyncio
async def test_queries_work_with_get(gateway: httpx.AsyncClient, signing_key: SigningKey) -> None:
    token = signing_key.mint("provider_admin", sub="admin-1")

    response = await gateway.get(
        "/graphql",
        params={"query": ME},
        headers={"authorization": f"Bearer {token}", "accept": "application/json"},
    )

    assert response.status_code == 200
    assert response.json()["data"]["me"]["subject"] == "admin-1"


@pytest.mark.asyncio
async def test_a_mutation_with_get_is_refused_with_405_before_it_runs(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("employee", tenant_id=TENANT)
    mutation = """mutation { submitReferral(input: {orgUnitId: "x", category: OTHER, urgency: NORMAL,
        channel: SELF, employee: {name: "A", phone: "0612345678"}}) { __typename } }"""

    response = await gateway.get(
        "/graphql",
        params={"query": mutation},
        headers={"authorization": f"Bearer {token}", "accept": GRAPHQL_RESPONSE_JSON},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}
    assert services.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        ("application/json, application/graphql-response+json;q=0.5", "application/json"),
    ],
)
async def test_the_response_media_type_follows_accept(
    gateway: httpx.AsyncClient, signing_key: SigningKey, accept: str, content_type: str
) -> None:
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, ME, token=token, accept=accept)

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["vary"] == "Accept"
    assert response.json()["data"]["me"]["roles"] == ["PROVIDER_ADMIN"]


@pytest.mark.asyncio
async def test_an_unacceptable_media_type_is_406(gateway: httpx.AsyncClient) -> None:
    response = await graphql(gateway, ME, accept="application/xml")

    assert response.status_code == 406


@pytest.mark.asyncio
@pytest.mark.parametrize(("accept", "status"), [(GRAPHQL_RESPONSE_JSON, 400), ("application/json", 200)])
async def test_a_request_error_has_no_data_and_is_400_only_for_graphql_response_json(
    gateway: httpx.AsyncClient, accept: str, status: int
) -> None:
    response = await graphql(gateway, "{ me { noSuchField } }", accept=accept)

    assert response.status_code == status
    body = response.json()
    assert "data" not in body
    assert "noSuchField" in body["errors"][0]["message"]


@pytest.mark.asyncio
async def test_a_too_deep_document_is_refused(signing_key: SigningKey, services: FakeServices) -> None:
    settings = make_settings(signing_key, max_depth=1)
    query = '{ trends(tenantId: "x", from: "2026-01-01", to: "2026-01-31") { cells { category } } }'

    async with serve(settings, services) as gateway:
        response = await graphql(gateway, query, accept=GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert "exceeds maximum operation depth of 1" in error["message"]
    assert services.requests == []


@pytest.mark.asyncio
async def test_depth_within_the_limit_is_served(gateway: httpx.AsyncClient, signing_key: SigningKey) -> None:
    response = await graphql(gateway, ME, token=signing_key.mint("provider_admin"))

    assert "errors" not in response.json()


@pytest.mark.asyncio
async def test_too_many_aliases_are_refused(gateway: httpx.AsyncClient, services: FakeServices) -> None:
    aliases = " ".join(f"m{i}: me {{ subject }}" for i in range(16))

    response = await graphql(gateway, f"{{ {aliases} }}", accept=GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["message"] == "16 aliases found. Allowed: 15"


@pytest.mark.asyncio
async def test_too_many_tokens_are_refused(gateway: httpx.AsyncClient) -> None:
    selections = " ".join("__typename" for _ in range(2100))

    response = await graphql(gateway, f"{{ {selections} }}", accept=GRAPHQL_RESPONSE_JSON)

    assert response.status_code == 400
    assert "more than 2000 tokens" in response.json()["errors"][0]["message"]


def test_validation_rules_are_built_once_so_the_validation_cache_hits() -> None:
    schema = build_schema(Protection(introspection=False))

    def rules_of_one_request() -> list[type]:
        extensions = [factory() for factory in schema.extensions]
        return [rule for extension in extensions for rule in getattr(extension, "validation_rules", [])]

    first, second = rules_of_one_request(), rules_of_one_request()
    assert len(first) == 4  # depth, aliases, cost, no introspection
    assert all(a is b for a, b in zip(first, second, strict=True))


@pytest.mark.asyncio
async def test_a_repeated_document_is_validated_once(gateway: httpx.AsyncClient, signing_key: SigningKey) -> None:
    # strawberry's shared LRU cache behind ValidationCache (private, but it is what we measure).
    cached_validation: Any = _get_validate_cache(DOCUMENT_CACHE_SIZE)
    token = signing_key.mint("provider_admin")
    query = "query RepeatedDocument { me { subject } }"

    await graphql(gateway, query, token=token)
    before = cached_validation.cache_info()
    await graphql(gateway, query, token=token)
    await graphql(gateway, query, token=token)
    after = cached_validation.cache_info()

    assert (after.hits - before.hits, after.misses - before.misses) == (2, 0)


@pytest.mark.asyncio
async def test_introspection_and_graphiql_are_off_in_production(
    signing_key: SigningKey, services: FakeServices
) -> None:
    settings = make_settings(signing_key, environment="production")

    async with serve(settings, services) as gateway:
        introspection = await graphql(gateway, "{ __schema { types { name } } }", accept=GRAPHQL_RESPONSE_JSON)
        ide = await gateway.get("/graphql", headers={"accept": "text/html"})
        suggestion = await graphql(gateway, "{ mee { subject } }", accept="application/json")

    assert introspection.status_code == 400
    assert "introspection" in introspection.json()["errors"][0]["message"].lower()
    assert ide.status_code == 404
    assert "Did you mean" not in suggestion.text


@pytest.mark.asyncio
async def test_introspection_and_graphiql_are_on_in_development(gateway: httpx.AsyncClient) -> None:
    introspection = await graphql(gateway, "{ __schema { queryType { name } } }")
    ide = await gateway.get("/graphql", headers={"accept": "text/html"})

    assert introspection.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert ide.status_code == 200
    assert "graphiql" in ide.text.lower()


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_is_400(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post(
        "/graphql", content=b'{"query":', headers={"content-type": "application/json", "accept": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


@pytest.mark.asyncio
async def test_liveness_and_readiness(gateway: httpx.AsyncClient, services: FakeServices) -> None:
    for host in (INTAKE, SCHEDULING, BILLING):
        services.reply("GET", host, "/readyz", 200, {"status": "ok", "checks": {}})
    services.reply("GET", SIGNALS, "/readyz", 503, {"status": "unavailable", "checks": {}})

    live = await gateway.get("/healthz")
    ready = await gateway.get("/readyz")

    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"intake": True, "scheduling": True, "billing": True, "signals": False}

    services.reply("GET", SIGNALS, "/readyz", 200, {"status": "ok", "checks": {}})
    assert (await gateway.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, GRAPHQL_RESPONSE_JSON),
        ("", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json; charset=utf-8, application/json; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", "application/json"),
        ("application/*", "application/json"),
        ("application/json;q=0, */*", GRAPHQL_RESPONSE_JSON),
        ("text/html, application/xhtml+xml, */*;q=0.8", "application/json"),
        ("text/html", None),
        ("application/json;q=0", None),
    ],
)
def test_negotiate(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen
