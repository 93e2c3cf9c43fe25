"""The agenda as each role sees it, idempotent booking, leave and extra hours, slots of any suitable worker,
entitlement-aware booking, and the DST weekends and a holiday week through the API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import ContractActivated, ContractProduct
from bmw.contracts.events.intake import CaseOpened
from bmw.contracts.pseudonyms import login_digest
from bmw.contracts.taxonomy import Category, ProductKind, Urgency, VatRate
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually, read_topic, service_under_test
from bmw.scheduling.adapters.tables import APPOINTMENTS, CONTRACTS, PENDING_INTAKES
from bmw.scheduling.domain.availability import AMSTERDAM, is_public_holiday

pytestmark = pytest.mark.integration

EVERY_DAY = {
    day: [["09:00", "17:00"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}


@pytest.fixture(scope="module")
async def service(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("scheduling", infra, dev_keys) as running:
        yield running


async def new_worker(
    service: ServiceUnderTest, dev_keys: Any, tenant: uuid.UUID, **body: Any
) -> tuple[str, dict[str, str]]:
    worker_id = str(uuid.uuid4())
    payload = {"id": worker_id, "name": f"Werker {worker_id[:4]}", "tenant_ids": [str(tenant)], **body}
    created = await service.client.post("/workers", json=payload, headers=bearer(dev_keys.mint("provider_admin")))
    assert created.status_code == 201, created.text
    return worker_id, bearer(dev_keys.mint("social_worker", sub=worker_id))


def working_day_at(hour: int, days_ahead: int = 7) -> datetime:
    """A weekday (not a holiday) at least ``days_ahead`` days from now, at ``hour`` local time."""
    day = datetime.now(AMSTERDAM).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5 or is_public_holiday(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=AMSTERDAM)


async def open_case(service: ServiceUnderTest, tenant: uuid.UUID, employee_subject: str | None) -> uuid.UUID:
    """A case opened in intake (its intake is auto-booked); returns the case id once scheduling has it."""
    case_id = uuid.uuid4()
    data = CaseOpened(
        case_id=case_id,
        referral_id=uuid.uuid4(),
        client_ref=f"c_{case_id.hex[:12]}",
        org_unit_id=uuid.uuid4(),
        category=Category.WORKLOAD_STRESS,
        urgency=Urgency.NORMAL,
        sla_deadline=datetime.now(UTC) + timedelta(days=10),
        employee_login=login_digest(employee_subject) if employee_subject else None,
    )
    await service.publish([CloudEvent.create(data, tenant_id=tenant)])

    async def settled() -> bool:
        async with service.sessions() as session:
            outcome = await session.scalar(
                select(PENDING_INTAKES.c.outcome).where(PENDING_INTAKES.c.case_id == case_id)
            )
        return outcome is not None

    await eventually(settled, what="scheduling to take the case in")
    return case_id


def window(days: int = 30) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": now.isoformat(), "to": (now + timedelta(days=days)).isoformat()}


async def test_booking_with_an_idempotency_key_books_once(service: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(service, dev_keys, tenant)
    start = working_day_at(10)
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult", "start": start.isoformat()}
    key = {"Idempotency-Key": f"booking-{uuid.uuid4()}"}
    first, again = await asyncio.gather(
        service.client.post("/appointments", json=body, headers={**worker, **key}),
        service.client.post("/appointments", json=body, headers={**worker, **key}),
    )
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert first.json()["id"] == again.json()["id"]
    async with service.sessions() as session:
        count = await session.scalar(select(func.count()).where(APPOINTMENTS.c.worker_id == uuid.UUID(worker_id)))
    assert count == 1
    other_body = {**body, "start": (start + timedelta(hours=2)).isoformat()}
    reused = await service.client.post("/appointments", json=other_body, headers={**worker, **key})
    assert reused.status_code == 422
    assert reused.json()["error"]["fields"][0]["path"] == "header.Idempotency-Key"


async def test_employees_see_and_cancel_only_their_own_appointments(service: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(service, dev_keys, tenant, weekly_hours=EVERY_DAY)
    me, colleague = str(uuid.uuid4()), str(uuid.uuid4())
    await open_case(service, tenant, me)
    await open_case(service, tenant, colleague)
    mine = bearer(dev_keys.mint("employee", tenant_id=tenant, sub=me))
    theirs = bearer(dev_keys.mint("employee", tenant_id=tenant, sub=colleague))
    stranger = bearer(dev_keys.mint("employee", tenant_id=uuid.uuid4(), sub=me))

    listing = await service.client.get("/appointments", params=window(), headers=mine)
    assert listing.status_code == 200, listing.text
    items = listing.json()["items"]
    assert len(items) == 1 and items[0]["kind"] == "intake" and items[0]["worker_id"] == worker_id
    appointment = items[0]["id"]
    assert (await service.client.get("/appointments", params=window(), headers=stranger)).json()["items"] == []
    for outsider in (theirs, stranger, bearer(dev_keys.mint("client_contact", tenant_id=tenant))):
        assert (await service.client.get(f"/appointments/{appointment}", headers=outsider)).status_code == 404
        assert (await service.client.post(f"/appointments/{appointment}/cancel", headers=outsider)).status_code == 404
    cancelled = await service.client.post(f"/appointments/{appointment}/cancel", headers=mine)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancelled_by"] == "employee"
    agenda = (await service.client.get("/appointments", params=window(), headers=worker)).json()["items"]
    assert {a["id"]: a["status"] for a in agenda}[appointment] == "cancelled"
    # The case still needs its intake: the next slot after the cancelled one is booked at once, and the
    # employee sees it as theirs.
    rebooked = [a for a in agenda if a["case_id"] == items[0]["case_id"] and a["status"] == "booked"]
    assert len(rebooked) == 1 and rebooked[0]["start"] >= items[0]["end"]
    assert len(agenda) == 3, "the worker sees both intakes and the cancelled one in their own agenda"
    mine_now = (await service.client.get("/appointments", params=window(), headers=mine)).json()["items"]
    assert {a["id"] for a in mine_now} == {appointment, rebooked[0]["id"]}


async def test_agenda_pages_and_roles(service: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(service, dev_keys, tenant, weekly_hours=EVERY_DAY)
    start = working_day_at(9)
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "start": start.isoformat()}
    for offset, kind in enumerate(["consult", "consult", "manager_consultation", "consult", "manager_consultation"]):
        at = start + timedelta(hours=offset)
        booked = await service.client.post(
            "/appointments", json={**body, "kind": kind, "start": at.isoformat()}, headers=worker
        )
        assert booked.status_code == 201, booked.text
    seen: list[str] = []
    cursor = None
    while True:
        params = {**window(60), "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await service.client.get("/appointments", params=params, headers=worker)).json()
        seen += [item["start"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen)
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    visible = (await service.client.get("/appointments", params=window(60), headers=contact)).json()["items"]
    assert [v["kind"] for v in visible] == ["manager_consultation", "manager_consultation"], "never an employee's"
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    other = await service.client.get("/appointments", params={**window(), "worker_id": worker_id}, headers=colleague)
    assert other.status_code == 403
    bad = await service.client.get("/appointments", params={**window(), "cursor": "nonsense"}, headers=worker)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "query.cursor"
    manager = bearer(dev_keys.mint("account_manager", portfolio=[str(tenant)]))
    assert (await service.client.get("/appointments", params=window(), headers=manager)).status_code == 403


async def test_free_slots_of_any_suitable_worker(service: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    dutch, _ = await new_worker(service, dev_keys, tenant, specialisms=["burnout"], locations=["provider_office"])
    english, _ = await new_worker(service, dev_keys, tenant, languages=["nl", "en"], locations=["video"])
    await new_worker(service, dev_keys, uuid.uuid4(), languages=["en"])  # serves someone else
    admin = bearer(dev_keys.mint("provider_admin"))
    start = working_day_at(9)
    params = {"tenant_id": str(tenant), "from": start.isoformat(), "to": (start + timedelta(hours=3)).isoformat()}
    both = (await service.client.get("/free-slots", params=params, headers=admin)).json()
    assert {s["worker_id"] for s in both["slots"]} == {dutch, english}
    assert [s["start"] for s in both["slots"]] == sorted(s["start"] for s in both["slots"])
    assert both["duration_minutes"] == 45
    for query, expected in (
        ({"language": "en"}, english),
        ({"specialism": "burnout"}, dutch),
        ({"location": "video"}, english),
    ):
        found = (await service.client.get("/free-slots", params={**params, **query}, headers=admin)).json()["slots"]
        assert found and {s["worker_id"] for s in found} == {expected}, query
    contact = bearer(dev_keys.mint("client_contact", tenant_id=tenant))
    for_contact = await service.client.get(
        "/free-slots", params={**params, "kind": "manager_consultation"}, headers=contact
    )
    assert for_contact.status_code == 200 and for_contact.json()["slots"]
    elsewhere = bearer(dev_keys.mint("client_contact", tenant_id=uuid.uuid4()))
    assert (await service.client.get("/free-slots", params=params, headers=elsewhere)).status_code == 403
    wrong_place = await service.client.post(
        "/appointments",
        json={
            "worker_id": dutch,
            "tenant_id": str(tenant),
            "kind": "consult",
            "start": start.isoformat(),
            "location": "video",
        },
        headers=admin,
    )
    assert wrong_place.status_code == 422 and wrong_place.json()["error"]["fields"][0]["path"] == "body.location"


async def test_leave_removes_slots_and_names_what_it_overlaps_and_extra_hours_add_them(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(service, dev_keys, tenant)
    day = working_day_at(9)
    booked = await service.client.post(
        "/appointments",
        json={
            "worker_id": worker_id,
            "tenant_id": str(tenant),
            "kind": "consult",
            "start": (day + timedelta(hours=1)).isoformat(),
        },
        headers=worker,
    )
    assert booked.status_code == 201
    leave = await service.client.post(
        f"/workers/{worker_id}/time-off",
        json={"start": day.isoformat(), "end": (day + timedelta(hours=8)).isoformat(), "reason": "leave"},
        headers=worker,
    )
    assert leave.status_code == 201, leave.text
    assert leave.json()["affected_appointments"] == [booked.json()["id"]]
    slots_params = {"from": day.isoformat(), "to": (day + timedelta(hours=8)).isoformat()}
    during = (await service.client.get(f"/workers/{worker_id}/free-slots", params=slots_params, headers=worker)).json()
    assert during["slots"] == []
    saturday = day + timedelta(days=(5 - day.weekday()) % 7 or 7)
    evening = {"start": saturday.replace(hour=10).isoformat(), "end": saturday.replace(hour=12).isoformat()}
    extra = await service.client.post(f"/workers/{worker_id}/time-off", json=evening, headers=worker)
    assert extra.status_code == 201 and extra.json()["reason"] is None
    weekend = {"from": saturday.replace(hour=0).isoformat(), "to": saturday.replace(hour=23).isoformat()}
    extra_slots = (await service.client.get(f"/workers/{worker_id}/free-slots", params=weekend, headers=worker)).json()
    local = [datetime.fromisoformat(s).astimezone(AMSTERDAM).strftime("%H:%M") for s in extra_slots["slots"]]
    assert local[0] == "10:00" and local[-1] == "11:15", local
    listed = (
        await service.client.get(
            f"/workers/{worker_id}/time-off",
            params={"from": day.isoformat(), "to": (saturday + timedelta(days=1)).isoformat()},
            headers=worker,
        )
    ).json()
    assert [item["reason"] for item in listed] == ["leave", None]
    removed = await service.client.delete(f"/workers/{worker_id}/time-off/{leave.json()['id']}", headers=worker)
    assert removed.status_code == 204
    after = (await service.client.get(f"/workers/{worker_id}/free-slots", params=slots_params, headers=worker)).json()
    assert after["slots"], "the day is bookable again"
    other = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    assert (await service.client.post(f"/workers/{worker_id}/time-off", json=evening, headers=other)).status_code == 403
    inverted = {"start": evening["end"], "end": evening["start"], "reason": "sickness"}
    bad = await service.client.post(f"/workers/{worker_id}/time-off", json=inverted, headers=worker)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "body.end"
    unknown = await service.client.post(
        f"/workers/{worker_id}/time-off", json={**evening, "reason": "holiday in Spain"}, headers=worker
    )
    assert unknown.status_code == 422


async def activate_contract(service: ServiceUnderTest, tenant: uuid.UUID, *products: ContractProduct) -> None:
    today = datetime.now(AMSTERDAM).date()
    contract_id = uuid.uuid4()
    data = ContractActivated(
        contract_id=contract_id,
        products=list(products),
        period_start=date(today.year, 1, 1),
        period_end=date(today.year + 1, 12, 31),
    )
    await service.publish([CloudEvent.create(data, tenant_id=tenant)])

    async def known() -> bool:
        async with service.sessions() as session:
            return await session.scalar(select(CONTRACTS.c.id).where(CONTRACTS.c.id == contract_id)) is not None

    await eventually(known, what="the contract to reach scheduling")


def bundle(hours: str, overage_cents: int | None) -> ContractProduct:
    return ContractProduct(
        code="HOURS",
        kind=ProductKind.HOUR_BUNDLE,
        unit_price_cents=0,
        vat_rate=VatRate.EXEMPT,
        included_quantity=hours,  # type: ignore[arg-type]
        overage_unit_price_cents=overage_cents,
    )


async def test_an_hour_bundle_refuses_or_marks_overage(service: ServiceUnderTest, dev_keys: Any) -> None:
    strict, lenient = uuid.uuid4(), uuid.uuid4()
    await activate_contract(service, strict, bundle("1.5", None))
    await activate_contract(service, lenient, bundle("1.5", 9_500))
    admin = bearer(dev_keys.mint("provider_admin"))
    start = working_day_at(9)
    for tenant in (strict, lenient):
        worker_id, _ = await new_worker(service, dev_keys, tenant)
        body = {"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult"}
        responses = []
        for hour in (0, 1, 2):  # 3 x 45 min against 1.5 h
            at = start + timedelta(hours=hour)
            responses.append(
                await service.client.post("/appointments", json={**body, "start": at.isoformat()}, headers=admin)
            )
        assert [r.status_code for r in responses[:2]] == [201, 201]
        assert [r.json()["overage"] for r in responses[:2]] == [False, False]
        if tenant == strict:
            assert responses[2].status_code == 409
            error = responses[2].json()["error"]
            assert error["details"]["current_state"] == "entitlement_exceeded"
            assert "1.50 h is used up" in error["message"]
        else:
            assert responses[2].status_code == 201 and responses[2].json()["overage"] is True


async def test_sessions_per_employee_per_year(service: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    subscription = ContractProduct(
        code="SUB",
        kind=ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR,
        unit_price_cents=4_500,
        vat_rate=VatRate.EXEMPT,
        sessions_per_employee_per_year=2,
    )
    await activate_contract(service, tenant, subscription)
    worker_id, worker = await new_worker(service, dev_keys, tenant, weekly_hours=EVERY_DAY)
    case_id = await open_case(service, tenant, None)
    other_case = await open_case(service, tenant, None)
    start = working_day_at(9, days_ahead=14)
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult"}
    without_case = await service.client.post("/appointments", json={**body, "start": start.isoformat()}, headers=worker)
    assert without_case.status_code == 422 and without_case.json()["error"]["fields"][0]["path"] == "body.case_id"
    codes = []
    for hour, case in ((0, case_id), (1, case_id), (2, case_id), (3, other_case)):
        at = (start + timedelta(hours=hour)).isoformat()
        codes.append(
            (
                await service.client.post(
                    "/appointments", json={**body, "start": at, "case_id": str(case)}, headers=worker
                )
            ).status_code
        )
    assert codes == [201, 201, 409, 201], "the third consult of one employee is refused; another employee is fine"


async def test_dst_weekends_through_the_api_keep_local_hours(service: ServiceUnderTest, dev_keys: Any) -> None:
    """The next DST changes (the current year's lie in the past): 09:00 stays 09:00 local on both sides.

    Easter can fall on the spring change (28 March 2027), so the days compared are the nearest non-holidays.
    """
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(service, dev_keys, tenant, weekly_hours=EVERY_DAY)
    today = datetime.now(AMSTERDAM).date()
    changes = [sunday for sunday in _next_dst_sundays(today) if sunday - today < timedelta(days=360)]
    assert changes, "there is always a DST change within a year"
    for sunday in changes:
        before = sunday - timedelta(days=1)
        while is_public_holiday(before):
            before -= timedelta(days=1)
        after = sunday
        while is_public_holiday(after):
            after += timedelta(days=1)
        start = datetime.combine(before, time(0), tzinfo=AMSTERDAM)
        end = datetime.combine(after + timedelta(days=1), time(0), tzinfo=AMSTERDAM)
        params = {"from": start.isoformat(), "to": end.isoformat(), "kind": "intake"}
        slots = (await service.client.get(f"/workers/{worker_id}/free-slots", params=params, headers=worker)).json()
        by_day: dict[date, list[datetime]] = {}
        for raw in slots["slots"]:
            moment = datetime.fromisoformat(raw)
            by_day.setdefault(moment.astimezone(AMSTERDAM).date(), []).append(moment)

        def local(moments: list[datetime]) -> list[str]:
            return [m.astimezone(AMSTERDAM).strftime("%H:%M") for m in moments]

        assert local(by_day[before]) == local(by_day[after]), "same local slots on both sides of the change"
        assert local(by_day[after])[0] == "09:00" and local(by_day[after])[-1] == "16:00"
        offsets = {by_day[day][0].astimezone(AMSTERDAM).utcoffset() for day in (before, after)}
        assert offsets == {timedelta(hours=1), timedelta(hours=2)}, "the UTC time moves, the local time does not"
        booked = await service.client.post(
            "/appointments",
            json={
                "worker_id": worker_id,
                "tenant_id": str(tenant),
                "kind": "intake",
                "start": by_day[after][0].isoformat(),
            },
            headers=worker,
        )
        assert booked.status_code == 201
        assert datetime.fromisoformat(booked.json()["start"]).astimezone(AMSTERDAM).hour == 9


def _next_dst_sundays(today: date) -> list[date]:
    found = []
    for year in (today.year, today.year + 1):
        for month in (3, 10):
            last = date(year, month, 31)
            sunday = last - timedelta(days=(last.weekday() + 1) % 7)
            if sunday - timedelta(days=1) > today + timedelta(days=1):
                found.append(sunday)
    return found


async def test_a_week_with_a_public_holiday_offers_nothing_on_the_holiday(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(service, dev_keys, tenant)
    today = datetime.now(AMSTERDAM).date()
    holiday = next(
        today + timedelta(days=n)
        for n in range(3, 200)
        if is_public_holiday(today + timedelta(days=n)) and (today + timedelta(days=n)).weekday() < 5
    )
    monday = holiday - timedelta(days=holiday.weekday())
    start = max(datetime.combine(monday, time(0), tzinfo=AMSTERDAM), datetime.now(UTC) + timedelta(days=1))
    params = {
        "from": start.isoformat(),
        "to": datetime.combine(monday + timedelta(days=5), time(0), tzinfo=AMSTERDAM).isoformat(),
    }
    slots = (await service.client.get(f"/workers/{worker_id}/free-slots", params=params, headers=worker)).json()[
        "slots"
    ]
    days = {datetime.fromisoformat(s).astimezone(AMSTERDAM).date() for s in slots}
    assert holiday not in days
    assert days, "the other days of the week are bookable"
    refused = await service.client.post(
        "/appointments",
        json={
            "worker_id": worker_id,
            "tenant_id": str(tenant),
            "kind": "consult",
            "start": datetime.combine(holiday, time(10), tzinfo=AMSTERDAM).isoformat(),
        },
        headers=worker,
    )
    assert refused.status_code == 409


async def test_provider_admins_change_staff_records(service: ServiceUnderTest, dev_keys: Any) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(service, dev_keys, tenant)
    admin = bearer(dev_keys.mint("provider_admin"))
    changed = await service.client.patch(
        f"/workers/{worker_id}", json={"languages": ["nl", "en"], "locations": ["video"]}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["languages"] == ["en", "nl"] and changed.json()["locations"] == ["video"]
    assert (
        await service.client.patch(f"/workers/{worker_id}", json={"languages": ["en"]}, headers=worker)
    ).status_code == 403
    bad = await service.client.patch(f"/workers/{worker_id}", json={"weekly_hours": {"funday": []}}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "body.weekly_hours"
    assert (
        await service.client.patch(f"/workers/{uuid.uuid4()}", json={"name": "X"}, headers=admin)
    ).status_code == 404
    read = (await service.client.get(f"/workers/{worker_id}", headers=admin)).json()
    assert read["languages"] == ["en", "nl"]


async def test_a_walk_in_consult_is_recorded_afterwards_as_booked_and_completed(
    service: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant = uuid.uuid4()
    worker_id, worker = await new_worker(service, dev_keys, tenant)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    body = {"worker_id": worker_id, "tenant_id": str(tenant), "kind": "consult", "start": yesterday.isoformat()}
    held = await service.client.post("/appointments/held", json=body, headers=worker)
    assert held.status_code == 201, held.text
    assert held.json()["status"] == "completed"
    again = await service.client.post("/appointments/held", json=body, headers=worker)
    assert again.status_code == 409, "it overlaps the one just recorded"
    future = {**body, "start": (datetime.now(UTC) + timedelta(hours=3)).isoformat()}
    refused = await service.client.post("/appointments/held", json=future, headers=worker)
    assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["path"] == "body.start"
    colleague = bearer(dev_keys.mint("social_worker", sub=str(uuid.uuid4())))
    assert (await service.client.post("/appointments/held", json=body, headers=colleague)).status_code == 403

    async def announced() -> bool:
        records = await read_topic(
            service.bootstrap,
            "bmw.scheduling.events",
            match=lambda h: h.get("ce_subject") == held.json()["id"],
            idle_ms=300,
        )
        types = [headers["ce_type"] for headers, _ in records]
        return types == ["scheduling.appointment.booked.v1", "scheduling.appointment.completed.v1"]

    await eventually(announced, what="booked then completed, for billing to meter")
