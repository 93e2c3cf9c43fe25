"""Secondary suppression over an org-unit tree (DESIGN §2 rule 2): no small number can be derived
from the published ones, by subtraction or by reasoning about bounds.

The attacker here knows the tree, k, every published number, which cells are hidden, that counts
are non-negative integers, that hidden numbers are nonzero (zeros are never hidden) and at most
``bound`` own referrals per unit. It collects every own-count vector that fits (a bottom-up set
computation, checked against plain enumeration below) and must find at least two values for every
hidden subtree total in 1..k-1 and every own count in 1..k-1.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmw.signals.domain.suppression import (
    DEFAULT_K,
    ORGANISATION,
    Cell,
    TreeDisclosure,
    UnitNode,
    disclose,
    protect_tree,
)


@dataclass(frozen=True)
class Tree:
    units: list[UnitNode]
    own: dict[str, int]
    k: int

    def subtree_total(self, unit_id: str) -> int:
        return self.own.get(unit_id, 0) + sum(self.subtree_total(u.id) for u in self.units if u.parent_id == unit_id)

    def organisation_total(self) -> int:
        return sum(self.own.values())


def tree(k: int = DEFAULT_K, **own_by_path: int) -> Tree:
    """Build a tree from paths: ``tree(fin=0, fin__pay=6)`` is Finance (no own referrals) with Payroll below it."""
    units: dict[str, UnitNode] = {}
    own: dict[str, int] = {}
    for path, count in own_by_path.items():
        names = path.split("__")
        for depth, name in enumerate(names):
            units.setdefault(name, UnitNode(name, names[depth - 1] if depth else None))
        own[names[-1]] = count
    return Tree(list(units.values()), own, k)


# -- the attacker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attacker:
    """Everything the client organisation sees, and the bounds it may assume.

    ``primary_at_most`` is knowledge the service must not give away: which hidden cells are below k.
    """

    units: Sequence[UnitNode]
    published: Mapping[str, int | None]
    bound: int
    primary_at_most: Mapping[str, int] | None = None

    @classmethod
    def of(cls, units: Sequence[UnitNode], disclosure: TreeDisclosure, bound: int) -> Attacker:
        published = {unit_id: cell.count for unit_id, cell in disclosure.units.items()}
        published[ORGANISATION] = disclosure.total.count
        return cls(units, published, bound)

    @functools.cached_property
    def children(self) -> dict[str | None, list[str]]:
        children: dict[str | None, list[str]] = {}
        for unit in self.units:
            children.setdefault(unit.parent_id, []).append(unit.id)
        return children

    def possible_subtree_totals(self, unit_id: str) -> set[int]:
        """Every value the subtree total (or the organisation total) takes over the consistent vectors."""
        # What the subtree alone allows is a superset; only those values need the whole tree.
        alone = self._reachable(None if unit_id == ORGANISATION else unit_id)
        candidates = [total for total in range(alone.bit_length()) if alone >> total & 1]
        return {total for total in candidates if self._reachable(None, fixed_total=(unit_id, total))}

    def possible_own_counts(self, unit_id: str) -> set[int]:
        """Every value the unit's own count takes over the consistent vectors."""
        return {own for own in range(self.bound + 1) if self._reachable(None, fixed_own=(unit_id, own))}

    def _reachable(
        self, unit_id: str | None, fixed_total: tuple[str, int] | None = None, fixed_own: tuple[str, int] | None = None
    ) -> int:
        """The subtree totals the unit (None: the organisation) can have, as a bitmask (bit s: total s).

        Built children first from the published numbers, so the own-count vectors are never listed
        one by one; zero at the organisation means no vector fits at all.
        """
        node = ORGANISATION if unit_id is None else unit_id
        if unit_id is None:
            mask = 1  # the organisation itself has no referrals of its own
        elif fixed_own is not None and fixed_own[0] == unit_id:
            mask = 1 << fixed_own[1]
        else:
            mask = (1 << (self.bound + 1)) - 1
        for child in self.children.get(unit_id, []):
            mask = sumset(mask, self._reachable(child, fixed_total, fixed_own))
        published = self.published[node]
        if published is not None:
            mask &= 1 << published
        else:
            mask &= ~1  # hidden numbers are never zero
            if self.primary_at_most is not None and node in self.primary_at_most:
                mask &= (1 << (self.primary_at_most[node] + 1)) - 1
        if fixed_total is not None and fixed_total[0] == node:
            mask &= 1 << fixed_total[1]
        return mask


