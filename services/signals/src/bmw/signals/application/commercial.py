"""Commercial triggers from billing's events: a bundle running out and a contract nearing its end.

They are facts about contracts, not about people: they need no social worker's review and open their
opportunity for the account manager at once. A new contract (a renewal, a top-up) resolves them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import ContractActivated, ContractEnded, ContractExpiring, ContractThresholdReached
from bmw.contracts.taxonomy import DetectionMethod, SignalKind
from bmw.servicekit.uow import UnitOfWork
from bmw.signals.adapters import signal_store
from bmw.signals.adapters.contracts import store_contract
from bmw.signals.application.detection import resolve_and_announce, store_and_announce
from bmw.signals.domain.codes import ReviewStatus
from bmw.signals.domain.weeks import AMSTERDAM


def _week(event: CloudEvent) -> datetime:
    return event.time.astimezone(AMSTERDAM)


async def on_threshold_reached(uow: UnitOfWork, event: CloudEvent, data: ContractThresholdReached) -> None:
    """80 % or 100 % of a bundle used: time to talk about a top-up or a larger contract."""
    local = _week(event).date()
    week = local - timedelta(days=local.weekday())
    await _raise(
        uow,
        event,
        kind=SignalKind.BUNDLE_THRESHOLD,
        week=week,
        score=float(data.percent),
        evidence={
            "contract_id": str(data.contract_id),
            "product_code": data.product_code,
            "percent": data.percent,
            "explanation": f"{data.percent} % of bundle {data.product_code} is used.",
            "summary": f"The hour bundle {data.product_code} is {data.percent} % used"
            + ("; further hours are refused or billed as overage." if data.percent >= 100 else "."),
        },
    )


async def on_expiring(uow: UnitOfWork, event: CloudEvent, data: ContractExpiring) -> None:
    """A contract ends within the notice window and has no renewal yet."""
    local = _week(event).date()
    week = local - timedelta(days=local.weekday())
    days = (data.end_date - local).days
    await _raise(
        uow,
        event,
        kind=SignalKind.CONTRACT_ENDING,
        week=week,
        score=float(max(days, 0)),
        evidence={
            "contract_id": str(data.contract_id),
            "end_date": data.end_date.isoformat(),
            "explanation": f"The contract ends on {data.end_date.isoformat()} ({days} days) without a renewal.",
            "summary": f"The contract ends on {data.end_date.isoformat()} and has no renewal yet.",
        },
    )


async def _raise(
    uow: UnitOfWork, event: CloudEvent, *, kind: SignalKind, week: date, score: float, evidence: dict[str, object]
) -> None:
    full_evidence = {
        "method": DetectionMethod.THRESHOLD.value,
        "baseline": None,
        "weeks": [week.isoformat()],
        **evidence,
    }
    for row in await signal_store.open_signals(uow.session, event.tenantid):
        if row.kind == kind.value and row.evidence.get("contract_id") == evidence["contract_id"]:
            if kind is not SignalKind.BUNDLE_THRESHOLD or row.evidence.get("percent") == evidence.get("percent"):
                return  # already announced
            if row.raised_week == week:  # 80 % and 100 % in one week: one signal, with the newer figure
                await signal_store.update_open_signal(uow.session, row.id, score=score, evidence=full_evidence)
                return
            await resolve_and_announce(uow, event.tenantid, row.id, week)  # 80 % replaced by 100 %
    await store_and_announce(
        uow,
        event.tenantid,
        {
            "org_unit_id": None,
            "kind": kind.value,
            "raised_week": week,
            "status": "open",
            "review_status": ReviewStatus.NOT_REQUIRED.value,
            "method": DetectionMethod.THRESHOLD.value,
            "observed": 0,
            "expected": 0.0,
            "p_value": None,
            "score": score,
            "suppressed": False,
            "evidence": {
                "method": DetectionMethod.THRESHOLD.value,
                "baseline": None,
                "weeks": [week.isoformat()],
                **evidence,
            },
        },
    )


async def on_contract_activated(uow: UnitOfWork, event: CloudEvent, data: ContractActivated) -> None:
    """Keep the copy; a new contract answers the tenant's open bundle and contract-ending signals."""
    await store_contract(uow.session, event.tenantid, data, status="active")
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    for row in await signal_store.open_signals(uow.session, event.tenantid):
        answered = row.kind in (SignalKind.BUNDLE_THRESHOLD.value, SignalKind.CONTRACT_ENDING.value)
        if answered and row.evidence.get("contract_id") != str(data.contract_id):
            await resolve_and_announce(uow, event.tenantid, row.id, today - timedelta(days=today.weekday()))


async def on_contract_ended(uow: UnitOfWork, event: CloudEvent, data: ContractEnded) -> None:
    await store_contract(uow.session, event.tenantid, data, status="ended")
    today = datetime.now(UTC).astimezone(AMSTERDAM).date()
    for row in await signal_store.open_signals(uow.session, event.tenantid):
        if row.kind == SignalKind.CONTRACT_ENDING.value and row.evidence.get("contract_id") == str(data.contract_id):
            await resolve_and_announce(uow, event.tenantid, row.id, today - timedelta(days=today.weekday()))
