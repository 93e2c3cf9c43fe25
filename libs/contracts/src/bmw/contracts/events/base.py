"""Base of every event data model and the registry of event types."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, PlainSerializer
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_REGISTRY: dict[str, type[EventData]] = {}


class WireModel(BaseModel):
    """Base of every model that travels inside event data: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EventData(WireModel):
    """Data of one versioned event type. Never carries a name, contact detail, note or free text."""

    event_type: ClassVar[str]
    producer: ClassVar[str]


def _two_places(value: Decimal) -> str:
    return f"{value:.2f}"


class _DecimalStringPattern:
    """Documents in the JSON Schema the string form a Decimal2 travels in."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        for branch in schema.get("anyOf", []):
            if branch.get("type") == "string":
                branch["pattern"] = r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$"
        return schema


#: A code from a catalogue (product, intervention): letters, digits, ``_ . -``, no spaces, so it
#: cannot carry free text.
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]

#: An exact decimal with at most two places. Travels as a JSON string with exactly two places
#: (``1.5`` is sent as ``"1.50"``); a JSON number is accepted on input.
Decimal2 = Annotated[
    Decimal,
    Field(max_digits=12, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(_two_places, return_type=str, when_used="json"),
    _DecimalStringPattern(),
]

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


def known_older_version(event_type: str) -> str | None:
    """For a type this build does not know that is a newer version of one it does (``….v2`` where ``….v1`` is
    registered), the newest version it knows; otherwise None. A breaking change is published as a new version side
    by side with the old one until every consumer has moved (DESIGN §4), so a consumer that reads the old one can
    leave the new one alone."""
    base, separator, number = event_type.rpartition(".v")
    if not separator or not base or not number.isdigit() or event_class(event_type) is not None:
        return None
    for older in range(int(number) - 1, 0, -1):
        if event_class(f"{base}.v{older}") is not None:
            return f"{base}.v{older}"
    return None


def all_event_types() -> dict[str, type[EventData]]:
    """Every registered event type, sorted by name."""
    _load_catalogue()
    return dict(sorted(_REGISTRY.items()))


def _load_catalogue() -> None:
    # Importing the catalogue registers every type; done lazily to avoid an import cycle.
    importlib.import_module(__package__ or "bmw.contracts.events")
