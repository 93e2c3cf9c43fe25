"""Every table of every service: behind a tenant wall, or on a reviewed list of tables that hold no organisation's rows.

Each service's schema is migrated into a fresh database of the session's PostgreSQL, exactly as production migrates
it; then, from ``pg_catalog``:

- every table with a ``tenant_id`` column, or named by a wall migration (``OWN_WALLS``, ``CHILD_WALLS``), has
  ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` and its ``tenant_wall`` policy; a table of a caller's own rows
  (``CALLER_WALLS``: the stored answers of ``Idempotency-Key``) has its ``caller_wall`` policy;
- the tables without a wall are exactly :data:`UNWALLED`, each with the reason it holds no organisation's rows. A new
  table fails this test until someone decides which it is.

Then every walled table gets a row of organisation A and one of organisation B, and one of no organisation where the
tenant column may be null (the provider's own rows), generated from the table's columns by a superuser with foreign
keys off (a child table's row hangs under a parent row of its organisation; :data:`SEED_OVERRIDES` names the values
a CHECK needs). Then the service's own role (``bmw_<service>_app``, which owns nothing) proves the wall with every
application filter gone: with no scope (a request that has not authenticated) it sees, updates and deletes nothing;
with scope {A} it sees and updates exactly A's rows, and can neither move one of them to B nor write a row of B; the
whole service's view sees them all. A caller wall is proven the same way with two callers' rows: a caller sees and
changes its own rows only, whatever organisations it reaches; the service's own work sees them all.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from bmw.devstack.infra import libpq_url, service_role
from bmw.devstack.pytest_plugin import TestInfra
from bmw.devstack.topology import SERVICES
from bmw.servicekit.migrations import upgrade
from bmw.servicekit.walls import WHOLE_SERVICE, TenantScope

pytestmark = pytest.mark.integration

#: Tables deliberately without a wall: (service, table) -> why no client organisation's rows are in it.
UNWALLED: dict[tuple[str, str], str] = {
    **{(service, "alembic_version"): "the schema's revision number" for service in SERVICES},
    ("scheduling", "workers"): "the provider's social workers (staff data); tenant_ids lists whom they serve",
    ("scheduling", "absences"): "a worker's leave and sickness codes: staff data, no client organisation",
    ("scheduling", "extra_hours"): "a worker's extra working hours: staff data, no client organisation",
    ("scheduling", "calendar_feeds"): "found by the hash of a secret feed token before any caller is known; names a "
    "worker or an organisation (owner_id) but holds none of its data",
    ("billing", "invoice_numbers"): "the gapless invoice number counter per year: the provider's own",
    ("signals", "interventions"): "the provider's catalogue of interventions, the same for every organisation",
}

#: Values a generated row needs to pass a table's CHECK constraints that a column-by-column value cannot (a sum, a
#: state that requires other columns): (service, table) -> column values.
SEED_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("billing", "invoices"): {"net_cents": 100, "vat_cents": 21, "gross_cents": 121},
    ("billing", "usage_records"): {"status": "held", "contract_id": None},  # held: no contract, no price yet
    ("billing", "contract_thresholds_reached"): {"percent": 80},
    ("billing", "organisations"): {"k_anonymity": 5},
}

#: Tables whose trigger allows one kind of UPDATE only: the UPDATE that shows a scope's reach, and the error that
#: stops moving a row to another organisation before the wall would.
REACH_ASSIGNMENTS: dict[tuple[str, str], sql.Composable] = {
    ("intake", "access_log"): sql.SQL("person_ref = 'erased-wall-test'"),  # erasure's pseudonymisation
}
APPEND_ONLY: dict[tuple[str, str], tuple[type[Exception], str]] = {
    ("intake", "access_log"): (psycopg.errors.RaiseException, "append-only"),
}

TENANT_A = uuid.UUID("aaaaaaaa-0000-4000-8000-000000000001")
TENANT_B = uuid.UUID("bbbbbbbb-0000-4000-8000-000000000002")


@dataclass(frozen=True)
class Wall:
    """How a table is walled: on its own tenant column, or through a parent row (``parent``, ``key``)."""

    table: str
    column: str | None = None
    parent: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    has_default: bool
    type_kind: str
    type_oid: int


# -- what the migrations and the catalogue say --------------------------------------------------------------------


def declared_walls(service: str) -> dict[str, Wall]:
    """The walls the service's migrations declare (``OWN_WALLS``, ``CHILD_WALLS`` of any revision)."""
    package = importlib.import_module(f"bmw.{service}.migrations.versions")
    walls: dict[str, Wall] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for table, column in getattr(module, "OWN_WALLS", {}).items():
            walls[table] = Wall(table, column=column)
        for table, parent, key in getattr(module, "CHILD_WALLS", []):
            walls[table] = Wall(table, parent=parent, key=key)
    return walls


