"""breaking_changes: one test per rule, each with its compatible counterpart."""

from __future__ import annotations

import copy
import uuid
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from bmw.contracts.compat import breaking_changes, iter_properties
from bmw.contracts.events import all_event_types
from bmw.contracts.schemas import schema_for


def _obj(
    properties: dict[str, Any], required: list[str] | None = None, defs: dict[str, Any] | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    return schema


BASE = _obj(
    {
        "case_id": {"type": "string", "format": "uuid"},
        "outcome": {"enum": ["resolved", "dropped_out"], "type": "string"},
        "duration_days": {"type": "integer", "minimum": 0},
        "language": {"type": "string", "maxLength": 5, "default": "nl"},
        "specialism": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
    required=["case_id", "outcome", "duration_days"],
)


def _changed(**properties: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    for name, schema in properties.items():
        if schema is None:
            del new["properties"][name]
        else:
            new["properties"][name] = schema
    return new


def _one(problems: list[str], *fragments: str) -> None:
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems


def test_identical_schemas_are_compatible() -> None:
    assert breaking_changes(BASE, copy.deepcopy(BASE)) == []


# -- removed property ----------------------------------------------------------------------------------


def test_removed_property_breaks() -> None:
    new = _changed(specialism=None)
    _one(breaking_changes(BASE, new), "specialism", "removed")


def test_removed_required_property_breaks() -> None:
    new = _changed(duration_days=None)
    new["required"].remove("duration_days")
    _one(breaking_changes(BASE, new), "duration_days", "removed")


def test_added_optional_property_is_compatible() -> None:
    new = _changed(worker_id={"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}], "default": None})
    assert breaking_changes(BASE, new) == []


# -- newly required ------------------------------------------------------------------------------------


def test_existing_property_made_required_breaks() -> None:
    new = copy.deepcopy(BASE)
    new["required"].append("language")
    _one(breaking_changes(BASE, new), "language", "now required")


def test_added_required_property_breaks() -> None:
    new = _changed(worker_id={"type": "string"})
    new["required"].append("worker_id")
    _one(breaking_changes(BASE, new), "worker_id", "new property is now required")


def test_required_property_made_optional_is_compatible() -> None:
    new = copy.deepcopy(BASE)
    new["required"].remove("duration_days")
    assert breaking_changes(BASE, new) == []


# -- changed type --------------------------------------------------------------------------------------


def test_changed_type_breaks() -> None:
    new = _changed(duration_days={"type": "string"})
    _one(breaking_changes(BASE, new), "duration_days", "type changed from integer to string")


def test_integer_widened_to_number_breaks() -> None:
    new = _changed(duration_days={"type": "number", "minimum": 0})
    _one(breaking_changes(BASE, new), "duration_days", "type changed")


def test_nullable_made_non_null_breaks() -> None:
    new = _changed(specialism={"type": "string"})
    _one(breaking_changes(BASE, new), "specialism", "null|string to string")


def test_null_added_breaks_consumers() -> None:
    new = _changed(duration_days={"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]})
    _one(breaking_changes(BASE, new), "duration_days", "integer to integer|null")


def test_changed_type_inside_a_ref_breaks() -> None:
    old = _obj({"unit": {"$ref": "#/$defs/Unit"}}, defs={"Unit": _obj({"id": {"type": "string"}})})
    new = copy.deepcopy(old)
    new["$defs"]["Unit"]["properties"]["id"] = {"type": "integer"}
    _one(breaking_changes(old, new), "unit.id", "type changed")


def test_inlining_a_ref_is_compatible() -> None:
    old = _obj({"unit": {"$ref": "#/$defs/Unit"}}, defs={"Unit": _obj({"id": {"type": "string"}})})
    new = _obj({"unit": _obj({"id": {"type": "string"}})})
    assert breaking_changes(old, new) == []


def test_changed_item_type_breaks() -> None:
    old = _obj({"codes": {"type": "array", "items": {"type": "string"}}})
    new = _obj({"codes": {"type": "array", "items": {"type": "integer"}}})
    _one(breaking_changes(old, new), "codes[]", "type changed")


# -- narrowed enum -------------------------------------------------------------------------------------


def test_narrowed_enum_breaks() -> None:
    new = _changed(outcome={"enum": ["resolved"], "type": "string"})
    _one(breaking_changes(BASE, new), "outcome", "enum narrowed", "dropped_out")


def test_widened_enum_is_compatible() -> None:
    new = _changed(outcome={"enum": ["resolved", "dropped_out", "no_show"], "type": "string"})
    assert breaking_changes(BASE, new) == []


def test_enum_added_to_a_free_string_breaks() -> None:
    new = _changed(language={"type": "string", "maxLength": 5, "enum": ["nl", "en"]})
    _one(breaking_changes(BASE, new), "language", "enum")


def test_narrowed_enum_behind_a_ref_breaks() -> None:
    old = _obj({"kind": {"$ref": "#/$defs/Kind"}}, defs={"Kind": {"enum": ["a", "b"], "type": "string"}})
    new = copy.deepcopy(old)
    new["$defs"]["Kind"]["enum"] = ["a"]
    _one(breaking_changes(old, new), "kind", "enum narrowed")


# -- added or tightened constraint ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "schema", "keyword"),
    [
        ("duration_days", {"type": "integer", "minimum": 1}, "minimum"),
        ("duration_days", {"type": "integer", "minimum": 0, "maximum": 365}, "maximum"),
        ("duration_days", {"type": "integer", "exclusiveMinimum": 0}, "exclusiveMinimum"),
        ("duration_days", {"type": "integer", "minimum": 0, "multipleOf": 7}, "multipleOf"),
        ("language", {"type": "string", "maxLength": 2, "default": "nl"}, "maxLength"),
        ("language", {"type": "string", "maxLength": 5, "minLength": 2}, "minLength"),
        ("language", {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"}, "pattern"),
        ("case_id", {"type": "string", "format": "uri"}, "format"),
    ],
)
def test_added_or_tightened_constraint_breaks(field: str, schema: dict[str, Any], keyword: str) -> None:
    _one(breaking_changes(BASE, _changed(**{field: schema})), field, keyword)


@pytest.mark.parametrize(
    ("field", "schema"),
    [
        ("duration_days", {"type": "integer"}),
        ("duration_days", {"type": "integer", "minimum": -1}),
        ("language", {"type": "string", "maxLength": 10, "default": "nl"}),
        ("language", {"type": "string", "maxLength": 5, "default": "en", "description": "now documented"}),
    ],
)
def test_loosened_constraint_is_compatible(field: str, schema: dict[str, Any]) -> None:
    assert breaking_changes(BASE, _changed(**{field: schema})) == []


def test_changed_pattern_breaks() -> None:
    old = _obj({"number": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{6}$"}})
    new = _obj({"number": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{7}$"}})
    _one(breaking_changes(old, new), "number", "pattern")


def test_tightened_constraint_inside_an_optional_branch_breaks() -> None:
    new = _changed(specialism={"anyOf": [{"type": "string", "maxLength": 20}, {"type": "null"}], "default": None})
    _one(breaking_changes(BASE, new), "specialism", "maxLength")


def test_min_items_added_to_array_breaks() -> None:
    old = _obj({"codes": {"type": "array", "items": {"type": "string"}}})
    new = _obj({"codes": {"type": "array", "items": {"type": "string"}, "minItems": 1}})
    _one(breaking_changes(old, new), "codes", "minItems")


# -- additionalProperties ------------------------------------------------------------------------------


def test_additional_properties_opened_breaks() -> None:
    new = copy.deepcopy(BASE)
    new["additionalProperties"] = True
    _one(breaking_changes(BASE, new), "additionalProperties changed from forbidden to allowed")


def test_additional_properties_closed_breaks() -> None:
    old = copy.deepcopy(BASE)
    del old["additionalProperties"]
    _one(breaking_changes(old, BASE), "additionalProperties changed from allowed to forbidden")


def test_additional_properties_of_a_nested_object_breaks() -> None:
    old = _obj({"unit": {"$ref": "#/$defs/Unit"}}, defs={"Unit": _obj({"id": {"type": "string"}})})
    new = copy.deepcopy(old)
    new["$defs"]["Unit"]["additionalProperties"] = True
    _one(breaking_changes(old, new), "unit", "additionalProperties")


def test_map_value_schema_is_compared() -> None:
    old = _obj({"counts": {"type": "object", "additionalProperties": {"type": "integer"}}})
    new = _obj({"counts": {"type": "object", "additionalProperties": {"type": "string"}}})
    _one(breaking_changes(old, new), "counts{*}", "type changed")


# -- recursion -------------------------------------------------------------------------------------------


def test_recursive_definitions_terminate() -> None:
    node = _obj({"id": {"type": "string"}, "parent": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}})
    node["required"] = ["id"]
    old: dict[str, Any] = {"$ref": "#/$defs/Node", "$defs": {"Node": node}}
    new = copy.deepcopy(old)
    new["$defs"]["Node"]["properties"]["id"] = {"type": "integer"}

    problems = breaking_changes(old, new)

    assert problems and all("type changed" in p for p in problems)
    assert breaking_changes(old, copy.deepcopy(old)) == []
    assert [p for p, _ in iter_properties(old)] == ["id", "parent"]


# -- with real pydantic models --------------------------------------------------------------------------


class Kind(StrEnum):
    """Kinds."""

    A = "a"
    B = "b"


class NarrowKind(StrEnum):
    """Kinds."""

    A = "a"


class _V1(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: uuid.UUID = Field(description="Case.")
    kind: Kind = Field(description="Kind.")
    hours: int = Field(ge=0, description="Hours.")


class _V1WithOptional(_V1):
    worker_id: uuid.UUID | None = Field(default=None, description="Worker.")


class _V1Narrowed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: uuid.UUID = Field(description="Case.")
    kind: NarrowKind = Field(description="Kind.")
    hours: int = Field(ge=1, description="Hours.")
    worker_id: uuid.UUID = Field(description="Worker.")


def test_pydantic_model_gaining_an_optional_field_is_compatible() -> None:
    assert breaking_changes(_V1.model_json_schema(), _V1WithOptional.model_json_schema()) == []


def test_pydantic_model_changed_incompatibly_reports_every_change() -> None:
    problems = breaking_changes(_V1.model_json_schema(), _V1Narrowed.model_json_schema())

    assert sorted(p.split(":")[0] for p in problems) == ["hours", "kind", "worker_id"]


@pytest.mark.parametrize("event_type", sorted(all_event_types()))
def test_every_event_schema_is_compatible_with_itself(event_type: str) -> None:
    assert breaking_changes(schema_for(event_type), schema_for(event_type)) == []


# -- properties --------------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None, database=None)
@given(
    old=st.sets(st.sampled_from("abcdefgh"), min_size=1),
    new=st.sets(st.sampled_from("abcdefgh"), min_size=1),
)
def test_enum_change_breaks_exactly_when_a_value_is_dropped(old: set[str], new: set[str]) -> None:
    before = _obj({"v": {"type": "string", "enum": sorted(old)}})
    after = _obj({"v": {"type": "string", "enum": sorted(new)}})

    assert bool(breaking_changes(before, after)) == (not old <= new)


@settings(max_examples=100, deadline=None, database=None)
@given(names=st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=4, unique=True))
def test_adding_optional_properties_never_breaks(names: list[str]) -> None:
    new = copy.deepcopy(BASE)
    for name in names:
        new["properties"].setdefault(f"x_{name}", {"type": "string"})
    assert breaking_changes(BASE, new) == []
