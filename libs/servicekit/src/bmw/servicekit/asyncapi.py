"""The AsyncAPI 3.0 document of a service, drawn from the contracts registry and its consumer groups:
what it sends on its own topic and what each of its groups receives, with the CloudEvents binary-mode
headers and the JSON Schema of every event's data."""

from __future__ import annotations

from typing import Any

from bmw.contracts.envelope import dlq_topic
from bmw.contracts.events.base import all_event_types
from bmw.servicekit.app import ServiceSpec

_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes in Kafka binary content mode, plus W3C trace context.",
    "required": ["ce_id", "ce_type", "ce_source", "ce_time", "ce_specversion", "ce_tenantid"],
    "properties": {
        "ce_id": {"type": "string", "format": "uuid", "description": "Event id; consumers deduplicate on it."},
        "ce_type": {"type": "string", "description": "Versioned event type."},
        "ce_source": {"type": "string", "description": "Producing service, e.g. /bmw/intake."},
        "ce_time": {"type": "string", "format": "date-time", "description": "When the change happened (UTC)."},
        "ce_specversion": {"const": "1.0"},
        "ce_subject": {"type": "string", "description": "Id of the aggregate the event is about."},
        "ce_tenantid": {"type": "string", "format": "uuid", "description": "Client organisation; also the key."},
        "ce_correlationid": {"type": "string", "description": "Shared by every event of one business flow."},
        "ce_causationid": {"type": "string", "description": "The event or request that caused this one."},
        "traceparent": {"type": "string", "description": "W3C trace context."},
        "content-type": {"const": "application/json"},
    },
}


def _message_id(event_type: str) -> str:
    return event_type.replace(".", "_")


def asyncapi_document(spec: ServiceSpec) -> dict[str, Any]:
    """The service's AsyncAPI document as a JSON-ready dict (deterministic)."""
    registry = all_event_types()
    produced = sorted(t for t, model in registry.items() if model.producer == spec.name)
    consumed = sorted({t for group in spec.consumer_groups for t in group.handlers})
    messages: dict[str, Any] = {}
    for event_type in sorted({*produced, *consumed}):
        model = registry[event_type]
        messages[_message_id(event_type)] = {
            "name": event_type,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else event_type,
            "contentType": "application/json",
            "headers": _HEADERS,
            "payload": model.model_json_schema(),
            "bindings": {"kafka": {"key": {"type": "string", "format": "uuid", "description": "Tenant id"}}},
        }

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def channel(topic: str, types: list[str], description: str) -> str:
        key = topic.replace(".", "_")
        entry = channels.setdefault(key, {"address": topic, "description": description, "messages": {}})
        for event_type in types:
            entry["messages"][_message_id(event_type)] = {"$ref": f"#/components/messages/{_message_id(event_type)}"}
        return key

    own = channel(spec.settings.topic, produced, f"Events of the {spec.name} service, keyed by tenant id.")
    if produced:
        operations[f"publish_{spec.name}_events"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{own}"},
            "summary": "Published by the outbox relay after the state change commits (at least once).",
            "messages": [{"$ref": f"#/channels/{own}/messages/{_message_id(t)}"} for t in produced],
        }
    for group in spec.consumer_groups:
        for topic in group.topics:
            types = sorted(t for t in group.handlers if registry[t].producer == topic.split(".")[1])
            key = channel(topic, types, f"Events of the {topic.split('.')[1]} service.")
            if types:
                operations[f"{group.name}_receives_{topic.split('.')[1]}"] = {
                    "action": "receive",
                    "channel": {"$ref": f"#/channels/{key}"},
                    "summary": f"Consumer group {group.name}: applied exactly once through its inbox; failures "
                    f"are retried with backoff and then dead-lettered to {dlq_topic(topic)}.",
                    "bindings": {"kafka": {"groupId": {"type": "string", "enum": [group.name]}}},
                    "messages": [{"$ref": f"#/channels/{key}/messages/{_message_id(t)}"} for t in types],
                }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": spec.title, "version": spec.version, "description": spec.description},
        "defaultContentType": "application/json",
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": messages},
    }
