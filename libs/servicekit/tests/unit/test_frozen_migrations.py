"""A migration is history: what it does may not change once written.

The wall migrations once called ``bmw.servicekit.walls`` to make their SQL, so a change to the library would have
changed what an old revision does on the next fresh database. Their statements are now written into the files; this
keeps it so, and checks that each migration's statements build the walls it declares (``OWN_WALLS``, ``CHILD_WALLS``,
``CALLER_WALLS``, which the wall walk ``libs/devstack/tests/integration/test_every_wall.py`` reads).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[4]
MIGRATIONS = sorted(ROOT.glob("services/*/src/bmw/*/migrations/versions/[0-9]*.py"))


def test_the_migrations_are_found() -> None:
    assert len({path.parts[-4] for path in MIGRATIONS}) == 4, "every service's migrations"


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda path: f"{path.parts[-4]}/{path.stem}")
def test_a_migration_imports_no_code_of_ours(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    ours = [
        node.module if isinstance(node, ast.ImportFrom) else ", ".join(alias.name for alias in node.names)
        for node in ast.walk(tree)
        if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bmw"))
        or (isinstance(node, ast.Import) and any(alias.name.startswith("bmw") for alias in node.names))
    ]
    assert ours == [], f"{path.name} imports {ours}: write the statements into the file"


def _module(path: Path) -> ModuleType:
    service = path.parts[-4]
    return importlib.import_module(f"bmw.{service}.migrations.versions.{path.stem}")


WALLED = [path for path in MIGRATIONS if "WALLS" in path.read_text()]


def test_the_wall_migrations_are_there() -> None:
    assert len(WALLED) == 8, [path.name for path in WALLED]


@pytest.mark.parametrize("path", WALLED, ids=lambda path: f"{path.parts[-4]}/{path.stem}")
def test_a_wall_migration_builds_the_walls_it_declares(path: Path) -> None:
    module = _module(path)
    upgrade = " ; ".join(module.UPGRADE)
    own = dict(getattr(module, "OWN_WALLS", {}))
    children = [table for table, _, _ in getattr(module, "CHILD_WALLS", [])]
    callers = dict(getattr(module, "CALLER_WALLS", {}))
    for table in [*own, *children, *callers]:
        for statement in (f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY", f"ALTER TABLE {table} FORCE ROW LEVEL"):
            assert statement in upgrade, f"{path.name}: {statement!r} missing"
        dropped = [s for s in module.DOWNGRADE if s.startswith("DROP POLICY IF EXISTS") and s.endswith(f" ON {table}")]
        assert dropped, f"{path.name}: the downgrade leaves the wall on {table}"
    for table, column in own.items():
        policy = (
            f"CREATE POLICY tenant_wall ON {table} USING (bmw_may_see({column})) WITH CHECK (bmw_may_see({column}))"
        )
        assert policy in upgrade, f"{path.name}: no tenant wall on {table}.{column}"
    for table in children:
        assert f"CREATE POLICY tenant_wall ON {table} USING (bmw_may_see(NULL) OR EXISTS" in upgrade, table
    for table, column in callers.items():
        policy = f"CREATE POLICY caller_wall ON {table} USING (bmw_is_caller({column}))"
        assert policy in upgrade, f"{path.name}: no caller wall on {table}.{column}"
