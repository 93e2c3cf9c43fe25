"""Human review, the opportunities pipeline and the interventions catalogue, through the real PostgreSQL and broker.

Signals are written straight into signals' table (as the detector would store them), contracts into its read
copy of billing's; everything else goes through the HTTP API, and the events are read back from the topic.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from bmw.contracts.events.billing import ContractProduct
from bmw.contracts.taxonomy import ProductKind, SignalKind, VatRate
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic
from bmw.signals.adapters.tables import CONTRACTS, SIGNALS
from bmw.signals.domain.weeks import AMSTERDAM

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).astimezone(AMSTERDAM).date()
THIS_WEEK = TODAY - timedelta(days=TODAY.weekday())
TOPIC = "bmw.signals.events"

REORGANISATION = [
    "dismissal_conversations_training",
    "reorganisation_secondment",
    "reorganisation_manager_handbook",
    "leading_through_change_training",
]


# -- builders -----------------------------------------------------------------------------------------------


async def stored_signal(
    signals: ServiceUnderTest,
    tenant: uuid.UUID,
    unit: uuid.UUID | None,
    kind: SignalKind,
    *,
    review_status: str = "pending",
    suppressed: bool = False,
    week: date = THIS_WEEK,
    observed: int = 9,
) -> uuid.UUID:
    """A raised signal as the detector stores it: counts in the explanation, none in the summary."""
    signal_id = uuid.uuid4()
    evidence = {
        "categories": ["reorganisation_uncertainty", "dismissal"] if kind is SignalKind.REORGANISATION_WAVE else [],
        "weeks": [week.isoformat()],
        "counts": [observed],
        "observed": observed,
        "expected": 1.2,
        "method": "negative_binomial_tail",
        "p_value": 0.00004,
        "score": 4.4,
        "threshold": 0.002,
        "min_count": 3,
        "baseline": {"weekly_rate": 0.4, "period_weeks": 52},
        "context": [],
        "observations": [],
        "explanation": f"{observed} referrals in the week where 1.2 were expected: p = 4e-05 ≤ 0.002.",
        "summary": f"A {kind.value.replace('_', ' ')} in this unit, very strong.",
    }
    async with signals.sessions() as session, session.begin():
        await session.execute(
            insert(SIGNALS).values(
                id=signal_id,
                tenant_id=tenant,
                org_unit_id=unit,
                kind=kind.value,
                raised_week=week,
                status="open",
                review_status=review_status,
                method="negative_binomial_tail",
                observed=observed,
                expected=1.2,
                p_value=0.00004,
                score=4.4,
                suppressed=suppressed,
                evidence=evidence,
            )
        )
    return signal_id


async def contract(
    signals: ServiceUnderTest, tenant: uuid.UUID, *products: ContractProduct, status: str = "active"
) -> None:
    async with signals.sessions() as session, session.begin():
        await session.execute(
            insert(CONTRACTS).values(
                id=uuid.uuid4(),
                tenant_id=tenant,
                products=[product.model_dump(mode="json") for product in products],
                period_start=TODAY - timedelta(days=100),
                period_end=TODAY + timedelta(days=265),
                status=status,
            )
        )


def product(code: str, kind: ProductKind, unit_price_cents: int) -> ContractProduct:
    return ContractProduct(
        code=code,
        kind=kind,
        unit_price_cents=unit_price_cents,
        vat_rate=VatRate.EXEMPT,
        included_quantity=Decimal(40) if kind is ProductKind.HOUR_BUNDLE else None,
    )


async def events(signals: ServiceUnderTest, tenant: uuid.UUID, event_type: str, count: int) -> list[dict[str, Any]]:
    """The tenant's events of a type on the topic, once there are ``count`` of them (the relay is asynchronous)."""
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        nonlocal found
        records = await read_topic(
            signals.bootstrap,
            TOPIC,
            match=lambda h: h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == event_type,
            idle_ms=500,
        )
        found = [json.loads(value) for _, value in records]
        return len(found) >= count

    await eventually(arrived, what=f"{count} × {event_type}")
    assert len(found) == count, found
    return found


