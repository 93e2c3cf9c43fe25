"""HTTP clients of the services the gateway resolves through.

One ``httpx.AsyncClient`` (connection pool, timeouts) lives for the app's lifespan; each request
gets light client objects over it that forward the caller's ``Authorization`` header and the
flow's ``x-correlation-id``, and the ``traceparent`` of a client span per call (``bmw.servicekit.tracing``). The
services re-check authorisation themselves.

Reads (GET) that meet a passing failure (no connection, a pooled connection the service had closed, 502/503/504)
are tried again a few times with a short, doubling pause; commands never are, since the service may have acted
before the answer was lost (their clients retry with an ``Idempotency-Key`` instead).

A service's refusal comes back as the servicekit error it raised (``InvalidInput`` with its
field paths, ``Forbidden``, ...); a service that cannot be reached, times out or answers 503
becomes ``ServiceUnavailable``. Anything else is an internal error.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

import httpx
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.gateway.metrics import UpstreamMetrics
from bmw.servicekit.context import current_flow
from bmw.servicekit.errors import (
    Conflict,
    DomainError,
    ErrorBody,
    ErrorResponse,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from bmw.servicekit.tracing import fail, traceparent_of, tracer

logger = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)

_REFUSALS: dict[int, type[DomainError]] = {
    400: InvalidInput,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
}
#: Statuses that mean "not now": the service (or a proxy in front of it) is unavailable.
_UNAVAILABLE = frozenset({502, 503, 504})


#: Methods that only read, and so may be sent again.
_IDEMPOTENT_READS = frozenset({"GET", "HEAD"})
#: Transport failures after which the service cannot have seen (or answered) the request; a read timeout is not one
#: of them: retrying a slow service only multiplies the wait.
_PASSING_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.PoolTimeout)


@dataclass(frozen=True)
class ReadRetries:
    """How often and after which pause a read that met a passing failure is sent again."""

    attempts: int = 0
    backoff_seconds: float = 0.05

    def pause(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based): the backoff, doubled each time."""
        return float(self.backoff_seconds * (2**attempt))


NO_RETRIES = ReadRetries()


class UpstreamError(Exception):
    """A service answered in a way the gateway cannot explain to the caller (e.g. a 500)."""


def forwarded_headers(authorization: str | None) -> dict[str, str]:
    """The caller's identity and the flow's correlation and trace context, for a service call."""
    flow = current_flow()
    headers: dict[str, str] = {}
    if authorization:
        headers["authorization"] = authorization
    if flow.correlation_id:
        headers["x-correlation-id"] = flow.correlation_id
    if flow.traceparent:
        headers["traceparent"] = flow.traceparent
    return headers


