"""The pipeline benchmark's baseline for a request: a bare HTTP server that takes a JSON body and INSERTs one row.

A raw ASGI application under uvicorn (the services' server) with one asyncpg pool: no framework, no validation,
no tenant scope, no outbox. It is what one HTTP round trip plus one PostgreSQL write costs on this machine; the
gateway → intake path does that and everything a professional product adds on top of it.

``python -m uvicorn bench.bare_http:app`` with ``BENCH_DATABASE_URL`` (an asyncpg ``postgresql://`` URL).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CREATE = """
CREATE TABLE IF NOT EXISTS bench_bare_referrals (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = "INSERT INTO bench_bare_referrals (id, tenant_id, body) VALUES ($1, $2, $3::jsonb)"

_pool: asyncpg.Pool | None = None


async def _lifespan(receive: Receive, send: Send) -> None:
    global _pool
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            url = os.environ["BENCH_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
            _pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
            await _pool.execute(CREATE)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _pool is not None:
                await _pool.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["method"] == "GET":  # readiness
        await _respond(send, 200, {"status": "ok"})
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.loads(b"".join(chunks))
    variables = body.get("variables", {}).get("input", {})
    referral_id = uuid.uuid4()
    assert _pool is not None
    await _pool.execute(INSERT, referral_id, uuid.UUID(variables["tenantId"]), json.dumps(variables))
    await _respond(
        send,
        200,
        {"data": {"submitReferral": {"__typename": "ReferralSubmitted", "referral": {"id": str(referral_id)}}}},
    )
