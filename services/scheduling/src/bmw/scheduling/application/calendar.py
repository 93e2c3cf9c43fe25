"""Calendar feeds: a secret-URL iCalendar feed per worker and per client organisation's workshops, and one
appointment as an ``.ics`` file.

Calendar apps cannot send a bearer token, so a feed's URL carries a secret: whoever has the URL reads the
feed. Only the SHA-256 of the secret is stored (a leaked database yields no working URL); issuing a new one
replaces the old one in the same row, so the old URL stops working at once.

SEQUENCE is the appointment's revision, raised by every move and status change, so that an ``.ics`` imported
once is updated by apps that honour SEQUENCE (Outlook does). A workshop's is 0, and 1 once cancelled.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.taxonomy import Role
from bmw.scheduling.adapters.ics import CalendarEntry, appointment_entry, render_calendar, workshop_entry
from bmw.scheduling.adapters.tables import APPOINTMENTS, CALENDAR_FEEDS, WORKERS, WORKSHOPS
from bmw.scheduling.application.access import is_own_agenda, may_see_appointment
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Forbidden, NotFound
from bmw.servicekit.tenants import CLIENT_ORGANISATIONS
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import WHOLE_SERVICE, TenantScope, apply_scope

#: A feed shows the last 30 days (recent history) and the next 180 days.
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=180)
#: ``secrets.token_urlsafe(32)`` is 43 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 128
WORKER_CALENDAR_NAME = "BMW-agenda"
APPOINTMENT_CALENDAR_NAME = "BMW-afspraak"


class FeedScope(StrEnum):
    """Whose calendar a feed shows."""

    WORKER = "worker"
    TENANT_WORKSHOPS = "tenant_workshops"


@dataclass(frozen=True)
class IssuedFeed:
    """A newly issued feed; the token is shown this once and never stored."""

    scope: FeedScope
    owner_id: uuid.UUID
    token: str
    created_at: datetime

    @property
    def path(self) -> str:
        return feed_path(self.token)


def feed_path(token: str) -> str:
    """The URL path of a feed, relative to the service."""
    return f"/calendar/feeds/{token}.ics"


def token_hash(token: str) -> str:
    """What is stored of a feed token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _require_worker_feed_manager(principal: Principal, worker_id: uuid.UUID) -> None:
    if not (is_own_agenda(principal, worker_id) or principal.has_role(Role.PROVIDER_ADMIN)):
        raise Forbidden("only the social worker themself or a provider admin manages this calendar feed")


def _require_workshop_feed_manager(principal: Principal, tenant_id: uuid.UUID) -> None:
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if principal.has_role(Role.CLIENT_CONTACT) and principal.tenant_id == tenant_id:
        return
    raise Forbidden("not allowed for this client organisation")


async def _issue(session: AsyncSession, scope: FeedScope, owner_id: uuid.UUID, principal: Principal) -> IssuedFeed:
    token = secrets.token_urlsafe(32)
    # One feed per owner: a new token replaces the row's hash, so the old URL is dead once this commits
    # (also when two requests race: the unique constraint serialises them, the last one wins).
    statement = insert(CALENDAR_FEEDS).values(
        token_hash=token_hash(token), scope=scope.value, owner_id=owner_id, created_by=principal.subject
    )
    created_at = await session.scalar(
        statement.on_conflict_do_update(
            constraint="one_feed_per_owner",
            set_={
                "token_hash": statement.excluded.token_hash,
                "created_by": statement.excluded.created_by,
                "created_at": func.now(),
            },
        ).returning(CALENDAR_FEEDS.c.created_at)
    )
    return IssuedFeed(scope, owner_id, token, created_at or datetime.now(UTC))


async def _revoke(session: AsyncSession, scope: FeedScope, owner_id: uuid.UUID) -> None:
    result = await session.execute(
        delete(CALENDAR_FEEDS)
        .where(CALENDAR_FEEDS.c.scope == scope.value, CALENDAR_FEEDS.c.owner_id == owner_id)
        .returning(CALENDAR_FEEDS.c.token_hash)
    )
    if result.first() is None:
        raise NotFound("there is no calendar feed to revoke")