class ServiceClient:
    """Calls one service's HTTP API on behalf of one GraphQL request."""

    def __init__(
        self,
        name: str,
        http: httpx.AsyncClient,
        base_url: str,
        headers: Mapping[str, str],
        *,
        retries: ReadRetries = NO_RETRIES,
        calls: UpstreamMetrics | None = None,
    ) -> None:
        self.name = name
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._retries = retries
        self._calls = calls

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | httpx.QueryParams | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; return a 2xx response or raise the service's refusal. ``headers`` add to the
        forwarded ones for this call only (an ``Idempotency-Key``, a break-glass reason). A read is retried
        after a passing failure (see the module's docstring)."""
        method = method.upper()
        # A client span per call (its context is the traceparent the service sees), and the call counted and timed
        # per service, method and answer (bmw.gateway.metrics).
        started = time.perf_counter()
        with tracer().start_as_current_span(
            f"{method} {self.name}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "server.address": self.name, "peer.service": f"bmw-{self.name}"},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            forwarded = {**self._headers, **(headers or {})}
            if traceparent := traceparent_of(span):
                forwarded["traceparent"] = traceparent
            try:
                response = await self._send(method, path, params, json, forwarded)
            except Exception as error:  # unreachable: ServiceUnavailable (or a bug)
                fail(span, error)
                self._record(method, "unreachable", started)
                raise
            span.set_attribute("http.response.status_code", response.status_code)
            self._record(method, str(response.status_code), started)
            if response.is_success:
                return response
            refusal = self._refusal(response)
            if response.status_code >= 500:
                fail(span, refusal)
            raise refusal

    def _record(self, method: str, status: str, started: float) -> None:
        if self._calls is not None:
            self._calls.record(self.name, method, status, time.perf_counter() - started)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | httpx.QueryParams | None,
        json: Any,
        headers: Mapping[str, str],
    ) -> httpx.Response:
        """The service's last answer, after retrying a read that met a passing failure; ServiceUnavailable when it
        could not be reached."""
        retries = self._retries.attempts if method in _IDEMPOTENT_READS else 0
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                response = await self._http.request(
                    method, f"{self._base_url}{path}", params=params, json=json, headers=headers
                )
            except httpx.TransportError as error:
                if not last and isinstance(error, _PASSING_FAILURES):
                    logger.info("%s %s: %s; retrying", self.name, method, type(error).__name__)
                    await asyncio.sleep(self._retries.pause(attempt))
                    continue
                # Connect failures, timeouts, broken connections: the caller may retry later.
                logger.warning("%s unreachable: %s", self.name, type(error).__name__)
                raise ServiceUnavailable(f"the {self.name} service is unavailable; retry shortly") from error
            if response.status_code in _UNAVAILABLE and not last:
                logger.info("%s %s: HTTP %s; retrying", self.name, method, response.status_code)
                await asyncio.sleep(self._retries.pause(attempt))
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _refusal(self, response: httpx.Response) -> Exception:
        body = _error_body(response)
        request_id = body.request_id if body else None
        if response.status_code in _UNAVAILABLE:
            logger.warning("%s unavailable: HTTP %s (request %s)", self.name, response.status_code, request_id)
            return ServiceUnavailable(f"the {self.name} service is unavailable; retry shortly", request_id=request_id)
        kind = _REFUSALS.get(response.status_code)
        if kind is None or body is None:
            logger.error("%s answered HTTP %s (request %s)", self.name, response.status_code, request_id)
            return UpstreamError(f"{self.name} answered HTTP {response.status_code}")
        return kind(body.message, fields=list(body.fields), request_id=request_id)

    @staticmethod
    def parse(model: type[Model], response: httpx.Response) -> Model:
        """The response body as ``model``; a body of another shape is an internal error."""
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            raise UpstreamError(f"unexpected response body: {error.error_count()} problem(s)") from error


def _error_body(response: httpx.Response) -> ErrorBody | None:
    try:
        return ErrorResponse.model_validate_json(response.content).error
    except ValidationError:
        return None


# -- intake -------------------------------------------------------------------------------------


class ReferralStatus(StrEnum):
    """Where a referral stands."""

    CASE_OPENED = "case_opened"
    AWAITING_CONSENT = "awaiting_consent"
    EXPIRED = "expired"
    HISTORICAL = "historical"


class EmployeeContactBody(BaseModel):
    """Contact details of the referred employee (they stay in intake)."""

    name: str
    email: str | None = None
    phone: str | None = None


class ReferralCreateBody(BaseModel):
    """Body of ``POST /referrals``."""

    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    channel: Channel
    employee: EmployeeContactBody
    employee_consented: bool
    language: str


class ReferralBody(BaseModel):
    """A referral as intake returns it."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    channel: Channel
    status: ReferralStatus
    case_id: uuid.UUID | None = None
    received_at: datetime
    consent_deadline: datetime | None = None


class _CaseTenantBody(BaseModel):
    """Of intake's ``CaseRead``, the client organisation only."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: uuid.UUID


class IntakeClient(ServiceClient):
    """Intake: referrals and cases."""

    async def case_tenant(self, case_id: uuid.UUID) -> uuid.UUID:
        """``GET /cases/{id}``, for the client organisation of a case the caller may read (intake refuses the
        rest with 403 or 404)."""
        response = await self.request("GET", f"/cases/{case_id}")
        return self.parse(_CaseTenantBody, response).tenant_id

    async def submit_referral(self, referral: ReferralCreateBody) -> ReferralBody:
        """``POST /referrals``."""
        response = await self.request("POST", "/referrals", json=referral.model_dump(mode="json"))
        return self.parse(ReferralBody, response)


# -- signals ------------------------------------------------------------------------------------


class TrendUnitBody(BaseModel):
    """One org unit's subtree count in one category and month, as signals publishes it."""

    model_config = ConfigDict(extra="ignore")

    org_unit_id: uuid.UUID
    org_unit_name: str | None = None
    parent_id: uuid.UUID | None = None
    count: int | None
    suppressed: bool


class TrendCategoryBody(BaseModel):
    """One category in one month: the organisation's total and every unit's subtree count."""

    model_config = ConfigDict(extra="ignore")

    category: Category
    total: int | None
    total_suppressed: bool
    units: list[TrendUnitBody]


class TrendMonthBody(BaseModel):
    """The published cells of one calendar month."""

    model_config = ConfigDict(extra="ignore")

    month: str
    categories: list[TrendCategoryBody]


class TrendCellBody(BaseModel):
    """A flattened cell: one org unit in one category and month."""

    month: str
    org_unit_id: uuid.UUID
    org_unit_name: str | None = None
    parent_id: uuid.UUID | None = None
    category: Category
    count: int | None
    suppressed: bool


class TrendReportBody(BaseModel):
    """Anonymised referral counts of one client organisation, on signals' monthly grid."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    tenant_id: uuid.UUID
    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    k: int
    months: list[TrendMonthBody]

    def shown(self) -> Iterator[tuple[str, Category, TrendUnitBody]]:
        """Every unit cell with referrals (or hidden), month by month, with its month and category; zero cells are
        left out."""
        for month in self.months:
            for category in month.categories:
                for unit in category.units:
                    if unit.suppressed or unit.count:
                        yield month.month, category.category, unit

    @property
    def cells(self) -> list[TrendCellBody]:
        """Every unit cell with referrals (or hidden), month by month; zero cells are left out."""
        return [
            TrendCellBody(
                month=month.month,
                org_unit_id=unit.org_unit_id,
                org_unit_name=unit.org_unit_name,
                parent_id=unit.parent_id,
                category=category.category,
                count=unit.count,
                suppressed=unit.suppressed,
            )
            for month in self.months
            for category in month.categories
            for unit in category.units
            if unit.suppressed or unit.count
        ]


class SignalsClient(ServiceClient):
    """Signals: trends, signals and opportunities."""

    async def trends(self, *, tenant_id: uuid.UUID, period_from: date, period_to: date) -> TrendReportBody:
        """``GET /trends``."""
        response = await self.request(
            "GET",
            "/trends",
            params={
                "tenant_id": str(tenant_id),
                "from": period_from.isoformat(),
                "to": period_to.isoformat(),
                # The gateway shows no zero cells: signals leaves them out (most of a large tree's answer).
                "nonzero_only": "true",
            },
        )
        return self.parse(TrendReportBody, response)
