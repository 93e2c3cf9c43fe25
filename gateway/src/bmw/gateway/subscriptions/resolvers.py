"""The ``Subscription`` root type: live updates for the people who work with them.

Each resolver takes a place in the process's event feed for as long as the subscription lives and yields
what :mod:`.rules` lets its caller see. The caller is fixed when the subscription starts; the transport
closes the connection when their token expires.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Annotated, TypeVar

import strawberry

from bmw.gateway.clients import ServiceClient, UpstreamError
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.subscriptions.feed import EventFeed, Subscriber
from bmw.gateway.subscriptions.permissions import MayFollowAppointments, MayFollowOpportunities, MayFollowSignals
from bmw.gateway.subscriptions.rules import (
    SignalAudience,
    appointment_change_for,
    opportunity_change_for,
    raised_signal_for,
    signal_audience,
)
from bmw.gateway.subscriptions.types import AppointmentChange, OpportunityChange, RaisedSignal
from bmw.servicekit.errors import DomainError

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: Where the app keeps the feed (``app.state``); set in its lifespan.
FEED_STATE = "event_feed"


def connected_feed(info: GatewayInfo) -> EventFeed:
    """The app's event feed, or SERVICE_UNAVAILABLE while it is not connected to the broker."""
    connection = info.context.request
    feed = getattr(connection.app.state, FEED_STATE, None) if connection is not None else None
    if not isinstance(feed, EventFeed) or not feed.connected:
        raise GatewayError(
            ErrorCode.SERVICE_UNAVAILABLE,
            "live updates are unavailable: the gateway is not connected to the event broker; try again later",
        )
    return feed


async def _deliver(subscriber_of: Callable[[], AbstractContextManager[Subscriber[T]]]) -> AsyncGenerator[T, None]:
    with subscriber_of() as subscriber:
        async for item in subscriber:
            yield item


async def signal_raised(
    info: GatewayInfo,
    tenant_id: Annotated[strawberry.ID, strawberry.argument(description="Client organisation.")],
) -> AsyncGenerator[RaisedSignal, None]:
    """The organisation's signals as the caller may see them (``MayFollowSignals`` checked the caller).

    Not a generator itself: refusals are raised here, before the stream starts, so that the client gets
    them as the operation's ``error`` message.
    """
    tenant = uuid.UUID(tenant_id)
    audience = signal_audience(info.context.caller, tenant)
    if audience is None:  # refused by MayFollowSignals already; this narrows the type
        raise GatewayError(ErrorCode.FORBIDDEN, "not allowed for this client organisation")
    feed = connected_feed(info)
    stream = _deliver(partial(feed.subscribe, partial(raised_signal_for, audience, tenant)))
    if audience is SignalAudience.CLIENT:
        return _shown_by_signals(stream, info.context.signals)
    return stream


async def _shown_by_signals(
    stream: AsyncIterator[RaisedSignal], signals: ServiceClient
) -> AsyncGenerator[RaisedSignal, None]:
    """Only the signals the signals service itself shows the caller.

    An event's ``suppressed`` flag says whether the signal's own count is below k; whether showing "at least k
    here" pins a hidden neighbour in the trends (the rule of ``bmw.signals.application.signal_views``) only the
    service can tell. So each released signal is read back with the caller's token, and one the service does not
    show is not sent. When the service cannot be asked, the signal is withheld (the portal's list catches up).
    """
    async for signal in stream:
        try:
            await signals.request("GET", f"/signals/{signal.signal_id}")
        except (DomainError, UpstreamError) as refusal:
            logger.info("signal %s not sent to a client subscriber: %s", signal.signal_id, refusal)
            continue
        yield signal


async def opportunity_changed(info: GatewayInfo) -> AsyncGenerator[OpportunityChange, None]:
    """The opportunity changes the caller may see."""
    feed = connected_feed(info)
    return _deliver(partial(feed.subscribe, partial(opportunity_change_for, info.context.caller)))


async def appointment_changed(info: GatewayInfo) -> AsyncGenerator[AppointmentChange, None]:
    """The appointment changes the caller may see."""
    feed = connected_feed(info)
    return _deliver(partial(feed.subscribe, partial(appointment_change_for, info.context.caller)))


@strawberry.type(
    description="Live updates over WebSocket (graphql-transport-ws), from the moment you subscribe. Authenticate "
    'in the connection_init payload ({"authorization": "Bearer <token>"}) or the upgrade request\'s '
    "Authorization header; the connection closes (4403, token expired) when your token expires."
)
class Subscription:
    signal_raised: AsyncGenerator[RaisedSignal, None] = strawberry.subscription(
        resolver=signal_raised,
        description="Signals of one client organisation as they reach you: provider staff as they are raised; "
        "account managers and the organisation once a social worker confirmed them (or they need no review); "
        "the organisation never a signal about fewer than k people, nor one whose 'at least k' would reveal a "
        "number its trends hide (the signals service decides). Counts only for provider staff.",
        permission_classes=[IsAuthenticated, MayFollowSignals],
    )
    opportunity_changed: AsyncGenerator[OpportunityChange, None] = strawberry.subscription(
        resolver=opportunity_changed,
        description="Opportunities created or moved through the pipeline: an account manager's portfolio, all "
        "for provider administrators.",
        permission_classes=[IsAuthenticated, MayFollowOpportunities],
    )
    appointment_changed: AsyncGenerator[AppointmentChange, None] = strawberry.subscription(
        resolver=appointment_changed,
        description="Appointments booked, rescheduled, cancelled, completed or missed: a social worker's own, all "
        "for provider administrators.",
        permission_classes=[IsAuthenticated, MayFollowAppointments],
    )