async def review(
    signals: ServiceUnderTest, token: str, signal_id: uuid.UUID, decision: str, reason: str, note: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"decision": decision, "reason": reason}
    if note is not None:
        body["note"] = note
    return await signals.client.post(f"/signals/{signal_id}/review", json=body, headers=bearer(token))


async def move(signals: ServiceUnderTest, token: str, opportunity: str, **body: Any) -> httpx.Response:
    return await signals.client.post(f"/opportunities/{opportunity}/stage", json=body, headers=bearer(token))


def field_paths(response: httpx.Response) -> list[str]:
    return [field["path"] for field in response.json()["error"]["fields"]]


# -- review → opportunity → pipeline ------------------------------------------------------------------------


async def test_a_confirmed_signal_becomes_a_priced_opportunity_that_the_account_manager_wins(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (logistics, finance) = await signals.register_tenant("Logistiek", "Finance")
    await contract(
        signals,
        tenant,
        product("WORKSHOP", ProductKind.WORKSHOP_PER_SESSION, 140_000),
        product("HOURS-40", ProductKind.HOUR_BUNDLE, 9_500),
    )
    await contract(signals, tenant, product("OLD-SECONDMENT", ProductKind.SECONDMENT_HOURLY, 1), status="ended")
    signal_id = await stored_signal(signals, tenant, logistics, SignalKind.REORGANISATION_WAVE)
    pending_id = await stored_signal(signals, tenant, finance, SignalKind.STRESS_SURGE)
    worker = dev_keys.mint("social_worker")
    manager = dev_keys.mint("account_manager", portfolio=[tenant])
    contact = dev_keys.mint("client_contact", tenant_id=tenant)

    # Before the review nobody outside the provider sees either signal.
    listed = await signals.client.get("/signals", params={"tenant_id": str(tenant)}, headers=bearer(contact))
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    assert (await signals.client.get(f"/signals/{signal_id}", headers=bearer(manager))).status_code == 404

    wrong_reason = await review(signals, worker, signal_id, "confirmed", "data_artefact")
    assert wrong_reason.status_code == 422, wrong_reason.text
    assert field_paths(wrong_reason) == ["body.reason"]
    assert (await review(signals, manager, signal_id, "confirmed", "matches_what_we_see")).status_code == 403

    confirmed = await review(signals, worker, signal_id, "confirmed", "matches_what_we_see", note="Zien we ook.")
    assert confirmed.status_code == 200, confirmed.text
    outcome = confirmed.json()
    opportunity_id = outcome["opportunity_id"]
    assert opportunity_id is not None
    assert outcome["signal"]["review_status"] == "confirmed"
    assert outcome["signal"]["internal"]["review_reason"] == "matches_what_we_see"
    assert outcome["signal"]["internal"]["review_note"] == "Zien we ook."
    again = await review(signals, worker, signal_id, "dismissed", "data_artefact")
    assert again.status_code == 409, again.text
    assert again.json()["error"]["details"] == {"review_status": "confirmed"}

    [reviewed] = await events(signals, tenant, "signals.signal.reviewed.v1", 1)
    assert reviewed["signal_id"] == str(signal_id)
    assert (reviewed["decision"], reviewed["reason"]) == ("confirmed", "matches_what_we_see")
    assert reviewed["evidence_summary"]["observed_count"] == 9
    [created] = await events(signals, tenant, "signals.opportunity.created.v1", 1)
    assert created["opportunity_id"] == opportunity_id
    assert created["stage"] == "new"
    assert sorted(created["recommended_interventions"]) == sorted(REORGANISATION)

    # The recommendations are priced from the active contract where it has the product kind.
    detail = await signals.client.get(f"/opportunities/{opportunity_id}", headers=bearer(manager))
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["recommended"] == created["recommended_interventions"]
    assert (
        body["estimated_value_cents"] == created["estimated_value_cents"] == body["recommendations"][0]["price_cents"]
    )
    assert body["org_unit_name"] == "Logistiek"
    assert body["evidence_text"] == "A reorganisation wave in this unit, very strong."
    priced = {r["code"]: (r["price_cents"], r["priced_from"]) for r in body["recommendations"]}
    assert priced == {
        "dismissal_conversations_training": (280_000, "contract:WORKSHOP"),  # 2 sessions × €1,400
        "leading_through_change_training": (280_000, "contract:WORKSHOP"),
        "reorganisation_secondment": (627_200, "list_price"),  # 64 h × €98: the ended contract does not count
        "reorganisation_manager_handbook": (345_000, "list_price"),
    }

    # The account manager sees the confirmed signal without a count; the client contact too, not the pending one.
    for token in (manager, contact):
        seen = await signals.client.get(f"/signals/{signal_id}", headers=bearer(token))
        assert seen.status_code == 200, seen.text
        shown = seen.json()
        assert shown["internal"] is None and shown["evidence"] is None
        assert shown["summary"] == "A reorganisation wave in this unit, very strong."
        assert (shown["strength"], shown["org_unit_name"], shown["weeks"]) == (
            "very strong",
            "Logistiek",
            [THIS_WEEK.isoformat()],
        )
        assert "observed" not in json.dumps(shown) and "counts" not in json.dumps(shown)
    listed = await signals.client.get("/signals", params={"tenant_id": str(tenant)}, headers=bearer(contact))
    assert [item["id"] for item in listed.json()["items"]] == [str(signal_id)]
    assert (await signals.client.get(f"/signals/{pending_id}", headers=bearer(contact))).status_code == 404
    staff = await signals.client.get(f"/signals/{pending_id}", headers=bearer(worker))
    assert staff.json()["internal"]["observed"] == 9 and staff.json()["evidence"]["counts"] == [9]

    # The pipeline: no skipping, a loss needs its reason, a win the intervention sold.
    listed = await signals.client.get("/opportunities", params={"tenant_id": str(tenant)}, headers=bearer(manager))
    assert [item["id"] for item in listed.json()["items"]] == [opportunity_id]
    skipped = await move(signals, manager, opportunity_id, stage="proposed")
    assert skipped.status_code == 409, skipped.text
    assert skipped.json()["error"]["details"] == {"stage": "new"}
    assert (await move(signals, manager, opportunity_id, stage="contacted", note="HR gebeld")).status_code == 200
    assert (await move(signals, manager, opportunity_id, stage="proposed")).status_code == 200
    no_reason = await move(signals, manager, opportunity_id, stage="lost")
    assert no_reason.status_code == 422, no_reason.text
    assert field_paths(no_reason) == ["body.loss_reason"]
    unknown = await move(signals, manager, opportunity_id, stage="won", won_intervention="golf_day")
    assert unknown.status_code == 422, unknown.text
    assert field_paths(unknown) == ["body.won_intervention"]
    won = await move(signals, manager, opportunity_id, stage="won", won_intervention="reorganisation_secondment")
    assert won.status_code == 200, won.text
    assert (won.json()["stage"], won.json()["won_intervention"]) == ("won", "reorganisation_secondment")
    assert won.json()["estimated_value_cents"] == 627_200  # re-estimated at what was sold
    closed = await move(signals, manager, opportunity_id, stage="lost", loss_reason="no_budget")
    assert closed.status_code == 409 and "won" in closed.json()["error"]["message"]

    noted = await signals.client.post(
        f"/opportunities/{opportunity_id}/notes", json={"note": "Start in maart"}, headers=bearer(manager)
    )
    assert noted.status_code == 201, noted.text
    history = (await signals.client.get(f"/opportunities/{opportunity_id}", headers=bearer(manager))).json()["notes"]
    assert [(n["from_stage"], n["to_stage"], n["note"]) for n in history] == [
        ("new", "contacted", "HR gebeld"),
        ("contacted", "proposed", None),
        ("proposed", "won", None),
        (None, None, "Start in maart"),
    ]
    moves = await events(signals, tenant, "signals.opportunity.stage_changed.v1", 3)
    assert [(e["previous_stage"], e["stage"]) for e in moves] == [
        ("new", "contacted"),
        ("contacted", "proposed"),
        ("proposed", "won"),
    ]

    statistics = await signals.client.get(
        "/opportunities/statistics", params={"tenant_id": str(tenant)}, headers=bearer(manager)
    )
    assert statistics.status_code == 200, statistics.text
    by_kind = {row["kind"]: row for row in statistics.json()}
    assert set(by_kind) == {kind.value for kind in SignalKind}
    assert by_kind["reorganisation_wave"] == {
        "kind": "reorganisation_wave",
        "won": 1,
        "lost": 0,
        "open": 0,
        "win_rate": 1.0,
    }
    assert by_kind["stress_surge"]["win_rate"] is None


async def test_other_portfolios_and_other_tenants_see_nothing(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (unit,) = await signals.register_tenant("Inkoop")
    other, _ = await signals.register_tenant("Elders")
    signal_id = await stored_signal(signals, tenant, unit, SignalKind.LEADERSHIP_CONFLICT_CLUSTER)
    worker = dev_keys.mint("social_worker")
    opportunity_id = (await review(signals, worker, signal_id, "confirmed", "supported_by_observations")).json()[
        "opportunity_id"
    ]

    stranger = dev_keys.mint("account_manager", portfolio=[other])
    for response in (
        await signals.client.get(f"/opportunities/{opportunity_id}", headers=bearer(stranger)),
        await move(signals, stranger, opportunity_id, stage="contacted"),
        await signals.client.post(
            f"/opportunities/{opportunity_id}/notes", json={"note": "x"}, headers=bearer(stranger)
        ),
        await signals.client.get(f"/signals/{signal_id}", headers=bearer(stranger)),
    ):
        assert response.status_code == 404, response.text
    mine = await signals.client.get("/opportunities", headers=bearer(stranger))
    assert opportunity_id not in [item["id"] for item in mine.json()["items"]]
    assert (
        await signals.client.get("/opportunities", params={"tenant_id": str(tenant)}, headers=bearer(stranger))
    ).status_code == 403

    # A client contact of another organisation: the confirmed signal looks exactly like one that does not exist.
    outsider = dev_keys.mint("client_contact", tenant_id=other)
    hidden = await signals.client.get(f"/signals/{signal_id}", headers=bearer(outsider))
    missing = await signals.client.get(f"/signals/{uuid.uuid4()}", headers=bearer(outsider))
    assert hidden.status_code == missing.status_code == 404
    assert {k: v for k, v in hidden.json()["error"].items() if k != "request_id"} == {
        k: v for k, v in missing.json()["error"].items() if k != "request_id"
    }
    listed = await signals.client.get("/signals", params={"tenant_id": str(tenant)}, headers=bearer(outsider))
    assert listed.status_code == 403
    own = await signals.client.get("/signals", headers=bearer(outsider))
    assert own.status_code == 200 and own.json()["items"] == []
    for role in ("client_contact", "social_worker"):
        token = dev_keys.mint(role, tenant_id=tenant if role == "client_contact" else None)
        assert (await signals.client.get("/opportunities", headers=bearer(token))).status_code == 403
    employee = dev_keys.mint("employee", tenant_id=tenant)
    assert (await signals.client.get("/signals", headers=bearer(employee))).status_code == 403
    assert (await signals.client.get("/interventions", headers=bearer(employee))).status_code == 403


async def test_a_suppressed_signal_reaches_the_account_manager_but_not_the_client(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit,) = await signals.register_tenant("Klein team")
    signal_id = await stored_signal(signals, tenant, unit, SignalKind.BURNOUT_RISK_CLUSTER, suppressed=True, observed=3)
    worker = dev_keys.mint("social_worker")
    assert (await review(signals, worker, signal_id, "confirmed", "matches_what_we_see")).status_code == 200
    manager = dev_keys.mint("account_manager", portfolio=[tenant])
    seen = await signals.client.get(f"/signals/{signal_id}", headers=bearer(manager))
    assert seen.status_code == 200 and seen.json()["internal"] is None
    for role in ("client_contact", "integration"):
        token = dev_keys.mint(role, tenant_id=tenant)
        assert (await signals.client.get(f"/signals/{signal_id}", headers=bearer(token))).status_code == 404
        listed = await signals.client.get("/signals", headers=bearer(token))
        assert listed.status_code == 200 and listed.json()["items"] == []


# -- dismissals teach the thresholds ------------------------------------------------------------------------


async def test_a_dismissal_opens_no_opportunity_and_counts_as_a_false_alarm(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (unit, other_unit) = await signals.register_tenant("Klantenservice", "ICT")
    dismissed_id = await stored_signal(signals, tenant, unit, SignalKind.LEADERSHIP_CONFLICT_CLUSTER)
    await stored_signal(signals, tenant, other_unit, SignalKind.LEADERSHIP_CONFLICT_CLUSTER)
    worker = dev_keys.mint("social_worker")
    manager = dev_keys.mint("account_manager", portfolio=[tenant])

    too_long = await review(signals, worker, dismissed_id, "dismissed", "coincidence_unrelated_cases", "x" * 501)
    assert too_long.status_code == 422 and field_paths(too_long) == ["body.note"]
    dismissed = await review(signals, worker, dismissed_id, "dismissed", "coincidence_unrelated_cases")
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["opportunity_id"] is None
    [reviewed] = await events(signals, tenant, "signals.signal.reviewed.v1", 1)
    assert reviewed["decision"] == "dismissed"
    assert (
        await read_topic(
            signals.bootstrap,
            TOPIC,
            match=lambda h: (
                h.get("ce_tenantid") == str(tenant) and h.get("ce_type") == "signals.opportunity.created.v1"
            ),
            idle_ms=500,
        )
        == []
    )
    pipeline = await signals.client.get("/opportunities", params={"tenant_id": str(tenant)}, headers=bearer(manager))
    assert pipeline.json()["items"] == []
    assert (await signals.client.get(f"/signals/{dismissed_id}", headers=bearer(manager))).status_code == 404

    record = await signals.client.get("/false-alarms", params={"tenant_id": str(tenant)}, headers=bearer(worker))
    assert record.status_code == 200, record.text
    by_kind = {row["kind"]: row for row in record.json()["kinds"]}
    assert by_kind["leadership_conflict_cluster"] == {
        "kind": "leadership_conflict_cluster",
        "raised": 2,
        "confirmed": 0,
        "dismissed": 1,
        "pending": 1,
        "threshold_factor": 0.5,
    }
    assert by_kind["stress_surge"]["raised"] == 0 and by_kind["stress_surge"]["threshold_factor"] == 1.0
    for token in (manager, dev_keys.mint("client_contact", tenant_id=tenant)):
        refused = await signals.client.get("/false-alarms", params={"tenant_id": str(tenant)}, headers=bearer(token))
        assert refused.status_code == 403


# -- what sells is recommended first ------------------------------------------------------------------------


async def test_wins_move_an_intervention_up_and_one_opportunity_per_kind_and_unit_is_open(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (first_unit, second_unit) = await signals.register_tenant("Thuiswerkers", "Kantoor")
    worker = dev_keys.mint("social_worker")
    manager = dev_keys.mint("account_manager", portfolio=[tenant])
    kind = SignalKind.NEW_WAYS_OF_WORKING_STRAIN

    catalogue = await signals.client.get("/interventions", params={"signal_kind": kind.value}, headers=bearer(manager))
    assert [item["code"] for item in catalogue.json()] == ["hybrid_working_workshop", "team_coaching"]

    signal_id = await stored_signal(signals, tenant, first_unit, kind)
    opened = await review(signals, worker, signal_id, "confirmed", "matches_what_we_see")
    opportunity_id = opened.json()["opportunity_id"]
    detail = (await signals.client.get(f"/opportunities/{opportunity_id}", headers=bearer(manager))).json()
    assert detail["recommended"] == ["hybrid_working_workshop", "team_coaching"]

    # A second signal of the kind for the same unit adds to the open opportunity instead of opening another.
    later = await stored_signal(signals, tenant, first_unit, kind, week=THIS_WEEK - timedelta(weeks=1))
    assert (await review(signals, worker, later, "confirmed", "matches_what_we_see")).json()["opportunity_id"] is None

    for stage in ("contacted", "proposed"):
        assert (await move(signals, manager, opportunity_id, stage=stage)).status_code == 200
    won = await move(signals, manager, opportunity_id, stage="won", won_intervention="team_coaching")
    assert won.status_code == 200, won.text

    elsewhere = await stored_signal(signals, tenant, second_unit, kind)
    reopened = (await review(signals, worker, elsewhere, "confirmed", "matches_what_we_see")).json()
    detail = (await signals.client.get(f"/opportunities/{reopened['opportunity_id']}", headers=bearer(manager))).json()
    assert detail["recommended"] == ["team_coaching", "hybrid_working_workshop"]
    ranked = {r["code"]: (r["won"], r["lost"], r["win_rate"]) for r in detail["recommendations"]}
    assert ranked == {"team_coaching": (1, 0, 2 / 3), "hybrid_working_workshop": (0, 0, 0.5)}

    # A loss counts against what was recommended first: the two are even again, and catalogue rank decides.
    lost = await move(signals, manager, reopened["opportunity_id"], stage="lost", loss_reason="chose_competitor")
    assert lost.status_code == 200 and lost.json()["loss_reason"] == "chose_competitor"
    # Once the first unit's opportunity is closed, a new signal there opens a new one.
    again = await stored_signal(signals, tenant, first_unit, kind, week=THIS_WEEK - timedelta(weeks=2))
    newest = (await review(signals, worker, again, "confirmed", "matches_what_we_see")).json()["opportunity_id"]
    assert newest is not None
    detail = (await signals.client.get(f"/opportunities/{newest}", headers=bearer(manager))).json()
    assert detail["recommended"] == ["hybrid_working_workshop", "team_coaching"]
    assert {r["code"]: (r["won"], r["lost"]) for r in detail["recommendations"]} == {
        "team_coaching": (1, 1),
        "hybrid_working_workshop": (0, 0),
    }


# -- the catalogue ------------------------------------------------------------------------------------------


async def test_provider_admins_edit_the_catalogue_with_clear_refusals(signals: ServiceUnderTest, dev_keys: Any) -> None:
    admin = dev_keys.mint("provider_admin")
    manager = dev_keys.mint("account_manager", portfolio=[])
    code = f"theme_lunch_{uuid.uuid4().hex[:8]}"
    body = {
        "title_nl": "Lunchbijeenkomst",
        "title_en": "Theme lunch",
        "description": "A lunch session for managers on one theme.",
        "product_kind": "workshop_per_session",
        "quantity": "1",
        "list_price_cents": 60_000,
        "signal_kinds": ["repeated_manager_consultations"],
        "rank": 999,
    }
    assert (await signals.client.put(f"/interventions/{code}", json=body, headers=bearer(manager))).status_code == 403
    created = await signals.client.put(f"/interventions/{code}", json=body, headers=bearer(admin))
    assert created.status_code == 201, created.text
    assert created.json()["quantity"] == "1.00" and created.json()["active"] is True
    replaced = await signals.client.put(
        f"/interventions/{code}", json={**body, "list_price_cents": 65_000, "active": False}, headers=bearer(admin)
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["list_price_cents"] == 65_000

    # Inactive interventions are for provider admins' eyes only.
    for token, shown in ((admin, True), (manager, False)):
        listed = await signals.client.get("/interventions", headers=bearer(token))
        assert (code in [item["code"] for item in listed.json()]) is shown

    refusals = {
        "body.product_kind": {**body, "product_kind": "no_show_fee"},
        "body.signal_kinds": {**body, "signal_kinds": ["stress_surge", "stress_surge"]},
        "body.quantity": {**body, "quantity": "0"},
    }
    for path, refused_body in refusals.items():
        refused = await signals.client.put(f"/interventions/{code}", json=refused_body, headers=bearer(admin))
        assert refused.status_code == 422, refused.text
        assert field_paths(refused) == [path]
    bad_code = await signals.client.put("/interventions/no spaces here", json=body, headers=bearer(admin))
    assert bad_code.status_code == 422 and field_paths(bad_code) == ["path.code"]

    # The only intervention for a contract ending cannot be withdrawn: an opportunity must recommend something.
    [renewal] = (
        await signals.client.get("/interventions", params={"signal_kind": "contract_ending"}, headers=bearer(admin))
    ).json()
    last = {k: v for k, v in renewal.items() if k not in {"code", "updated_at"}}
    withdrawn = await signals.client.put(
        f"/interventions/{renewal['code']}", json={**last, "active": False}, headers=bearer(admin)
    )
    assert withdrawn.status_code == 409, withdrawn.text
    assert "contract_ending" in withdrawn.json()["error"]["details"]["signal_kinds"]
    still = await signals.client.get("/interventions", params={"signal_kind": "contract_ending"}, headers=bearer(admin))
    assert still.json()[0]["active"] is True