def declared_caller_walls(service: str) -> dict[str, str]:
    """The caller walls the service's migrations declare (``CALLER_WALLS``): table -> its token-subject column."""
    package = importlib.import_module(f"bmw.{service}.migrations.versions")
    walls: dict[str, str] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        walls.update(getattr(module, "CALLER_WALLS", {}))
    return walls


@dataclass(frozen=True)
class TableState:
    name: str
    rls: bool
    forced: bool
    policies: tuple[str, ...]
    has_tenant_id: bool


def catalogue(conn: psycopg.Connection[Any]) -> dict[str, TableState]:
    rows = conn.execute(
        """
        SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
               coalesce((SELECT array_agg(p.polname ORDER BY p.polname) FROM pg_policy p WHERE p.polrelid = c.oid),
                        '{}'),
               EXISTS (SELECT 1 FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        """
    ).fetchall()
    return {
        name: TableState(name, rls, forced, tuple(policies), tenant) for name, rls, forced, policies, tenant in rows
    }


def columns(conn: psycopg.Connection[Any], table: str) -> list[Column]:
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', t.typtype, a.atttypid
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (f"public.{table}",),
    ).fetchall()
    return [Column(*row) for row in rows]


#: ``CHECK ((kind = ANY (ARRAY['a'::text, 'b'::text])))``, PostgreSQL's rendering of ``kind IN ('a', 'b')``.
IN_LIST = re.compile(r"^CHECK \(\(\(?(\w+)\)?(?:::[\w ]+)? = ANY \(\(?ARRAY\[(.+?)\]")


def check_literals(conn: psycopg.Connection[Any], table: str) -> dict[str, list[str]]:
    """Per column, the values its ``IN (...)`` CHECK constraint allows: the first one passes."""
    found: dict[str, list[str]] = {}
    for (definition,) in conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'",
        (f"public.{table}",),
    ):
        if match := IN_LIST.match(definition):
            found[match[1]] = [value.replace("''", "'") for value in re.findall(r"'((?:[^']|'')*)'", match[2])]
    return found


# -- rows ---------------------------------------------------------------------------------------------------------


def value_for(conn: psycopg.Connection[Any], column: Column, position: int, allowed: dict[str, list[str]]) -> Any:
    """A value that satisfies the column's type (and its CHECK's literals, if any)."""
    if allowed.get(column.name):
        return allowed[column.name][0]
    if column.type_kind == "e":
        return conn.execute(
            "SELECT enumlabel FROM pg_enum WHERE enumtypid = %s ORDER BY enumsortorder LIMIT 1", (column.type_oid,)
        ).fetchone()[0]  # type: ignore[index]
    base = column.type
    if base.endswith("[]"):
        return []
    if base == "uuid":
        return uuid.uuid4()
    # 1 passes the usual checks (> 0, >= 0, BETWEEN 1 AND n); unique keys hold a uuid or the tenant besides.
    if base in ("smallint", "integer", "bigint"):
        return 1
    if base.startswith("numeric"):
        return Decimal(1)
    if base in ("double precision", "real"):
        return 1.0
    if base == "boolean":
        return False
    if base == "date":
        return date(2026, 1, 5) + timedelta(days=position)
    if base.startswith("timestamp"):
        return datetime(2026, 1, 5, 9, tzinfo=UTC) + timedelta(hours=position)
    if base.startswith("time"):
        return f"{9 + position % 10:02d}:00"
    if base == "interval":
        return timedelta(hours=1)
    if base in ("json", "jsonb"):
        return Jsonb({})
    if base == "bytea":
        return b"\x00" * 32
    if base.startswith("character varying") or base in ("text", "character", "citext") or base.startswith("char"):
        return f"w{uuid.uuid4().hex[:8]}"
    raise AssertionError(f"no value generator for {column.name} {base}")