def sumset(left: int, right: int) -> int:
    """{a + b} for a in left, b in right, on bitmask sets."""
    result = 0
    while left:
        lowest = left & -left
        result |= right << (lowest.bit_length() - 1)
        left ^= lowest
    return result


def pinned_numbers(example: Tree, disclosure: TreeDisclosure, attacker: Attacker) -> dict[str, set[int]]:
    """The protected numbers (small hidden totals, small own counts) the attacker narrows to one value."""
    totals = {u.id: example.subtree_total(u.id) for u in example.units} | {ORGANISATION: example.organisation_total()}
    found: dict[str, tuple[int, set[int]]] = {}
    for name, truth in totals.items():
        if 0 < truth < example.k:
            found[f"total {name}"] = (truth, attacker.possible_subtree_totals(name))
    for unit in example.units:
        truth = example.own.get(unit.id, 0)
        if 0 < truth < example.k:
            found[f"own {unit.id}"] = (truth, attacker.possible_own_counts(unit.id))
    for name, (truth, values) in found.items():
        # The truth always fits what was published; an attacker that loses it would prove nothing.
        assert truth in values, f"{name}: the attacker excludes the truth {truth}"
    return {name: values for name, (_, values) in found.items() if len(values) < 2}


def assert_nothing_pinned(example: Tree) -> TreeDisclosure:
    disclosure = protect_tree(example.units, example.own, example.k)
    attacker = Attacker.of(example.units, disclosure, bound=2 * example.k + 3)
    assert pinned_numbers(example, disclosure, attacker) == {}, disclosure
    return disclosure


def hidden(disclosure: TreeDisclosure) -> set[str]:
    names = {unit_id for unit_id, cell in disclosure.units.items() if cell.suppressed}
    return names | ({ORGANISATION} if disclosure.total.suppressed else set())


# -- hand-made trees ------------------------------------------------------------------------------


def test_a_parent_minus_its_visible_children_does_not_reveal_a_small_child() -> None:
    # Finance 7 = Payroll 1 + Treasury 6; Finance has no referrals of its own.
    example = tree(fin=0, fin__pay=1, fin__tre=6)
    primary_only = {u.id: disclose(example.subtree_total(u.id), example.k) for u in example.units}
    naive = TreeDisclosure(primary_only, disclose(7, example.k), frozenset({"pay"}), frozenset())
    attacker = Attacker.of(example.units, naive, bound=2 * example.k + 3)
    assert pinned_numbers(example, naive, attacker) == {"total pay": {1}, "own pay": {1}}

    disclosure = assert_nothing_pinned(example)

    assert disclosure.primary == {"pay"}
    assert disclosure.secondary == {"tre"}
    assert disclosure.units["fin"] == Cell(count=7, suppressed=False)
    assert disclosure.total == Cell(count=7, suppressed=False)


def test_a_parents_own_referrals_hide_a_small_child_without_a_complement() -> None:
    # Finance 7 = own 5 + Payroll 2: "7 minus nothing visible" leaves Payroll anywhere in 1..7.
    disclosure = assert_nothing_pinned(tree(fin=5, fin__pay=2))

    assert hidden(disclosure) == {"pay"}
    assert disclosure.secondary == frozenset()


def test_a_unit_with_only_own_referrals_is_not_revealed_by_the_total() -> None:
    # HR has 3 referrals of its own and two empty teams; the total 11 minus Sales 8 would be HR.
    disclosure = assert_nothing_pinned(tree(hr=3, hr__a=0, hr__b=0, sales=8))

    assert disclosure.primary == {"hr"}
    assert disclosure.secondary == {"sales"}
    assert disclosure.units["a"] == Cell(count=0, suppressed=False)
    assert disclosure.units["b"] == Cell(count=0, suppressed=False)
    assert disclosure.total == Cell(count=11, suppressed=False)


def test_a_small_own_count_is_not_revealed_by_a_parent_minus_its_visible_child() -> None:
    # Finance 7 = own 2 + Payroll 5: both published would make Finance's own count 2.
    disclosure = assert_nothing_pinned(tree(fin=2, fin__pay=5))

    assert disclosure.primary == frozenset()
    assert disclosure.secondary == {"pay"}
    assert disclosure.units["fin"] == Cell(count=7, suppressed=False)


