"""Opportunities: a confirmed signal turned into follow-up work for the client's account manager.

One opportunity per (tenant, signal kind, org unit) while it is open (a partial unique index holds it), with
the recommended interventions best first, an estimated value at the tenant's contract prices and the evidence
in plain language without counts. The pipeline runs ``new → contacted → proposed → won | lost``; an
opportunity may be lost from any open stage but never goes back, a loss names its reason and a win the
intervention sold. Every move is kept as a note and published (``signals.opportunity.stage_changed.v1``);
what is won and lost per signal kind ranks the interventions recommended next (``application.interventions``).

Account managers work the opportunities of their portfolio, provider admins all of them; nobody else sees
them. Notes are provider-internal remarks and must never name a person.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.events.signals import OpportunityCreated, OpportunityStageChanged
from bmw.contracts.taxonomy import OpportunityStage, Role, SignalKind
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.idempotency import Idempotency, claim, remember
from bmw.servicekit.tenants import org_unit_names
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory
from bmw.signals.adapters.tables import IDEMPOTENCY_KEYS, OPPORTUNITIES, OPPORTUNITY_NOTES
from bmw.signals.application.interventions import (
    PricedIntervention,
    priced_codes,
    recommendations_for,
)
from bmw.signals.application.signal_views import names_by_tenant
from bmw.signals.domain.codes import LossReason

#: An account manager's remark on an opportunity; longer belongs in the CRM, not here.
MAX_NOTE_LENGTH = 1000

#: Where an opportunity may go from each stage: forward only, and lost from any open stage.
ALLOWED_MOVES: dict[OpportunityStage, frozenset[OpportunityStage]] = {
    OpportunityStage.NEW: frozenset({OpportunityStage.CONTACTED, OpportunityStage.LOST}),
    OpportunityStage.CONTACTED: frozenset({OpportunityStage.PROPOSED, OpportunityStage.LOST}),
    OpportunityStage.PROPOSED: frozenset({OpportunityStage.WON, OpportunityStage.LOST}),
    OpportunityStage.WON: frozenset(),
    OpportunityStage.LOST: frozenset(),
}

_NOT_FOUND = "opportunity not found"


@dataclass(frozen=True)
class OpportunityView:
    id: uuid.UUID
    tenant_id: uuid.UUID
    signal_id: uuid.UUID
    kind: SignalKind
    org_unit_id: uuid.UUID | None
    org_unit_name: str | None
    stage: OpportunityStage
    recommended: tuple[str, ...]
    estimated_value_cents: int
    evidence_text: str
    loss_reason: LossReason | None
    won_intervention: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OpportunityNote:
    id: uuid.UUID
    author: str
    from_stage: OpportunityStage | None
    to_stage: OpportunityStage | None
    note: str | None
    created_at: datetime


@dataclass(frozen=True)
class OpportunityDetail:
    """An opportunity with its history and its recommendations at the tenant's current prices."""

    opportunity: OpportunityView
    notes: list[OpportunityNote]
    recommendations: list[PricedIntervention]


@dataclass(frozen=True)
class MoveOpportunity:
    """Move an opportunity to the next stage of the pipeline."""

    opportunity_id: uuid.UUID
    stage: OpportunityStage
    note: str | None = None
    loss_reason: LossReason | None = None
    won_intervention: str | None = None


@dataclass(frozen=True)
class KindStatistics:
    """How the opportunities of one signal kind fared."""

    kind: SignalKind
    won: int
    lost: int
    open: int

    @property
    def win_rate(self) -> float | None:
        """Won among the closed ones; None before any closed."""
        closed = self.won + self.lost
        return self.won / closed if closed else None


# -- pure rules ---------------------------------------------------------------------------------------------


def check_move(current: OpportunityStage, target: OpportunityStage) -> None:
    """409 naming the current stage unless the pipeline allows the move."""
    if target not in ALLOWED_MOVES[current]:
        allowed = ", ".join(sorted(stage.value for stage in ALLOWED_MOVES[current])) or "none (it is closed)"
        raise Conflict(
            f"the opportunity is {current.value}: it cannot move to {target.value} (allowed: {allowed})",
            stage=current.value,
        )


