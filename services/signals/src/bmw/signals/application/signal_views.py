"""Reading signals: what each audience may see of them.

- **Provider staff** (provider admins; social workers, who may act for every client organisation) see
  everything: counts, the test result, the provider-internal explanation and the review.
- **Account managers** see the signals of their portfolio once a social worker confirmed them (or when they
  need no review: contracts, capacity): kind, unit, weeks, method, a strength band and the count-free
  summary. Never a count, not even of a cell above *k*, so that nothing they pass on can be subtracted
  from another number to reveal a small cell.
- **Client contacts and integrations** see the same as account managers, of their own organisation only,
  and only signals that are not suppressed (the observed count is below the tenant's *k*) and whose bound adds
  nothing to the trends (:func:`speaks_of_published_cells`). A signal a client sees tells them that at least
  *k* referrals of its kind fell in its unit in its weeks: resting on a hidden cell, that is a lower bound on
  it, and a lower bound beside a visible parent pins the hidden sibling ("Team A ≥ 5, the department 6, so
  Team B had 1").
- **Employees** see no signals at all.

A signal a tenant-bound caller may not see answers exactly as a signal that does not exist (404).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import Row, Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.taxonomy import DetectionMethod, Role, SignalKind
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.tenants import k_anonymity, org_unit_names, org_units
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.aggregates import weekly_cells
from bmw.signals.adapters.tables import SIGNALS
from bmw.signals.application.trends import MonthGrid, month_of_week, month_weeks
from bmw.signals.domain.codes import ReviewStatus
from bmw.signals.domain.detection import DEFAULT_SPECS
from bmw.signals.domain.narrative import strength
from bmw.signals.domain.suppression import DEFAULT_K

#: Every role that sees some signals; an employee sees none.
SIGNAL_READERS = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT, Role.INTEGRATION)

#: Review states that let a signal leave the provider: confirmed by a social worker, or needing no review.
RELEASED = (ReviewStatus.CONFIRMED.value, ReviewStatus.NOT_REQUIRED.value)

_NOT_FOUND = "signal not found"

#: The referral categories each detector adds up; the other kinds (contracts, capacity, consultations) speak of
#: no referral cell.
_SPEC_CATEGORIES = {spec.kind: frozenset(category.value for category in spec.categories) for spec in DEFAULT_SPECS}

#: How sure a signal's test is, in words an account manager can pass on (DESIGN: explainable methods).
Strength = Literal["notable", "strong", "very strong"]
SignalStatus = Literal["open", "resolved"]


class Audience(StrEnum):
    """How much of a signal a caller sees."""

    PROVIDER = "provider"
    ACCOUNT_MANAGER = "account_manager"
    CLIENT = "client"


@dataclass(frozen=True)
class SignalInternals:
    """What only provider staff see: the numbers, the explanation with counts, and the review."""

    observed: int
    expected: float
    p_value: float | None
    score: float
    suppressed: bool
    explanation: str | None
    evidence: dict[str, Any]
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_reason: str | None
    review_note: str | None


@dataclass(frozen=True)
class SignalView:
    """A signal as one audience may see it; ``internals`` is None outside the provider's staff."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: SignalKind
    org_unit_id: uuid.UUID | None
    org_unit_name: str | None
    raised_week: date
    status: SignalStatus
    resolved_week: date | None
    review_status: ReviewStatus
    weeks: tuple[date, ...]
    method: DetectionMethod
    strength: Strength
    summary: str
    internals: SignalInternals | None
    created_at: datetime


# -- pure rules ---------------------------------------------------------------------------------------------


def audience_for(principal: Principal, tenant_id: uuid.UUID) -> Audience | None:
    """How much of this tenant's signals the caller sees; None when nothing."""
    if principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER) and principal.may_act_for(tenant_id):
        return Audience.PROVIDER
    if principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio:
        return Audience.ACCOUNT_MANAGER
    if principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION) and principal.tenant_id == tenant_id:
        return Audience.CLIENT
    return None


def visible(audience: Audience, *, review_status: str, suppressed: bool) -> bool:
    """Whether a signal in this review state may be shown to the audience."""
    if audience is Audience.PROVIDER:
        return True
    if review_status not in RELEASED:
        return False
    return audience is Audience.ACCOUNT_MANAGER or not suppressed


def strength_band(p_value: float | None, score: float, method: DetectionMethod) -> Strength:
    """The band the count-free summary speaks of (``domain.narrative.strength``), as a closed set."""
    band = strength(p_value, score, method)
    if band == "very strong":
        return "very strong"
    return "strong" if band == "strong" else "notable"


def _weeks(evidence: dict[str, Any], raised_week: date) -> tuple[date, ...]:
    weeks = []
    for value in evidence.get("weeks") or ():
        try:
            weeks.append(date.fromisoformat(str(value)))
        except ValueError:
            continue
    return tuple(weeks) or (raised_week,)


