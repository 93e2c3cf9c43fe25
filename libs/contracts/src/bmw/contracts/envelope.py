"""The CloudEvents 1.0 envelope and its Kafka protocol binding in binary content mode.

In binary mode the attributes travel as ``ce_*`` headers and the record value is the event
data itself (JSON). The record key is the tenant id so that one tenant's events stay in order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from bmw.contracts.events.base import EventData, event_class

SPECVERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"

#: Header names of the binding. ``traceparent`` is W3C trace context, not a ce_ attribute.
_HEADER_ATTRIBUTES: Final = (
    "id",
    "type",
    "source",
    "time",
    "specversion",
    "subject",
    "tenantid",
    "correlationid",
    "causationid",
)


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid CloudEvent of ours (missing header, bad JSON, ...)."""


class CloudEvent(BaseModel):
    """One event as it travels: CloudEvents attributes plus the JSON data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(description="Unique id of this event; consumers deduplicate on it.")
    type: str = Field(description="Versioned event type, e.g. intake.case.opened.v1.")
    source: str = Field(description="URI reference of the producing service, e.g. /bmw/intake.")
    time: AwareDatetime = Field(description="When the state change happened (UTC).")
    specversion: str = Field(default=SPECVERSION, description="CloudEvents spec version.")
    subject: str | None = Field(default=None, description="Id of the aggregate the event is about.")
    tenantid: uuid.UUID = Field(description="Client organisation (tenant) the event belongs to.")
    correlationid: str | None = Field(
        default=None, description="Id shared by every event and request of one business flow."
    )
    causationid: str | None = Field(default=None, description="Id of the event or request that caused this one.")
    traceparent: str | None = Field(default=None, description="W3C trace context of the producing span.")
    datacontenttype: str = Field(default=CONTENT_TYPE, description="Always application/json.")
    data: dict[str, Any] = Field(description="The event data, valid against the type's schema.")

    @classmethod
    def create(
        cls,
        payload: EventData,
        *,
        tenant_id: uuid.UUID,
        subject: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        time: datetime | None = None,
        event_id: uuid.UUID | None = None,
    ) -> CloudEvent:
        """Wrap validated event data in a new envelope."""
        return cls(
            id=event_id or uuid.uuid4(),
            type=payload.event_type,
            source=f"/bmw/{payload.producer}",
            time=time or datetime.now(UTC),
            subject=subject,
            tenantid=tenant_id,
            correlationid=correlation_id,
            causationid=causation_id,
            traceparent=traceparent,
            data=payload.model_dump(mode="json"),
        )

    @property
    def topic(self) -> str:
        """The topic of the producing service."""
        return topic_for(self.type)

    def payload(self) -> EventData:
        """The data parsed into its typed model; raises EnvelopeError for unknown types or bad data."""
        model = event_class(self.type)
        if model is None:
            raise EnvelopeError(f"unknown event type {self.type!r}")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise EnvelopeError(f"data of {self.type} is invalid: {exc}") from exc

    # -- Kafka protocol binding, binary content mode --------------------------------------

    def kafka_key(self) -> bytes:
        """Record key: the tenant id, so one tenant's events stay in one partition, in order."""
        return str(self.tenantid).encode()

    def kafka_value(self) -> bytes:
        """Record value: the data as compact JSON."""
        return json.dumps(self.data, separators=(",", ":"), sort_keys=True).encode()

    def kafka_headers(self) -> dict[str, str]:
        """Record headers: ce_* attributes, content-type and traceparent."""
        headers: dict[str, str] = {"content-type": self.datacontenttype}
        for name in _HEADER_ATTRIBUTES:
            value = getattr(self, name)
            if value is None:
                continue
            headers[f"ce_{name}"] = value.isoformat() if isinstance(value, datetime) else str(value)
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        return headers

    @classmethod
    def from_kafka(cls, headers: Mapping[str, str | bytes] | Iterable[tuple[str, bytes]], value: bytes) -> CloudEvent:
        """Decode a record; raises EnvelopeError naming what is wrong."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        text: dict[str, str] = {}
        for name, raw in items:
            text[name] = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
        missing = [a for a in ("id", "type", "source", "time", "specversion", "tenantid") if f"ce_{a}" not in text]
        if missing:
            raise EnvelopeError(f"missing CloudEvents headers: {', '.join('ce_' + m for m in missing)}")
        if text["ce_specversion"] != SPECVERSION:
            raise EnvelopeError(f"unsupported ce_specversion {text['ce_specversion']!r}")
        try:
            data = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EnvelopeError(f"record value is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise EnvelopeError("record value must be a JSON object")
        try:
            return cls.model_validate(
                {
                    **{name: text[f"ce_{name}"] for name in _HEADER_ATTRIBUTES if f"ce_{name}" in text},
                    "traceparent": text.get("traceparent"),
                    "datacontenttype": text.get("content-type", CONTENT_TYPE),
                    "data": data,
                }
            )
        except ValidationError as exc:
            raise EnvelopeError(f"invalid CloudEvents attributes: {exc}") from exc


def topic_for(event_type: str) -> str:
    """``intake.case.opened.v1`` is produced by intake, so it travels on ``bmw.intake.events``."""
    return f"bmw.{event_type.split('.', 1)[0]}.events"


def dlq_topic(topic: str) -> str:
    """Dead-letter topic of a topic."""
    return f"{topic}.dlq"
