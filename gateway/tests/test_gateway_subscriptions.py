"""Subscriptions: who receives which events, the bounded feed, and graphql-transport-ws over a real socket.

The rules are tested as pure functions of the caller and the event; the transport with the app served by
uvicorn and events pushed into its feed directly (no Kafka; the broker test is in
test_gateway_subscriptions_kafka.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.signals import SignalResolved
from bmw.contracts.taxonomy import OpportunityStage, Role, SignalKind
from bmw.gateway.app import create_app
from bmw.gateway.scheduling.enums import AppointmentKind, CancelledBy
from bmw.gateway.signals.enums import ReviewStatus
from bmw.gateway.signals.permissions import may_read_signals
from bmw.gateway.subscriptions.feed import EventFeed, FeedEvent
from bmw.gateway.subscriptions.kafka import KafkaEventSource, decode_record
from bmw.gateway.subscriptions.rules import (
    SignalAudience,
    appointment_change_for,
    may_follow_appointments,
    may_follow_opportunities,
    opportunity_change_for,
    raised_signal_for,
    signal_audience,
)
from bmw.gateway.subscriptions.testing import (
    START,
    Closed,
    appointment_booked,
    appointment_cancelled,
    envelope,
    evidence,
    feed_of,
    opportunity_created,
    opportunity_moved,
    serve_live,
    signal_raised,
    signal_reviewed,
    websocket,
)
from bmw.gateway.subscriptions.types import AppointmentChangeKind, OpportunityChangeKind
from bmw.gateway.testing import OTHER_TENANT, SIGNALS, TENANT, FakeServices, SigningKey, make_settings
from bmw.servicekit.auth import Principal

WORKER = uuid.UUID("44444444-4444-4444-8444-444444444444")
OTHER_WORKER = uuid.UUID("55555555-5555-4555-8555-555555555555")
UNIT = uuid.UUID("33333333-3333-4333-8333-333333333333")


def principal(*roles: Role, tenant_id: uuid.UUID | None = None, portfolio: tuple[uuid.UUID, ...] = ()) -> Principal:
    return Principal(
        subject=str(WORKER) if Role.SOCIAL_WORKER in roles else "user-1",
        roles=frozenset(roles),
        tenant_id=tenant_id,
        portfolio=frozenset(portfolio),
    )


SOCIAL_WORKER = principal(Role.SOCIAL_WORKER)
ADMIN = principal(Role.PROVIDER_ADMIN)
ACCOUNT_MANAGER = principal(Role.ACCOUNT_MANAGER, portfolio=(TENANT,))
CLIENT_CONTACT = principal(Role.CLIENT_CONTACT, tenant_id=TENANT)
INTEGRATION = principal(Role.INTEGRATION, tenant_id=TENANT)
EMPLOYEE = principal(Role.EMPLOYEE, tenant_id=TENANT)


def fed(event: CloudEvent) -> FeedEvent:
    return FeedEvent.of(event)


# -- signals: the rules -------------------------------------------------------------------------------------


def test_each_role_gets_its_signal_audience_and_tenant_bound_callers_only_their_own() -> None:
    assert signal_audience(SOCIAL_WORKER, OTHER_TENANT) is SignalAudience.STAFF
    assert signal_audience(ADMIN, OTHER_TENANT) is SignalAudience.STAFF
    assert signal_audience(ACCOUNT_MANAGER, TENANT) is SignalAudience.PORTFOLIO
    assert signal_audience(ACCOUNT_MANAGER, OTHER_TENANT) is None
    assert signal_audience(CLIENT_CONTACT, TENANT) is SignalAudience.CLIENT
    assert signal_audience(INTEGRATION, TENANT) is SignalAudience.CLIENT
    assert signal_audience(CLIENT_CONTACT, OTHER_TENANT) is None
    assert signal_audience(EMPLOYEE, TENANT) is None


def test_a_social_worker_who_serves_one_organisation_receives_its_signals_only() -> None:
    serving = Principal(subject=str(WORKER), roles=frozenset({Role.SOCIAL_WORKER}), serves=frozenset({TENANT}))
    assert signal_audience(serving, TENANT) is SignalAudience.STAFF
    assert signal_audience(serving, OTHER_TENANT) is None
    assert may_read_signals(serving, TENANT) and not may_read_signals(serving, OTHER_TENANT)


def test_staff_receive_every_signal_as_it_is_raised_with_its_counts() -> None:
    data = signal_raised(org_unit_id=UNIT, suppressed=True)
    at = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    event = envelope(data, TENANT, at=at)

    raised = raised_signal_for(SignalAudience.STAFF, TENANT, fed(event))

    assert raised is not None
    assert raised.event_id == str(event.id)
    assert raised.signal_id == str(data.signal_id)
    assert raised.tenant_id == str(TENANT)
    assert raised.org_unit_id == str(UNIT)
    assert raised.kind is SignalKind.STRESS_SURGE
    assert raised.review_status is ReviewStatus.PENDING
    assert raised.suppressed is True
    assert raised.occurred_at == at
    assert raised.evidence is not None
    assert raised.evidence.observed_count == data.evidence_summary.observed_count
    assert raised.evidence.expected_count == data.evidence_summary.expected_count
    # Staff saw it raised; its confirmation is not a second signal for them.
    confirmed = envelope(signal_reviewed(), TENANT)
    assert raised_signal_for(SignalAudience.STAFF, TENANT, fed(confirmed)) is None


def test_account_managers_receive_released_signals_without_counts_suppressed_ones_included() -> None:
    confirmed = signal_reviewed(suppressed=True)

    raised = raised_signal_for(SignalAudience.PORTFOLIO, TENANT, fed(envelope(confirmed, TENANT)))

    assert raised is not None
    assert raised.signal_id == str(confirmed.signal_id)
    assert raised.review_status is ReviewStatus.CONFIRMED
    assert raised.suppressed is True
    assert raised.evidence is None
    pending = signal_raised()
    dismissed = signal_reviewed(decision="dismissed")
    for data in (pending, dismissed):
        assert raised_signal_for(SignalAudience.PORTFOLIO, TENANT, fed(envelope(data, TENANT))) is None


def test_signals_that_need_no_review_are_released_as_they_are_raised() -> None:
    contract = signal_raised(kind=SignalKind.CONTRACT_ENDING)

    for audience in (SignalAudience.PORTFOLIO, SignalAudience.CLIENT):
        raised = raised_signal_for(audience, TENANT, fed(envelope(contract, TENANT)))
        assert raised is not None
        assert raised.review_status is ReviewStatus.NOT_REQUIRED
        assert raised.evidence is None


def test_client_organisations_receive_only_their_own_released_signals_about_k_or_more_people() -> None:
    confirmed = signal_reviewed()

    raised = raised_signal_for(SignalAudience.CLIENT, TENANT, fed(envelope(confirmed, TENANT)))

    assert raised is not None
    assert raised.signal_id == str(confirmed.signal_id)
    assert raised.suppressed is False
    assert raised.evidence is None
    not_for_them = [
        envelope(signal_reviewed(suppressed=True), TENANT),
        envelope(signal_raised(), TENANT),
        envelope(signal_reviewed(decision="dismissed"), TENANT),
        envelope(signal_reviewed(), OTHER_TENANT),
        envelope(SignalResolved(**signal_raised().model_dump()), TENANT),
    ]
    for event in not_for_them:
        assert raised_signal_for(SignalAudience.CLIENT, TENANT, fed(event)) is None, event.type


# -- opportunities and appointments: the rules --------------------------------------------------------------


def test_opportunity_changes_reach_account_managers_for_their_portfolio_and_admins_for_all() -> None:
    created = envelope(opportunity_created(value_cents=125_050), TENANT)
    elsewhere = envelope(opportunity_created(), OTHER_TENANT)

    change = opportunity_change_for(ACCOUNT_MANAGER, fed(created))

    assert change is not None
    assert change.change is OpportunityChangeKind.CREATED
    assert change.stage is OpportunityStage.NEW
    assert change.previous_stage is None
    assert change.estimated_value_cents == 125_050
    assert change.estimated_value == "1250.50"
    assert change.tenant_id == str(TENANT)
    assert opportunity_change_for(ACCOUNT_MANAGER, fed(elsewhere)) is None
    assert opportunity_change_for(ADMIN, fed(elsewhere)) is not None
    moved = opportunity_change_for(
        ADMIN, fed(envelope(opportunity_moved(OpportunityStage.WON, OpportunityStage.PROPOSED), TENANT))
    )
    assert moved is not None
    assert moved.change is OpportunityChangeKind.STAGE_CHANGED
    assert (moved.stage, moved.previous_stage) == (OpportunityStage.WON, OpportunityStage.PROPOSED)
    assert [may_follow_opportunities(p) for p in (ACCOUNT_MANAGER, ADMIN)] == [True, True]
    assert [may_follow_opportunities(p) for p in (SOCIAL_WORKER, CLIENT_CONTACT, INTEGRATION, EMPLOYEE)] == [False] * 4


def test_appointment_changes_reach_the_social_worker_whose_time_it_is_and_admins() -> None:
    case = uuid.uuid4()
    own = envelope(appointment_booked(WORKER, case_id=case), TENANT)
    colleagues = envelope(appointment_booked(OTHER_WORKER), TENANT)

    change = appointment_change_for(SOCIAL_WORKER, fed(own))

    assert change is not None
    assert change.change is AppointmentChangeKind.BOOKED
    assert change.kind is AppointmentKind.INTAKE
    assert change.worker_id == str(WORKER)
    assert change.case_id == str(case)
    assert change.start == START
    assert (change.late, change.cancelled_by, change.previous_start) == (None, None, None)
    assert appointment_change_for(SOCIAL_WORKER, fed(colleagues)) is None
    assert appointment_change_for(ADMIN, fed(colleagues)) is not None
    cancelled = appointment_change_for(SOCIAL_WORKER, fed(envelope(appointment_cancelled(WORKER), TENANT)))
    assert cancelled is not None
    assert (cancelled.change, cancelled.late, cancelled.cancelled_by) == (
        AppointmentChangeKind.CANCELLED,
        True,
        CancelledBy.EMPLOYEE,
    )
    assert [may_follow_appointments(p) for p in (SOCIAL_WORKER, ADMIN)] == [True, True]
    assert [may_follow_appointments(p) for p in (EMPLOYEE, CLIENT_CONTACT, ACCOUNT_MANAGER, INTEGRATION)] == [False] * 4


# -- the feed -----------------------------------------------------------------------------------------------


def _signal_id(event: FeedEvent) -> uuid.UUID | None:
    return getattr(event.data, "signal_id", None)


async def test_a_slow_subscriber_loses_its_oldest_events_and_holds_up_no_one() -> None:
    feed = EventFeed(queue_size=2)
    events = [envelope(signal_raised(), TENANT) for _ in range(5)]
    ids = [event.data["signal_id"] for event in events]

    with feed.subscribe(_signal_id) as slow, feed.subscribe(_signal_id) as fast:
        received_fast = []
        for event in events:
            assert feed.publish(event) == 2
            received_fast.append(await anext(fast))
        received_slow = [await anext(slow), await anext(slow)]

    assert [str(item) for item in received_fast] == ids
    assert [str(item) for item in received_slow] == ids[-2:]
    assert (slow.dropped, fast.dropped) == (3, 0)
    assert feed.subscriber_count == 0


async def test_the_feed_skips_what_it_cannot_decode_and_ends_subscriptions_when_it_closes() -> None:
    feed = EventFeed()
    unknown = envelope(signal_raised(), TENANT).model_copy(update={"type": "signals.signal.unknown.v1"})
    invalid = envelope(signal_raised(), TENANT).model_copy(update={"data": {"signal_id": "not a uuid"}})

    with feed.subscribe(_signal_id) as subscriber:
        assert feed.publish(unknown) == 0
        assert feed.publish(invalid) == 0
        feed.close()
        assert [item async for item in subscriber] == []

    good = envelope(signal_raised(), TENANT)
    headers = [(name, value.encode()) for name, value in good.kafka_headers().items()]
    decoded = decode_record(headers, good.kafka_value())
    assert decoded == good
    assert decode_record([("ce_type", b"signals.signal.raised.v1")], b"{}") is None


async def test_without_a_broker_the_source_gives_up_waiting_and_the_feed_stays_unavailable() -> None:
    feed = EventFeed()
    # Port 1 on the loopback refuses at once: no broker there.
    source = KafkaEventSource(feed, bootstrap_servers="127.0.0.1:1", retry_seconds=0.05)

    assert await source.start(wait_seconds=0.5) is False
    assert feed.connected is False
    await source.stop()
    assert feed.connected is False


# -- over a WebSocket ---------------------------------------------------------------------------------------

RAISED = """
subscription Raised($tenantId: ID!) {
  signalRaised(tenantId: $tenantId) {
    eventId signalId tenantId orgUnitId kind method windowWeeks reviewStatus suppressed occurredAt
    evidence { observedCount }
  }
}
"""
APPOINTMENTS = "subscription { appointmentChanged { change appointmentId workerId caseId start kind } }"
OPPORTUNITIES = "subscription { opportunityChanged { change opportunityId stage estimatedValue } }"


@dataclass
class LiveGateway:
    app: FastAPI
    url: str
    keys: SigningKey

    @property
    def feed(self) -> EventFeed:
        return feed_of(self.app)

    def bearer(self, *roles: str, **claims: object) -> str:
        return f"Bearer {self.keys.mint(*roles, **claims)}"  # type: ignore[arg-type]

    async def until_subscribed(self, count: int = 1) -> None:
        """Wait until ``count`` subscriptions listen: a subscribe message is answered by nothing."""
        async with asyncio.timeout(5):
            while self.feed.subscriber_count < count:
                await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def live(signing_key: SigningKey, services: FakeServices) -> AsyncIterator[LiveGateway]:
    """The gateway on a real socket, its feed marked connected (events are pushed into it by the test)."""
    app = create_app(make_settings(signing_key, kafka_bootstrap_servers=""), transport=httpx.MockTransport(services))
    async with serve_live(app) as url:
        gateway = LiveGateway(app=app, url=url, keys=signing_key)
        gateway.feed.connected = True
        yield gateway


async def test_a_subscription_receives_a_pushed_event(live: LiveGateway, services: FakeServices) -> None:
    async with websocket(live.url) as ws:
        assert await ws.init({"authorization": live.bearer("client_contact", tenant_id=TENANT)}) == {
            "type": "connection_ack"
        }
        await ws.subscribe("s1", RAISED, {"tenantId": str(TENANT)})
        await live.until_subscribed()
        data = signal_reviewed(org_unit_id=UNIT)
        services.reply("GET", SIGNALS, f"/signals/{data.signal_id}", 200, {})
        event = envelope(data, TENANT, at=datetime(2026, 3, 2, 10, 30, tzinfo=UTC))

        assert live.feed.publish(event) == 1
        message = await ws.receive()

    assert message == {
        "id": "s1",
        "type": "next",
        "payload": {
            "data": {
                "signalRaised": {
                    "eventId": str(event.id),
                    "signalId": str(data.signal_id),
                    "tenantId": str(TENANT),
                    "orgUnitId": str(UNIT),
                    "kind": "STRESS_SURGE",
                    "method": "POISSON_TAIL",
                    "windowWeeks": evidence().weeks,
                    "reviewStatus": "CONFIRMED",
                    "suppressed": False,
                    "occurredAt": "2026-03-02T10:30:00+00:00",
                    "evidence": None,
                }
            }
        },
    }


async def test_another_tenants_event_is_not_delivered(live: LiveGateway, services: FakeServices) -> None:
    async with websocket(live.url) as ws:
        await ws.init({"token": live.keys.mint("client_contact", tenant_id=TENANT)})
        await ws.subscribe("s1", RAISED, {"tenantId": str(TENANT)})
        await live.until_subscribed()
        theirs, ours = signal_reviewed(), signal_reviewed()
        services.reply("GET", SIGNALS, f"/signals/{ours.signal_id}", 200, {})

        assert live.feed.publish(envelope(theirs, OTHER_TENANT)) == 0
        assert live.feed.publish(envelope(ours, TENANT)) == 1
        message = await ws.receive()

    # The feed is ordered: had the other tenant's event been delivered, it would have come first.
    assert message["payload"]["data"]["signalRaised"]["signalId"] == str(ours.signal_id)


async def test_a_client_receives_only_the_signals_the_signals_service_shows_them(
    live: LiveGateway, services: FakeServices
) -> None:
    """A signal about k or more can still pin a hidden neighbour in the trends; the service decides, per caller."""
    token = live.keys.mint("client_contact", tenant_id=TENANT)
    async with websocket(live.url) as ws:
        await ws.init({"token": token})
        await ws.subscribe("s1", RAISED, {"tenantId": str(TENANT)})
        await live.until_subscribed()
        withheld, shown = signal_reviewed(), signal_reviewed()
        services.reply(
            "GET",
            SIGNALS,
            f"/signals/{withheld.signal_id}",
            404,
            {
                "error": {
                    "code": "not_found",
                    "message": "signal not found",
                    "request_id": "r",
                    "fields": [],
                    "details": {},
                }
            },
        )
        services.reply("GET", SIGNALS, f"/signals/{shown.signal_id}", 200, {})

        assert live.feed.publish(envelope(withheld, TENANT)) == 1
        assert live.feed.publish(envelope(shown, TENANT)) == 1
        message = await ws.receive()

    # Ordered feed: the withheld one would have come first.
    assert message["payload"]["data"]["signalRaised"]["signalId"] == str(shown.signal_id)
    asked = services.calls(SIGNALS, f"/signals/{withheld.signal_id}")
    assert [request.headers["authorization"] for request in asked] == [f"Bearer {token}"]


async def test_a_social_worker_follows_their_own_appointments_with_the_token_in_the_upgrade_header(
    live: LiveGateway,
) -> None:
    authorization = live.bearer("social_worker", sub=str(WORKER))
    async with websocket(live.url, authorization=authorization) as ws:
        assert await ws.init() == {"type": "connection_ack"}
        await ws.subscribe("a1", APPOINTMENTS)
        await live.until_subscribed()
        colleagues, own = appointment_booked(OTHER_WORKER), appointment_booked(WORKER)

        live.feed.publish(envelope(colleagues, TENANT))
        live.feed.publish(envelope(own, TENANT))
        message = await ws.receive()

    assert message["payload"]["data"]["appointmentChanged"] == {
        "change": "BOOKED",
        "appointmentId": str(own.appointment_id),
        "workerId": str(WORKER),
        "caseId": None,
        "start": "2026-03-02T09:00:00+00:00",
        "kind": "INTAKE",
    }


async def test_an_expiring_token_closes_the_connection(live: LiveGateway) -> None:
    token = live.keys.mint("account_manager", portfolio=[str(TENANT)], ttl=timedelta(seconds=2))
    async with websocket(live.url) as ws:
        assert await ws.init({"token": token}) == {"type": "connection_ack"}
        await ws.subscribe("o1", OPPORTUNITIES)
        await live.until_subscribed()
        live.feed.publish(envelope(opportunity_created(), TENANT))
        assert (await ws.receive())["type"] == "next"

        with pytest.raises(Closed) as closed:
            await ws.receive(timeout=5)

    assert (closed.value.code, closed.value.reason) == (4403, "token expired")
    assert live.feed.subscriber_count == 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (None, "missing bearer token"),
        ({"authorization": "Bearer not-a-token"}, "invalid or expired token"),
        ({"token": "not-a-token"}, "invalid or expired token"),
    ],
)
async def test_a_connection_without_a_valid_token_is_refused(
    live: LiveGateway, payload: dict[str, str] | None, reason: str
) -> None:
    async with websocket(live.url) as ws:
        with pytest.raises(Closed) as closed:
            await ws.init(payload)

    assert (closed.value.code, closed.value.reason) == (4403, reason)


async def test_a_token_expired_within_the_clock_leeway_is_refused(live: LiveGateway) -> None:
    token = live.keys.mint("provider_admin", ttl=timedelta(seconds=-5))
    async with websocket(live.url) as ws:
        with pytest.raises(Closed) as closed:
            await ws.init({"token": token})

    assert (closed.value.code, closed.value.reason) == (4403, "token expired")


async def test_subscribing_before_the_connection_is_acknowledged_closes_it(live: LiveGateway) -> None:
    async with websocket(live.url) as ws:
        await ws.subscribe("s1", RAISED, {"tenantId": str(TENANT)})
        with pytest.raises(Closed) as closed:
            await ws.receive()

    assert closed.value.code == 4401


@pytest.mark.parametrize(
    ("roles", "claims", "query", "variables", "code"),
    [
        (("employee",), {"tenant_id": TENANT}, RAISED, {"tenantId": str(TENANT)}, "FORBIDDEN"),
        (("client_contact",), {"tenant_id": TENANT}, RAISED, {"tenantId": str(OTHER_TENANT)}, "FORBIDDEN"),
        (("account_manager",), {"portfolio": [str(TENANT)]}, RAISED, {"tenantId": str(OTHER_TENANT)}, "FORBIDDEN"),
        (("provider_admin",), {}, RAISED, {"tenantId": "not-an-id"}, "BAD_USER_INPUT"),
        (("employee",), {"tenant_id": TENANT}, APPOINTMENTS, None, "FORBIDDEN"),
        (("client_contact",), {"tenant_id": TENANT}, APPOINTMENTS, None, "FORBIDDEN"),
        (("social_worker",), {}, OPPORTUNITIES, None, "FORBIDDEN"),
        (("client_contact",), {"tenant_id": TENANT}, "{ me { subject } }", None, "BAD_REQUEST"),
    ],
)
async def test_refused_subscriptions_get_an_error_with_a_code(
    live: LiveGateway,
    roles: tuple[str, ...],
    claims: dict[str, object],
    query: str,
    variables: dict[str, str] | None,
    code: str,
) -> None:
    async with websocket(live.url) as ws:
        await ws.init({"authorization": live.bearer(*roles, **claims)})
        await ws.subscribe("x", query, variables)
        message = await ws.receive()

    assert message["type"] == "error"
    assert message["id"] == "x"
    assert [error["extensions"]["code"] for error in message["payload"]] == [code]
    assert live.feed.subscriber_count == 0


async def test_subscriptions_are_unavailable_while_the_feed_is_not_connected(live: LiveGateway) -> None:
    live.feed.connected = False
    async with websocket(live.url) as ws:
        await ws.init({"authorization": live.bearer("provider_admin")})
        await ws.subscribe("o1", OPPORTUNITIES)
        message = await ws.receive()

    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "not connected to the event broker" in message["payload"][0]["message"]
