"""Small-cell suppression (DESIGN §2 rule 2): an aggregate about fewer than k people is not shown
to a client organisation. ``1 person in Finance has a conflict with their manager`` names them.

``disclose`` hides one number on its own (primary suppression). ``protect_tree`` publishes a whole
org-unit tree of one category in one time bucket, where numbers add up and hiding one is not enough:
a unit's subtree total is its own referrals plus its children's subtree totals, and the organisation
total is the sum of the top-level units. "Finance (7) minus Payroll (6)" reveals that the one hidden
team has one person; a unit's own count is never published but equals its total minus its children.
So it also hides complementary cells (secondary suppression) until no small number can be derived.

The guarantee, and the attacker it holds against: someone who knows the tree, k, every published
number, which numbers are hidden, that counts are non-negative integers and that a hidden number is
at least one (zeros are never hidden, so they stay published as zeros). Against that attacker no
hidden subtree total in 1..k-1, and no own count in 1..k-1, takes only one value. Two things must
therefore stay internal: which hidden cells are primary (``TreeDisclosure.primary``), and that a
unit never receives referrals of its own. With the first, a unit hidden as primary is known to be
at most k-1, and a unit of k-1 with k-1 hidden children pins every child at 1 whatever else is
hidden; a label such as "< 5" on a suppressed cell publishes it too. With the second the own-count
slack that hides children behind their parent is gone.

How it decides: the attacker's possible worlds are the own-count vectors that meet the published
numbers, and any difference between two such worlds splits into *moves* of one referral from one
unit (or from outside the organisation, when its total is hidden) to another along the tree path
between them. A move is invisible when every cell on the path is hidden and stays at least one. The
constraint system is a network (each bound an interval), so a number can take another value exactly
when one such single move changes it; checking moves is the whole audit, not an approximation. For
each protected number without a move, the cheapest path is made invisible by hiding the visible
cells on it: the organisation total only when nothing else works, then the fewest people hidden.
Hiding only ever adds moves, so one pass in a fixed order reaches the fixed point.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_K = 5

ORGANISATION = "*"
"""The key of the organisation total (the virtual root over the top-level units)."""


@dataclass(frozen=True)
class Cell:
    """One published number: None and suppressed=True when it describes fewer than k people."""

    count: int | None
    suppressed: bool


def disclose(count: int, k: int) -> Cell:
    """Show a count only when it is zero or at least k."""
    _check_k(k)
    if count < 0:
        raise ValueError("a count cannot be negative")
    if 0 < count < k:
        return Cell(count=None, suppressed=True)
    return Cell(count=count, suppressed=False)


@dataclass(frozen=True)
class UnitNode:
    """An org unit of a client organisation; parent_id is None for a top-level unit."""

    id: str
    parent_id: str | None


@dataclass(frozen=True)
class TreeDisclosure:
    """What a client organisation may see of one tree of counts.

    ``units`` holds each unit's subtree total (its own referrals and all below it), ``total`` the
    organisation total. ``primary`` (fewer than k people) and ``secondary`` (hidden so that no small
    number can be derived) explain the hiding, with ``ORGANISATION`` for the total; they are for
    the service itself and must not reach the client, as the module docstring explains.
    """

    units: dict[str, Cell]
    total: Cell
    primary: frozenset[str]
    secondary: frozenset[str]


def protect_tree(units: Sequence[UnitNode], own_counts: Mapping[str, int], k: int) -> TreeDisclosure:
    """Subtree totals and the organisation total, with small cells and their complements hidden."""
    _check_k(k)
    network = _Network.build(units, own_counts)
    primary = {cell for cell in network.cells() if 0 < network.value[cell] < k}
    network.hidden.update(primary)
    for quantity in network.protected_quantities(k):
        route = network.cheapest_route(quantity)
        if route is None:
            # Every nonzero cell between the number and the outside can be hidden, and then a
            # referral can always come in from outside; reaching this line is a bug.
            raise RuntimeError(f"no way to protect {quantity} in the org-unit tree")
        network.hidden.update(route.cells)
    published = {
        network.ids[cell]: Cell(count=None, suppressed=True)
        if cell in network.hidden
        else Cell(count=network.value[cell], suppressed=False)
        for cell in network.cells()
    }
    return TreeDisclosure(
        units={unit_id: published[unit_id] for unit_id in network.ids[: network.root]},
        total=published[ORGANISATION],
        primary=frozenset(network.ids[cell] for cell in primary),
        secondary=frozenset(network.ids[cell] for cell in network.hidden - primary),
    )


def _check_k(k: int) -> None:
    if k < DEFAULT_K:
        raise ValueError(f"k must be at least {DEFAULT_K} (configurable upward only)")


_Cost = tuple[int, int, int]
"""The price of hiding cells: (organisation total hidden, people hidden, cells hidden), compared in that order.