class Seeder:
    """Inserts minimal valid rows as a superuser with triggers (so foreign keys) off: ``session_replication_role``."""

    def __init__(self, conn: psycopg.Connection[Any], service: str, walls: dict[str, Wall]) -> None:
        self.conn = conn
        self.service = service
        self.walls = walls
        self._columns: dict[str, list[Column]] = {}
        self._rows: dict[tuple[str, uuid.UUID], dict[str, Any]] = {}
        self._allowed: dict[str, dict[str, list[str]]] = {}

    def insert(self, table: str, fixed: dict[str, Any]) -> dict[str, Any]:
        if table not in self._columns:
            self._columns[table] = columns(self.conn, table)
            self._allowed[table] = check_literals(self.conn, table)
        fixed = {**SEED_OVERRIDES.get((self.service, table), {}), **fixed}
        values: dict[str, Any] = {}
        for position, column in enumerate(self._columns[table]):
            if column.name in fixed:
                values[column.name] = fixed[column.name]
            elif column.not_null and not column.has_default:
                values[column.name] = value_for(self.conn, column, position, self._allowed[table])
        names = list(values)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING *").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() * len(names)),
        )
        with self.conn.cursor() as cursor:
            cursor.execute(query, [values[name] for name in names])
            row = cursor.fetchone()
            assert row is not None and cursor.description is not None
            return {d.name: v for d, v in zip(cursor.description, row, strict=True)}

    def nullable(self, table: str, column: str) -> bool:
        """Whether ``column`` may be null: a row of no organisation, which only the whole service's view sees."""
        return not next(c for c in columns(self.conn, table) if c.name == column).not_null

    def row_of(self, wall: Wall, tenant: uuid.UUID) -> dict[str, Any]:
        """The row of ``tenant`` in ``wall.table``, inserted once (a child's parent row first, shared by children)."""
        if (wall.table, tenant) not in self._rows:
            if wall.column is not None:
                row = self.insert(wall.table, {wall.column: tenant})
            else:
                assert wall.parent is not None and wall.key is not None
                parent = self.row_of(self.walls[wall.parent], tenant)
                row = self.insert(wall.table, {wall.key: parent["id"]})
            self._rows[(wall.table, tenant)] = row
        return self._rows[(wall.table, tenant)]


# -- the scope, as the units of work set it ------------------------------------------------------------------------


@dataclass
class AppRole:
    """The service's own role, putting a scope on each transaction as ``bmw.servicekit.walls.apply_scope`` does."""

    conn: psycopg.Connection[Any]

    @contextlib.contextmanager
    def scoped(self, scope: TenantScope | None) -> Iterator[psycopg.Connection[Any]]:
        """A transaction (always rolled back) with ``scope`` on it; ``None`` sets nothing at all."""
        with self.conn.transaction(force_rollback=True):
            if scope is not None:
                values = scope.settings()
                self.conn.execute(
                    "SELECT set_config('app.all_tenants', %s, true), set_config('app.tenant_ids', %s, true), "
                    "set_config('app.caller', %s, true)",
                    (values["all_tenants"], values["tenant_ids"], values["caller"]),
                )
            yield self.conn


def owner_count(conn: psycopg.Connection[Any], wall: Wall, walls: dict[str, Wall], tenant: uuid.UUID) -> int:
    """How many rows of ``tenant`` the table holds, as the superuser counts them (walls do not hold it)."""
    if wall.column is not None:
        query = sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
            sql.Identifier(wall.table), sql.Identifier(wall.column)
        )
    else:
        assert wall.parent is not None and wall.key is not None
        parent = walls[wall.parent]
        assert parent.column is not None, "a child of a child: extend owner_count"
        query = sql.SQL("SELECT count(*) FROM {} c JOIN {} p ON p.id = c.{} WHERE p.{} = %s").format(
            sql.Identifier(wall.table),
            sql.Identifier(wall.parent),
            sql.Identifier(wall.key),
            sql.Identifier(parent.column),
        )
    row = conn.execute(query, (tenant,)).fetchone()
    assert row is not None
    return int(row[0])


def count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


