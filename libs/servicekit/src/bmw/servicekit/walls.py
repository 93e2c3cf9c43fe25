"""Tenant walls in PostgreSQL: row-level security that holds even where application code forgets its filter.

Every transaction of a unit of work carries a *tenant scope* in two transaction-local settings (``set_config(...,
true)``, so a pooled connection never carries one request's scope into the next):

- ``app.all_tenants`` = ``on`` for the provider's own view (provider admins, social workers, and the service's
  background work: consumers, periodic jobs, migrations);
- ``app.tenant_ids`` = ``{uuid,...}``, the organisations the caller may see otherwise (its own, or an account
  manager's portfolio);
- ``app.caller`` = the verified caller's token subject, empty for the service's own work.

A table behind a wall has ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` and one policy, ``tenant_wall``, that
admits a row only when ``bmw_may_see(tenant_id)``: so the table's owner is held by it too, and a query without a
``WHERE tenant_id = ...`` still sees only the caller's organisations. A row of a table without its own tenant column
(an invoice line) is admitted when its parent row is visible, through the parent's own wall. The stored answers of
``Idempotency-Key`` belong to a caller, not an organisation: their wall, ``caller_wall``, admits a caller's own keys
only, and every key to the service's own work (retention, erasure).

Where the scope comes from: an HTTP request starts with no organisation at all (``FlowContextMiddleware``); the
verified caller's token widens it (``get_principal``); a unit of work opened for one tenant narrows it to that one,
if the caller may see it. Code outside a request (consumers, jobs) works with the service's whole data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.taxonomy import TENANT_BOUND_ROLES, Role
from bmw.servicekit.auth import Principal

#: The SQL function every policy calls; created by the first migration that builds a wall.
MAY_SEE_FUNCTION = """
CREATE OR REPLACE FUNCTION bmw_may_see(tenant uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(current_setting('app.all_tenants', true), '') = 'on'
      OR tenant = ANY (coalesce(nullif(current_setting('app.tenant_ids', true), ''), '{}')::uuid[])
$$
"""


#: The SQL function of the caller walls: a caller's own rows; every row to the service's own work (no caller, whole
#: service); nothing to a request whose caller is not known yet.
IS_CALLER_FUNCTION = """
CREATE OR REPLACE FUNCTION bmw_is_caller(subject text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN coalesce(current_setting('app.caller', true), '') = ''
              THEN coalesce(current_setting('app.all_tenants', true), '') = 'on'
              ELSE subject = current_setting('app.caller', true) END
$$
"""

#: One statement puts a scope on the current transaction (transaction-local settings).
SCOPE_STATEMENT = (
    "SELECT set_config('app.all_tenants', :all_tenants, true), set_config('app.tenant_ids', :tenant_ids, true), "
    "set_config('app.caller', :caller, true)"
)


IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class TenantScope:
    """Which client organisations' rows a transaction may touch."""

    all_tenants: bool = False
    tenant_ids: frozenset[uuid.UUID] = frozenset()
    #: The verified caller's token subject; None for the service's own work (consumers, jobs, migrations).
    caller: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> TenantScope:
        """What the caller's roles reach, as ``Principal.may_act_for`` says."""
        if principal.has_role(Role.PROVIDER_ADMIN) or (
            principal.has_role(Role.SOCIAL_WORKER) and principal.serves is None
        ):
            return cls(all_tenants=True, caller=principal.subject)
        reach: set[uuid.UUID] = set()
        if principal.has_role(Role.SOCIAL_WORKER) and principal.serves is not None:
            reach |= principal.serves  # the organisations they serve
        if principal.has_role(Role.ACCOUNT_MANAGER):
            reach |= principal.portfolio
        if principal.tenant_id is not None and principal.roles & TENANT_BOUND_ROLES:
            reach.add(principal.tenant_id)
        return cls(tenant_ids=frozenset(reach), caller=principal.subject)

    def narrowed_to(self, tenant_id: uuid.UUID) -> TenantScope:
        """Only ``tenant_id``, if this scope reaches it; else nothing (the caller stays the same)."""
        if self.all_tenants or tenant_id in self.tenant_ids:
            return TenantScope(tenant_ids=frozenset({tenant_id}), caller=self.caller)
        return TenantScope(caller=self.caller)

    def settings(self) -> dict[str, str]:
        """The values of ``app.all_tenants``, ``app.tenant_ids`` and ``app.caller`` for this scope."""
        ids = ",".join(sorted(str(tenant) for tenant in self.tenant_ids))
        return {
            "all_tenants": "on" if self.all_tenants else "off",
            "tenant_ids": "{" + ids + "}",
            "caller": self.caller or "",
        }


#: The service's whole data: background work, and the provider's own staff.
WHOLE_SERVICE = TenantScope(all_tenants=True)
#: No organisation: a request before its caller is known.
NO_TENANT = TenantScope()

_scope: ContextVar[TenantScope] = ContextVar("bmw_tenant_scope", default=WHOLE_SERVICE)


def current_scope() -> TenantScope:
    """The scope units of work opened now get."""
    return _scope.get()


def set_scope(scope: TenantScope) -> None:
    """Set the scope for the rest of the current task (an HTTP request)."""
    _scope.set(scope)


@contextmanager
def scoped(scope: TenantScope) -> Iterator[None]:
    """Work inside ``scope`` for the duration of the block (tests, one-off scripts)."""
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


async def apply_scope(session: AsyncSession, scope: TenantScope) -> None:
    """Put ``scope`` on the session's current transaction (transaction-local: it ends with the transaction)."""
    await session.execute(text(SCOPE_STATEMENT), scope.settings())


@asynccontextmanager
async def whole_service_view(session: AsyncSession) -> AsyncIterator[None]:
    """Inside a transaction, read every organisation's rows for an aggregate the provider computes across its
    clients (a catalogue's track record), then return to the transaction's own scope. Only for results that show no
    organisation's rows; each use says why."""
    previous = (
        await session.execute(
            text(
                "SELECT current_setting('app.all_tenants', true) AS all_tenants, "
                "current_setting('app.tenant_ids', true) AS tenant_ids, current_setting('app.caller', true) AS caller"
            )
        )
    ).one()
    await apply_scope(session, WHOLE_SERVICE)
    try:
        yield
    finally:
        await session.execute(
            text(SCOPE_STATEMENT),
            {
                "all_tenants": previous.all_tenants or "off",
                "tenant_ids": previous.tenant_ids or "{}",
                "caller": previous.caller or "",
            },
        )


def _name(identifier: str) -> str:
    """A table or column name of a migration, checked to be a plain SQL identifier (it goes into DDL as text)."""
    if not IDENTIFIER.fullmatch(identifier):
        raise ValueError(f"not a plain SQL identifier: {identifier!r}")
    return identifier


def wall_statements(table: str, *, column: str = "tenant_id") -> list[str]:
    """The DDL that puts ``table`` behind a wall on its own tenant column (``id`` for the organisations table)."""
    table, column = _name(table), _name(column)
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_wall ON {table} USING (bmw_may_see({column})) WITH CHECK (bmw_may_see({column}))",
    ]


def child_wall_statements(table: str, *, parent: str, key: str, parent_key: str = "id") -> list[str]:
    """The DDL that puts ``table`` behind its parent's wall: a row is visible when its parent row is (or, for the
    whole service's view, always: also a row whose ``key`` is null)."""
    table, parent, key, parent_key = _name(table), _name(parent), _name(key), _name(parent_key)
    # bmw_may_see(NULL) is true only for the whole service's view: it also admits rows without a parent.
    parent_visible = f"EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_key} = {table}.{key})"  # noqa: S608 - checked
    visible = f"bmw_may_see(NULL) OR {parent_visible}"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_wall ON {table} USING ({visible}) WITH CHECK ({visible})",
    ]