The organisation total is the headline number, so it is hidden only when no path avoids it."""

_FREE: _Cost = (0, 0, 0)


@dataclass(frozen=True)
class _Route:
    """A path a referral can be moved along, and what it costs to make every cell on it hidden."""

    cost: _Cost
    cells: tuple[int, ...]

    def then(self, other: _Route) -> _Route:
        return _Route(
            cost=(self.cost[0] + other.cost[0], self.cost[1] + other.cost[1], self.cost[2] + other.cost[2]),
            cells=self.cells + other.cells,
        )


@dataclass(frozen=True)
class _OwnCount:
    """A unit's own count (protected when in 1..k-1): changed by moves that start or end in the unit."""

    unit: int


@dataclass(frozen=True)
class _CellValue:
    """A published cell (protected when primary): changed by moves that cross its tree edge."""

    cell: int


@dataclass
class _Network:
    """The org-unit tree as a network of moves.

    Nodes are the units (0..n-1, sorted by id so the outcome does not depend on input order), the
    organisation root (n) and the outside (n+1), the source and sink of referrals when the
    organisation total is hidden. Cell i lies on the edge from node i to ``parent[i]``: a unit's
    subtree total on the edge to its parent unit or the root, the organisation total on the edge
    from the root to the outside. Mass crossing an edge upwards lowers its cell, downwards raises it.
    """

    ids: list[str]
    parent: list[int]
    children: list[list[int]]
    value: list[int]
    own: list[int]
    subtree: list[frozenset[int]]
    postorder: list[int]
    hidden: set[int]

    @property
    def root(self) -> int:
        return len(self.ids) - 1

    @property
    def outside(self) -> int:
        return len(self.ids)

    def cells(self) -> range:
        return range(len(self.ids))

    @classmethod
    def build(cls, units: Sequence[UnitNode], own_counts: Mapping[str, int]) -> _Network:
        ids = sorted(unit.id for unit in units)
        if len(set(ids)) != len(ids):
            raise ValueError("org unit ids must be unique")
        if ORGANISATION in ids:
            raise ValueError(f"{ORGANISATION!r} is reserved for the organisation total")
        index = {unit_id: position for position, unit_id in enumerate(ids)}
        unknown = sorted(set(own_counts) - set(index))
        if unknown:
            raise ValueError(f"counts for unknown org units: {unknown}")
        if any(count < 0 for count in own_counts.values()):
            raise ValueError("a count cannot be negative")
        root, outside = len(ids), len(ids) + 1
        parent = [root] * (len(ids) + 1)
        parent[root] = outside
        for unit in units:
            if unit.parent_id is not None:
                if unit.parent_id not in index:
                    raise ValueError(f"org unit {unit.id!r} has an unknown parent {unit.parent_id!r}")
                parent[index[unit.id]] = index[unit.parent_id]
        children: list[list[int]] = [[] for _ in range(len(ids) + 2)]
        for node in range(len(ids) + 1):
            children[parent[node]].append(node)
        postorder = _postorder(children, outside)
        if len(postorder) != len(ids) + 2:
            raise ValueError("the org units form a cycle")
        own = [own_counts.get(unit_id, 0) for unit_id in ids] + [0]
        value = [0] * (len(ids) + 1)
        subtree: list[frozenset[int]] = [frozenset()] * (len(ids) + 2)
        for node in postorder[:-1]:
            value[node] = own[node] + sum(value[child] for child in children[node])
            subtree[node] = frozenset({node}).union(*(subtree[child] for child in children[node]))
        return cls(
            ids=[*ids, ORGANISATION],
            parent=parent,
            children=children,
            value=value,
            own=own,
            subtree=subtree,
            postorder=postorder[:-2],
            hidden=set(),
        )

    def protected_quantities(self, k: int) -> list[_OwnCount | _CellValue]:
        """The numbers no one may derive, bottom-up so complements are chosen close to the small cells."""
        quantities: list[_OwnCount | _CellValue] = []
        for unit in self.postorder:
            if 0 < self.value[unit] < k:
                quantities.append(_CellValue(unit))
            if 0 < self.own[unit] < k:
                quantities.append(_OwnCount(unit))
        if 0 < self.value[self.root] < k:
            quantities.append(_CellValue(self.root))
        return quantities

    def cheapest_route(self, quantity: _OwnCount | _CellValue) -> _Route | None:
        """The cheapest move that changes the quantity; free when it is already protected."""
        if isinstance(quantity, _OwnCount):
            options = [
                self._search(quantity.unit, along_flow=True, within=None, start_counts=False),
                self._search(quantity.unit, along_flow=False, within=None, start_counts=False),
            ]
        else:
            options = [self._across(quantity.cell, leaving=True), self._across(quantity.cell, leaving=False)]
        found = [option for option in options if option is not None]
        return min(found, key=lambda route: route.cost, default=None)

    def _across(self, cell: int, *, leaving: bool) -> _Route | None:
        """The cheapest move across the cell's edge, out of the subtree below it or into it."""
        below = self.subtree[cell]
        above = frozenset(range(self.outside + 1)) - below
        step = self._step(cell, lowers=leaving)
        if step is None:
            return None
        start = self._search(
            cell if leaving else self.parent[cell], along_flow=False, within=below if leaving else above
        )
        end = self._search(self.parent[cell] if leaving else cell, along_flow=True, within=above if leaving else below)
        if start is None or end is None:
            return None
        return start.then(step).then(end)

    def _step(self, cell: int, *, lowers: bool) -> _Route | None:
        """Moving one referral across a cell: free if hidden (and not lowered below one), else the cost of hiding it."""
        if cell in self.hidden:
            # A hidden number is known to be at least one, so a move may not empty it.
            return _Route(_FREE, ()) if not lowers or self.value[cell] >= 2 else None
        if self.value[cell] == 0:
            return None  # a published zero is never hidden
        # A visible nonzero cell holds at least k >= 5 people, so lowering it by one keeps it at least one.
        return _Route((int(cell == self.root), self.value[cell], 1), (cell,))

    def _search(
        self, start: int, *, along_flow: bool, within: frozenset[int] | None, start_counts: bool = True
    ) -> _Route | None:
        """Dijkstra from start to the nearest sink (along the flow) or source (against it).

        A unit can always take one more referral; it can give one away when it has any; the outside
        does both; the organisation root does neither (it has no referrals of its own). The tree
        makes every path unique, so the search only chooses between end points.
        """
        best: dict[int, _Cost] = {start: _FREE}
        came_from: dict[int, tuple[int, _Route]] = {}
        queue: list[tuple[_Cost, int, int]] = [(_FREE, 0, start)]
        pushed = 0
        while queue:
            cost, _, node = heapq.heappop(queue)
            if cost > best[node]:
                continue
            if (node != start or start_counts) and self._is_end(node, sink=along_flow):
                cells: list[int] = []
                while node != start:
                    node, taken = came_from[node]
                    cells.extend(taken.cells)
                return _Route(cost, tuple(reversed(cells)))
            for neighbour, cell, upwards in self._neighbours(node):
                if within is not None and neighbour not in within:
                    continue
                # Walking up along the flow, or down against it, means a referral leaves the cell's subtree.
                step = self._step(cell, lowers=upwards == along_flow)
                if step is None:
                    continue
                reached = _Route(cost, ()).then(step).cost
                if neighbour not in best or reached < best[neighbour]:
                    best[neighbour] = reached
                    came_from[neighbour] = (node, step)
                    pushed += 1
                    heapq.heappush(queue, (reached, pushed, neighbour))
        return None

    def _is_end(self, node: int, *, sink: bool) -> bool:
        if node == self.outside:
            return True
        if node == self.root:
            return False
        return sink or self.own[node] > 0

    def _neighbours(self, node: int) -> list[tuple[int, int, bool]]:
        """(neighbour, cell on the edge, whether the step goes up) for each edge at the node."""
        steps = [(child, child, False) for child in self.children[node]]
        if node != self.outside:
            steps.append((self.parent[node], node, True))
        return steps


def _postorder(children: list[list[int]], top: int) -> list[int]:
    """Children before parents, from the top node; nodes on a cycle are never reached."""
    order: list[int] = []
    stack: list[tuple[int, bool]] = [(top, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children[node]))
    return order