def _summary(evidence: dict[str, Any], kind: SignalKind) -> str:
    summary = evidence.get("summary")
    if isinstance(summary, str) and summary:
        return summary
    return f"A {kind.value.replace('_', ' ')} signal was raised."


def spoken_of(row: Row[Any]) -> tuple[frozenset[str], frozenset[date]] | None:
    """The categories and months of the trend cells a referral signal speaks of, in its unit: the months of the
    weeks it shows and of its raised week. None for a signal about no referral cells."""
    categories = _SPEC_CATEGORIES.get(SignalKind(row.kind))
    if categories is None or row.org_unit_id is None:
        return None
    weeks = set(_weeks(row.evidence or {}, row.raised_week)) | {row.raised_week}
    return categories, frozenset(month_of_week(week) for week in weeks)


async def published_grid(
    session: AsyncSession, tenant_id: uuid.UUID, rows: list[Row[Any]], default_k: int
) -> MonthGrid | None:
    """The organisation's trend cells over every month the rows speak of (None when they speak of none)."""
    months = {month for row in rows if (spoken := spoken_of(row)) is not None for month in spoken[1]}
    if not months:
        return None
    units = await org_units(session, tenant_id)
    k = await k_anonymity(session, tenant_id, default_k)
    first, last = month_weeks(min(months))[0], month_weeks(max(months))[1]
    cells = await weekly_cells(session, tenant_id=tenant_id, first_week=first, last_week=last)
    return MonthGrid(units, cells, k)


def speaks_of_published_cells(row: Row[Any], grid: MonthGrid | None) -> bool:
    """Whether a client organisation may see the signal: whether its bound reveals nothing the trends hide.

    A visible signal says "at least k referrals of these categories in this unit in these weeks" (a client is
    shown no suppressed signal), about the unit's trend cells in those categories and months. It reveals nothing
    when:

    - every one of those cells is published: the bound follows from them (or contradicts them);
    - the published ones hold at least k between them: the trends publish months, not weeks, so the referrals of
      a published cell can sit in any week of its month without changing a published number, and a world with
      all of them in the signal's weeks always meets the bound, whatever the hidden cells hold;
    - for one of those categories and months the unit's cell, its ancestors' and the organisation total are all
      hidden: referrals can be added to the unit unseen, so a world short of the bound can always be topped up.

    Otherwise it is a lower bound on hidden cells that the trends do not give, and a lower bound beside a visible
    parent pins the hidden sibling. The check runs at every read: a late referral can hide a published cell.
    """
    spoken = spoken_of(row)
    if spoken is None:
        return True
    if grid is None:
        return False
    categories, months = spoken
    unit = row.org_unit_id
    cells = [(month, category, grid.cell(month, category, unit)) for month in months for category in categories]
    if all(cell.count is not None for _, _, cell in cells):
        return True
    if sum(cell.count or 0 for _, _, cell in cells) >= grid.k:
        return True
    return any(grid.open_to_outside(month, category, unit) for month, category, _ in cells)


def view_of(row: Row[Any], names: dict[uuid.UUID, str], audience: Audience) -> SignalView:
    """A stored signal as the audience may see it (the caller checked :func:`visible`)."""
    evidence: dict[str, Any] = row.evidence or {}
    kind = SignalKind(row.kind)
    method = DetectionMethod(row.method)
    internals = None
    if audience is Audience.PROVIDER:
        explanation = evidence.get("explanation")
        internals = SignalInternals(
            observed=row.observed,
            expected=row.expected,
            p_value=row.p_value,
            score=row.score,
            suppressed=row.suppressed,
            explanation=explanation if isinstance(explanation, str) else None,
            evidence=evidence,
            reviewed_by=row.reviewed_by,
            reviewed_at=row.reviewed_at,
            review_reason=row.review_reason,
            review_note=row.review_note,
        )
    return SignalView(
        id=row.id,
        tenant_id=row.tenant_id,
        kind=kind,
        org_unit_id=row.org_unit_id,
        org_unit_name=names.get(row.org_unit_id) if row.org_unit_id is not None else None,
        raised_week=row.raised_week,
        status="resolved" if row.status == "resolved" else "open",
        resolved_week=row.resolved_week,
        review_status=ReviewStatus(row.review_status),
        weeks=_weeks(evidence, row.raised_week),
        method=method,
        strength=strength_band(row.p_value, row.score, method),
        summary=_summary(evidence, kind),
        internals=internals,
        created_at=row.created_at,
    )


