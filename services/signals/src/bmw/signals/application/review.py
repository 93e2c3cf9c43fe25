"""Human review: a social worker who serves the client organisation confirms or dismisses a raised signal.

Signals about people's wellbeing (``REVIEWED_KINDS``) wait in ``pending`` until reviewed; only a confirmed one
reaches the account manager (as an opportunity) and the client portal. The verdict carries a reason code and
an optional provider-internal note, which must never name a person. Dismissals are kept: per tenant and kind
they make the detector stricter (``domain.review.tuned_alpha``), and the false-alarm record shows them.
Every review publishes ``signals.signal.reviewed.v1`` through the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.events.signals import EvidenceSummary, SignalReviewed
from bmw.contracts.taxonomy import Category, DetectionMethod, Role, SignalKind
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, InvalidInput, NotFound
from bmw.servicekit.idempotency import Idempotency, claim, remember
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.tables import IDEMPOTENCY_KEYS, SIGNALS
from bmw.signals.application.opportunities import open_opportunity
from bmw.signals.application.signal_views import SignalView, load_visible
from bmw.signals.domain.codes import (
    CONFIRM_REASONS,
    DISMISS_REASONS,
    REVIEWED_KINDS,
    ReviewDecision,
    ReviewReason,
    ReviewStatus,
)
from bmw.signals.domain.review import REVIEW_MEMORY_DAYS, threshold_factor
from bmw.signals.domain.weeks import AMSTERDAM

#: A review note is a short remark for colleagues, not a case note.
MAX_NOTE_LENGTH = 500

_NOT_FOUND = "signal not found"

_CATEGORIES = frozenset(category.value for category in Category)


@dataclass(frozen=True)
class ReviewSignal:
    """Confirm or dismiss a pending signal."""

    signal_id: uuid.UUID
    decision: ReviewDecision
    reason: ReviewReason
    note: str | None = None


@dataclass(frozen=True)
class ReviewOutcome:
    """The reviewed signal, and the opportunity a confirmation opened (None when one was open already)."""

    signal: SignalView
    opportunity_id: uuid.UUID | None


@dataclass(frozen=True)
class FalseAlarms:
    """One signal kind's review record for a tenant over the last twelve months."""

    kind: SignalKind
    raised: int
    confirmed: int
    dismissed: int
    pending: int

    @property
    def threshold_factor(self) -> float:
        """What the detector multiplies its significance level by for this tenant and kind."""
        return threshold_factor(self.dismissed, self.confirmed)


@dataclass(frozen=True)
class FalseAlarmReport:
    tenant_id: uuid.UUID
    since: date
    kinds: list[FalseAlarms]


def allowed_reasons(decision: ReviewDecision) -> frozenset[ReviewReason]:
    return CONFIRM_REASONS if decision is ReviewDecision.CONFIRMED else DISMISS_REASONS


