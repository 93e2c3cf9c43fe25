"""Running the detectors on a client organisation's aggregates, and storing what they find.

A tenant is evaluated when new counts arrived (the consumers mark it) and at least once a week (a new week
can resolve a signal). An evaluation rebuilds every unit's weekly series from the live and imported
counts, replays each detector over the last ``replay_weeks`` weeks (a deterministic function of the
counts: no detector state has to be stored), and then:

- **raises** a signal found in the current or previous week when the unit has no open signal of that kind
  and is not in its cool-down (the unique index on unit × kind × week makes a second run a no-op); signals
  found in older weeks are history (an import, a late event) and are not raised now;
- **resolves** an open signal once the unit's last ``resolve_after_weeks`` completed weeks are all back
  within the baseline the signal was raised against (frozen in its evidence).

Units are evaluated on their own referrals, parent units on their whole subtree; a parent's signal is
dropped when a unit below it explains the rise (has a signal of the same kind). Thresholds per tenant × kind
are tightened by the social workers' dismissals (``domain.review.tuned_alpha``).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Row

from bmw.contracts.events.signals import EvidenceSummary, SignalRaised, SignalResolved
from bmw.contracts.taxonomy import Category, DetectionMethod, SignalKind
from bmw.servicekit.tenants import OrgUnitRow, k_anonymity, org_units
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory
from bmw.signals.adapters import aggregates, signal_store
from bmw.signals.application.actions import known_change_points
from bmw.signals.application.observations import recent_observations
from bmw.signals.application.opportunities import open_opportunity
from bmw.signals.application.review import dismissal_record
from bmw.signals.domain.codes import BOTTLENECK_SUPPORTS, REVIEWED_KINDS, Bottleneck, ReviewStatus
from bmw.signals.domain.detection import (
    DEFAULT_SPECS,
    Baseline,
    CapacityRule,
    DetectorConfig,
    Evidence,
    OrgBaseline,
    Signal,
    UnitSeries,
    capacity_shortfall,
    detect,
    negative_binomial_quantile,
)
from bmw.signals.domain.narrative import summary
from bmw.signals.domain.review import tuned_alpha
from bmw.signals.domain.weeks import AMSTERDAM

logger = logging.getLogger(__name__)

ORGANISATION = uuid.UUID(int=0)
"""Stands for "the whole organisation" where a unit id is needed as a key."""


@dataclass(frozen=True)
class DetectionPolicy:
    """How far back the detectors look and what they assume where data is missing."""

    history_weeks: int = 156
    replay_weeks: int = 40
    raise_lookback_weeks: int = 1
    default_unit_employees: int = 50
    consultation_window_weeks: int = 8
    consultation_threshold: int = 3
    config: DetectorConfig = field(default_factory=DetectorConfig)
    capacity: CapacityRule = field(default_factory=CapacityRule)


@dataclass(frozen=True)
class DetectionReport:
    """What one evaluation did."""

    tenant_id: uuid.UUID
    week: date
    units: int
    raised: tuple[uuid.UUID, ...]
    resolved: tuple[uuid.UUID, ...]


# --------------------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """A unit as a detector sees it: its own referrals (a leaf) or its subtree's (a parent)."""

    unit_id: uuid.UUID
    name: str
    series: UnitSeries
    subtree: frozenset[uuid.UUID]
    descendants: frozenset[uuid.UUID]


def _descendants(units: Sequence[OrgUnitRow]) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for unit in units:
        if unit.parent_id is not None:
            children[unit.parent_id].append(unit.id)
    result: dict[uuid.UUID, frozenset[uuid.UUID]] = {}
    for unit in units:
        seen: set[uuid.UUID] = set()
        stack = list(children.get(unit.id, ()))
        while stack:
            child = stack.pop()
            if child not in seen and child != unit.id:
                seen.add(child)
                stack.extend(children.get(child, ()))
        result[unit.id] = frozenset(seen)
    return result


