"""The runtime built in the lifespan, and the typed context built for each GraphQL request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx
from anyio import to_thread
from fastapi import Request
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from bmw.gateway.clients import IntakeClient, ReadRetries, ServiceClient, SignalsClient, forwarded_headers
from bmw.gateway.metrics import UpstreamMetrics
from bmw.gateway.settings import GatewaySettings
from bmw.servicekit.auth import Principal, TokenVerifier, bearer_token
from bmw.servicekit.errors import Unauthorized

_PerRequest = TypeVar("_PerRequest")


@dataclass(frozen=True)
class GatewayRuntime:
    """What lives as long as the app: settings, token verifier, the shared HTTP client."""

    settings: GatewaySettings
    verifier: TokenVerifier
    http: httpx.AsyncClient
    #: Base URL per service name, from the settings.
    service_urls: Mapping[str, str]
    #: Where the service calls are counted and timed (``GET /metrics``); None in tests that do not look.
    upstream: UpstreamMetrics | None = None


class GatewayContext(BaseContext):
    """Per request: the verified caller (if any) and clients that act on their behalf."""

    def __init__(
        self,
        *,
        principal: Principal | None,
        authentication_error: str | None,
        intake: IntakeClient,
        signals: SignalsClient,
        scheduling: ServiceClient,
        billing: ServiceClient,
    ) -> None:
        super().__init__()
        self.principal = principal
        #: Why there is no principal: ``missing bearer token`` or ``invalid or expired token``.
        self.authentication_error = authentication_error
        self.intake = intake
        self.signals = signals
        self.scheduling = scheduling
        self.billing = billing
        #: What lives exactly as long as this request (its DataLoaders), one instance per type.
        self._per_request: dict[type, object] = {}

    def per_request(self, kind: type[_PerRequest], make: Callable[[GatewayContext], _PerRequest]) -> _PerRequest:
        """This request's one ``kind`` (e.g. a set of DataLoaders), made by ``make`` on first use.

        It dies with the request: nothing kept here is shared across requests, callers or tenants.
        """
        found = self._per_request.get(kind)
        if isinstance(found, kind):
            return found
        made = make(self)
        self._per_request[kind] = made
        return made

    @property
    def caller(self) -> Principal:
        """The verified caller; only for fields guarded by ``IsAuthenticated``."""
        if self.principal is None:
            raise RuntimeError("no principal: guard the field with IsAuthenticated")
        return self.principal


#: What resolvers and permissions receive as ``info``.
GatewayInfo = Info[GatewayContext, None]


async def build_context(runtime: GatewayRuntime, authorization: str | None) -> GatewayContext:
    """Verify the bearer token (if any) and prepare the service clients for one request.

    With keys from a JWKS URL a verification may have to fetch them: it then runs in a worker thread, so that the
    event loop never waits for the identity provider.
    """
    principal: Principal | None = None
    authentication_error: str | None = None
    verifier = runtime.verifier
    try:
        token = bearer_token(authorization)
        if verifier.fetches_keys:
            principal = await to_thread.run_sync(verifier.verify, token)
        else:
            principal = verifier.verify(token)
    except Unauthorized as error:
        authentication_error = error.message
    headers = forwarded_headers(authorization)
    urls = runtime.service_urls
    settings = runtime.settings
    retries = ReadRetries(attempts=settings.read_retries, backoff_seconds=settings.read_retry_backoff_seconds)
    calls = runtime.upstream
    return GatewayContext(
        principal=principal,
        authentication_error=authentication_error,
        intake=IntakeClient("intake", runtime.http, urls["intake"], headers, retries=retries, calls=calls),
        signals=SignalsClient("signals", runtime.http, urls["signals"], headers, retries=retries, calls=calls),
        scheduling=ServiceClient("scheduling", runtime.http, urls["scheduling"], headers, retries=retries, calls=calls),
        billing=ServiceClient("billing", runtime.http, urls["billing"], headers, retries=retries, calls=calls),
    )


async def get_context(request: Request) -> GatewayContext:
    """FastAPI dependency: the GraphQL context of this request."""
    runtime: GatewayRuntime = request.app.state.runtime
    return await build_context(runtime, request.headers.get("authorization"))
