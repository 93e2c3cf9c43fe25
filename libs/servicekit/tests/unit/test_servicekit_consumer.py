"""``EventConsumer.process`` without a database: every record is applied once, skipped as a duplicate,
ignored, or dead-lettered (DESIGN §5)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.exc import OperationalError

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened, ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.servicekit import messaging
from bmw.servicekit.context import FlowContext, current_flow
from bmw.servicekit.messaging import ConsumerGroup, EventConsumer, Outcome, RetryPolicy

TOPIC = "bmw.intake.events"
GROUP = "scheduling.cases"
TENANT = uuid.UUID("6f1c2a48-0000-4000-8000-000000000001")

# -- fakes ---------------------------------------------------------------------------------------


@dataclass
class FakeSession:
    """Stands in for the AsyncSession: remembers the inbox rows claimed in its transaction."""

    claimed: list[tuple[str, uuid.UUID]] = field(default_factory=list)


class FakeInbox:
    """The inbox table: a claim becomes permanent only when its unit of work commits."""

    def __init__(self) -> None:
        self.rows: set[tuple[str, uuid.UUID]] = set()

    async def claim(self, session: FakeSession, consumer_group: str, event: CloudEvent) -> bool:
        row = (consumer_group, event.id)
        if row in self.rows or row in session.claimed:
            return False
        session.claimed.append(row)
        return True


class FakeUnitOfWork:
    def __init__(self, inbox: FakeInbox, tenant_id: uuid.UUID | None) -> None:
        self._inbox = inbox
        self.tenant_id = tenant_id
        self.session = FakeSession()
        self.committed = False
        self.exited = False

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.exited = True  # leaving without commit rolls back: the claims are forgotten

    async def commit(self) -> None:
        self.committed = True
        self._inbox.rows.update(self.session.claimed)


class FakeUnitOfWorkFactory:
    def __init__(self, inbox: FakeInbox) -> None:
        self._inbox = inbox
        self.opened: list[FakeUnitOfWork] = []

    def __call__(self, *, tenant_id: uuid.UUID | None = None) -> FakeUnitOfWork:
        work = FakeUnitOfWork(self._inbox, tenant_id)
        self.opened.append(work)
        return work


@dataclass
class DeadLetter:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    reason: str
    attempts: int


class DeadLetters(list[DeadLetter]):
    async def __call__(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str], reason: str, attempts: int
    ) -> None:
        self.append(DeadLetter(topic, key, value, headers, reason, attempts))


class Handler:
    """Records its calls; fails with the given errors first (one per call), then succeeds."""

    def __init__(self, *failures: BaseException, always: BaseException | None = None) -> None:
        self.failures = list(failures)
        self.always = always
        self.calls: list[tuple[Any, CloudEvent, Any, FlowContext]] = []

    async def __call__(self, work: Any, event: CloudEvent, data: Any) -> None:
        self.calls.append((work, event, data, current_flow()))
        if self.always is not None:
            raise self.always
        if self.failures:
            raise self.failures.pop(0)


class RecordingRetry(RetryPolicy):
    """No waiting; remembers the attempt number each backoff was computed for."""

    def __init__(self, max_attempts: int = 3) -> None:
        super().__init__(max_attempts=max_attempts, backoff_seconds=0.0)
        object.__setattr__(self, "backoffs", [])

    def delay(self, attempt: int) -> float:
        self.backoffs.append(attempt)  # type: ignore[attr-defined]
        return 0.0


@dataclass
class Harness:
    consumer: EventConsumer
    handler: Handler
    work: FakeUnitOfWorkFactory
    dead_letters: DeadLetters
    retry: RecordingRetry

    async def deliver(self, event: CloudEvent, *, headers: list[tuple[str, bytes]] | None = None) -> str:
        return await self.consumer.process(
            TOPIC, event.kafka_key(), event.kafka_value(), headers or record_headers(event)
        )


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> FakeInbox:
    fake = FakeInbox()
    monkeypatch.setattr(messaging, "claim", fake.claim)
    return fake


def harness(inbox: FakeInbox, handler: Handler, *, max_attempts: int = 3) -> Harness:
    group = ConsumerGroup(name=GROUP, topics=(TOPIC,))
    group.on(CaseOpened)(handler)
    work = FakeUnitOfWorkFactory(inbox)
    dead_letters = DeadLetters()
    retry = RecordingRetry(max_attempts=max_attempts)
    consumer = EventConsumer(group, work, dead_letters, retry)  # type: ignore[arg-type]
    return Harness(consumer, handler, work, dead_letters, retry)


# -- builders --------------------------------------------------------------------------------


def case_opened(**overrides: Any) -> CloudEvent:
    data: dict[str, Any] = {
        "case_id": uuid.uuid4(),
        "referral_id": uuid.uuid4(),
        "client_ref": "c_test",
        "org_unit_id": uuid.uuid4(),
        "category": Category.WORKLOAD_STRESS,
        "urgency": Urgency.NORMAL,
        "sla_deadline": datetime(2026, 3, 9, 16, 0, tzinfo=UTC),
    }
    data.update(overrides)
    return CloudEvent.create(
        CaseOpened.model_validate(data),
        tenant_id=TENANT,
        correlation_id="flow-1",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )


def referral_received() -> CloudEvent:
    return CloudEvent.create(
        ReferralReceived(
            referral_id=uuid.uuid4(),
            channel=Channel.HR,
            org_unit_id=uuid.uuid4(),
            category=Category.OTHER,
            urgency=Urgency.NORMAL,
            received_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        ),
        tenant_id=TENANT,
    )


def record_headers(event: CloudEvent) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in event.kafka_headers().items()]


# -- applied and duplicate ---------------------------------------------------------------------


async def test_a_valid_event_is_applied_in_a_committed_unit_of_work_of_its_tenant(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())
    event = case_opened()

    outcome = await h.deliver(event)

    assert outcome == Outcome.APPLIED
    [(work, seen_event, data, _)] = h.handler.calls
    assert seen_event == event
    assert isinstance(data, CaseOpened)
    assert data.case_id == uuid.UUID(event.data["case_id"])
    assert work.tenant_id == TENANT
    assert work.committed
    assert work.exited
    assert (GROUP, event.id) in inbox.rows
    assert h.dead_letters == []


async def test_the_handler_runs_in_the_events_flow_context_which_is_reset_afterwards(
    inbox: FakeInbox, spans: list[ReadableSpan]
) -> None:
    h = harness(inbox, Handler())
    event = case_opened()
    before = current_flow()

    await h.deliver(event)

    flow = h.handler.calls[0][3]
    assert flow.correlation_id == "flow-1"
    assert flow.causation_id == str(event.id)
    # The handling is a consumer span in the record's trace; what the handler emits carries that span's context.
    [span] = spans
    assert (span.name, span.kind) == ("process intake.case.opened.v1", SpanKind.CONSUMER)
    assert span.parent is not None and span.context is not None and event.traceparent is not None
    assert event.traceparent.split("-")[1:3] == [f"{span.context.trace_id:032x}", f"{span.parent.span_id:016x}"]
    assert flow.traceparent == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-01"
    assert span.attributes is not None and span.attributes["bmw.outcome"] == "applied"
    assert current_flow() == before


async def test_a_dead_lettered_record_ends_its_span_as_failed(inbox: FakeInbox, spans: list[ReadableSpan]) -> None:
    h = harness(inbox, Handler(always=ValueError("the message may quote data")), max_attempts=2)

    assert await h.deliver(case_opened()) == Outcome.DEAD_LETTERED

    [span] = spans
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "dead-lettered"
    assert span.attributes is not None and span.attributes["bmw.outcome"] == "dead_lettered"
    assert not span.events, "no exception message is recorded"


async def test_the_same_event_twice_is_applied_once_then_skipped_as_a_duplicate(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())
    event = case_opened()

    first = await h.deliver(event)
    second = await h.deliver(event)

    assert (first, second) == (Outcome.APPLIED, Outcome.DUPLICATE)
    assert len(h.handler.calls) == 1
    assert h.consumer.counts == {Outcome.APPLIED: 1, Outcome.DUPLICATE: 1}
    assert h.dead_letters == []


async def test_a_duplicate_is_not_committed(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())
    event = case_opened()
    await h.deliver(event)

    await h.deliver(event)

    assert not h.work.opened[-1].committed


async def test_two_different_events_are_both_applied(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())

    outcomes = [await h.deliver(case_opened()), await h.deliver(case_opened())]

    assert outcomes == [Outcome.APPLIED, Outcome.APPLIED]
    assert len(h.handler.calls) == 2


# -- bad records go to the dead-letter topic ------------------------------------------------------


async def test_a_record_without_cloudevents_headers_is_dead_lettered_once(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())
    event = case_opened()

    outcome = await h.deliver(event, headers=[("content-type", b"application/json")])

    assert outcome == Outcome.DEAD_LETTERED
    [letter] = h.dead_letters
    assert "missing CloudEvents headers" in letter.reason
    assert "ce_id" in letter.reason
    assert letter.attempts == 1
    assert letter.topic == TOPIC
    assert letter.key == event.kafka_key()
    assert letter.value == event.kafka_value()
    assert letter.headers == {"content-type": "application/json"}
    assert h.handler.calls == []
    assert h.work.opened == []


async def test_a_record_whose_value_is_not_json_is_dead_lettered(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())
    event = case_opened()

    outcome = await h.consumer.process(TOPIC, event.kafka_key(), b"\x00not json", record_headers(event))

    assert outcome == Outcome.DEAD_LETTERED
    assert "not JSON" in h.dead_letters[0].reason
    assert h.handler.calls == []


async def test_an_unknown_event_type_is_dead_lettered(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())
    event = case_opened().model_copy(update={"type": "intake.case.teleported.v1"})

    outcome = await h.deliver(event)

    assert outcome == Outcome.DEAD_LETTERED
    [letter] = h.dead_letters
    assert "unknown event type 'intake.case.teleported.v1'" in letter.reason
    assert letter.headers["ce_type"] == "intake.case.teleported.v1"
    assert h.handler.calls == []


async def test_a_newer_version_published_side_by_side_is_skipped_and_said_once(
    inbox: FakeInbox, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness(inbox, Handler())
    newer = [case_opened().model_copy(update={"type": "intake.case.opened.v2", "id": uuid.uuid4()}) for _ in range(3)]

    with caplog.at_level("INFO", logger="bmw.servicekit.messaging"):
        outcomes = [await h.deliver(event) for event in newer]
    applied = await h.deliver(case_opened())

    assert outcomes == [Outcome.IGNORED] * 3, "not poison: its v1 twin carries the same fact (DESIGN §4)"
    assert h.dead_letters == []
    assert applied == Outcome.APPLIED and len(h.handler.calls) == 1, "only the version the group reads is applied"
    said = [record.getMessage() for record in caplog.records if "intake.case.opened.v2" in record.getMessage()]
    assert len(said) == 1 and "intake.case.opened.v1" in said[0], said


async def test_a_known_type_without_a_handler_in_the_group_is_ignored(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())

    outcome = await h.deliver(referral_received())

    assert outcome == Outcome.IGNORED
    assert h.dead_letters == []
    assert h.handler.calls == []
    assert h.consumer.counts == {Outcome.IGNORED: 1}


async def test_invalid_data_for_a_known_type_is_dead_lettered_without_calling_the_handler(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler())
    valid = case_opened()
    event = valid.model_copy(update={"data": {**valid.data, "category": "astrology", "name": "Sanne"}})

    outcome = await h.deliver(event)

    assert outcome == Outcome.DEAD_LETTERED
    [letter] = h.dead_letters
    assert "invalid data for intake.case.opened.v1" in letter.reason
    assert letter.attempts == 1
    assert h.handler.calls == []


# -- retries -------------------------------------------------------------------------------------


async def test_a_handler_that_keeps_failing_is_tried_max_attempts_times_then_dead_lettered(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler(always=ValueError("no such worker")), max_attempts=3)
    event = case_opened()

    outcome = await h.deliver(event)

    assert outcome == Outcome.DEAD_LETTERED
    assert len(h.handler.calls) == 3
    [letter] = h.dead_letters
    assert letter.attempts == 3
    assert letter.reason == "ValueError: no such worker"
    assert letter.value == event.kafka_value()
    assert not any(work.committed for work in h.work.opened)
    assert (GROUP, event.id) not in inbox.rows
    assert h.retry.backoffs == [1, 2]


async def test_each_attempt_gets_a_fresh_unit_of_work(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler(always=ValueError("boom")), max_attempts=4)

    await h.deliver(case_opened())

    works = [call[0] for call in h.handler.calls]
    assert len({id(work) for work in works}) == 4
    assert all(work.exited for work in works)


async def test_a_handler_that_fails_once_is_applied_on_the_retry(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler(ValueError("flaky")), max_attempts=3)
    event = case_opened()

    outcome = await h.deliver(event)

    assert outcome == Outcome.APPLIED
    assert len(h.handler.calls) == 2
    assert h.dead_letters == []
    assert (GROUP, event.id) in inbox.rows


async def test_transient_errors_are_retried_without_counting_towards_the_limit(inbox: FakeInbox) -> None:
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("database restarting"))
    h = harness(inbox, Handler(outage, outage), max_attempts=3)

    outcome = await h.deliver(case_opened())

    assert outcome == Outcome.APPLIED
    assert len(h.handler.calls) == 3
    assert h.dead_letters == []


async def test_an_outage_longer_than_max_attempts_still_does_not_dead_letter(inbox: FakeInbox) -> None:
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("database restarting"))
    h = harness(inbox, Handler(*[outage] * 6), max_attempts=2)

    outcome = await h.deliver(case_opened())

    assert outcome == Outcome.APPLIED
    assert len(h.handler.calls) == 7
    assert h.dead_letters == []


async def test_transient_failures_between_real_ones_do_not_add_attempts(inbox: FakeInbox) -> None:
    outage = ConnectionError("broker gone")
    h = harness(inbox, Handler(ValueError("1"), outage, outage, ValueError("2"), ValueError("3")), max_attempts=3)

    outcome = await h.deliver(case_opened())

    assert outcome == Outcome.DEAD_LETTERED
    assert len(h.handler.calls) == 5
    assert h.dead_letters[0].attempts == 3
    assert h.dead_letters[0].reason == "ValueError: 3"


async def test_consecutive_transient_failures_back_off_exponentially(inbox: FakeInbox) -> None:
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("database restarting"))
    h = harness(inbox, Handler(*[outage] * 4), max_attempts=3)

    await h.deliver(case_opened())

    assert h.retry.backoffs == [1, 2, 3, 4]


async def test_cancellation_is_not_retried_or_dead_lettered(inbox: FakeInbox) -> None:
    h = harness(inbox, Handler(always=asyncio.CancelledError()))

    with pytest.raises(asyncio.CancelledError):
        await h.deliver(case_opened())

    assert len(h.handler.calls) == 1
    assert h.dead_letters == []