def build_scopes(
    units: Sequence[OrgUnitRow],
    cells: Mapping[tuple[uuid.UUID, str, date], int],
    *,
    start: date,
    weeks: int,
    default_employees: int,
) -> tuple[list[_Scope], OrgBaseline]:
    """Dense series per unit (own referrals) and per parent (its subtree), and the organisation's baseline."""
    known = {unit.id for unit in units}
    own: dict[uuid.UUID, dict[Category, list[int]]] = defaultdict(dict)
    for (unit_id, category, week), count in cells.items():
        index = (week - start).days // 7
        if not 0 <= index < weeks:
            continue
        try:
            code = Category(category)
        except ValueError:
            continue
        weekly = own[unit_id].setdefault(code, [0] * weeks)
        weekly[index] += count
    rows = list(units) + [
        OrgUnitRow(id=unit_id, name=str(unit_id), parent_id=None, employees=None)
        for unit_id in own
        if unit_id not in known
    ]
    employees = {row.id: row.employees or default_employees for row in rows}
    own_series = {
        row.id: UnitSeries(unit_id=str(row.id), employees=employees[row.id], start=start, counts=own.get(row.id, {}))
        for row in rows
    }
    org = OrgBaseline(list(own_series.values()))
    below = _descendants(rows)
    scopes = []
    for row in rows:
        descendants = below.get(row.id, frozenset())
        if not descendants:
            series = own_series[row.id]
        else:
            members = {row.id, *descendants}
            counts: dict[Category, list[int]] = {}
            for member in members:
                for category, values in own.get(member, {}).items():
                    total = counts.setdefault(category, [0] * weeks)
                    for i, value in enumerate(values):
                        total[i] += value
            series = UnitSeries(
                unit_id=str(row.id), employees=sum(employees[m] for m in members), start=start, counts=counts
            )
        scopes.append(_Scope(row.id, row.name, series, frozenset({row.id, *descendants}), descendants))
    return scopes, org


# --------------------------------------------------------------------------------------------------
# Evidence as stored and as sent
# --------------------------------------------------------------------------------------------------


def _baseline_json(baseline: Baseline) -> dict[str, Any]:
    return {
        "weekly_rate": baseline.weekly_rate,
        "size": baseline.size if baseline.size != float("inf") else None,
        "period_weeks": baseline.period_weeks,
        "unit_weeks": baseline.unit_weeks,
        "unit_referrals": baseline.unit_referrals,
        "org_rate_per_employee": baseline.org_rate_per_employee,
        "prior_weeks": baseline.prior_weeks,
        "first_week": baseline.first_week.isoformat(),
        "end_week": baseline.end_week.isoformat(),
    }


def evidence_json(
    signal: Signal, *, unit_name: str | None, scope: str, employees: int | None, observations: list[dict[str, Any]]
) -> dict[str, Any]:
    """Everything needed to explain (and recompute) the signal; ``summary`` is the count-free sentence."""
    evidence = signal.evidence
    return {
        "categories": [category.value for category in evidence.categories],
        "weeks": [week.isoformat() for week in evidence.weeks],
        "counts": list(evidence.counts),
        "observed": evidence.observed,
        "expected": evidence.expected,
        "method": evidence.method.value,
        "p_value": evidence.p_value,
        "score": evidence.score,
        "threshold": evidence.threshold,
        "min_count": evidence.min_count,
        "baseline": _baseline_json(evidence.baseline),
        "context": [{"action": action.action, "week": action.week.isoformat()} for action in evidence.context],
        "observations": observations,
        "scope": scope,
        "employees": employees,
        "explanation": evidence.explain(),
        "summary": summary(signal.kind, unit_name, evidence),
    }


