"""Importing a client organisation's history: anonymised weekly counts from before it used this product.

A file is checked row by row and imported only when every row is right (a half-imported history would
skew every baseline without anyone noticing). The import is idempotent per unit × week: a unit-week in a
new file replaces what an earlier file said about it, and the same file twice changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, select

from bmw.contracts.taxonomy import Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError, InvalidInput, NotFound
from bmw.servicekit.tenants import CLIENT_ORGANISATIONS, org_units
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters import aggregates
from bmw.signals.adapters.tables import HISTORY_IMPORTS
from bmw.signals.domain.history import parse_history

MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class HistoryImport:
    """One accepted history file."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    rows: int
    unit_weeks: int
    first_week: date | None
    last_week: date | None
    imported_by: str
    imported_at: datetime
    repeated: bool = False


def _result(row: Row[Any], *, repeated: bool = False) -> HistoryImport:
    return HistoryImport(
        id=row.id,
        tenant_id=row.tenant_id,
        rows=row.rows,
        unit_weeks=row.unit_weeks,
        first_week=row.first_week,
        last_week=row.last_week,
        imported_by=row.imported_by,
        imported_at=row.imported_at,
        repeated=repeated,
    )


async def import_history(
    *,
    tenant_id: uuid.UUID,
    content: bytes,
    media_type: str,
    principal: Principal,
    uow: UnitOfWorkFactory,
    today: date,
) -> HistoryImport:
    """Check and store a history file for one client organisation (provider administrators only)."""
    principal.require_role(Role.PROVIDER_ADMIN)
    if len(content) > MAX_BYTES:
        raise InvalidInput(
            "the file is larger than 20 MB",
            fields=[FieldError(path="body", message="split the history into files of at most 20 MB")],
        )
    digest = hashlib.sha256(content).hexdigest()
    async with uow(tenant_id=tenant_id) as work:
        session = work.session
        known = await session.execute(
            select(CLIENT_ORGANISATIONS.c.tenant_id).where(CLIENT_ORGANISATIONS.c.tenant_id == tenant_id)
        )
        if known.first() is None:
            raise NotFound("no such client organisation")
        earlier = (
            await session.execute(
                select(HISTORY_IMPORTS).where(
                    HISTORY_IMPORTS.c.tenant_id == tenant_id, HISTORY_IMPORTS.c.content_sha256 == digest
                )
            )
        ).first()
        if earlier is not None:
            return _result(earlier, repeated=True)
        units: dict[str, uuid.UUID] = {}
        for unit in await org_units(session, tenant_id):
            units[str(unit.id)] = unit.id
            units.setdefault(unit.name.strip().lower(), unit.id)
        # Checking 100,000 rows takes seconds of CPU: off the event loop, so other requests go on meanwhile.
        parsed = await asyncio.to_thread(parse_history, content, media_type=media_type, units=units, today=today)
        if not parsed.ok:
            raise InvalidInput(
                f"the history file has {len(parsed.errors)} error(s); nothing was imported",
                fields=[
                    FieldError(
                        path=f"body.line[{error.line}]" + (f".{error.field}" if error.field else ""),
                        message=error.message,
                    )
                    for error in parsed.errors
                ],
            )
        import_id = uuid.uuid4()
        unit_weeks = sorted({(row.org_unit_id, row.week) for row in parsed.rows})
        await aggregates.replace_imported_unit_weeks(
            session,
            tenant_id=tenant_id,
            import_id=import_id,
            unit_weeks=unit_weeks,
            cells=[(row.org_unit_id, row.week, row.category.value, row.count) for row in parsed.rows],
        )
        weeks = [row.week for row in parsed.rows]
        stored = (
            await session.execute(
                HISTORY_IMPORTS.insert()
                .values(
                    id=import_id,
                    tenant_id=tenant_id,
                    content_sha256=digest,
                    media_type=media_type.split(";", 1)[0].strip().lower(),
                    rows=len(parsed.rows),
                    unit_weeks=len(unit_weeks),
                    first_week=min(weeks, default=None),
                    last_week=max(weeks, default=None),
                    imported_by=principal.subject,
                )
                .returning(HISTORY_IMPORTS)
            )
        ).one()
        await aggregates.mark_dirty(session, tenant_id)
        await work.commit()
    return _result(stored)


async def list_imports(*, tenant_id: uuid.UUID, principal: Principal, uow: UnitOfWorkFactory) -> list[HistoryImport]:
    """The history files imported for a client organisation, newest first."""
    principal.require_role(Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER)
    principal.require_tenant(tenant_id)
    async with uow(tenant_id=tenant_id) as work:
        rows = await work.session.execute(
            select(HISTORY_IMPORTS)
            .where(HISTORY_IMPORTS.c.tenant_id == tenant_id)
            .order_by(HISTORY_IMPORTS.c.imported_at.desc())
        )
        return [_result(row) for row in rows]
