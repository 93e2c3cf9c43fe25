"""The service clients: reads retried after a passing failure, commands never, refusals mapped."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from bmw.gateway.clients import ReadRetries, ServiceClient
from bmw.servicekit.errors import NotFound, ServiceUnavailable

Answer = Callable[[httpx.Request], httpx.Response]


class Script:
    """A fake service answering each request with the next step of a script (an exception or a response)."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def _client(script: Script, attempts: int = 2) -> ServiceClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(script))
    return ServiceClient(
        "billing", http, "http://billing", {"authorization": "Bearer t"}, retries=ReadRetries(attempts, 0.0)
    )


def _unreachable() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


async def test_a_read_that_could_not_connect_is_tried_again() -> None:
    script = Script(_unreachable(), httpx.Response(200, json={"ok": True}))
    response = await _client(script).request("GET", "/invoices")
    assert response.json() == {"ok": True}
    assert len(script.seen) == 2
    assert all(request.headers["authorization"] == "Bearer t" for request in script.seen)


async def test_a_read_meeting_503_is_tried_again_until_the_attempts_run_out() -> None:
    busy = {"error": {"code": "unavailable", "message": "db down", "fields": [], "request_id": "r1"}}
    script = Script(*(httpx.Response(503, json=busy) for _ in range(3)))
    with pytest.raises(ServiceUnavailable) as raised:
        await _client(script, attempts=2).request("GET", "/invoices")
    assert len(script.seen) == 3
    assert "billing service is unavailable" in raised.value.message


async def test_a_command_is_never_retried() -> None:
    script = Script(_unreachable(), httpx.Response(201, json={}))
    with pytest.raises(ServiceUnavailable):
        await _client(script).request("POST", "/billing-runs", json={})
    assert len(script.seen) == 1


async def test_a_command_meeting_503_is_not_retried() -> None:
    script = Script(httpx.Response(503), httpx.Response(201, json={}))
    with pytest.raises(ServiceUnavailable):
        await _client(script).request("PUT", "/interventions/x", json={})
    assert len(script.seen) == 1


async def test_a_read_that_timed_out_is_not_retried() -> None:
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(200, json={}))
    with pytest.raises(ServiceUnavailable):
        await _client(script).request("GET", "/invoices")
    assert len(script.seen) == 1


async def test_a_refusal_is_not_retried() -> None:
    body = {"error": {"code": "not_found", "message": "invoice not found", "fields": [], "request_id": "r2"}}
    script = Script(httpx.Response(404, json=body), httpx.Response(200, json={}))
    with pytest.raises(NotFound) as raised:
        await _client(script).request("GET", "/invoices/1")
    assert raised.value.message == "invoice not found"
    assert len(script.seen) == 1


async def test_without_retries_a_read_is_sent_once() -> None:
    script = Script(_unreachable(), httpx.Response(200, json={}))
    with pytest.raises(ServiceUnavailable):
        await _client(script, attempts=0).request("GET", "/invoices")
    assert len(script.seen) == 1


def test_the_pause_doubles() -> None:
    retries = ReadRetries(attempts=3, backoff_seconds=0.05)
    assert [retries.pause(n) for n in range(3)] == [0.05, 0.1, 0.2]