def check_review(command: ReviewSignal) -> str | None:
    """The command's note, stripped (None when blank); 422 naming the field when the reason or note is wrong."""
    allowed = allowed_reasons(command.decision)
    if command.reason not in allowed:
        names = ", ".join(sorted(reason.value for reason in allowed))
        raise InvalidInput(
            f"{command.reason.value} is not a reason to have {command.decision.value} a signal",
            fields=[FieldError(path="body.reason", message=f"for {command.decision.value}: one of {names}")],
        )
    note = (command.note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(
            "the note is too long",
            fields=[FieldError(path="body.note", message=f"at most {MAX_NOTE_LENGTH} characters")],
        )
    return note


def evidence_summary(row: Row[Any] | Mapping[str, Any]) -> EvidenceSummary:
    """The wire summary of a stored signal's test result (as the raised event carried it)."""
    data = row._mapping if isinstance(row, Row) else row
    evidence = data["evidence"] or {}
    baseline = evidence.get("baseline") or {}
    period = baseline.get("period_weeks") if isinstance(baseline, dict) else None
    return EvidenceSummary(
        method=DetectionMethod(data["method"]),
        categories=[Category(c) for c in evidence.get("categories") or () if c in _CATEGORIES],
        observed_count=max(int(data["observed"]), 0),
        expected_count=max(float(data["expected"]), 0.0),
        p_value=data["p_value"],
        score=data["score"],
        weeks=max(1, len(evidence.get("weeks") or ())),
        baseline_weeks=period if isinstance(period, int) and period >= 1 else None,
    )


async def review_signal(
    command: ReviewSignal,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    idempotency: Idempotency | None = None,
    render: Callable[[ReviewOutcome], dict[str, Any]],
) -> dict[str, Any]:
    """Confirm or dismiss a pending signal (social workers serving the tenant, provider admins).

    404 when the caller may not see it, 409 when it is not pending. A confirmation opens the opportunity.
    With an ``Idempotency-Key`` a repeat of the same review returns the first answer instead of the 409.
    """
    principal.require_role(Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN)
    note = check_review(command)
    async with uow() as work:
        session = work.session
        if idempotency is not None:
            # Before the pending check: a retried review finds the signal reviewed already, by itself.
            stored = await claim(session, IDEMPOTENCY_KEYS, idempotency)
            if stored is not None:
                return stored
        row = (
            await session.execute(select(SIGNALS).where(SIGNALS.c.id == command.signal_id).with_for_update())
        ).first()
        if row is None or not principal.may_act_for(row.tenant_id):
            raise NotFound(_NOT_FOUND)
        if row.review_status != ReviewStatus.PENDING.value:
            raise Conflict(
                f"the signal is {row.review_status}: only a pending signal can be reviewed",
                review_status=row.review_status,
            )
        reviewed = (
            await session.execute(
                update(SIGNALS)
                .where(SIGNALS.c.id == row.id)
                .values(
                    review_status=command.decision.value,
                    reviewed_by=principal.subject,
                    reviewed_at=func.now(),
                    review_reason=command.reason.value,
                    review_note=note,
                    updated_at=func.now(),
                )
                .returning(SIGNALS)
            )
        ).one()
        await work.emit(
            SignalReviewed(
                signal_id=reviewed.id,
                kind=SignalKind(reviewed.kind),
                org_unit_id=reviewed.org_unit_id,
                evidence_summary=evidence_summary(reviewed),
                suppressed=reviewed.suppressed,
                decision=command.decision.value,
                reason=command.reason.value,
            ),
            tenant_id=reviewed.tenant_id,
            subject=str(reviewed.id),
        )
        opportunity_id = None
        if command.decision is ReviewDecision.CONFIRMED:
            opportunity_id = await open_opportunity(work, reviewed)
        view = await load_visible(session, reviewed.id, principal)
        response = render(ReviewOutcome(signal=view, opportunity_id=opportunity_id))
        if idempotency is not None:
            await remember(session, IDEMPOTENCY_KEYS, idempotency, 200, response)
        await work.commit()
    return response


# -- what the reviews teach ---------------------------------------------------------------------------------


def _today() -> date:
    return datetime.now(AMSTERDAM).date()


def memory_start(today: date) -> date:
    """The first raised week whose review still counts."""
    return today - timedelta(days=REVIEW_MEMORY_DAYS)


async def _record_rows(
    session: AsyncSession, tenant_id: uuid.UUID, since: date
) -> dict[str, tuple[int, int, int, int]]:
    status = SIGNALS.c.review_status

    def counted(value: ReviewStatus) -> Any:
        return func.sum(case((status == value.value, 1), else_=0))

    rows = await session.execute(
        select(
            SIGNALS.c.kind,
            func.count(),
            counted(ReviewStatus.CONFIRMED),
            counted(ReviewStatus.DISMISSED),
            counted(ReviewStatus.PENDING),
        )
        .where(
            SIGNALS.c.tenant_id == tenant_id,
            SIGNALS.c.raised_week >= since,
            SIGNALS.c.kind.in_([kind.value for kind in REVIEWED_KINDS]),
        )
        .group_by(SIGNALS.c.kind)
    )
    return {
        kind: (int(raised), int(confirmed), int(dismissed), int(pending))
        for kind, raised, confirmed, dismissed, pending in rows
    }


async def dismissal_record(session: AsyncSession, tenant_id: uuid.UUID) -> dict[SignalKind, tuple[int, int]]:
    """(dismissed, confirmed) per reviewed kind among the tenant's signals raised in the last 365 days."""
    rows = await _record_rows(session, tenant_id, memory_start(_today()))
    return {
        SignalKind(kind): (dismissed, confirmed) for kind, (_raised, confirmed, dismissed, _pending) in rows.items()
    }


async def false_alarm_record(
    session: AsyncSession, tenant_id: uuid.UUID, *, today: date | None = None
) -> list[FalseAlarms]:
    """Per reviewed kind: raised, confirmed, dismissed and pending over the last twelve months (zeros included)."""
    rows = await _record_rows(session, tenant_id, memory_start(today or _today()))
    record = []
    for kind in sorted(REVIEWED_KINDS, key=lambda k: k.value):
        raised, confirmed, dismissed, pending = rows.get(kind.value, (0, 0, 0, 0))
        record.append(FalseAlarms(kind, raised, confirmed, dismissed, pending))
    return record


async def false_alarms(*, tenant_id: uuid.UUID, principal: Principal, uow: UnitOfWorkFactory) -> FalseAlarmReport:
    """A tenant's false-alarm record (provider admins and social workers: it holds counts)."""
    principal.require_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)
    principal.require_tenant(tenant_id)
    today = _today()
    async with uow(tenant_id=tenant_id) as work:
        kinds = await false_alarm_record(work.session, tenant_id, today=today)
    return FalseAlarmReport(tenant_id=tenant_id, since=memory_start(today), kinds=kinds)