def check_move_fields(command: MoveOpportunity) -> str | None:
    """The stripped note; 422 naming the field when a loss lacks its reason, a win its intervention, or a
    field does not belong to the target stage."""
    problems = []
    lost, won = command.stage is OpportunityStage.LOST, command.stage is OpportunityStage.WON
    if lost and command.loss_reason is None:
        problems.append(FieldError(path="body.loss_reason", message="required when the opportunity is lost"))
    if not lost and command.loss_reason is not None:
        problems.append(FieldError(path="body.loss_reason", message="only for stage lost"))
    if won and not command.won_intervention:
        problems.append(FieldError(path="body.won_intervention", message="required when the opportunity is won"))
    if not won and command.won_intervention is not None:
        problems.append(FieldError(path="body.won_intervention", message="only for stage won"))
    note = check_note(command.note, required=False)
    if problems:
        raise InvalidInput("; ".join(f"{p.path}: {p.message}" for p in problems), fields=problems)
    return note


def check_note(note: str | None, *, required: bool) -> str | None:
    text = (note or "").strip() or None
    if text is None and required:
        raise InvalidInput("the note is empty", fields=[FieldError(path="body.note", message="must not be blank")])
    if text is not None and len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(
            "the note is too long",
            fields=[FieldError(path="body.note", message=f"at most {MAX_NOTE_LENGTH} characters")],
        )
    return text


def _evidence_text(evidence: Mapping[str, Any] | None, kind: SignalKind) -> str:
    summary = (evidence or {}).get("summary")
    if isinstance(summary, str) and summary:
        return summary
    return f"A {kind.value.replace('_', ' ')} signal was raised."


# -- creating -----------------------------------------------------------------------------------------------


async def open_opportunity(work: UnitOfWork, signal_row: Row[Any] | Mapping[str, Any]) -> uuid.UUID | None:
    """Open the opportunity of a confirmed (or review-free) signal and publish it; None when one is already
    open for the same tenant, kind and unit.

    ``signal_row`` is a stored ``signals`` row (or its mapping): id, tenant_id, kind, org_unit_id, evidence.
    """
    data = signal_row._mapping if isinstance(signal_row, Row) else signal_row
    tenant_id: uuid.UUID = data["tenant_id"]
    kind = SignalKind(data["kind"])
    recommended = await recommendations_for(work.session, tenant_id, kind)
    opportunity_id = uuid.uuid4()
    codes = [priced.code for priced in recommended]
    created = await work.session.execute(
        insert(OPPORTUNITIES)
        .values(
            id=opportunity_id,
            tenant_id=tenant_id,
            signal_id=data["id"],
            kind=kind.value,
            org_unit_id=data["org_unit_id"],
            stage=OpportunityStage.NEW.value,
            recommended=codes,
            estimated_value_cents=recommended[0].price_cents,
            evidence_text=_evidence_text(data["evidence"], kind),
        )
        # The partial unique index allows one open opportunity per tenant × kind × unit: a second signal of
        # the same kind for the unit adds to the one the account manager is already working.
        .on_conflict_do_nothing()
        .returning(OPPORTUNITIES.c.id)
    )
    if created.scalar_one_or_none() is None:
        return None
    await work.emit(
        OpportunityCreated(
            opportunity_id=opportunity_id,
            signal_id=data["id"],
            recommended_interventions=codes,
            estimated_value_cents=recommended[0].price_cents,
        ),
        tenant_id=tenant_id,
        subject=str(opportunity_id),
    )
    return opportunity_id


# -- access -------------------------------------------------------------------------------------------------


def _require_pipeline_role(principal: Principal) -> None:
    principal.require_role(Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN)


def may_work(principal: Principal, tenant_id: uuid.UUID) -> bool:
    """Provider admins work every opportunity, account managers those of their portfolio."""
    return principal.has_role(Role.PROVIDER_ADMIN) or (
        principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio
    )


