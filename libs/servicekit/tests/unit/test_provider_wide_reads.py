"""Every read across the tenant walls is one someone reviewed.

A transaction sees every organisation's rows only through a few doors (``bmw.servicekit.walls``):
``whole_service_view(session)``, ``uow.provider_wide()``, the ``WHOLE_SERVICE`` scope, a ``TenantScope`` built with
``all_tenants=True``, or SQL that sets ``app.all_tenants`` itself. This test finds each use in the services' and the
gateway's source (by syntax tree, not by text, so a comment does not count and an alias does not hide one) and
compares them with :data:`REVIEWED`: each with the reason it shows no organisation's rows to someone who may not see
them. A new door, or one more use in a reviewed function, fails here until it is reviewed and listed.

The request scope itself (``TenantScope.of``: provider admins and social workers see every organisation) and the
service's background work (consumers, periodic jobs, migrations) are the walls' design, in ``bmw.servicekit``; they
are not scanned.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
SCANNED = [*sorted((ROOT / "services").glob("*/src")), ROOT / "gateway" / "src"]

#: (file, function, door) -> why the result shows no organisation's rows to whoever may not see them.
REVIEWED: dict[tuple[str, str, str], str] = {
    (
        "services/scheduling/src/bmw/scheduling/application/appointments.py",
        "busy_intervals",
        "whole_service_view",
    ): "a worker's busy time across the organisations they serve, read as start and end times only",
    (
        "services/scheduling/src/bmw/scheduling/application/calendar.py",
        "feed_calendar",
        "WHOLE_SERVICE",
    ): "a worker's own calendar feed: the feed's secret token stands for that worker, whose agenda spans organisations",
    (
        "services/signals/src/bmw/signals/application/interventions.py",
        "track_record",
        "whole_service_view",
    ): "won/lost counts per intervention code, naming no organisation",
    (
        "services/intake/src/bmw/intake/application/persons.py",
        "_erase",
        "whole_service_view",
    ): "deletes an erased person's own Idempotency-Keys (behind the caller wall, not the admin's); reads nothing",
    (
        "services/signals/src/bmw/signals/application/actions.py",
        "action_type_effects",
        "provider_wide",
    ): "the pooled effect of an action type, for provider staff only (checked before), naming no organisation",
}


class Doors(ast.NodeVisitor):
    """Finds the ways into the whole service's view, with the function they are used in."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []
        self._functions: list[str] = []
        #: Local names of the walls' doors (``from ... import WHOLE_SERVICE as EVERYONE``).
        self._names = {name: name for name in ("WHOLE_SERVICE", "whole_service_view", "TenantScope")}

    def _function(self) -> str:
        return ".".join(self._functions) or "<module>"

    def _scope(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self._functions.append(node.name)
        self.generic_visit(node)
        self._functions.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope  # noqa: N815 - NodeVisitor's names

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name in self._names.values() and alias.asname:
                self._names[alias.asname] = alias.name

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        name = self._names.get(name, name)
        if name in ("whole_service_view", "provider_wide"):
            self.found.append((self._function(), name))
        if name == "TenantScope" and any(
            keyword.arg == "all_tenants" and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
            for keyword in node.keywords
        ):
            self.found.append((self._function(), "TenantScope(all_tenants=...)"))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if self._names.get(node.id) == "WHOLE_SERVICE":
            self.found.append((self._function(), "WHOLE_SERVICE"))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "WHOLE_SERVICE":
            self.found.append((self._function(), "WHOLE_SERVICE"))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "all_tenants" in node.value:
            self.found.append((self._function(), "SQL app.all_tenants"))


def doors_in(source: str) -> list[tuple[str, str]]:
    visitor = Doors()
    visitor.visit(ast.parse(source))
    return visitor.found


def scan() -> Iterator[tuple[str, str, str]]:
    for root in SCANNED:
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.parts:
                continue  # the wall migrations define bmw_may_see (and so name app.all_tenants); they read nothing
            for function, door in doors_in(path.read_text()):
                yield (path.relative_to(ROOT).as_posix(), function, door)


def test_every_read_across_the_walls_is_reviewed() -> None:
    found = sorted(scan())
    assert len(SCANNED) == 5, f"expected four services and the gateway under {ROOT}: {SCANNED}"
    new = [use for use in found if use not in REVIEWED]
    gone = [use for use in REVIEWED if use not in found]
    twice = sorted({use for use in found if found.count(use) > 1})
    assert not new, f"reads across the tenant walls nobody reviewed (add them to REVIEWED with a reason): {new}"
    assert not gone, f"reviewed reads that are no longer there (remove them from REVIEWED): {gone}"
    assert not twice, f"a reviewed function opens the whole service's view more than once (review again): {twice}"


def test_the_scanner_sees_every_door_and_not_a_comment() -> None:
    source = """
from bmw.servicekit import walls
from bmw.servicekit.walls import WHOLE_SERVICE as EVERYONE, TenantScope, whole_service_view

class Reports:
    async def pooled(self, uow, session):
        async with uow.provider_wide() as work:  # one
            pass
        async with whole_service_view(session):
            pass

def scopes(flag):
    # whole_service_view(session) in a comment is no door
    return walls.WHOLE_SERVICE, TenantScope(all_tenants=flag), TenantScope(all_tenants=False), EVERYONE

async def raw(session):
    await session.execute("SELECT set_config('app.all_tenants', 'on', true)")
"""
    assert doors_in(source) == [
        ("Reports.pooled", "provider_wide"),
        ("Reports.pooled", "whole_service_view"),
        ("scopes", "WHOLE_SERVICE"),
        ("scopes", "TenantScope(all_tenants=...)"),
        ("scopes", "WHOLE_SERVICE"),
        ("raw", "SQL app.all_tenants"),
    ]