async def issue_worker_feed(worker_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> IssuedFeed:
    """Create or rotate the worker's feed token (the worker themself, or a provider admin)."""
    _require_worker_feed_manager(principal, worker_id)
    async with uow() as work:
        if await work.session.scalar(select(WORKERS.c.id).where(WORKERS.c.id == worker_id)) is None:
            raise NotFound("worker not found")
        issued = await _issue(work.session, FeedScope.WORKER, worker_id, principal)
        await work.commit()
    return issued


async def revoke_worker_feed(worker_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> None:
    """Revoke the worker's feed: its URL stops working."""
    _require_worker_feed_manager(principal, worker_id)
    async with uow() as work:
        await _revoke(work.session, FeedScope.WORKER, worker_id)
        await work.commit()


async def issue_workshop_feed(tenant_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> IssuedFeed:
    """Create or rotate the client organisation's workshop feed token (its client contact, or a provider admin)."""
    _require_workshop_feed_manager(principal, tenant_id)
    async with uow(tenant_id=tenant_id) as work:
        if await _organisation_name(work.session, tenant_id) is None:
            raise NotFound("client organisation not found")
        issued = await _issue(work.session, FeedScope.TENANT_WORKSHOPS, tenant_id, principal)
        await work.commit()
    return issued


async def revoke_workshop_feed(tenant_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> None:
    """Revoke the client organisation's workshop feed."""
    _require_workshop_feed_manager(principal, tenant_id)
    async with uow(tenant_id=tenant_id) as work:
        await _revoke(work.session, FeedScope.TENANT_WORKSHOPS, tenant_id)
        await work.commit()


async def _organisation_name(session: AsyncSession, tenant_id: uuid.UUID) -> str | None:
    name: str | None = await session.scalar(
        select(CLIENT_ORGANISATIONS.c.name).where(CLIENT_ORGANISATIONS.c.tenant_id == tenant_id)
    )
    return name


async def _organisation_names(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not tenant_ids:
        return {}
    rows = await session.execute(
        select(CLIENT_ORGANISATIONS.c.tenant_id, CLIENT_ORGANISATIONS.c.name).where(
            CLIENT_ORGANISATIONS.c.tenant_id.in_(tenant_ids)
        )
    )
    return {row.tenant_id: row.name for row in rows}


def _appointments_with_workshop() -> Any:
    """Appointments with the theme and place of the workshop a trainer's block belongs to (if any)."""
    return select(
        APPOINTMENTS,
        WORKSHOPS.c.theme.label("workshop_theme"),
        WORKSHOPS.c.location.label("workshop_location"),
        WORKSHOPS.c.location_detail.label("workshop_location_detail"),
    ).select_from(APPOINTMENTS.outerjoin(WORKSHOPS, WORKSHOPS.c.id == APPOINTMENTS.c.workshop_id))


def _entry(row: Row[Any], organisation: str | None) -> CalendarEntry:
    # appointment_entry reads only kind, status, times, location and walk_in: never client_ref,
    # case_id or employee_login, whatever the row carries.
    workshop_place = (row.workshop_location, row.workshop_location_detail) if row.workshop_location else None
    return appointment_entry(
        row, organisation=organisation, workshop_theme=row.workshop_theme, workshop_location=workshop_place
    )


async def _worker_calendar(session: AsyncSession, worker_id: uuid.UUID, now: datetime) -> bytes:
    rows: Sequence[Row[Any]] = (
        await session.execute(
            _appointments_with_workshop()
            .where(
                APPOINTMENTS.c.worker_id == worker_id,
                APPOINTMENTS.c.ends_at > now - FEED_PAST,
                APPOINTMENTS.c.starts_at < now + FEED_AHEAD,
            )
            .order_by(APPOINTMENTS.c.starts_at)
        )
    ).all()
    names = await _organisation_names(session, {row.tenant_id for row in rows})
    entries = [_entry(row, names.get(row.tenant_id)) for row in rows]
    return render_calendar(entries, name=WORKER_CALENDAR_NAME, now=now)


async def _workshop_calendar(session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> bytes:
    rows = (
        await session.execute(
            select(
                WORKSHOPS.c.id,
                WORKSHOPS.c.theme,
                WORKSHOPS.c.title,
                WORKSHOPS.c.location,
                WORKSHOPS.c.location_detail,
                WORKSHOPS.c.starts_at,
                WORKSHOPS.c.ends_at,
                WORKSHOPS.c.status,
            )
            .where(
                WORKSHOPS.c.tenant_id == tenant_id,
                WORKSHOPS.c.ends_at > now - FEED_PAST,
                WORKSHOPS.c.starts_at < now + FEED_AHEAD,
            )
            .order_by(WORKSHOPS.c.starts_at)
        )
    ).all()
    organisation = await _organisation_name(session, tenant_id)
    name = f"Workshops {organisation}" if organisation else "Workshops"
    return render_calendar([workshop_entry(row) for row in rows], name=name, now=now)


async def feed_calendar(token: str, *, uow: UnitOfWorkFactory, now: datetime | None = None) -> bytes:
    """The calendar behind a feed token; 404 for a token that is unknown, rotated or revoked."""
    moment = now or datetime.now(UTC)
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotFound("calendar feed not found")
    async with uow() as work:
        feed = (
            await work.session.execute(
                select(CALENDAR_FEEDS.c.scope, CALENDAR_FEEDS.c.owner_id).where(
                    CALENDAR_FEEDS.c.token_hash == token_hash(token)
                )
            )
        ).first()
        if feed is None:
            raise NotFound("calendar feed not found")
        # The feed's secret stands in for a token: its owner's reach is the transaction's tenant scope from here.
        if feed.scope == FeedScope.WORKER.value:
            await apply_scope(work.session, WHOLE_SERVICE)  # a social worker's own agenda spans organisations
            return await _worker_calendar(work.session, feed.owner_id, moment)
        await apply_scope(work.session, TenantScope(tenant_ids=frozenset({feed.owner_id})))
        return await _workshop_calendar(work.session, feed.owner_id, moment)


async def appointment_calendar(
    appointment_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory, now: datetime | None = None
) -> bytes:
    """One appointment as an ``.ics`` for whoever may see it; 404 (not 403) for anyone else."""
    moment = now or datetime.now(UTC)
    async with uow() as work:
        row = (
            await work.session.execute(_appointments_with_workshop().where(APPOINTMENTS.c.id == appointment_id))
        ).first()
        if row is None or not may_see_appointment(principal, row):
            raise NotFound("appointment not found")
        return render_calendar([_entry(row, None)], name=APPOINTMENT_CALENDAR_NAME, now=moment)