def _view(row: Row[Any], names: Mapping[uuid.UUID, str]) -> OpportunityView:
    return OpportunityView(
        id=row.id,
        tenant_id=row.tenant_id,
        signal_id=row.signal_id,
        kind=SignalKind(row.kind),
        org_unit_id=row.org_unit_id,
        org_unit_name=names.get(row.org_unit_id) if row.org_unit_id is not None else None,
        stage=OpportunityStage(row.stage),
        recommended=tuple(row.recommended),
        estimated_value_cents=row.estimated_value_cents,
        evidence_text=row.evidence_text,
        loss_reason=LossReason(row.loss_reason) if row.loss_reason else None,
        won_intervention=row.won_intervention,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _note(row: Row[Any]) -> OpportunityNote:
    return OpportunityNote(
        id=row.id,
        author=row.author,
        from_stage=OpportunityStage(row.from_stage) if row.from_stage else None,
        to_stage=OpportunityStage(row.to_stage) if row.to_stage else None,
        note=row.note,
        created_at=row.created_at,
    )


async def _load(session: AsyncSession, opportunity_id: uuid.UUID, principal: Principal, *, lock: bool) -> Row[Any]:
    query = select(OPPORTUNITIES).where(OPPORTUNITIES.c.id == opportunity_id)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None or not may_work(principal, row.tenant_id):
        raise NotFound(_NOT_FOUND)
    return row


async def _add_note(
    session: AsyncSession,
    opportunity_id: uuid.UUID,
    author: str,
    note: str | None,
    from_stage: OpportunityStage | None = None,
    to_stage: OpportunityStage | None = None,
) -> OpportunityNote:
    result = await session.execute(
        insert(OPPORTUNITY_NOTES)
        .values(
            id=uuid.uuid4(),
            opportunity_id=opportunity_id,
            author=author,
            from_stage=from_stage.value if from_stage else None,
            to_stage=to_stage.value if to_stage else None,
            note=note,
        )
        .returning(OPPORTUNITY_NOTES)
    )
    return _note(result.one())


# -- the pipeline -------------------------------------------------------------------------------------------


async def move_opportunity(
    command: MoveOpportunity,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    idempotency: Idempotency | None = None,
    render: Callable[[OpportunityView], dict[str, Any]],
) -> dict[str, Any]:
    """Move an opportunity along the pipeline, keep the move as a note and publish it.

    A win re-estimates the value at the price of the intervention sold. With an ``Idempotency-Key`` a repeat of
    the same request returns the first answer instead of a 409 for a move already made.
    """
    _require_pipeline_role(principal)
    note = check_move_fields(command)
    async with uow() as work:
        session = work.session
        if idempotency is not None:
            # Before the stage check: the repeat of a move that was made finds the opportunity in its new stage.
            stored = await claim(session, IDEMPOTENCY_KEYS, idempotency)
            if stored is not None:
                return stored
        row = await _load(session, command.opportunity_id, principal, lock=True)
        current = OpportunityStage(row.stage)
        check_move(current, command.stage)
        values: dict[str, Any] = {"stage": command.stage.value, "updated_at": func.now()}
        if command.stage is OpportunityStage.LOST and command.loss_reason is not None:
            values["loss_reason"] = command.loss_reason.value
        if command.stage is OpportunityStage.WON and command.won_intervention is not None:
            code = command.won_intervention
            sold = await priced_codes(session, row.tenant_id, SignalKind(row.kind), [code])
            if code not in row.recommended and not sold:
                raise InvalidInput(
                    f"{code} is not in the interventions catalogue",
                    fields=[FieldError(path="body.won_intervention", message="a recommended or catalogue code")],
                )
            values["won_intervention"] = code
            if sold:
                values["estimated_value_cents"] = sold[0].price_cents
        moved = (
            await session.execute(
                update(OPPORTUNITIES).where(OPPORTUNITIES.c.id == row.id).values(**values).returning(OPPORTUNITIES)
            )
        ).one()
        await _add_note(session, row.id, principal.subject, note, current, command.stage)
        await work.emit(
            OpportunityStageChanged(
                opportunity_id=moved.id,
                signal_id=moved.signal_id,
                recommended_interventions=list(moved.recommended),
                estimated_value_cents=moved.estimated_value_cents,
                stage=command.stage,
                previous_stage=current,
            ),
            tenant_id=moved.tenant_id,
            subject=str(moved.id),
        )
        names = await org_unit_names(session, moved.tenant_id)
        response = render(_view(moved, names))
        if idempotency is not None:
            await remember(session, IDEMPOTENCY_KEYS, idempotency, 200, response)
        await work.commit()
    return response


async def add_note(
    opportunity_id: uuid.UUID,
    note: str,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    idempotency: Idempotency | None = None,
    render: Callable[[OpportunityNote], dict[str, Any]],
) -> dict[str, Any]:
    """Add a remark to an opportunity without moving it.

    With an ``Idempotency-Key`` a repeat of the same request returns the first answer and adds no second note.
    """
    _require_pipeline_role(principal)
    text = check_note(note, required=True)
    async with uow() as work:
        if idempotency is not None:
            stored = await claim(work.session, IDEMPOTENCY_KEYS, idempotency)
            if stored is not None:
                return stored
        row = await _load(work.session, opportunity_id, principal, lock=False)
        added = await _add_note(work.session, row.id, principal.subject, text)
        response = render(added)
        if idempotency is not None:
            await remember(work.session, IDEMPOTENCY_KEYS, idempotency, 201, response)
        await work.commit()
    return response


# -- reading ------------------------------------------------------------------------------------------------


async def list_opportunities(
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    stage: OpportunityStage | None = None,
    tenant_id: uuid.UUID | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 50,
) -> list[OpportunityView]:
    """The opportunities the caller works, newest first."""
    _require_pipeline_role(principal)
    query = select(OPPORTUNITIES)
    if tenant_id is not None:
        if not may_work(principal, tenant_id):
            raise Forbidden("not allowed for this client organisation")
        query = query.where(OPPORTUNITIES.c.tenant_id == tenant_id)
    elif not principal.has_role(Role.PROVIDER_ADMIN):
        query = query.where(OPPORTUNITIES.c.tenant_id.in_(list(principal.portfolio)))
    if stage is not None:
        query = query.where(OPPORTUNITIES.c.stage == stage.value)
    if after is not None:
        query = query.where(tuple_(OPPORTUNITIES.c.created_at, OPPORTUNITIES.c.id) < tuple_(*after))
    query = query.order_by(OPPORTUNITIES.c.created_at.desc(), OPPORTUNITIES.c.id.desc()).limit(limit)
    async with uow(tenant_id=tenant_id) as work:
        rows = list(await work.session.execute(query))
        names = await names_by_tenant(work.session, {row.tenant_id for row in rows})
    return [_view(row, names[row.tenant_id]) for row in rows]


async def get_opportunity(
    opportunity_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory
) -> OpportunityDetail:
    """One opportunity with its notes (oldest first) and its recommendations at today's prices."""
    _require_pipeline_role(principal)
    async with uow() as work:
        session = work.session
        row = await _load(session, opportunity_id, principal, lock=False)
        notes = await session.execute(
            select(OPPORTUNITY_NOTES)
            .where(OPPORTUNITY_NOTES.c.opportunity_id == row.id)
            .order_by(OPPORTUNITY_NOTES.c.created_at, OPPORTUNITY_NOTES.c.id)
        )
        recommendations = await priced_codes(session, row.tenant_id, SignalKind(row.kind), list(row.recommended))
        names = await org_unit_names(session, row.tenant_id)
        return OpportunityDetail(_view(row, names), [_note(n) for n in notes], recommendations)


async def opportunity_statistics(
    *, principal: Principal, uow: UnitOfWorkFactory, tenant_id: uuid.UUID | None = None
) -> list[KindStatistics]:
    """Won, lost and open opportunities per signal kind (every kind, zeros included) over what the caller works."""
    _require_pipeline_role(principal)
    query = select(OPPORTUNITIES.c.kind, OPPORTUNITIES.c.stage, func.count()).group_by(
        OPPORTUNITIES.c.kind, OPPORTUNITIES.c.stage
    )
    if tenant_id is not None:
        if not may_work(principal, tenant_id):
            raise Forbidden("not allowed for this client organisation")
        query = query.where(OPPORTUNITIES.c.tenant_id == tenant_id)
    elif not principal.has_role(Role.PROVIDER_ADMIN):
        query = query.where(OPPORTUNITIES.c.tenant_id.in_(list(principal.portfolio)))
    counts: dict[tuple[str, str], int] = {}
    async with uow(tenant_id=tenant_id) as work:
        for kind, stage, count in await work.session.execute(query):
            counts[(kind, stage)] = int(count)
    statistics = []
    for kind in SignalKind:
        won = counts.get((kind.value, OpportunityStage.WON.value), 0)
        lost = counts.get((kind.value, OpportunityStage.LOST.value), 0)
        total = sum(count for (k, _stage), count in counts.items() if k == kind.value)
        statistics.append(KindStatistics(kind=kind, won=won, lost=lost, open=total - won - lost))
    return statistics