def evidence_summary(row: Row[Any] | Mapping[str, Any]) -> EvidenceSummary:
    """The wire summary of a stored signal's evidence."""
    data = row._mapping if isinstance(row, Row) else row
    evidence = data["evidence"]
    baseline = evidence.get("baseline") or {}
    period = baseline.get("period_weeks") or None
    return EvidenceSummary(
        method=DetectionMethod(data["method"]),
        categories=[Category(c) for c in evidence.get("categories", [])],
        observed_count=data["observed"],
        expected_count=max(float(data["expected"]), 0.0),
        p_value=data["p_value"],
        score=data["score"],
        weeks=max(1, len(evidence.get("weeks", [])) or 1),
        baseline_weeks=period,
    )


def signal_fields(row: Row[Any]) -> dict[str, Any]:
    """The fields every signal event carries, from a stored row."""
    return {
        "signal_id": row.id,
        "kind": SignalKind(row.kind),
        "org_unit_id": row.org_unit_id,
        "evidence_summary": evidence_summary(row),
        "suppressed": row.suppressed,
    }


async def store_and_announce(work: UnitOfWork, tenant_id: uuid.UUID, values: dict[str, Any]) -> Row[Any] | None:
    """Insert a signal and emit ``signals.signal.raised.v1``; signals that need no review open their
    opportunity at once. None when it was already stored."""
    row = await signal_store.insert_signal(work.session, {"id": uuid.uuid4(), "tenant_id": tenant_id, **values})
    if row is None:
        return None
    await work.emit(SignalRaised(**signal_fields(row)), tenant_id=tenant_id, subject=str(row.id))
    if row.review_status == ReviewStatus.NOT_REQUIRED.value:
        await open_opportunity(work, row)
    return row


async def resolve_and_announce(work: UnitOfWork, tenant_id: uuid.UUID, signal_id: uuid.UUID, week: date) -> bool:
    row = await signal_store.resolve_signal(work.session, signal_id, week)
    if row is None:
        return False
    await work.emit(SignalResolved(**signal_fields(row)), tenant_id=tenant_id, subject=str(row.id))
    return True


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


def _returned_to_baseline(values: Sequence[int], baseline: Mapping[str, Any], config: DetectorConfig) -> bool:
    """Every one of the last ``resolve_after_weeks`` completed weeks at or below the frozen baseline's quantile."""
    if len(values) < config.resolve_after_weeks:
        return False
    size = baseline.get("size") or config.dispersion
    limit = negative_binomial_quantile(config.resolve_quantile, mean=float(baseline["weekly_rate"]), size=float(size))
    return all(value <= limit for value in values[-config.resolve_after_weeks :])


def _observations_for(
    observations: Iterable[Any], scope: _Scope, kind: SignalKind, week: date, config: DetectorConfig
) -> list[dict[str, Any]]:
    earliest = week - timedelta(weeks=config.context_weeks)
    found = []
    for observation in observations:
        bottleneck = Bottleneck(observation.bottleneck)
        if (
            observation.org_unit_id in scope.subtree
            and earliest <= observation.week <= week
            and kind in BOTTLENECK_SUPPORTS.get(bottleneck, frozenset())
        ):
            found.append(
                {"bottleneck": bottleneck.value, "week": observation.week.isoformat(), "severity": observation.severity}
            )
    return found


