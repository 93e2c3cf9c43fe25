"""Test support for subscriptions: the app served over a real socket, a ``graphql-transport-ws`` client
that speaks the protocol's messages, and builders of the events the feed carries.

For tests only; the app never imports it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.base import EventData
from bmw.contracts.events.scheduling import AppointmentBooked, AppointmentCancelled
from bmw.contracts.events.signals import (
    EvidenceSummary,
    OpportunityCreated,
    OpportunityStageChanged,
    SignalRaised,
    SignalReviewed,
)
from bmw.contracts.taxonomy import (
    AppointmentKind,
    CancelledBy,
    Category,
    DetectionMethod,
    OpportunityStage,
    SignalKind,
)
from bmw.gateway.subscriptions.feed import EventFeed
from bmw.gateway.subscriptions.resolvers import FEED_STATE

PROTOCOL = "graphql-transport-ws"


@asynccontextmanager
async def serve_live(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` (lifespan included) with uvicorn on a free loopback port; yields its ``ws://`` URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # startup failed: raise its error
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


def feed_of(app: FastAPI) -> EventFeed:
    """The running app's event feed."""
    feed = getattr(app.state, FEED_STATE)
    if not isinstance(feed, EventFeed):
        raise TypeError("the app has no event feed; is its lifespan running?")
    return feed


class Closed(Exception):
    """The server closed the connection; ``code`` and ``reason`` are its close frame's."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed with {code}: {reason}")
        self.code = code
        self.reason = reason


class GraphQLWebSocket:
    """A ``graphql-transport-ws`` client connection that exposes the protocol's messages as dicts."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109 - a plain deadline reads better
        """The next message; raises :class:`Closed` when the server closes, ``TimeoutError`` when silent."""
        try:
            async with asyncio.timeout(timeout):
                raw = await self.connection.recv()
        except ConnectionClosed as closed:
            frame = closed.rcvd
            raise Closed(frame.code if frame else None, frame.reason if frame else "") from closed
        message = json.loads(raw)
        if not isinstance(message, dict):
            raise TypeError(f"not a protocol message: {raw!r}")
        return message

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send ``connection_init`` and return the answer (``connection_ack`` unless refused)."""
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        return await self.receive()

    async def subscribe(self, operation_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send({"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})


@asynccontextmanager
async def websocket(url: str, *, authorization: str | None = None) -> AsyncIterator[GraphQLWebSocket]:
    """Open a ``graphql-transport-ws`` connection, with ``authorization`` as the upgrade request's header."""
    headers = {"Authorization": authorization} if authorization else None
    async with connect(url, subprotocols=[Subprotocol(PROTOCOL)], additional_headers=headers) as connection:
        yield GraphQLWebSocket(connection)


# -- events -------------------------------------------------------------------------------------------------


def envelope(data: EventData, tenant_id: uuid.UUID, *, at: datetime | None = None) -> CloudEvent:
    """The CloudEvent a service would publish for ``data``."""
    return CloudEvent.create(data, tenant_id=tenant_id, time=at or datetime.now(UTC))


def evidence(observed: int = 9) -> EvidenceSummary:
    return EvidenceSummary(
        method=DetectionMethod.POISSON_TAIL,
        categories=[Category.WORKLOAD_STRESS],
        observed_count=observed,
        expected_count=2.5,
        p_value=0.004,
        weeks=4,
        baseline_weeks=26,
    )


def signal_raised(
    *, kind: SignalKind = SignalKind.STRESS_SURGE, suppressed: bool = False, org_unit_id: uuid.UUID | None = None
) -> SignalRaised:
    return SignalRaised(
        signal_id=uuid.uuid4(),
        kind=kind,
        org_unit_id=org_unit_id,
        evidence_summary=evidence(3 if suppressed else 9),
        suppressed=suppressed,
    )


def signal_reviewed(
    *,
    decision: Literal["confirmed", "dismissed"] = "confirmed",
    suppressed: bool = False,
    kind: SignalKind = SignalKind.STRESS_SURGE,
    org_unit_id: uuid.UUID | None = None,
) -> SignalReviewed:
    return SignalReviewed(
        signal_id=uuid.uuid4(),
        kind=kind,
        org_unit_id=org_unit_id,
        evidence_summary=evidence(3 if suppressed else 9),
        suppressed=suppressed,
        decision=decision,
        reason="matches_what_we_see" if decision == "confirmed" else "coincidence_unrelated_cases",
    )


def opportunity_created(*, value_cents: int = 125_000) -> OpportunityCreated:
    return OpportunityCreated(
        opportunity_id=uuid.uuid4(),
        signal_id=uuid.uuid4(),
        recommended_interventions=["workshop_stress_and_resilience"],
        estimated_value_cents=value_cents,
    )


def opportunity_moved(stage: OpportunityStage, previous: OpportunityStage) -> OpportunityStageChanged:
    return OpportunityStageChanged(
        opportunity_id=uuid.uuid4(),
        signal_id=uuid.uuid4(),
        recommended_interventions=["secondment"],
        estimated_value_cents=990_050,
        stage=stage,
        previous_stage=previous,
    )


START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def appointment_booked(worker_id: uuid.UUID, *, case_id: uuid.UUID | None = None) -> AppointmentBooked:
    return AppointmentBooked(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.INTAKE,
        case_id=case_id,
        worker_id=worker_id,
        start=START,
        duration_minutes=60,
    )


def appointment_cancelled(worker_id: uuid.UUID) -> AppointmentCancelled:
    return AppointmentCancelled(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.CONSULT,
        worker_id=worker_id,
        start=START,
        duration_minutes=45,
        late=True,
        cancelled_by=CancelledBy.EMPLOYEE,
    )
