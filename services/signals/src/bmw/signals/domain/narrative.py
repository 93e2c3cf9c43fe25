"""Evidence in plain language, in two registers.

``explanation`` is for the provider's social workers: it gives the counts. ``summary`` is for account
managers and client portals: it says what rose, where, when and how surely, without a single count, so
that it can be shown next to other tenant-facing numbers without revealing a small cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bmw.contracts.taxonomy import Category, DetectionMethod, SignalKind
from bmw.signals.domain.detection import Evidence

KIND_PHRASES: dict[SignalKind, str] = {
    SignalKind.REORGANISATION_WAVE: "a wave of referrals about reorganisation and dismissal",
    SignalKind.STRESS_SURGE: "a surge of referrals about workload and stress",
    SignalKind.BURNOUT_RISK_CLUSTER: "a cluster of referrals with a burnout risk",
    SignalKind.LEADERSHIP_CONFLICT_CLUSTER: "a cluster of referrals about conflicts with a manager",
    SignalKind.NEW_WAYS_OF_WORKING_STRAIN: "strain from new ways of working (isolation, blurred boundaries)",
    SignalKind.CAPACITY_SHORTFALL: "intakes that could not be scheduled in time",
    SignalKind.BUNDLE_THRESHOLD: "an hour bundle running out",
    SignalKind.CONTRACT_ENDING: "a contract nearing its end",
    SignalKind.REPEATED_MANAGER_CONSULTATIONS: "repeated manager consultations on one theme",
}


def strength(p_value: float | None, score: float, method: DetectionMethod) -> str:
    """How sure the test is, in words: notable, strong or very strong."""
    if p_value is not None:
        if p_value <= 0.0001:
            return "very strong"
        if p_value <= 0.001:
            return "strong"
        return "notable"
    if method is DetectionMethod.CUSUM:
        return "strong" if score >= 12 else "notable"
    return "notable"


def _span(weeks: Sequence[date]) -> str:
    if len(weeks) == 1:
        return f"the week of {weeks[0].isoformat()}"
    return f"the weeks of {weeks[0].isoformat()} to {weeks[-1].isoformat()}"


def summary(kind: SignalKind, unit_name: str | None, evidence: Evidence) -> str:
    """The evidence without counts: what, where, when, how surely, and any known change point."""
    where = f"in {unit_name}" if unit_name else "across the organisation"
    how = "rose gradually above" if evidence.method is DetectionMethod.CUSUM else "rose well above"
    text = (
        f"{KIND_PHRASES[kind].capitalize()} {where}: referrals {how} the unit's usual level in "
        f"{_span(evidence.weeks)} ({strength(evidence.p_value, evidence.score, evidence.method)} evidence)."
    )
    if evidence.context:
        actions = "; ".join(
            f"{action.action.replace('_', ' ')} ({action.week.isoformat()})" for action in evidence.context
        )
        text += f" Known change point: {actions}."
    return text


def category_names(categories: Sequence[Category]) -> str:
    return ", ".join(category.value.replace("_", " ") for category in categories)
