"""Every limit of the running gateway refuses what it should, with a clear error, and lets the rest through."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

from bmw.devstack.stack import Stack

pytestmark = pytest.mark.e2e

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def post(stack: Stack, token: str, body: Any, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            stack.graphql_url,
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE, **headers},
        )


def codes(response: httpx.Response) -> list[str]:
    return [error.get("extensions", {}).get("code", "") for error in response.json().get("errors", [])]


async def test_aliases_tokens_and_cost_are_limited_and_ordinary_documents_pass(stack: Stack) -> None:
    token = stack.mint("provider_admin", sub=f"limits-{uuid.uuid4()}")
    tenant = str(stack.tenants[0].id)

    ordinary = await post(stack, token, {"query": "{ me { subject } }"})
    assert ordinary.status_code == 200 and ordinary.json()["data"]["me"]["subject"].startswith("limits-")

    aliases = " ".join(f"a{i}: me {{ subject }}" for i in range(16))
    too_many = await post(stack, token, {"query": f"{{ {aliases} }}"})
    assert too_many.status_code == 400
    assert "alias" in too_many.json()["errors"][0]["message"].lower()
    assert "data" not in too_many.json()

    padding = " ".join(f"f{i}: __typename" for i in range(15))
    tokens = await post(stack, token, {"query": "{ " + padding + " " + "me { subject } " * 700 + "}"})
    assert tokens.status_code == 400
    assert "token" in tokens.json()["errors"][0]["message"].lower()

    # Ten pages of 200 signals with their evidence: far above the cost limit, refused before any service call.
    pages = " ".join(
        f'p{i}: signals(tenantId: "{tenant}", first: 200) {{ edges {{ node {{ id kind summary }} }} }}'
        for i in range(10)
    )
    costly = await post(stack, token, {"query": f"{{ {pages} }}"})
    assert costly.status_code == 400
    assert codes(costly) == ["COST_LIMIT_EXCEEDED"]
    one_page = await post(
        stack, token, {"query": f'{{ signals(tenantId: "{tenant}", first: 20) {{ edges {{ node {{ id }} }} }} }}'}
    )
    assert one_page.status_code == 200 and "errors" not in one_page.json()


async def test_an_oversized_request_is_refused_before_it_is_read(stack: Stack) -> None:
    token = stack.mint("provider_admin", sub=f"size-{uuid.uuid4()}")
    huge = await post(stack, token, {"query": "{ me { subject } }", "variables": {"padding": "x" * 150_000}})
    assert huge.status_code == 413
    assert codes(huge) == ["REQUEST_TOO_LARGE"]


async def test_one_identity_is_throttled_with_a_retry_hint_and_another_is_not(stack: Stack) -> None:
    greedy = stack.mint("client_contact", tenant_id=str(stack.tenants[0].id), sub=f"greedy-{uuid.uuid4()}")
    patient = stack.mint("client_contact", tenant_id=str(stack.tenants[0].id), sub=f"patient-{uuid.uuid4()}")
    document = {"query": "{ me { subject } }"}
    async with httpx.AsyncClient(timeout=30) as http:

        async def ask(token: str) -> httpx.Response:
            return await http.post(stack.graphql_url, json=document, headers={"Authorization": f"Bearer {token}"})

        # Bursts of 180 (the burst allowance is 100, then 10 a second) until one is throttled: on a loaded machine one
        # burst may take long enough to arrive that the refill covers it, so the limit is shown by keeping at it.
        throttled: list[httpx.Response] = []
        deadline = time.monotonic() + 90
        while not throttled and time.monotonic() < deadline:
            answers = await asyncio.gather(*(ask(greedy) for _ in range(180)))
            throttled = [answer for answer in answers if answer.status_code == 429]
        assert throttled, "requests far above the limit are throttled"
        assert int(throttled[0].headers["Retry-After"]) >= 1
        assert codes(throttled[0]) == ["RATE_LIMITED"]
        assert (await ask(patient)).status_code == 200, "another caller is not affected"