# -- the test -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_every_table_is_walled_or_reviewed_and_every_wall_holds(infra: TestInfra, service: str) -> None:
    database = f"{service}_walls"
    owner_url = infra.database_url(database, fresh=True)
    upgrade(f"bmw.{service}.migrations", owner_url)
    app_url = libpq_url(infra.app_database_url(database))
    admin = urlsplit(libpq_url(infra.postgres_admin_url))
    superuser_url = urlunsplit((admin.scheme, admin.netloc, f"/{service_role(database)}", admin.query, ""))

    declared = declared_walls(service)
    callers = declared_caller_walls(service)
    with psycopg.connect(superuser_url, autocommit=True) as su:
        tables = catalogue(su)
        # 1. The catalogue: every tenant's table walled; every other table reviewed.
        reviewed = {table for svc, table in UNWALLED if svc == service}
        assert not reviewed & (set(declared) | set(callers)), f"{service}: tables both walled and on UNWALLED"
        assert not set(declared) & set(callers), f"{service}: tables behind both a tenant and a caller wall"
        assert set(callers) <= set(tables), f"{service}: caller walls declared for missing tables"
        for table in callers:
            state = tables[table]
            assert state.rls and state.forced and state.policies == ("caller_wall",), f"{service}: {state}"
        must_be_walled = ({name for name, state in tables.items() if state.has_tenant_id} - reviewed) | set(declared)
        assert set(declared) <= set(tables), f"{service}: walls declared for missing tables"
        broken = {
            name: tables[name]
            for name in must_be_walled
            if not (tables[name].rls and tables[name].forced and "tenant_wall" in tables[name].policies)
        }
        assert not broken, f"{service}: tables that hold organisations' rows without a complete wall: {broken}"
        undeclared = must_be_walled - set(declared)
        assert not undeclared, f"{service}: walled tables no wall migration names (give them a Wall): {undeclared}"
        unwalled = {name for name, state in tables.items() if not state.rls}
        assert unwalled == reviewed, (
            f"{service}: tables without a wall differ from the reviewed list UNWALLED: "
            f"new {sorted(unwalled - reviewed)}, walled or gone {sorted(reviewed - unwalled)}"
        )

        # 2. Seed one row of A and one of B in every walled table.
        su.execute("SET session_replication_role = replica")
        seeder = Seeder(su, service, declared)
        providers_own: set[str] = set()
        for wall in declared.values():
            for tenant in (TENANT_A, TENANT_B):
                seeder.row_of(wall, tenant)
            if wall.column is not None and seeder.nullable(wall.table, wall.column):
                seeder.insert(wall.table, {wall.column: None})
                providers_own.add(wall.table)
        for table, column in callers.items():
            for subject in CALLERS:
                seeder.insert(table, {column: subject})
        su.execute("SET session_replication_role = DEFAULT")
        expected = {
            table: {tenant: owner_count(su, wall, declared, tenant) for tenant in (TENANT_A, TENANT_B)}
            for table, wall in declared.items()
        }
        totals = {table: count(su, table) for table in declared}

    # 3. The service's own role, with no application filter at all.
    with psycopg.connect(app_url) as conn:
        role = conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
        assert role == (False, False), f"{service}: the app role may bypass the walls: {role}"
        owned = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = current_user"
        ).fetchone()
        assert owned == (0,), f"{service}: the app role owns tables, so FORCE would be its to undo"
        app = AppRole(conn)
        for table, wall in declared.items():
            a, b = expected[table][TENANT_A], expected[table][TENANT_B]
            assert a == b == 1, f"{service}.{table}: not seeded once per organisation ({a}, {b})"
            assert totals[table] == a + b + (table in providers_own), f"{service}.{table}: unexpected rows"
            ident = sql.Identifier(table)
            for scope in (None, TenantScope()):
                with app.scoped(scope) as c:
                    assert count(c, table) == 0, f"{service}.{table}: visible without a scope ({scope})"
                    deleted = c.execute(sql.SQL("DELETE FROM {}").format(ident)).rowcount
                    assert deleted == 0, f"{service}.{table}: deletable without a scope"
                    assert reach(c, service, table, wall) == 0, f"{service}.{table}: updatable without a scope"
            only_a = TenantScope(tenant_ids=frozenset({TENANT_A}))
            with app.scoped(only_a) as c:
                assert count(c, table) == a, f"{service}.{table}: scope {{A}} sees {count(c, table)} rows, A has {a}"
                if wall.column is not None:
                    foreign = c.execute(
                        sql.SQL("SELECT count(*) FROM {} WHERE {} IS DISTINCT FROM %s").format(
                            ident, sql.Identifier(wall.column)
                        ),
                        (TENANT_A,),
                    ).fetchone()
                    assert foreign == (0,), f"{service}.{table}: scope {{A}} sees another organisation's rows"
            with app.scoped(only_a) as c:
                reached = reach(c, service, table, wall)
                assert reached == a, f"{service}.{table}: scope {{A}} updated {reached} rows, A has {a}"
            assert_cannot_write_for_b(app, service, table, wall, declared, only_a)
            with app.scoped(WHOLE_SERVICE) as c:
                assert count(c, table) == totals[table], f"{service}.{table}: the whole service's view is short"
        for table, column in callers.items():
            assert_caller_wall_holds(app, service, table, column)


#: Two callers' token subjects, for the caller walls.
CALLERS = ("alice-wall-test", "bob-wall-test")


