"""The gateway's ``GET /metrics``: GraphQL operations by type and root fields (never an alias or a caller's made-up
name), with their outcome and latency, beside the HTTP requests and the calls it makes to each service."""

from __future__ import annotations

import uuid

import httpx

from bmw.devstack.testing import metric_value
from bmw.gateway.testing import SIGNALS, FakeServices, SigningKey, graphql


async def test_operations_are_counted_by_their_root_fields_and_outcome(gateway: httpx.AsyncClient) -> None:
    for document in ("{ __typename }", "{ renamed: __typename }", "{ madeUpField }", "{ not closed"):
        await graphql(gateway, document)

    response = await gateway.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    ok = metric_value(text, "bmw_graphql_operations_total", type="query", fields="__typename", outcome="ok")
    assert ok == 2, "an alias is counted under the field it renames"
    refused = metric_value(text, "bmw_graphql_operations_total", type="query", fields="-", outcome="refused")
    unparsed = metric_value(text, "bmw_graphql_operations_total", type="unknown", fields="-", outcome="refused")
    assert (refused, unparsed) == (1, 1)
    assert "madeUpField" not in text and "renamed" not in text, "no label from a caller's names"
    timed = metric_value(text, "bmw_graphql_operation_duration_seconds_count", type="query", fields="__typename")
    assert timed == 2
    posts = metric_value(text, "bmw_http_requests_total", method="POST", route="/graphql", status="200")
    assert posts is not None and posts >= 2


async def test_calls_to_the_services_are_counted_per_service_and_status(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    tenant = uuid.uuid4()
    services.on("GET", SIGNALS, "/trends", lambda request: httpx.Response(503, json={"error": "down"}))
    token = signing_key.mint("client_contact", tenant_id=tenant)
    query = 'query($t: ID!) { trends(tenantId: $t, from: "2026-01-01", to: "2026-03-31") { k } }'

    await graphql(gateway, query, {"t": str(tenant)}, token=token)

    text = (await gateway.get("/metrics")).text
    failed = metric_value(text, "bmw_gateway_upstream_requests_total", service="signals", method="GET", status="503")
    assert failed is not None and failed >= 1
    timed = metric_value(text, "bmw_gateway_upstream_request_duration_seconds_count", service="signals", method="GET")
    assert timed == failed
    assert str(tenant) not in text, "no id in a label"
