"""Request and message context carried through a flow: correlation, causation, trace, request id."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FlowContext:
    """What ties an event to the request or event that caused it."""

    correlation_id: str | None = None
    causation_id: str | None = None
    traceparent: str | None = None
    request_id: str | None = None
    #: The client organisation the flow acts for, when it is one (an event's tenant; a tenant-bound caller's own).
    tenant_id: str | None = None


_current: ContextVar[FlowContext] = ContextVar("bmw_flow_context", default=FlowContext())  # noqa: B039 - frozen, immutable


def current_flow() -> FlowContext:
    """The flow context of the running request or message handler."""
    return _current.get()


def set_flow(context: FlowContext) -> object:
    """Set the flow context; returns a token for reset_flow."""
    return _current.set(context)


def with_tenant(tenant_id: str) -> object:
    """Name the client organisation of the running flow (for its log lines); returns a token for reset_flow."""
    return _current.set(replace(_current.get(), tenant_id=tenant_id))


def reset_flow(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
