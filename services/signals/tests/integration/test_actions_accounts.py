"""Management actions with their before/after comparisons, secondment observations and the account view,
through the real PostgreSQL (weekly counts, contracts and usage are written straight into signals' tables)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, insert, select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import ClientRegistered, OrgUnit
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually
from bmw.servicekit.tenants import ORG_UNITS
from bmw.signals.adapters.tables import (
    CONTRACT_USAGE,
    CONTRACTS,
    DETECTION_RUNS,
    MANAGEMENT_ACTIONS,
    OPPORTUNITIES,
    SECONDMENT_DAYS,
    SIGNALS,
    WEEKLY_COUNTS,
    WEEKLY_METRICS,
)
from bmw.signals.application.accounts import workshop_months
from bmw.signals.application.actions import known_change_points
from bmw.signals.application.observations import recent_observations
from bmw.signals.application.trends import add_months, month_weeks
from bmw.signals.domain.effects import compare_before_after, difference_in_differences
from bmw.signals.domain.weeks import AMSTERDAM

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).astimezone(AMSTERDAM).date()
THIS_WEEK = TODAY - timedelta(days=TODAY.weekday())


# -- builders ------------------------------------------------------------------------------------------------------


async def register(
    signals: ServiceUnderTest, name: str, units: dict[str, str | None], *, k_anonymity: int = 5
) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    """A client organisation with an org tree (unit name → parent name), as billing would announce it."""
    tenant = uuid.uuid4()
    ids = {unit: uuid.uuid4() for unit in units}
    org_units = [
        OrgUnit(id=ids[unit], name=unit, parent_id=ids[parent] if parent else None) for unit, parent in units.items()
    ]
    profile = ClientRegistered(tenant_id=tenant, name=name, org_units=org_units, k_anonymity=k_anonymity)
    await signals.publish([CloudEvent.create(profile, tenant_id=tenant)])

    async def known() -> bool:
        async with signals.sessions() as session:
            found = (await session.execute(select(ORG_UNITS.c.id).where(ORG_UNITS.c.tenant_id == tenant))).all()
        return len(found) == len(units)

    await eventually(known, what=f"{name} known to signals")
    return tenant, ids


async def put_counts(
    signals: ServiceUnderTest, tenant: uuid.UUID, unit: uuid.UUID, category: str, weekly: dict[date, int]
) -> None:
    rows = [
        {"tenant_id": tenant, "org_unit_id": unit, "category": category, "week_start": week, "referrals": n}
        for week, n in weekly.items()
        if n
    ]
    if not rows:
        return
    async with signals.sessions() as session, session.begin():
        await session.execute(insert(WEEKLY_COUNTS), rows)


def weeks(first: date, values: list[int]) -> dict[date, int]:
    return {first + timedelta(weeks=i): value for i, value in enumerate(values)}


async def record(signals: ServiceUnderTest, token: str, **body: Any) -> Any:
    payload = {key: str(value) if value is not None else None for key, value in body.items()}
    return await signals.client.post("/management-actions", json=payload, headers=bearer(token))


async def effects(signals: ServiceUnderTest, token: str, action_id: str) -> Any:
    return await signals.client.get(f"/management-actions/{action_id}/effects", headers=bearer(token))


# -- one action, its effects and their suppression -----------------------------------------------------------------


async def test_an_action_shows_a_rise_with_its_interval_and_hides_small_counts_from_the_client(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, units = await register(
        signals, "Transport Noord BV", {"Logistiek": None, "Logistiek Noord": "Logistiek", "Finance": None, "HR": None}
    )
    action_week = THIS_WEEK - timedelta(weeks=12)
    before_start = action_week - timedelta(weeks=12)
    # Reorganisation uncertainty: 6 in the 12 weeks before in Logistiek, 36 in the 12 after in its sub-unit.
    await put_counts(signals, tenant, units["Logistiek"], "reorganisation_uncertainty", weeks(before_start, [1, 0] * 6))
    await put_counts(
        signals, tenant, units["Logistiek Noord"], "reorganisation_uncertainty", weeks(action_week, [3] * 12)
    )
    # The rest of the organisation stays level: 12 before, 12 after.
    await put_counts(signals, tenant, units["Finance"], "reorganisation_uncertainty", weeks(before_start, [1] * 24))
    # Workload stress in the unit: 2 before, 3 after, too few to show.
    await put_counts(signals, tenant, units["Logistiek"], "workload_stress", {before_start: 2, action_week: 3})
    # This week has not ended: it must not count.
    await put_counts(signals, tenant, units["Logistiek"], "reorganisation_uncertainty", {THIS_WEEK: 9})

    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    created = await record(
        signals,
        contact,
        tenant_id=tenant,
        org_unit_id=units["Logistiek"],
        action_type="reorganisation_announced",
        occurred_on=action_week + timedelta(days=2),
    )
    assert created.status_code == 201, created.text
    action = created.json()
    assert action["week"] == action_week.isoformat()
    assert action["org_unit_name"] == "Logistiek"

    admin = dev_keys.mint("provider_admin")
    answer = await effects(signals, admin, action["id"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["weeks_before"], body["weeks_after"], body["too_early"], body["final"]) == (12, 12, False, True)
    assert body["first_week"] == before_start.isoformat()
    assert body["last_week"] == (THIS_WEEK - timedelta(weeks=1)).isoformat()
    assert body["comparison_unit"] == "the rest of the organisation (2 units)"
    by_category = {c["category"]: c for c in body["categories"]}
    assert set(by_category) == {"reorganisation_uncertainty", "workload_stress"}

    rise = by_category["reorganisation_uncertainty"]
    expected = compare_before_after([1, 0] * 6, [3] * 12)
    assert (rise["unit"]["before_count"], rise["unit"]["after_count"]) == (6, 36)
    assert rise["unit"]["rate_ratio"] == pytest.approx(6.0)
    assert rise["unit"]["ci_low"] == pytest.approx(expected.ci_low)
    assert rise["unit"]["ci_high"] == pytest.approx(expected.ci_high)
    assert 1.0 < rise["unit"]["ci_low"] < 6.0 < rise["unit"]["ci_high"]
    assert rise["unit"]["p_value"] < 0.001
    assert (rise["comparison"]["before_count"], rise["comparison"]["after_count"]) == (12, 12)
    did = difference_in_differences([1, 0] * 6, [3] * 12, [1] * 12, [1] * 12)
    assert rise["difference_in_differences"]["ratio"] == pytest.approx(did.ratio)
    assert rise["difference_in_differences"]["ci_low"] > 1.0
    assert "36 in the 12 after" in rise["explanation"]

    # Provider staff see the ratio of a small category, but not its counts.
    small = by_category["workload_stress"]
    assert small["unit"]["before_count"] is None and small["unit"]["before_suppressed"] is True
    assert small["unit"]["after_count"] is None and small["unit"]["rate_after"] is None
    assert small["unit"]["ratio_withheld"] is False
    assert small["unit"]["rate_ratio"] == pytest.approx(1.5)
    assert "2 referrals" not in small["explanation"] and "3 in" not in small["explanation"]

    # The client contact's effects are whole calendar months (the trends' grid), shown once the months after the
    # action have ended: not yet for an action of these weeks (test_disclosure_attacker.py covers what they show).
    client_view = (await effects(signals, contact, action["id"])).json()
    assert client_view["final"] is False and client_view["categories"] == []
    # So are the account manager's: weekly windows a week apart would give away single weeks' counts.
    manager = dev_keys.mint("account_manager", portfolio=[tenant])
    assert (await effects(signals, manager, action["id"])).json() == client_view

    # Six weeks after an action the figures still change weekly: staff see them, the client sees none yet.
    recent = await record(
        signals,
        contact,
        tenant_id=tenant,
        org_unit_id=units["Finance"],
        action_type="workload_measures_taken",
        occurred_on=THIS_WEEK - timedelta(weeks=6),
    )
    provisional = (await effects(signals, admin, recent.json()["id"])).json()
    assert (provisional["weeks_after"], provisional["final"]) == (6, False)
    assert [c["category"] for c in provisional["categories"]] == ["reorganisation_uncertainty"]
    assert provisional["categories"][0]["unit"]["before_count"] == 12
    withheld = (await effects(signals, contact, recent.json()["id"])).json()
    assert withheld["final"] is False and withheld["categories"] == []
    assert "per calendar month" in withheld["note"]

    # The detectors know the actions as change points; the announcement explains a reorganisation wave.
    async with signals.sessions() as session:
        points = await known_change_points(session, tenant)
    assert [(p.week, p.action, p.unit_id) for p in points] == [
        (action_week, "reorganisation_announced", str(units["Logistiek"])),
        (THIS_WEEK - timedelta(weeks=6), "workload_measures_taken", str(units["Finance"])),
    ]
    assert "reorganisation_wave" in points[0].explains


async def test_recording_an_action_is_checked_and_authorised_per_organisation(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, _ = await register(signals, "Gemeente West", {"Burgerzaken": None})
    other, other_units = await register(signals, "Zorg Oost", {"Wijkteam": None})
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    good = {"tenant_id": tenant, "action_type": "individual_talks_held", "occurred_on": TODAY}

    wrong_unit = await record(signals, contact, **good, org_unit_id=other_units["Wijkteam"])
    assert wrong_unit.status_code == 422
    assert [f["path"] for f in wrong_unit.json()["error"]["fields"]] == ["body.org_unit_id"]
    too_old = await record(signals, contact, **{**good, "occurred_on": TODAY - timedelta(days=4 * 365)})
    assert [f["path"] for f in too_old.json()["error"]["fields"]] == ["body.occurred_on"]
    too_far = await record(signals, contact, **{**good, "occurred_on": TODAY + timedelta(days=91)})
    assert too_far.status_code == 422
    unknown_type = await record(signals, contact, **{**good, "action_type": "fired_everyone"})
    assert unknown_type.status_code == 422
    assert [f["path"] for f in unknown_type.json()["error"]["fields"]] == ["body.action_type"]

    for refused in (
        dev_keys.mint("client_contact", tenant_id=other),
        dev_keys.mint("social_worker"),
        dev_keys.mint("integration", tenant_id=tenant),
        dev_keys.mint("account_manager", portfolio=[other]),
    ):
        answer = await record(signals, refused, **good)
        assert answer.status_code == 403, answer.text
    async with signals.sessions() as session:
        stored = (
            await session.execute(select(MANAGEMENT_ACTIONS.c.id).where(MANAGEMENT_ACTIONS.c.tenant_id == tenant))
        ).all()
    assert stored == []  # nothing refused was stored

    manager = dev_keys.mint("account_manager", portfolio=[tenant])
    whole = await record(signals, manager, **{**good, "occurred_on": TODAY + timedelta(days=30)})
    assert whole.status_code == 201, whole.text
    assert whole.json()["org_unit_id"] is None
    async with signals.sessions() as session:
        dirty = await session.scalar(select(DETECTION_RUNS.c.dirty).where(DETECTION_RUNS.c.tenant_id == tenant))
    assert dirty is True

    listed = await signals.client.get("/management-actions", params={"tenant_id": str(tenant)}, headers=bearer(contact))
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [whole.json()["id"]]
    foreign = await signals.client.get("/management-actions", params={"tenant_id": str(other)}, headers=bearer(contact))
    assert foreign.status_code == 403

    # An action announced for next month: too early, nothing to compare yet.
    early = (await effects(signals, contact, whole.json()["id"])).json()
    assert early["too_early"] is True and early["weeks_after"] == 0 and early["categories"] == []
    assert early["note"]
    # Another organisation's action is not found, exactly like one that does not exist.
    stranger = dev_keys.mint("client_contact", tenant_id=other)
    assert (await effects(signals, stranger, whole.json()["id"])).status_code == 404
    assert (await effects(signals, stranger, str(uuid.uuid4()))).status_code == 404


# -- across client organisations -----------------------------------------------------------------------------------


async def test_the_report_across_organisations_needs_three_and_names_none(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    action_type = "team_coaching_started"
    async with signals.sessions() as session, session.begin():
        # this test owns the action type in the shared test database
        await session.execute(delete(MANAGEMENT_ACTIONS).where(MANAGEMENT_ACTIONS.c.action_type == action_type))
    worker = dev_keys.mint("social_worker")

    async def report() -> dict[str, Any]:
        answer = await signals.client.get(
            "/management-action-effects", params={"action_type": action_type}, headers=bearer(worker)
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    action_week = THIS_WEEK - timedelta(weeks=8)
    names = ["Bakkerij Alfa", "Drukkerij Beta", "Havenbedrijf Gamma"]
    tenants = []
    for position, name in enumerate(names):
        tenant, units = await register(signals, name, {"Team": None, "Staf": None})
        tenants.append(tenant)
        # Conflict with the manager falls after coaching began: 2 a week before, fewer after.
        await put_counts(
            signals, tenant, units["Team"], "conflict_manager", weeks(action_week - timedelta(weeks=12), [2] * 12)
        )
        await put_counts(signals, tenant, units["Team"], "conflict_manager", weeks(action_week, [position % 2] * 8))
        await put_counts(
            signals, tenant, units["Staf"], "conflict_manager", weeks(action_week - timedelta(weeks=12), [1] * 20)
        )
        manager = dev_keys.mint("account_manager", portfolio=[tenant])
        created = await record(
            signals,
            manager,
            tenant_id=tenant,
            org_unit_id=units["Team"],
            action_type=action_type,
            occurred_on=action_week,
        )
        assert created.status_code == 201, created.text
        if position < 2:
            not_yet = await report()
            assert not_yet["enough_organisations"] is False
            assert not_yet["categories"] == []
            assert "Not enough organisations yet" in not_yet["note"]

    answer = await signals.client.get(
        "/management-action-effects", params={"action_type": action_type}, headers=bearer(worker)
    )
    body = answer.json()
    assert body["enough_organisations"] is True
    [conflict] = body["categories"]
    assert conflict["category"] == "conflict_manager"
    effect = conflict["effect"]
    assert (effect["actions"], effect["organisations"]) == (3, 3)
    assert effect["ratio"] < 1.0 and effect["ci_low"] < effect["ratio"] < effect["ci_high"]
    assert effect["verdict"] == "helps"
    for tenant, name in zip(tenants, names, strict=True):
        assert str(tenant) not in answer.text and name not in answer.text

    contact = dev_keys.mint("client_contact", tenant_id=tenants[0])
    refused = await signals.client.get(
        "/management-action-effects", params={"action_type": action_type}, headers=bearer(contact)
    )
    assert refused.status_code == 403


# -- secondment observations ---------------------------------------------------------------------------------------


async def test_a_seconded_social_worker_records_observations_the_client_sees_without_the_recorder(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, units = await register(signals, "Fabriek Zuid", {"Productie": None})
    worker = dev_keys.mint("social_worker", sub="worker-anna")
    body = {
        "tenant_id": str(tenant),
        "org_unit_id": str(units["Productie"]),
        "bottleneck": "managers_avoid_individual_talks",
        "observed_on": str(TODAY - timedelta(days=3)),
        "severity": 2,
    }
    created = await signals.client.post("/secondment-observations", json=body, headers=bearer(worker))
    assert created.status_code == 201, created.text
    assert created.json()["recorded_by"] == "worker-anna"
    assert created.json()["org_unit_name"] == "Productie"

    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    refused = await signals.client.post("/secondment-observations", json=body, headers=bearer(contact))
    assert refused.status_code == 403
    severe = await signals.client.post("/secondment-observations", json={**body, "severity": 4}, headers=bearer(worker))
    assert [f["path"] for f in severe.json()["error"]["fields"]] == ["body.severity"]
    future = await signals.client.post(
        "/secondment-observations", json={**body, "observed_on": str(TODAY + timedelta(days=1))}, headers=bearer(worker)
    )
    assert [f["path"] for f in future.json()["error"]["fields"]] == ["body.observed_on"]

    seen = await signals.client.get(
        "/secondment-observations", params={"tenant_id": str(tenant)}, headers=bearer(contact)
    )
    assert seen.status_code == 200
    [observation] = seen.json()
    assert observation["bottleneck"] == "managers_avoid_individual_talks"
    assert observation["recorded_by"] is None
    staff = await signals.client.get(
        "/secondment-observations", params={"tenant_id": str(tenant)}, headers=bearer(dev_keys.mint("provider_admin"))
    )
    assert [o["recorded_by"] for o in staff.json()] == ["worker-anna"]
    outsider = dev_keys.mint("client_contact", tenant_id=uuid.uuid4())
    assert (
        await signals.client.get(
            "/secondment-observations", params={"tenant_id": str(tenant)}, headers=bearer(outsider)
        )
    ).status_code == 403

    async with signals.sessions() as session:
        rows = await recent_observations(session, tenant, THIS_WEEK - timedelta(weeks=4))
        dirty = await session.scalar(select(DETECTION_RUNS.c.dirty).where(DETECTION_RUNS.c.tenant_id == tenant))
    observed = TODAY - timedelta(days=3)
    assert [(r.org_unit_id, r.bottleneck.value, r.week, r.severity) for r in rows] == [
        (units["Productie"], "managers_avoid_individual_talks", observed - timedelta(days=observed.weekday()), 2)
    ]
    assert "leadership_conflict_cluster" in rows[0].supports
    assert dirty is True


# -- the account view ----------------------------------------------------------------------------------------------


async def test_the_account_view_shows_use_burn_down_renewal_and_delivery_but_no_case_data(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, units = await register(signals, "Logistiek Centrum BV", {"Magazijn": None})
    contract_id = uuid.uuid4()
    start, end = TODAY - timedelta(days=60), TODAY + timedelta(days=305)
    products = [
        {
            "code": "HOURS-40",
            "kind": "hour_bundle",
            "unit_price_cents": 9500,
            "vat_rate": "21",
            "included_quantity": "40.00",
        },
        {"code": "WS-SESSION", "kind": "workshop_per_session", "unit_price_cents": 120000, "vat_rate": "21"},
    ]
    used_on = [start + timedelta(days=d) for d in (1, 15, 30, 45)]
    signal_id, pending_id = uuid.uuid4(), uuid.uuid4()
    async with signals.sessions() as session, session.begin():
        await session.execute(
            insert(CONTRACTS).values(
                id=contract_id, tenant_id=tenant, products=products, period_start=start, period_end=end, status="active"
            )
        )
        await session.execute(
            insert(CONTRACT_USAGE),
            [
                {
                    "usage_id": uuid.uuid4(),
                    "tenant_id": tenant,
                    "contract_id": contract_id,
                    "product_code": "HOURS-40",
                    "quantity": Decimal("5.00"),
                    "occurred_at": datetime(day.year, day.month, day.day, 12, tzinfo=AMSTERDAM),
                }
                for day in used_on
            ]
            + [
                {
                    "usage_id": uuid.uuid4(),
                    "tenant_id": tenant,
                    "contract_id": contract_id,
                    "product_code": "WS-SESSION",
                    "quantity": Decimal("1.00"),
                    "occurred_at": datetime.now(UTC) - timedelta(days=5),
                }
            ],
        )
        signal_values = {
            "tenant_id": tenant,
            "org_unit_id": units["Magazijn"],
            "status": "open",
            "method": "poisson_tail",
            "observed": 9,
            "expected": 2.0,
            "score": 4.0,
            "suppressed": False,
            "evidence": {"counts": [9]},
        }
        await session.execute(
            insert(SIGNALS),
            [
                {
                    **signal_values,
                    "id": signal_id,
                    "kind": "reorganisation_wave",
                    "raised_week": THIS_WEEK,
                    "review_status": "confirmed",
                },
                {
                    **signal_values,
                    "id": pending_id,
                    "kind": "stress_surge",
                    "raised_week": THIS_WEEK,
                    "review_status": "pending",
                },
            ],
        )
        await session.execute(
            insert(OPPORTUNITIES).values(
                id=uuid.uuid4(),
                tenant_id=tenant,
                signal_id=signal_id,
                kind="reorganisation_wave",
                org_unit_id=units["Magazijn"],
                stage="proposed",
                recommended=["dismissal_conversations_training"],
                estimated_value_cents=480000,
                evidence_text="A rise in Magazijn.",
            )
        )
        # The workshop figures are whole completed months: last month's first week, the month before's, this week.
        last_month = workshop_months(TODAY)[-1]
        week, month_before = month_weeks(last_month)[0], month_weeks(add_months(last_month, -1))[0]

        def metric(week_start: date, metric: str, theme: str, value: int) -> dict[str, Any]:
            return {"tenant_id": tenant, "week_start": week_start, "metric": metric, "dimension": theme, "value": value}

        await session.execute(
            insert(WEEKLY_METRICS),
            [
                # 14 in two months, but 2 of them in one month: their total would give those 2 away.
                metric(week, "workshops_delivered", "stress_and_resilience", 1),
                metric(week, "workshop_participants", "stress_and_resilience", 12),
                metric(month_before, "workshops_delivered", "stress_and_resilience", 1),
                metric(month_before, "workshop_participants", "stress_and_resilience", 2),
                # This month has not ended: it does not count yet.
                metric(THIS_WEEK, "workshops_delivered", "leading_through_change", 1),
                metric(THIS_WEEK, "workshop_participants", "leading_through_change", 4),
                {
                    "tenant_id": tenant,
                    "week_start": week,
                    "metric": "workshops_delivered",
                    "dimension": "giving_and_receiving_feedback",
                    "value": 2,
                },
                {
                    "tenant_id": tenant,
                    "week_start": week,
                    "metric": "workshop_participants",
                    "dimension": "giving_and_receiving_feedback",
                    "value": 3,
                },
                {
                    "tenant_id": tenant,
                    "week_start": week,
                    "metric": "workshops_delivered",
                    "dimension": "leading_through_change",
                    "value": 1,
                },
                {
                    "tenant_id": tenant,
                    "week_start": week,
                    "metric": "workshop_participants",
                    "dimension": "leading_through_change",
                    "value": 12,
                },
            ],
        )
        await session.execute(
            insert(SECONDMENT_DAYS),
            [
                {
                    "tenant_id": tenant,
                    "worker_id": uuid.uuid4(),
                    "day": TODAY - timedelta(days=10),
                    "hours": Decimal("7.50"),
                },
                {
                    "tenant_id": tenant,
                    "worker_id": uuid.uuid4(),
                    "day": TODAY - timedelta(days=200),
                    "hours": Decimal("4.00"),
                },
            ],
        )

    manager = dev_keys.mint("account_manager", portfolio=[tenant])
    answer = await signals.client.get(f"/accounts/{tenant}", headers=bearer(manager))
    assert answer.status_code == 200, answer.text
    account = answer.json()
    assert account["name"] == "Logistiek Centrum BV"
    [contract] = account["contracts"]
    assert contract["renewal_date"] == end.isoformat()
    assert contract["days_to_renewal"] == 305
    products_by_code = {p["code"]: p for p in contract["products"]}
    assert products_by_code["HOURS-40"] | {"kind": "hour_bundle"} == {
        "code": "HOURS-40",
        "kind": "hour_bundle",
        "used": "20.00",
        "included": "40.00",
        "percent_used": 50.0,
    }
    assert products_by_code["WS-SESSION"]["used"] == "1.00" and products_by_code["WS-SESSION"]["included"] is None

    [burn] = contract["burn_downs"]
    assert burn["used"] == "20.00" and burn["remaining"] == "20.00"
    first_week = start - timedelta(days=start.weekday())
    assert burn["weeks"][0]["week"] == first_week.isoformat()
    assert burn["weeks"][-1]["week"] == THIS_WEEK.isoformat()
    cumulative = [Decimal(w["used"]) for w in burn["weeks"]]
    assert cumulative == sorted(cumulative) and cumulative[-1] == Decimal(20)
    # 20 hours in the 61 days so far: the other 20 take another 61 days, well before the renewal.
    elapsed = (TODAY - start).days + 1
    assert elapsed == 61
    assert burn["projected_exhaustion"] == (TODAY + timedelta(days=elapsed)).isoformat()
    assert burn["runs_out_before_renewal"] is True

    assert [(s["id"], s["kind"], s["org_unit_name"]) for s in account["open_signals"]] == [
        (str(signal_id), "reorganisation_wave", "Magazijn")
    ]
    assert account["pipeline"] == [{"stage": "proposed", "opportunities": 1, "estimated_value_cents": 480000}]
    assert account["open_opportunity_value_cents"] == 480000
    workshops = {w["theme"]: w for w in account["workshops"]}
    assert workshops["giving_and_receiving_feedback"] == {
        "theme": "giving_and_receiving_feedback",
        "sessions": 2,
        "participants": None,
        "participants_suppressed": True,
    }
    assert workshops["leading_through_change"] == {
        "theme": "leading_through_change",
        "sessions": 1,
        "participants": 12,
        "participants_suppressed": False,
    }
    assert workshops["stress_and_resilience"]["sessions"] == 2
    assert workshops["stress_and_resilience"]["participants_suppressed"] is True
    assert account["workshops_since"] == month_weeks(workshop_months(TODAY)[0])[0].isoformat()
    assert account["workshops_until"] == month_weeks(workshop_months(TODAY)[-1])[1].isoformat()
    assert date.fromisoformat(account["workshops_until"]) < THIS_WEEK
    assert account["secondment_hours_last_12_months"] == "11.50"
    assert account["secondment_hours_this_contract_period"] == "7.50"
    assert account["contract_period_start"] == start.isoformat()
    # No case data: neither the signal's counts nor its evidence.
    assert "evidence" not in answer.text and "observed" not in answer.text and "counts" not in answer.text

    portfolio = await signals.client.get("/accounts", headers=bearer(manager))
    assert portfolio.status_code == 200
    assert portfolio.json() == [
        {
            "tenant_id": str(tenant),
            "name": "Logistiek Centrum BV",
            "renewal_date": end.isoformat(),
            "days_to_renewal": 305,
            "bundle_percent_used": 50.0,
            "open_signals": 1,
            "open_opportunity_value_cents": 480000,
        }
    ]

    # Outside the portfolio the organisation is not found, just as one that does not exist.
    stranger = dev_keys.mint("account_manager", portfolio=[uuid.uuid4()])
    missing = await signals.client.get(f"/accounts/{tenant}", headers=bearer(stranger))
    assert missing.status_code == 404
    assert (await signals.client.get(f"/accounts/{uuid.uuid4()}", headers=bearer(manager))).status_code == 404
    assert (await signals.client.get("/accounts", headers=bearer(stranger))).json() == []
    contact = dev_keys.mint("client_contact", tenant_id=tenant)
    assert (await signals.client.get(f"/accounts/{tenant}", headers=bearer(contact))).status_code == 403