async def evaluate_tenant(
    uow: UnitOfWorkFactory,
    tenant_id: uuid.UUID,
    *,
    today: date,
    default_k: int,
    policy: DetectionPolicy | None = None,
) -> DetectionReport:
    """Evaluate every detector of one client organisation as of ``today`` (its week is still running)."""
    policy = policy or DetectionPolicy()
    config = policy.config
    current = today - timedelta(days=today.weekday())
    async with uow(tenant_id=tenant_id) as work:
        session = work.session
        units = await org_units(session, tenant_id)
        k = await k_anonymity(session, tenant_id, default_k)
        first_data = await aggregates.first_week_with_data(session, tenant_id)
        earliest = current - timedelta(weeks=policy.history_weeks - 1)
        start = max(earliest, first_data) if first_data is not None else current
        weeks = (current - start).days // 7 + 1
        cells = await aggregates.weekly_cells(session, tenant_id=tenant_id, first_week=start, last_week=current)
        scopes, org = build_scopes(
            units, cells, start=start, weeks=weeks, default_employees=policy.default_unit_employees
        )
        actions = await known_change_points(session, tenant_id)
        observations = await recent_observations(session, tenant_id, current - timedelta(weeks=config.context_weeks))
        record = await dismissal_record(session, tenant_id)
        stored = await signal_store.open_signals(session, tenant_id)
        past = _episode_weeks(await signal_store.episodes(session, tenant_id), start=start, current=current)
        cooling = await signal_store.last_resolved_weeks(session, tenant_id)
        open_by_key = {(row.org_unit_id or ORGANISATION, row.kind): row for row in stored}

        raised: list[uuid.UUID] = []
        resolved: list[uuid.UUID] = []
        by_unit = {scope.unit_id: scope for scope in scopes}

        # Resolution first: a unit back at its frozen baseline for resolve_after_weeks completed weeks.
        specs = {spec.kind: spec for spec in DEFAULT_SPECS}
        for row in stored:
            kind = SignalKind(row.kind)
            scope = by_unit.get(row.org_unit_id) if row.org_unit_id is not None else None
            if kind not in specs or scope is None:
                continue
            values = scope.series.group(specs[kind].categories)
            first = scope.series.index(row.raised_week) + 1
            completed = values[max(first, 0) : weeks - 1]
            back = _returned_to_baseline(completed, row.evidence["baseline"], config)
            if back and await resolve_and_announce(work, tenant_id, row.id, current - timedelta(weeks=1)):
                resolved.append(row.id)
                open_by_key.pop((row.org_unit_id or ORGANISATION, row.kind), None)

        # Raising: replay each detector per scope; keep only signals of the last weeks still open at the end.
        candidates: dict[tuple[uuid.UUID, SignalKind], tuple[_Scope, Signal]] = {}
        recent = current - timedelta(weeks=policy.raise_lookback_weeks)
        for scope in scopes:
            for spec in DEFAULT_SPECS:
                dismissed, confirmed = record.get(spec.kind, (0, 0))
                tuned = replace(config, alpha=tuned_alpha(config.alpha, dismissed, confirmed))
                found = detect(
                    scope.series,
                    config=tuned,
                    org=org,
                    actions=[a for a in actions if a.unit_id is None or uuid.UUID(a.unit_id) in scope.subtree],
                    specs=[spec],
                    first_week=max(0, weeks - policy.replay_weeks),
                    excluded={spec.kind: _excluded(past, scope.subtree, spec.kind)},
                )
                for signal in found:
                    if signal.open and signal.raised_week >= recent:
                        candidates[(scope.unit_id, spec.kind)] = (scope, replace(signal, unit_id=str(scope.unit_id)))

        for (unit_id, kind), (scope, signal) in sorted(candidates.items(), key=lambda item: str(item[0])):
            if any((other, kind) in candidates or (other, kind.value) in open_by_key for other in scope.descendants):
                continue  # a unit below explains the rise more precisely
            if (unit_id, kind.value) in open_by_key:
                continue
            last = cooling.get((unit_id, kind.value))
            if last is not None and (signal.raised_week - last).days // 7 <= config.cooldown_weeks:
                continue
            new = await store_and_announce(work, tenant_id, _signal_values(signal, scope, k, observations, config))
            if new is not None:
                raised.append(new.id)
                open_by_key[(unit_id, kind.value)] = new

        raised += await _capacity(work, tenant_id, current, start, weeks, open_by_key, policy)
        consultations = await _consultations(work, tenant_id, current, open_by_key, policy)
        raised += consultations[0]
        resolved += consultations[1]
        await aggregates.mark_evaluated(session, tenant_id, current)
        await work.commit()
    return DetectionReport(tenant_id, current, len(scopes), tuple(raised), tuple(resolved))