def caller_wall_statements(table: str, *, column: str = "subject") -> list[str]:
    """The DDL that puts ``table`` behind a caller wall on its token-subject column (``bmw_is_caller``, which the
    statements (re)create)."""
    table, column = _name(table), _name(column)
    return [
        IS_CALLER_FUNCTION,
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY caller_wall ON {table} USING (bmw_is_caller({column})) WITH CHECK (bmw_is_caller({column}))",
    ]


def drop_wall_statements(table: str, *, policy: str = "tenant_wall") -> list[str]:
    """Undo ``wall_statements`` / ``child_wall_statements`` (downgrades); ``caller_wall_statements`` with
    ``policy="caller_wall"`` (its function stays while another table's wall may use it)."""
    table, policy = _name(table), _name(policy)
    return [
        f"DROP POLICY IF EXISTS {policy} ON {table}",
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]


def wall_migration(
    own: Mapping[str, str],
    children: Sequence[tuple[str, str, str]] = (),
    *,
    callers: Mapping[str, str] | None = None,
    first: bool = True,
) -> tuple[list[str], list[str]]:
    """The upgrade and downgrade statements of a migration that puts a service's tables behind walls: ``own`` maps a
    table to its tenant column, ``children`` are ``(table, parent, key)``, ``callers`` maps a table to its
    token-subject column. The upgrade (re)creates ``bmw_may_see``; the downgrade drops it only in the ``first``
    migration that built walls (a later one leaves it to the walls before it).

    For writing a new migration: write the statements into its file as lists (``UPGRADE``, ``DOWNGRADE``) rather than
    calling this from it, so that a later change here cannot change what the migration did
    (``libs/servicekit/tests/unit/test_frozen_migrations.py`` holds every migration to that)."""
    upgrade = [MAY_SEE_FUNCTION]
    for table, column in own.items():
        upgrade += wall_statements(table, column=column)
    for table, parent, key in children:
        upgrade += child_wall_statements(table, parent=parent, key=key)
    for table, column in (callers or {}).items():
        upgrade += caller_wall_statements(table, column=column)
    walled = [*own, *(child for child, _, _ in children)]
    downgrade = [statement for table in walled for statement in drop_wall_statements(table)]
    for table in callers or {}:
        downgrade += drop_wall_statements(table, policy="caller_wall")
    if callers:
        downgrade.append("DROP FUNCTION IF EXISTS bmw_is_caller(text)")
    if first:
        downgrade.append("DROP FUNCTION IF EXISTS bmw_may_see(uuid)")
    return upgrade, downgrade