# -- keyset cursors -----------------------------------------------------------------------------------------


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    """An opaque position after the row created at ``at`` with id ``row_id``."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """A keyset position from an opaque cursor; a bad one is a 422 naming the parameter."""
    if not cursor:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, row_id = decoded.partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time carries its offset")
        return moment, uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(
            "the cursor is not one this API handed out",
            fields=[FieldError(path="query.cursor", message="invalid cursor")],
        ) from error


# -- use cases ----------------------------------------------------------------------------------------------


async def names_by_tenant(session: AsyncSession, tenant_ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[uuid.UUID, str]]:
    """Org unit names per tenant from the tenant directory (billing's read copy)."""
    return {tenant_id: await org_unit_names(session, tenant_id) for tenant_id in tenant_ids}


def _scoped(
    query: Select[Any], principal: Principal, tenant_id: uuid.UUID | None
) -> tuple[Select[Any], Audience | None]:
    """Restrict a signal query to what the caller may see; the audience when it is one for every row."""
    if tenant_id is not None:
        audience = audience_for(principal, tenant_id)
        if audience is None:
            raise Forbidden("not allowed for this client organisation")
        query = query.where(SIGNALS.c.tenant_id == tenant_id)
    elif principal.has_role(Role.PROVIDER_ADMIN) or (
        principal.has_role(Role.SOCIAL_WORKER) and principal.serves is None
    ):
        audience = Audience.PROVIDER
    elif principal.has_role(Role.SOCIAL_WORKER) and principal.serves is not None:
        audience = Audience.PROVIDER
        query = query.where(SIGNALS.c.tenant_id.in_(list(principal.serves)))  # the organisations they serve
    elif principal.has_role(Role.ACCOUNT_MANAGER):
        audience = Audience.ACCOUNT_MANAGER
        query = query.where(SIGNALS.c.tenant_id.in_(list(principal.portfolio)))
    elif principal.tenant_id is not None:
        audience = Audience.CLIENT
        query = query.where(SIGNALS.c.tenant_id == principal.tenant_id)
    else:
        raise Forbidden("not allowed for this client organisation")
    if audience is not Audience.PROVIDER:
        query = query.where(SIGNALS.c.review_status.in_(RELEASED))
    if audience is Audience.CLIENT:
        query = query.where(SIGNALS.c.suppressed.is_(False))
    return query, audience


async def list_signals(
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    tenant_id: uuid.UUID | None = None,
    status: str | None = None,
    review_status: ReviewStatus | None = None,
    kind: SignalKind | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
    default_k: int = DEFAULT_K,
) -> list[SignalView]:
    """The signals the caller may see, newest first; filters narrow them further.

    Rows the caller may not see are skipped and the next rows read, so a page is short only at the end.
    """
    principal.require_role(*SIGNAL_READERS)
    query, audience = _scoped(select(SIGNALS), principal, tenant_id)
    if status is not None:
        query = query.where(SIGNALS.c.status == status)
    if review_status is not None:
        query = query.where(SIGNALS.c.review_status == review_status.value)
    if kind is not None:
        query = query.where(SIGNALS.c.kind == kind.value)
    query = query.order_by(SIGNALS.c.created_at.desc(), SIGNALS.c.id.desc()).limit(limit)
    views: list[SignalView] = []
    async with uow(tenant_id=tenant_id) as work:
        position = after
        while len(views) < limit:
            page = query if position is None else query.where(tuple_(SIGNALS.c.created_at, SIGNALS.c.id) < position)
            rows = list(await work.session.execute(page))
            names = await names_by_tenant(work.session, {row.tenant_id for row in rows})
            grid = None
            if audience is Audience.CLIENT and rows:
                grid = await published_grid(work.session, rows[0].tenant_id, rows, default_k)
            for row in rows:
                seen_as = audience or audience_for(principal, row.tenant_id)
                if seen_as is None or not visible(seen_as, review_status=row.review_status, suppressed=row.suppressed):
                    continue
                if seen_as is Audience.CLIENT and not speaks_of_published_cells(row, grid):
                    continue
                views.append(view_of(row, names[row.tenant_id], seen_as))
            if len(rows) < limit:
                break
            position = (rows[-1].created_at, rows[-1].id)
    return views[:limit]


async def load_visible(
    session: AsyncSession, signal_id: uuid.UUID, principal: Principal, default_k: int = DEFAULT_K
) -> SignalView:
    """One signal as the caller may see it; 404 when it does not exist or is not theirs to see."""
    row = (await session.execute(select(SIGNALS).where(SIGNALS.c.id == signal_id))).first()
    if row is None:
        raise NotFound(_NOT_FOUND)
    audience = audience_for(principal, row.tenant_id)
    if audience is None or not visible(audience, review_status=row.review_status, suppressed=row.suppressed):
        raise NotFound(_NOT_FOUND)
    if audience is Audience.CLIENT and not speaks_of_published_cells(
        row, await published_grid(session, row.tenant_id, [row], default_k)
    ):
        raise NotFound(_NOT_FOUND)
    return view_of(row, await org_unit_names(session, row.tenant_id), audience)


async def get_signal(
    signal_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory, default_k: int = DEFAULT_K
) -> SignalView:
    """One signal, if the caller may see it."""
    principal.require_role(*SIGNAL_READERS)
    async with uow() as work:
        return await load_visible(work.session, signal_id, principal, default_k)