def _episode_weeks(rows: Iterable[Any], *, start: date, current: date) -> dict[tuple[uuid.UUID, SignalKind], set[int]]:
    """Week indexes of earlier real signals per unit × kind: from their first evidence week to their
    resolution (or now, while open)."""
    found: dict[tuple[uuid.UUID, SignalKind], set[int]] = defaultdict(set)
    for row in rows:
        if row.org_unit_id is None:
            continue
        try:
            kind = SignalKind(row.kind)
        except ValueError:
            continue
        weeks = [date.fromisoformat(week) for week in (row.weeks or [])] or [row.raised_week]
        last = row.resolved_week or current
        first_index = max(0, (min(weeks) - start).days // 7)
        last_index = (last - start).days // 7
        found[(row.org_unit_id, kind)].update(range(first_index, last_index + 1))
    return found


def _excluded(
    past: Mapping[tuple[uuid.UUID, SignalKind], set[int]], units: Iterable[uuid.UUID], kind: SignalKind
) -> frozenset[int]:
    """The episode weeks of a kind anywhere in a scope: a child's wave inflates its parent's history too."""
    weeks: set[int] = set()
    for unit in units:
        weeks |= past.get((unit, kind), set())
    return frozenset(weeks)


def _signal_values(
    signal: Signal, scope: _Scope, k: int, observations: Iterable[Any], config: DetectorConfig
) -> dict[str, Any]:
    evidence: Evidence = signal.evidence
    return {
        "org_unit_id": scope.unit_id,
        "kind": signal.kind.value,
        "raised_week": signal.raised_week,
        "status": "open",
        "review_status": (ReviewStatus.PENDING if signal.kind in REVIEWED_KINDS else ReviewStatus.NOT_REQUIRED).value,
        "method": evidence.method.value,
        "observed": evidence.observed,
        "expected": evidence.expected,
        "p_value": evidence.p_value,
        "score": evidence.score,
        "suppressed": evidence.observed < k,
        "evidence": evidence_json(
            signal,
            unit_name=scope.name,
            scope="subtree" if scope.descendants else "own",
            employees=scope.series.employees,
            observations=_observations_for(observations, scope, signal.kind, signal.raised_week, config),
        ),
    }


async def _capacity(
    work: UnitOfWork,
    tenant_id: uuid.UUID,
    current: date,
    start: date,
    weeks: int,
    open_by_key: dict[tuple[uuid.UUID, str], Any],
    policy: DetectionPolicy,
) -> list[uuid.UUID]:
    """Unschedulable and escalated intakes over the last weeks: the provider lacks capacity for this client."""
    key = (ORGANISATION, SignalKind.CAPACITY_SHORTFALL.value)
    first = current - timedelta(weeks=policy.capacity.weeks + 4)
    totals = [0] * (policy.capacity.weeks + 5)
    for metric in ("unschedulable_intakes", "escalations"):
        series = await aggregates.metric_series(work.session, tenant_id=tenant_id, metric=metric, first_week=first)
        for by_week in series.values():
            for week, value in by_week.items():
                index = (week - first).days // 7
                if 0 <= index < len(totals):
                    totals[index] += value
    if key in open_by_key:
        row = open_by_key[key]
        if sum(totals[-1 - policy.capacity.weeks : -1]) == 0 and row.raised_week < current:
            await resolve_and_announce(work, tenant_id, row.id, current - timedelta(weeks=1))
        return []
    signal = capacity_shortfall(totals, start=first, index=len(totals) - 1, rule=policy.capacity)
    if signal is None:
        return []
    values = {
        "org_unit_id": None,
        "kind": signal.kind.value,
        "raised_week": signal.raised_week,
        "status": "open",
        "review_status": ReviewStatus.NOT_REQUIRED.value,
        "method": DetectionMethod.THRESHOLD.value,
        "observed": signal.evidence.observed,
        "expected": 0.0,
        "p_value": None,
        "score": signal.evidence.score,
        "suppressed": False,
        "evidence": {
            "weeks": [week.isoformat() for week in signal.evidence.weeks],
            "counts": list(signal.evidence.counts),
            "observed": signal.evidence.observed,
            "threshold": signal.evidence.threshold,
            "method": DetectionMethod.THRESHOLD.value,
            "baseline": None,
            "explanation": f"{signal.evidence.observed} intakes could not be scheduled within their SLA in "
            f"{len(signal.evidence.weeks)} weeks (threshold {policy.capacity.min_unschedulable}).",
            "summary": "Intakes for this organisation could not be scheduled in time: the provider needs more "
            "capacity here.",
        },
    }
    row = await store_and_announce(work, tenant_id, values)
    return [row.id] if row is not None else []


async def _consultations(
    work: UnitOfWork,
    tenant_id: uuid.UUID,
    current: date,
    open_by_key: dict[tuple[uuid.UUID, str], Any],
    policy: DetectionPolicy,
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Repeated manager consultations on one topic: managers keep asking for advice on the same theme."""
    key = (ORGANISATION, SignalKind.REPEATED_MANAGER_CONSULTATIONS.value)
    first = current - timedelta(weeks=policy.consultation_window_weeks - 1)
    series = await aggregates.metric_series(
        work.session, tenant_id=tenant_id, metric="manager_consultations", first_week=first
    )
    totals = {topic: sum(by_week.values()) for topic, by_week in series.items() if topic}
    busiest = max(totals.items(), key=lambda item: (item[1], item[0]), default=None)
    if key in open_by_key:
        row = open_by_key[key]
        topic = row.evidence.get("topic")
        quiet = totals.get(topic, 0) < policy.consultation_threshold
        if quiet and await resolve_and_announce(work, tenant_id, row.id, current):
            return [], [row.id]
        return [], []
    if busiest is None or busiest[1] < policy.consultation_threshold:
        return [], []
    topic, count = busiest
    weeks = sorted(series[topic])
    values = {
        "org_unit_id": None,
        "kind": SignalKind.REPEATED_MANAGER_CONSULTATIONS.value,
        "raised_week": current,
        "status": "open",
        "review_status": ReviewStatus.NOT_REQUIRED.value,
        "method": DetectionMethod.THRESHOLD.value,
        "observed": count,
        "expected": 0.0,
        "p_value": None,
        "score": float(count),
        "suppressed": False,
        "evidence": {
            "topic": topic,
            "weeks": [week.isoformat() for week in weeks],
            "counts": [series[topic][week] for week in weeks],
            "observed": count,
            "threshold": policy.consultation_threshold,
            "method": DetectionMethod.THRESHOLD.value,
            "baseline": None,
            "explanation": f"{count} manager consultations on {topic.replace('_', ' ')} in "
            f"{policy.consultation_window_weeks} weeks (threshold {policy.consultation_threshold}).",
            "summary": f"Managers repeatedly asked for advice on {topic.replace('_', ' ')}: a training or "
            "handbook for all managers may serve them better than one consultation at a time.",
        },
    }
    row = await store_and_announce(work, tenant_id, values)
    return ([row.id] if row is not None else []), []


async def run_due(
    uow: UnitOfWorkFactory,
    *,
    default_k: int,
    now: datetime | None = None,
    policy: DetectionPolicy | None = None,
) -> list[DetectionReport]:
    """Evaluate every tenant with new counts or not yet evaluated this week (the periodic job)."""
    today = (now or datetime.now(UTC)).astimezone(AMSTERDAM).date()
    async with uow() as work:  # a unit of work: its transaction carries the scope the tables' walls read
        due = await aggregates.tenants_due(work.session, today - timedelta(days=today.weekday()))
    reports = []
    for tenant_id in due:
        try:
            reports.append(await evaluate_tenant(uow, tenant_id, today=today, default_k=default_k, policy=policy))
        except Exception:  # one tenant's failure must not stop the others; it stays due and is retried
            logger.exception("detection failed for tenant %s", tenant_id)
    return reports