def test_a_deep_chain_hides_the_cheapest_complement_and_keeps_the_chain_above() -> None:
    # top 6 > dept 6 > team 6 = x 1 + y 5; none of the chain has referrals of its own.
    disclosure = assert_nothing_pinned(
        tree(top=0, top__dept=0, top__dept__team=0, top__dept__team__x=1, top__dept__team__y=5)
    )

    assert disclosure.primary == {"x"}
    assert disclosure.secondary == {"y"}
    assert [disclosure.units[name].count for name in ("top", "dept", "team")] == [6, 6, 6]


def test_a_chain_of_ones_is_hidden_all_the_way_up() -> None:
    disclosure = assert_nothing_pinned(tree(a=0, a__b=0, a__b__c=1))

    assert hidden(disclosure) == {"a", "b", "c", ORGANISATION}
    assert disclosure.secondary == frozenset()


def test_hiding_pushes_down_when_a_complement_is_the_sum_of_its_children() -> None:
    # dept 11 = x 1 + team 10, and team 10 = its two subteams of 5 with nothing of its own:
    # hiding team alone leaves "team >= 10", so x = 11 - team would still be 1.
    disclosure = assert_nothing_pinned(tree(dept=0, dept__x=1, dept__team=0, dept__team__s1=5, dept__team__s2=5))

    assert disclosure.primary == {"x"}
    assert disclosure.secondary == {"team", "s1"}
    assert disclosure.units["dept"] == Cell(count=11, suppressed=False)


def test_zeros_stay_visible_next_to_hidden_cells() -> None:
    disclosure = assert_nothing_pinned(tree(fin=0, fin__pay=2, fin__tre=0, fin__audit=0, sales=0))

    for zero in ("tre", "audit", "sales"):
        assert disclosure.units[zero] == Cell(count=0, suppressed=False)
    assert hidden(disclosure) == {"fin", "pay", ORGANISATION}


def test_a_larger_k_hides_numbers_that_k_five_shows() -> None:
    example_at = {k: tree(k=k, ops=9, it=12) for k in (DEFAULT_K, 10)}

    at_five = assert_nothing_pinned(example_at[DEFAULT_K])
    at_ten = assert_nothing_pinned(example_at[10])

    assert hidden(at_five) == set()
    assert at_ten.primary == {"ops"}
    assert at_ten.secondary == {"it"}
    assert at_ten.total == Cell(count=21, suppressed=False)


def test_the_organisation_total_stays_visible_over_many_small_units() -> None:
    example = tree(**{f"team{i}": 1 + i % 4 for i in range(12)})

    disclosure = assert_nothing_pinned(example)

    assert disclosure.total == Cell(count=example.organisation_total(), suppressed=False)
    assert disclosure.secondary == frozenset()


def test_the_organisation_total_is_hidden_when_nothing_else_can_be() -> None:
    # Ten units of one each: a total of 10 would pin every one of them at 1.
    disclosure = assert_nothing_pinned(tree(**{f"team{i}": 1 for i in range(10)}))

    assert disclosure.secondary == {ORGANISATION}


def test_no_units_publish_a_zero_total() -> None:
    assert protect_tree([], {}, DEFAULT_K) == TreeDisclosure({}, Cell(0, False), frozenset(), frozenset())


def test_knowing_which_cells_are_primary_would_pin_them_whatever_is_hidden() -> None:
    # Why TreeDisclosure.primary stays inside the service: a primary total of at most 4 over four
    # hidden children leaves each child exactly 1, even with every number in the tree hidden.
    example = tree(p=0, p__a=1, p__b=1, p__c=1, p__d=1)
    disclosure = assert_nothing_pinned(example)
    assert hidden(disclosure) == {"p", "a", "b", "c", "d", ORGANISATION}

    attacker = Attacker.of(example.units, disclosure, bound=2 * example.k + 3)
    knowing = dataclasses.replace(attacker, primary_at_most=dict.fromkeys(disclosure.primary, example.k - 1))

    assert knowing.possible_subtree_totals("a") == {1}


