"""The org unit tree of a client organisation: parents first, no unknown parents, no cycles."""

from __future__ import annotations

import uuid
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.billing.application.organisations import build_tree, tree_order, would_form_cycle
from bmw.contracts.events.billing import OrgUnit
from bmw.servicekit.errors import InvalidInput


def unit(name: str, parent: OrgUnit | None = None, kind: Literal["department", "location"] = "department") -> OrgUnit:
    return OrgUnit(id=uuid.uuid4(), name=name, parent_id=parent.id if parent else None, kind=kind)


@st.composite
def forests(draw: st.DrawFn) -> list[OrgUnit]:
    """A random forest: each unit's parent is none or an earlier unit, then shuffled."""
    size = draw(st.integers(min_value=1, max_value=25))
    units: list[OrgUnit] = []
    for index in range(size):
        parent = draw(st.none() | st.sampled_from(units)) if units else None
        units.append(unit(f"unit {index}", parent))
    return draw(st.permutations(units))


@given(forests())
def test_tree_order_puts_every_parent_before_its_children(units: list[OrgUnit]) -> None:
    ordered = tree_order(units, "body.org_units")
    assert sorted(u.id for u in ordered) == sorted(u.id for u in units)
    position = {u.id: index for index, u in enumerate(ordered)}
    assert all(position[u.parent_id] < position[u.id] for u in ordered if u.parent_id is not None)


@given(forests(), st.data())
def test_a_move_below_itself_or_a_descendant_is_a_cycle(units: list[OrgUnit], data: st.DataObject) -> None:
    moved = data.draw(st.sampled_from(units))
    target = data.draw(st.sampled_from(units))
    descendants = {moved.id}
    changed = True
    while changed:
        below = {u.id for u in units if u.parent_id in descendants}
        changed = not below <= descendants
        descendants |= below
    assert would_form_cycle(units, moved.id, target.id) == (target.id in descendants)
    if target.id not in descendants:
        rehung = [u.model_copy(update={"parent_id": target.id}) if u.id == moved.id else u for u in units]
        tree_order(rehung, "body.org_units")  # still a tree


def test_a_cycle_in_a_new_tree_is_refused_at_the_unit() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    units = [
        OrgUnit(id=uuid.uuid4(), name="Root"),
        OrgUnit(id=a, name="A", parent_id=b),
        OrgUnit(id=b, name="B", parent_id=a),
    ]
    with pytest.raises(InvalidInput) as refused:
        tree_order(units, "body.org_units")
    assert refused.value.fields[0].path == "body.org_units.1.parent_id"
    assert "own ancestor" in refused.value.fields[0].message


def test_unknown_parents_and_repeated_ids_are_refused_naming_the_unit() -> None:
    root = unit("Root")
    with pytest.raises(InvalidInput) as unknown:
        tree_order([root, OrgUnit(id=uuid.uuid4(), name="Orphan", parent_id=uuid.uuid4())], "body.org_units")
    assert unknown.value.fields[0].path == "body.org_units.1.parent_id"
    with pytest.raises(InvalidInput) as repeated:
        tree_order([root, root.model_copy(update={"name": "Again"})], "body.org_units")
    assert repeated.value.fields[0].path == "body.org_units.1.id"


def test_build_tree_nests_children_sorted_by_name() -> None:
    logistics = unit("Logistiek")
    tilburg = unit("Tilburg", logistics, kind="location")
    planning = unit("planning", logistics)
    finance = unit("Finance")
    forest = build_tree([tilburg, logistics, finance, planning])
    assert [node.unit.name for node in forest] == ["Finance", "Logistiek"]
    assert [node.unit.name for node in forest[1].children] == ["planning", "Tilburg"]
    assert forest[1].children[1].unit.kind == "location"
    assert forest[0].children == []
