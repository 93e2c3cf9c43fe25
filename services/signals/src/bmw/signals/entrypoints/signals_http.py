"""Signals over HTTP: reading them as each audience may, the social worker's review, the false-alarm record.

Provider staff see a signal's numbers and review under ``internal``; account managers and client callers see
kind, unit, weeks, method, a strength band and the count-free summary, and only once a social worker
confirmed the signal (client callers: only when it is not suppressed). A signal a caller may not see is a 404,
exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from bmw.contracts.taxonomy import DetectionMethod, SignalKind
from bmw.servicekit.deps import CurrentPrincipal, RuntimeDep, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.servicekit.idempotency import Idempotency, IdempotencyKeyHeader
from bmw.signals.application.review import (
    MAX_NOTE_LENGTH,
    FalseAlarmReport,
    ReviewSignal,
    false_alarms,
    review_signal,
)
from bmw.signals.application.signal_views import (
    SignalStatus,
    SignalView,
    Strength,
    decode_cursor,
    encode_cursor,
    get_signal,
    list_signals,
)
from bmw.signals.domain.codes import ReviewDecision, ReviewReason, ReviewStatus

signals_router = APIRouter()

SignalId = Annotated[uuid.UUID, Path(description="Id of the signal.")]


class SignalInternalRead(BaseModel):
    """What only provider staff see of a signal: counts, the test and the review."""

    observed: int = Field(description="Referrals (or events) counted in the window.")
    expected: float = Field(description="Count expected from the baseline over the same window.")
    p_value: float | None = Field(description="Upper-tail probability of the observed count; null for CUSUM/threshold.")
    score: float = Field(description="Test statistic: −log10 p, the CUSUM sum, or the counted value of a threshold.")
    suppressed: bool = Field(description="True when the observed count is below the tenant's k: hidden from clients.")
    explanation: str | None = Field(description="The evidence in one sentence, with counts (provider-internal).")
    reviewed_by: str | None = Field(description="Subject of the social worker who reviewed it.")
    reviewed_at: datetime | None = Field(description="When it was reviewed (UTC).")
    review_reason: ReviewReason | None = Field(description="Why it was confirmed or dismissed.")
    review_note: str | None = Field(description="The reviewer's provider-internal remark; never names a person.")


class SignalRead(BaseModel):
    """A detected signal as the caller may see it; never a count outside the provider's staff."""

    id: uuid.UUID = Field(description="Signal id.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    kind: SignalKind = Field(description="What the signal is about.")
    org_unit_id: uuid.UUID | None = Field(description="The org unit; null for the whole organisation.")
    org_unit_name: str | None = Field(description="Its name, from the client organisation's profile.")
    raised_week: date = Field(description="Monday of the ISO week it was raised in (Europe/Amsterdam).")
    status: SignalStatus = Field(description="open, or resolved once back within the baseline.")
    resolved_week: date | None = Field(description="Monday of the week it resolved in, if it did.")
    review_status: ReviewStatus = Field(
        description="pending (awaiting a social worker), confirmed, dismissed, or not_required (contracts, "
        "capacity). Outside the provider only confirmed and not_required signals are shown."
    )
    weeks: list[date] = Field(description="Mondays of the weeks the test looked at.")
    method: DetectionMethod = Field(description="The explainable test that raised it.")
    strength: Strength = Field(description="How sure the test is: notable, strong or very strong.")
    summary: str = Field(description="What rose, where, when and how surely, in plain language without counts.")
    evidence: dict[str, JsonValue] | None = Field(
        description="Provider admins and social workers only (null otherwise): everything stored to explain and "
        "recompute the signal: weeks, counts, baseline, test, threshold, management actions (context), seconded "
        "workers' observations, the explanation with counts and the summary without."
    )
    internal: SignalInternalRead | None = Field(
        description="Provider admins and social workers only: counts, the test and the review; null otherwise."
    )

    @classmethod
    def of(cls, view: SignalView) -> SignalRead:
        internal = None
        if view.internals is not None:
            data = view.internals
            internal = SignalInternalRead(
                observed=data.observed,
                expected=data.expected,
                p_value=data.p_value,
                score=data.score,
                suppressed=data.suppressed,
                explanation=data.explanation,
                reviewed_by=data.reviewed_by,
                reviewed_at=data.reviewed_at,
                review_reason=ReviewReason(data.review_reason) if data.review_reason else None,
                review_note=data.review_note,
            )
        return cls(
            id=view.id,
            tenant_id=view.tenant_id,
            kind=view.kind,
            org_unit_id=view.org_unit_id,
            org_unit_name=view.org_unit_name,
            raised_week=view.raised_week,
            status=view.status,
            resolved_week=view.resolved_week,
            review_status=view.review_status,
            weeks=list(view.weeks),
            method=view.method,
            strength=view.strength,
            summary=view.summary,
            evidence=view.internals.evidence if view.internals is not None else None,
            internal=internal,
        )


class SignalPage(BaseModel):
    """A page of signals, newest first."""

    items: list[SignalRead] = Field(description="Signals, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class SignalReviewCreate(BaseModel):
    """A social worker's verdict on a pending signal."""

    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision = Field(description="confirmed (it reaches the account manager and client) or dismissed.")
    reason: ReviewReason = Field(
        description="Why. Confirm: matches_what_we_see, supported_by_observations, other. Dismiss: "
        "known_cause_already_addressed, coincidence_unrelated_cases, data_artefact, too_small_to_act_on, other."
    )
    note: str | None = Field(
        default=None,
        max_length=MAX_NOTE_LENGTH,
        description="Optional remark for provider colleagues (never shown to the client). Never name a person.",
    )


class SignalReviewRead(BaseModel):
    """The reviewed signal, and the opportunity a confirmation opened."""

    signal: SignalRead = Field(description="The signal after the review.")
    opportunity_id: uuid.UUID | None = Field(
        description="The opportunity opened for the account manager; null after a dismissal, or when one for "
        "the same kind and unit is open already."
    )


class FalseAlarmRead(BaseModel):
    """One signal kind's review record for the client organisation."""

    kind: SignalKind = Field(description="The reviewed signal kind.")
    raised: int = Field(description="Signals of the kind raised in the period.")
    confirmed: int = Field(description="Of those, confirmed by a social worker.")
    dismissed: int = Field(description="Of those, dismissed as a false alarm.")
    pending: int = Field(description="Of those, not reviewed yet.")
    threshold_factor: float = Field(
        description="What the detector multiplies its significance level by for this kind: 1, halved for each "
        "dismissal more than confirmations, at least 1/16."
    )


class FalseAlarmReportRead(BaseModel):
    """What the social workers' reviews taught the detectors for one client organisation."""

    tenant_id: uuid.UUID = Field(description="The client organisation.")
    since: date = Field(description="First raised week counted (twelve months back).")
    kinds: list[FalseAlarmRead] = Field(description="One entry per reviewed signal kind.")

    @classmethod
    def of(cls, report: FalseAlarmReport) -> FalseAlarmReportRead:
        return cls(
            tenant_id=report.tenant_id,
            since=report.since,
            kinds=[
                FalseAlarmRead(
                    kind=k.kind,
                    raised=k.raised,
                    confirmed=k.confirmed,
                    dismissed=k.dismissed,
                    pending=k.pending,
                    threshold_factor=k.threshold_factor,
                )
                for k in report.kinds
            ],
        )


@signals_router.get(
    "/signals",
    response_model=SignalPage,
    tags=["signals"],
    responses=error_responses(401, 403, 422, 503),
)
async def read_signals(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    runtime: RuntimeDep,
    tenant_id: Annotated[
        uuid.UUID | None,
        Query(description="Only this client organisation's; default every one the caller may see."),
    ] = None,
    status: Annotated[SignalStatus | None, Query(description="Only open or resolved ones.")] = None,
    review_status: Annotated[ReviewStatus | None, Query(description="Only signals in this review state.")] = None,
    kind: Annotated[SignalKind | None, Query(description="Only this kind.")] = None,
    cursor: Annotated[str | None, Query(description="From `next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
) -> SignalPage:
    """Signals the caller may see, newest first (employees: none; client callers: confirmed, unsuppressed)."""
    views = await list_signals(
        principal=principal,
        uow=uow,
        tenant_id=tenant_id,
        status=status,
        review_status=review_status,
        kind=kind,
        after=decode_cursor(cursor),
        limit=limit,
        default_k=runtime.settings.small_cell_k,
    )
    return SignalPage(
        items=[SignalRead.of(view) for view in views],
        next_cursor=encode_cursor(views[-1].created_at, views[-1].id) if len(views) == limit else None,
    )


@signals_router.get(
    "/signals/{signal_id}",
    response_model=SignalRead,
    tags=["signals"],
    responses=error_responses(401, 403, 404, 422, 503),
)
async def read_signal(
    signal_id: SignalId, principal: CurrentPrincipal, uow: UowFactoryDep, runtime: RuntimeDep
) -> SignalRead:
    """One signal, as the caller may see it; 404 when it does not exist or is not theirs to see."""
    view = await get_signal(signal_id, principal=principal, uow=uow, default_k=runtime.settings.small_cell_k)
    return SignalRead.of(view)


@signals_router.post(
    "/signals/{signal_id}/review",
    response_model=SignalReviewRead,
    tags=["signals"],
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def review_signal_route(
    signal_id: SignalId,
    body: SignalReviewCreate,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Confirm or dismiss a pending signal (social workers serving the client organisation, provider admins).

    Publishes signals.signal.reviewed.v1; a confirmation opens the opportunity for the account manager
    (signals.opportunity.created.v1). A dismissal makes the detector stricter for this organisation and kind.
    409 when the signal is not pending, unless this is the repeat of the review itself with its Idempotency-Key.
    """
    # The signal id is part of what the key stands for: the same key and body on another signal is another request.
    request = {"signal_id": str(signal_id), "body": body.model_dump(mode="json")}
    return await review_signal(
        ReviewSignal(signal_id=signal_id, decision=body.decision, reason=body.reason, note=body.note),
        principal=principal,
        uow=uow,
        idempotency=Idempotency.optional(principal.subject, idempotency_key, request),
        render=lambda outcome: SignalReviewRead(
            signal=SignalRead.of(outcome.signal), opportunity_id=outcome.opportunity_id
        ).model_dump(mode="json"),
    )


@signals_router.get(
    "/false-alarms",
    response_model=FalseAlarmReportRead,
    tags=["signals"],
    responses=error_responses(401, 403, 422, 503),
)
async def read_false_alarms(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID, Query(description="The client organisation.")],
) -> FalseAlarmReportRead:
    """Per reviewed kind: raised, confirmed, dismissed and pending over twelve months (provider staff only)."""
    return FalseAlarmReportRead.of(await false_alarms(tenant_id=tenant_id, principal=principal, uow=uow))
