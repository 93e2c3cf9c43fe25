"""From referrals to a signal and an opportunity, through the real PostgreSQL and broker.

A client organisation brings a year of history (imported as CSV); a burst of reorganisation referrals in
one unit then raises a signal with its evidence, duplicates change nothing, a social worker confirms it and
an opportunity appears for the account manager. Withdrawn statistics consent and erasure take a person's
referrals out of the counts.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened, ClientErased, ConsentChanged, ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic
from bmw.servicekit.tables import INBOX
from bmw.signals.adapters.tables import DETECTION_RUNS, REFERRAL_CONTRIBUTIONS, WEEKLY_COUNTS
from bmw.signals.domain.weeks import AMSTERDAM

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
TODAY = NOW.astimezone(AMSTERDAM).date()
THIS_WEEK = TODAY - timedelta(days=TODAY.weekday())


def referral(tenant: uuid.UUID, unit: uuid.UUID, category: Category, when: datetime = NOW) -> CloudEvent:
    data = ReferralReceived(
        referral_id=uuid.uuid4(),
        channel=Channel.HR,
        org_unit_id=unit,
        category=category,
        urgency=Urgency.NORMAL,
        received_at=when,
    )
    return CloudEvent.create(data, tenant_id=tenant)


def history_csv(units: dict[str, uuid.UUID], weeks: int, seed: int) -> bytes:
    """A year of ordinary weeks: a referral now and then, in every unit."""
    rng = random.Random(seed)
    lines = ["week;org_unit;category;count"]
    for back in range(weeks, 0, -1):
        monday = THIS_WEEK - timedelta(weeks=back)
        for name in units:
            for category in (Category.REORGANISATION_UNCERTAINTY, Category.WORKLOAD_STRESS, Category.CONFLICT_MANAGER):
                lines.append(f"{monday.isoformat()};{name};{category.value};{int(rng.random() < 0.15)}")
    return ("\n".join(lines) + "\n").encode()


async def live_count(signals: ServiceUnderTest, tenant: uuid.UUID) -> int:
    async with signals.sessions() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(WEEKLY_COUNTS.c.referrals), 0)).where(WEEKLY_COUNTS.c.tenant_id == tenant)
        )
    return int(total or 0)


async def wait_for_count(signals: ServiceUnderTest, tenant: uuid.UUID, expected: int) -> None:
    async def counted() -> bool:
        return await live_count(signals, tenant) == expected

    await eventually(counted, what=f"{expected} referrals counted")


async def signal_events(signals: ServiceUnderTest, tenant: uuid.UUID, event_type: str) -> list[dict[str, Any]]:
    records = await read_topic(
        signals.bootstrap,
        "bmw.signals.events",
        match=lambda h: h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == event_type,
    )
    return [json.loads(value) for _, value in records]


async def test_a_burst_after_imported_history_raises_one_signal_that_a_social_worker_turns_into_an_opportunity(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (logistics, finance) = await signals.register_tenant("Logistiek", "Finance")
    admin = dev_keys.mint("provider_admin")

    # History from before the move: a year of ordinary weeks.
    imported = await signals.client.post(
        "/history-imports",
        params={"tenant_id": str(tenant)},
        content=history_csv({"Logistiek": logistics, "Finance": finance}, 52, seed=7),
        headers={**bearer(admin), "content-type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["unit_weeks"] == 104
    # Nothing unusual in the history: no signal.
    quiet = await signals.client.post("/detection-runs", params={"tenant_id": str(tenant)}, headers=bearer(admin))
    assert quiet.status_code == 200, quiet.text
    assert quiet.json()["raised"] == []

    # This week: a burst of reorganisation referrals in Logistiek, one ordinary referral in Finance.
    burst = [referral(tenant, logistics, Category.REORGANISATION_UNCERTAINTY) for _ in range(6)]
    burst += [referral(tenant, logistics, Category.DISMISSAL) for _ in range(3)]
    burst += [referral(tenant, finance, Category.WORKLOAD_STRESS)]
    await signals.publish(burst)
    await wait_for_count(signals, tenant, 10)
    await signals.publish(burst[:4])  # redelivered: counted once
    run = await signals.client.post("/detection-runs", params={"tenant_id": str(tenant)}, headers=bearer(admin))
    assert run.status_code == 200, run.text
    assert len(run.json()["raised"]) == 1
    assert await live_count(signals, tenant) == 10
    again = await signals.client.post("/detection-runs", params={"tenant_id": str(tenant)}, headers=bearer(admin))
    assert again.json()["raised"] == []  # a second run finds the same signal already open

    signal_id = run.json()["raised"][0]
    worker = dev_keys.mint("social_worker")
    seen = await signals.client.get(f"/signals/{signal_id}", headers=bearer(worker))
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["kind"] == "reorganisation_wave"
    assert body["org_unit_id"] == str(logistics)
    assert body["review_status"] == "pending"
    evidence = body["evidence"]
    assert evidence["observed"] >= 9
    assert THIS_WEEK.isoformat() in evidence["weeks"]
    assert evidence["p_value"] is not None and evidence["p_value"] <= 0.002
    assert evidence["baseline"]["period_weeks"] >= 8

    raised = await signal_events(signals, tenant, "signals.signal.raised.v1")
    assert [event["signal_id"] for event in raised] == [signal_id]
    assert raised[0]["evidence_summary"]["observed_count"] >= 9
    assert raised[0]["suppressed"] is False

    # A client contact does not see it before a social worker confirmed it.
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    hidden = await signals.client.get("/signals", params={"tenant_id": str(tenant)}, headers=bearer(contact))
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["items"] == []

    confirmed = await signals.client.post(
        f"/signals/{signal_id}/review",
        json={"decision": "confirmed", "reason": "matches_what_we_see"},
        headers=bearer(worker),
    )
    assert confirmed.status_code == 200, confirmed.text

    manager = dev_keys.mint("account_manager", portfolio=[tenant])
    opportunities = await signals.client.get(
        "/opportunities", params={"tenant_id": str(tenant)}, headers=bearer(manager)
    )
    assert opportunities.status_code == 200, opportunities.text
    [opportunity] = opportunities.json()["items"]
    assert opportunity["signal_id"] == signal_id
    assert opportunity["stage"] == "new"
    assert opportunity["recommended"]
    assert "Logistiek" in opportunity["evidence_text"]
    # The evidence in plain language names no count: only dates carry digits.
    assert not re.search(r"\d", re.sub(r"\d{4}-\d{2}-\d{2}", "", opportunity["evidence_text"]))

    created = await signal_events(signals, tenant, "signals.opportunity.created.v1")
    assert [event["signal_id"] for event in created] == [signal_id]

    visible = await signals.client.get("/signals", params={"tenant_id": str(tenant)}, headers=bearer(contact))
    [shown] = visible.json()["items"]
    assert shown["id"] == signal_id
    assert "evidence" not in shown or "counts" not in (shown.get("evidence") or {})


async def test_a_withdrawn_statistics_consent_and_an_erasure_take_referrals_out_of_the_counts(
    signals: ServiceUnderTest,
) -> None:
    tenant, (unit,) = await signals.register_tenant("Productie")
    events = [referral(tenant, unit, Category.CONFLICT_MANAGER) for _ in range(4)]
    await signals.publish(events)
    await wait_for_count(signals, tenant, 4)

    def opened(event: CloudEvent, client_ref: str) -> CloudEvent:
        data = ReferralReceived.model_validate(event.data)
        case = CaseOpened(
            case_id=uuid.uuid4(),
            referral_id=data.referral_id,
            client_ref=client_ref,
            org_unit_id=unit,
            category=data.category,
            urgency=data.urgency,
            sla_deadline=NOW + timedelta(days=3),
        )
        return CloudEvent.create(case, tenant_id=tenant)

    await signals.publish([opened(events[0], "c-anna"), opened(events[1], "c-anna"), opened(events[2], "c-bram")])
    withdrawn = ConsentChanged(client_ref="c-anna", purpose="anonymised_statistics", granted=False)
    await signals.publish([CloudEvent.create(withdrawn, tenant_id=tenant)])
    await wait_for_count(signals, tenant, 2)

    # A later referral of the person who opted out is not counted either, once its case opens.
    later = referral(tenant, unit, Category.CONFLICT_MANAGER)
    await signals.publish([later, opened(later, "c-anna")])
    await wait_for_count(signals, tenant, 2)

    await signals.publish([CloudEvent.create(ClientErased(client_ref="c-bram"), tenant_id=tenant)])
    await wait_for_count(signals, tenant, 1)


async def test_a_referral_delivered_again_under_a_new_event_id_is_counted_once(signals: ServiceUnderTest) -> None:
    # The inbox skips a redelivered event; a referral intake published twice (a new event id) is caught by its
    # contribution row, in the same statement that counts it and marks the tenant for detection.
    tenant, (unit,) = await signals.register_tenant("Magazijn")
    first = referral(tenant, unit, Category.WORKLOAD_STRESS)
    again = CloudEvent.create(ReferralReceived.model_validate(first.data), tenant_id=tenant)
    await signals.publish([first, again, referral(tenant, unit, Category.WORKLOAD_STRESS)])

    async def all_applied() -> bool:
        async with signals.sessions() as session:
            rows = await session.scalar(
                select(func.count()).where(INBOX.c.tenant_id == tenant, INBOX.c.consumer_group == "signals")
            )
        return rows == 4  # the client organisation's registration and the three referral events

    await eventually(all_applied, what="the three referral events applied")
    async with signals.sessions() as session:
        contributions = await session.scalar(select(func.count()).where(REFERRAL_CONTRIBUTIONS.c.tenant_id == tenant))
        dirty = await session.scalar(select(DETECTION_RUNS.c.dirty).where(DETECTION_RUNS.c.tenant_id == tenant))
    assert await live_count(signals, tenant) == 2
    assert contributions == 2
    assert dirty is True


async def test_a_history_file_with_errors_is_refused_whole_with_every_error_named(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, _ = await signals.register_tenant("Zorg")
    admin = dev_keys.mint("provider_admin")
    last_week = (THIS_WEEK - timedelta(weeks=1)).isoformat()
    content = (
        "week,org_unit,category,count\n"
        f"{last_week},Zorg,workload_stress,2\n"
        f"{last_week},Onbekend,workload_stress,1\n"
        f"{last_week},Zorg,gossip,1\n"
    ).encode()
    refused = await signals.client.post(
        "/history-imports",
        params={"tenant_id": str(tenant)},
        content=content,
        headers={**bearer(admin), "content-type": "text/csv"},
    )
    assert refused.status_code == 422, refused.text
    paths = {error["path"] for error in refused.json()["error"]["fields"]}
    assert paths == {"body.line[3].org_unit", "body.line[4].category"}
    listed = await signals.client.get("/history-imports", params={"tenant_id": str(tenant)}, headers=bearer(admin))
    assert listed.json() == []

    # Only provider administrators import.
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    forbidden = await signals.client.post(
        "/history-imports",
        params={"tenant_id": str(tenant)},
        content=content,
        headers={**bearer(contact), "content-type": "text/csv"},
    )
    assert forbidden.status_code == 403

    # The same good file twice: the second is recognised and changes nothing.
    good = f"week,org_unit,category,count\n{last_week},Zorg,workload_stress,2\n".encode()
    first = await signals.client.post(
        "/history-imports",
        params={"tenant_id": str(tenant)},
        content=good,
        headers={**bearer(admin), "content-type": "text/csv"},
    )
    second = await signals.client.post(
        "/history-imports",
        params={"tenant_id": str(tenant)},
        content=good,
        headers={**bearer(admin), "content-type": "text/csv"},
    )
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"] and second.json()["repeated"] is True
