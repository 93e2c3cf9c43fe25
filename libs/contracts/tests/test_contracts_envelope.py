"""The CloudEvents envelope and its Kafka binary-mode codec."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmw.contracts.envelope import SPECVERSION, CloudEvent, EnvelopeError, dlq_topic, topic_for
from bmw.contracts.events.base import known_older_version
from bmw.contracts.events.intake import CaseOpened, ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency

TENANT = uuid.UUID("6f1c2a48-0000-4000-8000-000000000001")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _referral(**overrides: object) -> ReferralReceived:
    fields: dict[str, object] = {
        "referral_id": uuid.UUID("00000000-0000-4000-8000-0000000000aa"),
        "channel": Channel.MANAGER,
        "org_unit_id": uuid.UUID("00000000-0000-4000-8000-0000000000bb"),
        "category": Category.REORGANISATION_UNCERTAINTY,
        "urgency": Urgency.URGENT,
        "received_at": datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return ReferralReceived.model_validate(fields)


def _event(payload: ReferralReceived | None = None) -> CloudEvent:
    payload = payload or _referral()
    return CloudEvent.create(
        payload,
        tenant_id=TENANT,
        subject=str(payload.referral_id),
        correlation_id="corr-1",
        causation_id="req-1",
        traceparent=TRACEPARENT,
        time=datetime(2026, 3, 2, 9, 30, 1, tzinfo=UTC),
    )


def _as_record_headers(event: CloudEvent) -> list[tuple[str, bytes]]:
    """Headers as aiokafka and kafka-python hand them to a consumer."""
    return [(name, value.encode()) for name, value in event.kafka_headers().items()]


# -- round trip -----------------------------------------------------------------------------------


def test_round_trip_through_kafka_record() -> None:
    event = _event()

    decoded = CloudEvent.from_kafka(_as_record_headers(event), event.kafka_value())

    assert decoded == event
    assert decoded.payload() == _referral()
    assert event.kafka_key() == str(TENANT).encode()


def test_headers_follow_the_binary_mode_binding() -> None:
    event = _event()
    headers = event.kafka_headers()

    assert headers["ce_type"] == "intake.referral.received.v1"
    assert headers["ce_source"] == "/bmw/intake"
    assert headers["ce_specversion"] == SPECVERSION
    assert headers["ce_tenantid"] == str(TENANT)
    assert headers["ce_correlationid"] == "corr-1"
    assert headers["ce_causationid"] == "req-1"
    assert headers["traceparent"] == TRACEPARENT
    assert headers["content-type"] == "application/json"
    # binary mode: the value is the data alone, not a structured envelope
    assert json.loads(event.kafka_value()) == event.data
    assert "specversion" not in json.loads(event.kafka_value())


def test_optional_attributes_may_be_absent() -> None:
    event = CloudEvent.create(_referral(), tenant_id=TENANT)
    headers = event.kafka_headers()

    assert "ce_subject" not in headers
    assert "traceparent" not in headers
    decoded = CloudEvent.from_kafka(headers, event.kafka_value())
    assert decoded == event
    assert decoded.subject is None


def test_from_kafka_accepts_a_mapping_of_str_or_bytes() -> None:
    event = _event()
    as_bytes = {name: value.encode() for name, value in event.kafka_headers().items()}

    assert CloudEvent.from_kafka(as_bytes, event.kafka_value()) == event
    assert CloudEvent.from_kafka(event.kafka_headers(), event.kafka_value()) == event


# -- clear errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion", "ce_tenantid"])
def test_missing_required_header_is_named(header: str) -> None:
    event = _event()
    headers = {k: v for k, v in event.kafka_headers().items() if k != header}

    with pytest.raises(EnvelopeError, match=f"missing CloudEvents headers: {header}"):
        CloudEvent.from_kafka(headers, event.kafka_value())


def test_every_missing_header_is_listed() -> None:
    with pytest.raises(EnvelopeError) as excinfo:
        CloudEvent.from_kafka({"ce_type": "intake.referral.received.v1"}, b"{}")

    message = str(excinfo.value)
    for header in ("ce_id", "ce_source", "ce_time", "ce_specversion", "ce_tenantid"):
        assert header in message


@pytest.mark.parametrize("value", [b"{not json", b"\xff\xfe", b""])
def test_bad_json_is_reported(value: bytes) -> None:
    with pytest.raises(EnvelopeError, match="not JSON"):
        CloudEvent.from_kafka(_event().kafka_headers(), value)


@pytest.mark.parametrize("value", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_value_must_be_a_json_object(value: bytes) -> None:
    with pytest.raises(EnvelopeError, match="JSON object"):
        CloudEvent.from_kafka(_event().kafka_headers(), value)


@pytest.mark.parametrize("version", ["0.3", "2.0", ""])
def test_wrong_specversion_is_rejected(version: str) -> None:
    headers = {**_event().kafka_headers(), "ce_specversion": version}

    with pytest.raises(EnvelopeError, match="unsupported ce_specversion"):
        CloudEvent.from_kafka(headers, _event().kafka_value())


@pytest.mark.parametrize(
    ("header", "value"),
    [("ce_id", "not-a-uuid"), ("ce_time", "yesterday"), ("ce_time", "2026-03-02T09:30:00"), ("ce_tenantid", "x")],
)
def test_invalid_attribute_values_are_reported(header: str, value: str) -> None:
    headers = {**_event().kafka_headers(), header: value}

    with pytest.raises(EnvelopeError, match="invalid CloudEvents attributes"):
        CloudEvent.from_kafka(headers, _event().kafka_value())


def test_payload_of_unknown_type() -> None:
    headers = {**_event().kafka_headers(), "ce_type": "intake.referral.teleported.v1"}
    event = CloudEvent.from_kafka(headers, _event().kafka_value())

    with pytest.raises(EnvelopeError, match="unknown event type"):
        event.payload()


def test_payload_with_invalid_data() -> None:
    data = {**_event().data, "category": "gossip"}
    event = CloudEvent.from_kafka(_event().kafka_headers(), json.dumps(data).encode())

    with pytest.raises(EnvelopeError, match="data of intake.referral.received.v1 is invalid"):
        event.payload()


def test_payload_rejects_unknown_fields() -> None:
    data = {**_event().data, "employee_name": "J. Jansen"}
    event = CloudEvent.from_kafka(_event().kafka_headers(), json.dumps(data).encode())

    with pytest.raises(EnvelopeError, match="employee_name"):
        event.payload()


# -- topics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "topic"),
    [
        ("intake.case.opened.v1", "bmw.intake.events"),
        ("scheduling.appointment.booked.v1", "bmw.scheduling.events"),
        ("billing.invoice.issued.v1", "bmw.billing.events"),
        ("signals.signal.raised.v2", "bmw.signals.events"),
    ],
)
def test_topic_for(event_type: str, topic: str) -> None:
    assert topic_for(event_type) == topic


def test_event_topic_and_dlq_topic() -> None:
    opened = CaseOpened(
        case_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        client_ref="c-1",
        org_unit_id=uuid.uuid4(),
        category=Category.BURNOUT_RISK,
        urgency=Urgency.CRISIS,
        sla_deadline=datetime(2026, 3, 3, 9, tzinfo=UTC),
    )
    event = CloudEvent.create(opened, tenant_id=TENANT)

    assert event.topic == "bmw.intake.events"
    assert dlq_topic(event.topic) == "bmw.intake.events.dlq"


# -- property: any valid referral survives the codec ----------------------------------------------

_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_aware = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=_offsets)

referrals = st.builds(
    ReferralReceived,
    referral_id=st.uuids(),
    channel=st.sampled_from(Channel),
    org_unit_id=st.uuids(),
    category=st.sampled_from(Category),
    urgency=st.sampled_from(Urgency),
    received_at=_aware,
)


@settings(max_examples=200, deadline=None, database=None)
@given(
    payload=referrals,
    tenant=st.uuids(),
    time=_aware,
    correlation=st.none() | st.text(alphabet="abcdef0123456789-", min_size=1, max_size=36),
)
def test_any_referral_round_trips_through_the_kafka_codec(
    payload: ReferralReceived, tenant: uuid.UUID, time: datetime, correlation: str | None
) -> None:
    event = CloudEvent.create(payload, tenant_id=tenant, time=time, correlation_id=correlation)

    decoded = CloudEvent.from_kafka(_as_record_headers(event), event.kafka_value())

    assert decoded == event
    assert decoded.payload() == payload
    assert decoded.kafka_key() == str(tenant).encode()
    assert decoded.time.utcoffset() == time.utcoffset()


@pytest.mark.parametrize(
    ("event_type", "older"),
    [
        ("intake.case.opened.v2", "intake.case.opened.v1"),
        ("intake.case.opened.v7", "intake.case.opened.v1"),
        ("intake.case.opened.v1", None),  # known itself
        ("intake.case.teleported.v2", None),  # no version of it is known
        ("intake.case.opened", None),
        ("intake.case.opened.vx", None),
    ],
)
def test_a_newer_version_of_a_known_type_names_the_version_this_build_reads(event_type: str, older: str | None) -> None:
    assert known_older_version(event_type) == older
