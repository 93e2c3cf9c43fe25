"""Test support for the gateway: a signing key that mints tokens, fake services behind an
``httpx.MockTransport``, and the app served in-process with its lifespan running.

For tests only; the app never imports it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bmw.gateway.app import create_app
from bmw.gateway.settings import GatewaySettings

ISSUER = "bmw-dev"
AUDIENCE = "bmw"
INTAKE = "intake.test"
SIGNALS = "signals.test"
SCHEDULING = "scheduling.test"
BILLING = "billing.test"
TENANT = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER_TENANT = uuid.UUID("22222222-2222-4222-8222-222222222222")
ORG_UNIT = uuid.UUID("33333333-3333-4333-8333-333333333333")


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair as PEM text: the test's identity provider."""

    private_pem: str
    public_pem: str

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        return cls(private_pem, public_pem)

    def mint(
        self,
        *roles: str,
        tenant_id: uuid.UUID | None = None,
        sub: str = "user-1",
        ttl: timedelta = timedelta(minutes=5),
        **claims: Any,
    ) -> str:
        """An RS256 token with ``iss``, ``aud``, ``sub``, ``exp``, ``roles`` and ``tenant_id``."""
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "exp": datetime.now(UTC) + ttl,
            "roles": list(roles),
            **claims,
        }
        if tenant_id is not None:
            payload["tenant_id"] = str(tenant_id)
        return jwt.encode(payload, self.private_pem, algorithm="RS256")


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeServices:
    """The services behind the gateway, as an ``httpx.MockTransport`` handler.

    Routes are ``(method, host, path)``; every request is recorded. An unrouted request fails
    the test with a 599 answer, which the gateway treats as an internal error.
    """

    routes: dict[tuple[str, str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, host: str, path: str, handler: Handler) -> None:
        self.routes[(method, host, path)] = handler

    def reply(self, method: str, host: str, path: str, status: int, body: Any) -> None:
        self.on(method, host, path, lambda _: httpx.Response(status, json=body))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get((request.method, request.url.host, request.url.path))
        if handler is None:
            return httpx.Response(599, text=f"no fake for {request.method} {request.url}")
        return handler(request)

    def calls(self, host: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == host and r.url.path == path]


def error_body(code: str, message: str, fields: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The services' uniform error body."""
    return {
        "error": {
            "code": code,
            "message": message,
            "request_id": "svc-request-1",
            "fields": [{"path": p, "message": m} for p, m in fields],
            "details": {},
        }
    }


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def make_settings(signing_key: SigningKey, **overrides: Any) -> GatewaySettings:
    """Settings of a gateway in front of the fake services, trusting ``signing_key``."""
    values: dict[str, Any] = {
        "environment": "test",
        "intake_url": f"http://{INTAKE}",
        "scheduling_url": f"http://{SCHEDULING}",
        "billing_url": f"http://{BILLING}",
        "signals_url": f"http://{SIGNALS}",
        "jwt_public_key": signing_key.public_pem,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "max_depth": 10,
        "max_aliases": 15,
        "max_tokens": 2000,
        "introspection": None,
        # No broker behind the fake services: subscriptions get their events pushed by the test.
        "kafka_bootstrap_servers": "",
    }
    values.update(overrides)
    return GatewaySettings(**values)


@asynccontextmanager
async def serve(settings: GatewaySettings, services: FakeServices) -> AsyncIterator[httpx.AsyncClient]:
    """Run the gateway app's lifespan and yield a client of it; service calls reach ``services``."""
    app = create_app(settings, transport=httpx.MockTransport(services))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client,
    ):
        yield client


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    accept: str = "application/json",
) -> httpx.Response:
    """POST a GraphQL request."""
    headers = {"accept": accept}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
