"""Unit of work: one database transaction holding state changes and the events that report them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Self

from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.base import EventData
from bmw.servicekit.context import current_flow
from bmw.servicekit.db import begin_scoped, scope_for
from bmw.servicekit.outbox import add_to_outbox
from bmw.servicekit.tracing import current_traceparent, tracer
from bmw.servicekit.walls import WHOLE_SERVICE, TenantScope


class UnitOfWork:
    """``async with uow: ...; await uow.commit()``: leaving without commit rolls everything back."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        tenant_id: uuid.UUID | None = None,
        on_commit: Callable[[], None] | None = None,
        scope: TenantScope | None = None,
    ) -> None:
        self._sessions = sessions
        self._tenant_id = tenant_id
        #: A scope of its own instead of the current one (``UnitOfWorkFactory.provider_wide``).
        self._scope = scope
        self._on_commit = on_commit
        self._session: AsyncSession | None = None
        self._emitted: list[CloudEvent] = []
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    @property
    def emitted(self) -> list[CloudEvent]:
        """Events added to the outbox in this unit of work."""
        return list(self._emitted)

    async def __aenter__(self) -> Self:
        # Every transaction carries its tenant scope, which the tables' row-level security reads.
        scope = self._scope if self._scope is not None else scope_for(self._tenant_id)
        self._session = await begin_scoped(self._sessions, scope)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            if not self.committed:
                await session.rollback()
        finally:
            await session.close()
            self._session = None

    async def emit(self, payload: EventData, *, tenant_id: uuid.UUID, subject: str | None = None) -> CloudEvent:
        """Add an event to the outbox of this transaction, carrying the current flow's context."""
        flow = current_flow()
        # The "create" span of the message: the event carries its context, so the relay's publish and every
        # consumer's handling hang under the flow that decided it (bmw.servicekit.tracing).
        with tracer().start_as_current_span(
            f"create {payload.event_type}",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.operation.type": "create"},
        ) as span:
            event = CloudEvent.create(
                payload,
                tenant_id=tenant_id,
                subject=subject,
                correlation_id=flow.correlation_id,
                causation_id=flow.causation_id,
                traceparent=current_traceparent(),
            )
            span.set_attribute("messaging.destination.name", event.topic)
            span.set_attribute("messaging.message.id", str(event.id))
            await add_to_outbox(self.session, event)
        self._emitted.append(event)
        return event

    async def commit(self) -> None:
        await self.session.commit()
        self.committed = True
        if self._emitted and self._on_commit is not None:
            self._on_commit()


class UnitOfWorkFactory:
    """Builds units of work bound to one service's database and relay."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], on_commit: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self._on_commit = on_commit

    def __call__(self, *, tenant_id: uuid.UUID | None = None) -> UnitOfWork:
        """A unit of work in the current tenant scope, narrowed to ``tenant_id`` when given."""
        return UnitOfWork(self.sessions, tenant_id=tenant_id, on_commit=self._on_commit)

    def provider_wide(self) -> UnitOfWork:
        """A unit of work over every organisation's rows whoever calls: only for what the provider computes across
        its clients and shows no organisation's rows of (pooled statistics, a catalogue's track record), after the
        caller's right to that result was checked. Each use says why."""
        return UnitOfWork(self.sessions, on_commit=self._on_commit, scope=WHOLE_SERVICE)