@pytest.mark.parametrize(
    ("units", "own", "message"),
    [
        ([UnitNode("a", "ghost")], {}, "unknown parent"),
        ([UnitNode("a", "b"), UnitNode("b", "a")], {}, "cycle"),
        ([UnitNode("a", "a")], {}, "cycle"),
        ([UnitNode("a", None), UnitNode("a", None)], {}, "unique"),
        ([UnitNode(ORGANISATION, None)], {}, "reserved"),
        ([UnitNode("a", None)], {"b": 1}, "unknown org units"),
        ([UnitNode("a", None)], {"a": -1}, "negative"),
    ],
)
def test_an_inconsistent_tree_is_refused(units: list[UnitNode], own: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        protect_tree(units, own, DEFAULT_K)


def test_k_below_five_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        protect_tree([UnitNode("a", None)], {"a": 9}, 4)


# -- properties -----------------------------------------------------------------------------------


@st.composite
def trees(draw: st.DrawFn, max_units: int = 5) -> Tree:
    """Random forests: unit i hangs below an earlier unit or at the top, own counts around k."""
    k = draw(st.sampled_from([5, 7]))
    size = draw(st.integers(min_value=1, max_value=max_units))
    parents = [None] + [draw(st.none() | st.integers(min_value=0, max_value=i - 1)) for i in range(1, size)]
    counts = draw(st.lists(st.integers(min_value=0, max_value=k + 3), min_size=size, max_size=size))
    units = [UnitNode(f"u{i}", None if parent is None else f"u{parent}") for i, parent in enumerate(parents)]
    return Tree(units, {f"u{i}": count for i, count in enumerate(counts)}, k)


@settings(max_examples=500, deadline=None)
@given(example=trees())
def test_no_small_number_can_be_derived_from_what_is_published(example: Tree) -> None:
    assert_nothing_pinned(example)


@settings(max_examples=150, deadline=None)
@given(example=trees())
def test_published_numbers_are_exact_and_only_small_cells_are_primary(example: Tree) -> None:
    disclosure = protect_tree(example.units, example.own, example.k)
    truth = {u.id: example.subtree_total(u.id) for u in example.units} | {ORGANISATION: example.organisation_total()}
    cells = disclosure.units | {ORGANISATION: disclosure.total}

    assert cells.keys() == truth.keys()
    assert disclosure.primary == {name for name, value in truth.items() if 0 < value < example.k}
    assert disclosure.primary.isdisjoint(disclosure.secondary)
    assert hidden(disclosure) == disclosure.primary | disclosure.secondary
    for name, cell in cells.items():
        assert cell == (Cell(None, True) if cell.suppressed else Cell(truth[name], False))
        if name in disclosure.secondary:
            assert truth[name] >= example.k  # a complement is never a zero (nor, by definition, small)


@settings(max_examples=50, deadline=None)
@given(example=trees(max_units=8), seed=st.integers(min_value=0, max_value=2**32))
def test_the_outcome_does_not_depend_on_the_order_of_the_units(example: Tree, seed: int) -> None:
    shuffled = list(example.units)
    random.Random(seed).shuffle(shuffled)

    assert protect_tree(shuffled, example.own, example.k) == protect_tree(example.units, example.own, example.k)


@settings(max_examples=40, deadline=None)
@given(example=trees(max_units=3), hide=st.lists(st.booleans(), min_size=4, max_size=4))
def test_the_attacker_finds_exactly_what_plain_enumeration_finds(example: Tree, hide: list[bool]) -> None:
    """The bitmask attacker, against any hiding pattern, agrees with listing every own-count vector."""
    bound = example.k + 1
    names = [u.id for u in example.units]
    truth = {name: example.subtree_total(name) for name in names} | {ORGANISATION: example.organisation_total()}
    published = {
        name: None if hide[i] and truth[name] > 0 else truth[name] for i, name in enumerate([*names, ORGANISATION])
    }
    attacker = Attacker(example.units, published, bound)

    totals: dict[str, set[int]] = {name: set() for name in published}
    owns: dict[str, set[int]] = {name: set() for name in names}
    for vector in itertools.product(range(bound + 1), repeat=len(names)):
        candidate = Tree(example.units, dict(zip(names, vector, strict=True)), example.k)
        values = {name: candidate.subtree_total(name) for name in names}
        values[ORGANISATION] = candidate.organisation_total()
        if all(values[n] == p if p is not None else values[n] > 0 for n, p in published.items()):
            for name, value in values.items():
                totals[name].add(value)
            for name, own in candidate.own.items():
                owns[name].add(own)

    assert {name: attacker.possible_subtree_totals(name) for name in published} == totals
    assert {name: attacker.possible_own_counts(name) for name in names} == owns