def assert_caller_wall_holds(app: AppRole, service: str, table: str, column: str) -> None:
    """A caller sees and changes its own rows only, whatever organisations its scope reaches (a provider admin's
    too); a request whose caller is not known sees nothing; the service's own work sees every caller's rows."""
    ident, subject = sql.Identifier(table), sql.Identifier(column)
    alice, bob = CALLERS
    for scope in (None, TenantScope(), TenantScope(tenant_ids=frozenset({TENANT_A}))):
        with app.scoped(scope) as c:
            assert count(c, table) == 0, f"{service}.{table}: visible without a caller ({scope})"
            assert c.execute(sql.SQL("DELETE FROM {}").format(ident)).rowcount == 0, f"{service}.{table}: deletable"
    for scope in (
        TenantScope(tenant_ids=frozenset({TENANT_A}), caller=alice),
        TenantScope(all_tenants=True, caller=alice),
    ):
        with app.scoped(scope) as c:
            seen = [row[0] for row in c.execute(sql.SQL("SELECT {} FROM {}").format(subject, ident))]
            assert seen == [alice], f"{service}.{table}: {scope} sees {seen}"
            updated = c.execute(sql.SQL("UPDATE {} SET {} = {}").format(ident, subject, subject)).rowcount
            assert updated == 1, f"{service}.{table}: {scope} updated {updated} rows"
        with app.scoped(scope) as c, pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            c.execute(sql.SQL("UPDATE {} SET {} = %s").format(ident, subject), (bob,))
        with app.scoped(scope) as c, pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            c.execute(copy_of_a_row(c, table, column), (bob,))
    with app.scoped(WHOLE_SERVICE) as c:
        assert count(c, table) == len(CALLERS), f"{service}.{table}: the service's own work sees every caller's rows"


def reach(conn: psycopg.Connection[Any], service: str, table: str, wall: Wall) -> int:
    """How many rows an UPDATE without a WHERE touches (UPDATE and DELETE share the wall's USING; an UPDATE that
    changes nothing is not stopped by a foreign key, as a DELETE of a parent row would be)."""
    column = wall.column or wall.key
    assert column is not None
    assignment = REACH_ASSIGNMENTS.get(
        (service, table), sql.SQL("{} = {}").format(sql.Identifier(column), sql.Identifier(column))
    )
    return conn.execute(sql.SQL("UPDATE {} SET {}").format(sql.Identifier(table), assignment)).rowcount


def assert_cannot_write_for_b(
    app: AppRole, service: str, table: str, wall: Wall, walls: dict[str, Wall], scope: TenantScope
) -> None:
    """Under scope {A}: moving A's row to B, and writing a new row of B (a copy of A's), both hit the wall."""
    ident = sql.Identifier(table)
    if wall.column is not None:
        column, target = wall.column, TENANT_B
    else:
        assert wall.parent is not None and wall.key is not None
        parent = walls[wall.parent]
        assert parent.column is not None
        with app.scoped(WHOLE_SERVICE) as c:
            row = c.execute(
                sql.SQL("SELECT id FROM {} WHERE {} = %s LIMIT 1").format(
                    sql.Identifier(wall.parent), sql.Identifier(parent.column)
                ),
                (TENANT_B,),
            ).fetchone()
        assert row is not None
        column, target = wall.key, row[0]
    # An append-only table's own trigger (a BEFORE trigger, so before the wall's check) refuses the move first.
    refusal = APPEND_ONLY.get((service, table), (psycopg.errors.InsufficientPrivilege, "row-level security"))
    with app.scoped(scope) as c, pytest.raises(refusal[0], match=refusal[1]):
        c.execute(sql.SQL("UPDATE {} SET {} = %s").format(ident, sql.Identifier(column)), (target,))
    with app.scoped(scope) as c, pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        c.execute(copy_of_a_row(c, table, column), (target,))


def copy_of_a_row(conn: psycopg.Connection[Any], table: str, column: str) -> sql.Composed:
    """``INSERT`` of a copy of one visible row of ``table`` with ``column`` set to the statement's one parameter."""
    names = [
        name
        for (name,) in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
            "AND attgenerated = '' AND attidentity = ''",
            (f"public.{table}",),
        )
    ]
    chosen = sql.SQL(", ").join(sql.Placeholder() if name == column else sql.Identifier(name) for name in names)
    ident = sql.Identifier(table)
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} LIMIT 1").format(
        ident, sql.SQL(", ").join(map(sql.Identifier, names)), chosen, ident
    )
