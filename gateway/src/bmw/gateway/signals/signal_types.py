"""GraphQL types of detected signals."""

from __future__ import annotations

import datetime as dt
import logging

import strawberry
from strawberry.scalars import JSON

from bmw.gateway.signals.bodies import FalseAlarmBody, FalseAlarmReportBody, SignalBody, SignalInternalBody
from bmw.gateway.signals.convert import graph_id
from bmw.gateway.signals.enums import (
    DetectionMethod,
    ReviewReason,
    ReviewStatus,
    SignalKind,
    SignalStatus,
    SignalStrength,
)

logger = logging.getLogger(__name__)


@strawberry.type(
    description="What only provider admins and social workers see of a signal: counts, the test and the review."
)
class SignalInternals:
    observed: int = strawberry.field(description="Referrals (or events) counted in the window.")
    expected: float = strawberry.field(description="Count expected from the baseline over the same window.")
    p_value: float | None = strawberry.field(
        description="Upper-tail probability of the observed count; null for CUSUM and threshold tests."
    )
    score: float = strawberry.field(
        description="Test statistic: −log10 p, the CUSUM sum, or the counted value of a threshold."
    )
    suppressed: bool = strawberry.field(
        description="True when the observed count is below the organisation's k: the signal is hidden from it."
    )
    explanation: str | None = strawberry.field(description="The evidence in one sentence, with counts.")
    reviewed_by: str | None = strawberry.field(description="Subject of the social worker who reviewed it.")
    reviewed_at: dt.datetime | None = strawberry.field(description="When it was reviewed (UTC).")
    review_reason: ReviewReason | None = strawberry.field(description="Why it was confirmed or dismissed.")
    review_note: str | None = strawberry.field(
        description="The reviewer's remark for provider colleagues; never names a person."
    )

    @classmethod
    def of(cls, body: SignalInternalBody) -> SignalInternals:
        return cls(
            observed=body.observed,
            expected=body.expected,
            p_value=body.p_value,
            score=body.score,
            suppressed=body.suppressed,
            explanation=body.explanation,
            reviewed_by=body.reviewed_by,
            reviewed_at=body.reviewed_at,
            review_reason=body.review_reason,
            review_note=body.review_note,
        )


@strawberry.type(
    description="A rise in referrals (or a commercial or capacity trigger) detected in an org unit against its own "
    "baseline. Outside the provider only signals a social worker confirmed (or that need no review) are shown, "
    "and never a count."
)
class Signal:
    id: strawberry.ID = strawberry.field(description="Signal id.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    kind: SignalKind = strawberry.field(description="What the signal is about.")
    org_unit_id: strawberry.ID | None = strawberry.field(description="The org unit; null for the whole organisation.")
    org_unit_name: str | None = strawberry.field(description="Its name, from the client organisation's profile.")
    raised_week: dt.date = strawberry.field(description="Monday of the ISO week it was raised in (Europe/Amsterdam).")
    status: SignalStatus = strawberry.field(description="Open, or resolved once back within the baseline.")
    resolved_week: dt.date | None = strawberry.field(description="Monday of the week it resolved in, if it did.")
    review_status: ReviewStatus = strawberry.field(description="Where it stands in a social worker's review.")
    weeks: list[dt.date] = strawberry.field(description="Mondays of the weeks the test looked at.")
    method: DetectionMethod = strawberry.field(description="The explainable test that raised it.")
    strength: SignalStrength = strawberry.field(description="How sure the test is, as a band.")
    summary: str = strawberry.field(
        description="What rose, where, when and how surely, in plain language without counts."
    )
    internal: SignalInternals | None = strawberry.field(
        description="Counts, the test and the review: provider admins and social workers only; null otherwise."
    )
    evidence: JSON | None = strawberry.field(
        description="Everything stored to explain and recompute the signal (weeks, counts, baseline, test, "
        "threshold, management actions, observations): provider admins and social workers only; null otherwise."
    )

    @classmethod
    def of(cls, body: SignalBody, *, provider_view: bool) -> Signal:
        """A signal from signals' answer; counts and evidence only for the provider's view.

        Signals sends them to provider admins and social workers only; the gateway does not rely on that alone
        and drops them for anyone else.
        """
        internal, evidence = body.internal, body.evidence
        if not provider_view and (internal is not None or evidence is not None):
            logger.warning("signals sent a signal's counts to a caller outside the provider; dropped them")
            internal, evidence = None, None
        return cls(
            id=graph_id(body.id),
            tenant_id=graph_id(body.tenant_id),
            kind=body.kind,
            org_unit_id=graph_id(body.org_unit_id) if body.org_unit_id else None,
            org_unit_name=body.org_unit_name,
            raised_week=body.raised_week,
            status=body.status,
            resolved_week=body.resolved_week,
            review_status=body.review_status,
            weeks=list(body.weeks),
            method=body.method,
            strength=body.strength,
            summary=body.summary,
            internal=SignalInternals.of(internal) if internal is not None else None,
            evidence=JSON(evidence) if evidence is not None else None,
        )


@strawberry.type(description="How the reviews of one signal kind went for a client organisation over twelve months.")
class FalseAlarmKind:
    kind: SignalKind = strawberry.field(description="The reviewed signal kind.")
    raised: int = strawberry.field(description="Signals of the kind raised in the period.")
    confirmed: int = strawberry.field(description="Of those, confirmed by a social worker.")
    dismissed: int = strawberry.field(description="Of those, dismissed as a false alarm.")
    pending: int = strawberry.field(description="Of those, not reviewed yet.")
    threshold_factor: float = strawberry.field(
        description="What the detector multiplies its significance level by for this organisation and kind: 1, "
        "halved for each dismissal more than confirmations, at least 1/16."
    )

    @classmethod
    def of(cls, body: FalseAlarmBody) -> FalseAlarmKind:
        return cls(
            kind=body.kind,
            raised=body.raised,
            confirmed=body.confirmed,
            dismissed=body.dismissed,
            pending=body.pending,
            threshold_factor=body.threshold_factor,
        )


@strawberry.type(
    description="What social workers' reviews taught the detectors about one client organisation: false alarms "
    "per signal kind, and how much stricter each detector has become."
)
class FalseAlarmReport:
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    since: dt.date = strawberry.field(description="First raised week counted (twelve months back).")
    kinds: list[FalseAlarmKind] = strawberry.field(description="One entry per reviewed signal kind.")

    @classmethod
    def of(cls, body: FalseAlarmReportBody) -> FalseAlarmReport:
        return cls(
            tenant_id=graph_id(body.tenant_id),
            since=body.since,
            kinds=[FalseAlarmKind.of(kind) for kind in body.kinds],
        )
