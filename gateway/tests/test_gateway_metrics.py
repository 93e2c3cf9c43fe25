"""The gateway's ``GET /metrics``: GraphQL operations by type and root fields (never an alias or a caller's made-up
name), with their outcome and latency, beside the HTTP requests."""

from __future__ import annotations

import httpx

from bmw.devstack.testing import metric_value
from bmw.gateway.testing import graphql


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
