"""``Idempotency-Key``: a client may repeat a creating request safely and gets the first answer back.

A service keeps one table of keys (per caller subject) in its own database. :func:`claim` runs in the same
transaction as the request's effects: the first request with a key inserts it and goes on; a repeat finds
the stored response (or, while the first is still in flight, waits on its row lock and then finds it). The
same key with a different body is refused, so a client bug cannot silently return someone else's answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.servicekit.errors import FieldError, InvalidInput

#: The request header, for FastAPI routes that create something.
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=200,
        description="Repeat a request safely: the same key with the same body returns the first answer "
        "instead of acting twice (kept for 7 days).",
    ),
]


def idempotency_table(metadata: MetaData) -> Table:
    """The keys a service has seen, with the response each one got."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("subject", Text, primary_key=True),
        Column("key", Text, primary_key=True),
        Column("request_hash", Text, nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


@dataclass(frozen=True)
class Idempotency:
    """An ``Idempotency-Key`` of one caller and the hash of the request it came with."""

    subject: str
    key: str
    request_hash: str

    @staticmethod
    def of(subject: str, key: str, body: Any) -> Idempotency:
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        return Idempotency(subject=subject, key=key, request_hash=digest)

    @staticmethod
    def optional(subject: str, key: str | None, body: Any) -> Idempotency | None:
        return Idempotency.of(subject, key, body) if key else None


async def claim(session: AsyncSession, table: Table, idempotency: Idempotency) -> dict[str, Any] | None:
    """None when this request is the first with its key; else the stored response (same body only)."""
    inserted = await session.execute(
        insert(table)
        .values(
            subject=idempotency.subject,
            key=idempotency.key,
            request_hash=idempotency.request_hash,
            status_code=0,
            response={},
        )
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if inserted.first() is not None:
        return None
    row = (
        await session.execute(
            select(table).where(table.c.subject == idempotency.subject, table.c.key == idempotency.key)
        )
    ).one()
    if row.request_hash != idempotency.request_hash:
        raise InvalidInput(
            "this Idempotency-Key was used with a different request",
            fields=[FieldError(path="header.Idempotency-Key", message="reused with a different body")],
        )
    response: dict[str, Any] = row.response
    return response


#: How long a key is remembered: a client retrying later than this books anew.
KEY_RETENTION = timedelta(days=7)


async def forget_old_keys(session: AsyncSession, table: Table, *, now: datetime | None = None) -> int:
    """Retention: drop keys older than :data:`KEY_RETENTION`; returns how many."""
    moment = now or datetime.now(UTC)
    result = await session.execute(
        delete(table).where(table.c.created_at < moment - KEY_RETENTION).returning(table.c.key)
    )
    return len(result.all())


async def forget_callers(session: AsyncSession, table: Table, subjects: set[str]) -> int:
    """Erasure: drop every key of these callers (an erased person's own login); returns how many. Behind the caller
    wall this reaches other callers' keys only in the service's own view (a job, a consumer, ``whole_service_view``)."""
    if not subjects:
        return 0
    result = await session.execute(delete(table).where(table.c.subject.in_(sorted(subjects))).returning(table.c.key))
    return len(result.all())


async def remember(
    session: AsyncSession, table: Table, idempotency: Idempotency, status_code: int, response: dict[str, Any]
) -> None:
    """Store the response of the first request, in the transaction that made it."""
    await session.execute(
        update(table)
        .where(table.c.subject == idempotency.subject, table.c.key == idempotency.key)
        .values(status_code=status_code, response=response)
    )
