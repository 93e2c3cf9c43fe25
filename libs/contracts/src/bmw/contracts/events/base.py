"""Base of every event data model and the registry of event types."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

_REGISTRY: dict[str, type[EventData]] = {}


class EventData(BaseModel):
    """Data of one versioned event type. Never carries a name, contact detail, note or free text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    producer: ClassVar[str]


E = TypeVar("E", bound=type[EventData])


def event(event_type: str) -> Callable[[E], E]:
    """Register a model as the data of ``event_type`` (``<producer>.<aggregate>.<fact>.v<N>``)."""
    producer, *_rest, version = event_type.split(".")
    if not version.startswith("v") or not version[1:].isdigit():
        raise ValueError(f"event type {event_type!r} must end in a version such as .v1")

    def register(cls: E) -> E:
        if event_type in _REGISTRY:
            raise ValueError(f"event type {event_type!r} registered twice")
        cls.event_type = event_type
        cls.producer = producer
        _REGISTRY[event_type] = cls
        return cls

    return register


def event_class(event_type: str) -> type[EventData] | None:
    """The model of a registered event type, or None."""
    _load_catalogue()
    return _REGISTRY.get(event_type)


def all_event_types() -> dict[str, type[EventData]]:
    """Every registered event type, sorted by name."""
    _load_catalogue()
    return dict(sorted(_REGISTRY.items()))


def _load_catalogue() -> None:
    # Importing the catalogue registers every type; done lazily to avoid an import cycle.
    import bmw.contracts.events  # noqa: F401

