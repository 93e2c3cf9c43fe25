"""Metering rules and contract terms: what each billable event meters to under which contract, exactly."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.billing.domain.contracts import (
    Contract,
    ContractStatus,
    Product,
    add_months,
    auto_renewal_due,
    clashes,
    expiry_notice_due,
    indexed_price,
    product_problems,
    renewed,
)
from bmw.billing.domain.metering import (
    Activity,
    BillableActivity,
    Portion,
    Unit,
    activity_of,
    correct_secondment,
    hours_of,
    meter,
    split_bundle,
    thresholds_reached,
)
from bmw.contracts.taxonomy import ProductKind, VatRate

TENANT = uuid.uuid4()
WHEN = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

BUNDLE = Product("HOURS-10", ProductKind.HOUR_BUNDLE, 9500, VatRate.STANDARD, included_quantity=Decimal(10))
BUNDLE_WITH_OVERAGE = Product(
    "HOURS-10",
    ProductKind.HOUR_BUNDLE,
    9500,
    VatRate.STANDARD,
    included_quantity=Decimal(10),
    overage_unit_price_cents=11000,
)
NO_SHOW = Product("NOSHOW", ProductKind.NO_SHOW_FEE, 5000, VatRate.STANDARD)
LATE = Product("LATE", ProductKind.LATE_CANCELLATION_FEE, 4000, VatRate.STANDARD)
TRAJECTORY = Product(
    "TRAJ", ProductKind.TRAJECTORY_FIXED_PRICE, 120000, VatRate.EXEMPT, vat_exemption_reason="Medical care"
)
PER_SESSION = Product("WS-SESSION", ProductKind.WORKSHOP_PER_SESSION, 95000, VatRate.REDUCED)
PER_PARTICIPANT = Product("WS-PERSON", ProductKind.WORKSHOP_PER_PARTICIPANT, 7500, VatRate.REDUCED)
SECONDMENT = Product("SECOND", ProductKind.SECONDMENT_HOURLY, 8500, VatRate.STANDARD)
SUBSCRIPTION = Product(
    "SUB",
    ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR,
    2400,
    VatRate.STANDARD,
    sessions_per_employee_per_year=5,
    overage_unit_price_cents=7000,
)


def contract(*products: Product, start: date = date(2026, 1, 1), end: date = date(2026, 12, 31)) -> Contract:
    return Contract(uuid.uuid4(), TENANT, products, start, end, employees=100 if SUBSCRIPTION in products else None)


def appointment(event: str, *, kind: str = "consult", minutes: int = 45, **extra: Any) -> BillableActivity:
    data = {
        "appointment_id": str(uuid.uuid4()),
        "kind": kind,
        "case_id": str(uuid.uuid4()),
        "worker_id": str(uuid.uuid4()),
        "start": WHEN.isoformat(),
        "duration_minutes": minutes,
        **extra,
    }
    found = activity_of(f"scheduling.appointment.{event}.v1", data, event_time=WHEN)
    assert found is not None
    return found


def workshop(event: str, participants: int, **extra: Any) -> BillableActivity | None:
    data = {
        "workshop_id": str(uuid.uuid4()),
        "theme": "self_management",
        "start": WHEN.isoformat(),
        "participants_count": participants,
        **extra,
    }
    return activity_of(f"scheduling.workshop.{event}.v1", data, event_time=WHEN)


CASE_ID = uuid.uuid4()
CASE_OPENED = activity_of(
    "intake.case.opened.v1", {"case_id": str(CASE_ID), "client_ref": "c_1", "category": "grief"}, event_time=WHEN
)
HOURS = activity_of(
    "scheduling.secondment.hours_logged.v1",
    {"worker_id": str(uuid.uuid4()), "hours": "7.50", "date": "2026-03-10"},
    event_time=WHEN,
)


# -- which events are billable at all ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["workshop", "secondment_block"])
def test_workshop_and_secondment_appointments_are_metered_from_their_own_events(kind: str) -> None:
    data = {"kind": kind, "start": WHEN.isoformat(), "duration_minutes": 60}
    assert activity_of("scheduling.appointment.completed.v1", data, event_time=WHEN) is None


@pytest.mark.parametrize("by", ["employee", "client_organisation", "social_worker"])
def test_a_late_cancellation_by_anyone_but_the_provider_is_billable(by: str) -> None:
    activity = appointment("cancelled", late=True, cancelled_by=by)
    assert activity.activity is Activity.APPOINTMENT_LATE_CANCELLATION
    charges = meter(activity, [contract(LATE)]).charges
    assert [(c.product_code, c.quantity, c.unit_price_cents) for c in charges] == [("LATE", Decimal(1), 4000)]


def test_a_provider_cancellation_is_never_billable_even_late() -> None:
    data = {"kind": "consult", "start": WHEN.isoformat(), "duration_minutes": 45, "late": True}
    assert activity_of("scheduling.appointment.cancelled.v1", data | {"cancelled_by": "provider"}, event_time=WHEN) is (
        None
    )
    assert workshop("cancelled", 12, late=True, cancelled_by="provider") is None


def test_a_timely_cancellation_is_not_billable() -> None:
    data = {"kind": "consult", "start": WHEN.isoformat(), "duration_minutes": 45, "late": False}
    assert activity_of("scheduling.appointment.cancelled.v1", data | {"cancelled_by": "employee"}, event_time=WHEN) is (
        None
    )
    assert workshop("cancelled", 12, late=False, cancelled_by="client_organisation") is None


def test_unknown_event_types_are_not_billable() -> None:
    assert activity_of("intake.case.closed.v1", {"case_id": str(CASE_ID)}, event_time=WHEN) is None


@pytest.mark.parametrize(("minutes", "hours"), [(45, "0.75"), (60, "1.00"), (50, "0.83"), (10, "0.17"), (90, "1.50")])
def test_minutes_become_hours_exactly_to_two_places_half_up(minutes: int, hours: str) -> None:
    assert hours_of(minutes) == Decimal(hours)


# -- each event kind with and without its product ----------------------------------------------------------


def test_no_show_is_billed_only_with_a_no_show_fee() -> None:
    activity = appointment("no_show")
    with_fee = meter(activity, [contract(BUNDLE, NO_SHOW)])
    assert [(c.product_code, c.kind, c.unit, c.quantity) for c in with_fee.charges] == [
        ("NOSHOW", ProductKind.NO_SHOW_FEE, Unit.OCCURRENCE, Decimal(1))
    ]
    without = meter(activity, [contract(BUNDLE)])
    assert without.charges == () and not without.held


def test_late_cancellation_without_a_fee_bills_nothing() -> None:
    outcome = meter(appointment("cancelled", late=True, cancelled_by="employee"), [contract(BUNDLE, NO_SHOW)])
    assert outcome.charges == () and not outcome.held


def test_a_case_opened_bills_the_trajectory_with_the_case_as_reference() -> None:
    assert CASE_OPENED is not None and CASE_OPENED.case_id == CASE_ID and CASE_OPENED.client_ref == "c_1"
    (charge,) = meter(CASE_OPENED, [contract(TRAJECTORY)]).charges
    assert (charge.product_code, charge.unit, charge.quantity, charge.unit_price_cents) == (
        "TRAJ",
        Unit.CASE,
        Decimal(1),
        120000,
    )
    assert meter(CASE_OPENED, [contract(BUNDLE)]).charges == ()


def test_an_erased_case_opened_can_still_be_metered() -> None:
    stored = {"case_id": str(CASE_ID), "category": "grief"}  # client_ref removed on erasure
    activity = activity_of("intake.case.opened.v1", stored, event_time=WHEN)
    assert activity is not None and activity.client_ref is None
    assert len(meter(activity, [contract(TRAJECTORY)]).charges) == 1


def test_a_workshop_bills_per_session_and_or_per_participant() -> None:
    completed = workshop("completed", 14)
    assert completed is not None
    per_session = meter(completed, [contract(PER_SESSION)]).charges
    assert [(c.product_code, c.unit, c.quantity) for c in per_session] == [("WS-SESSION", Unit.SESSION, Decimal(1))]
    per_participant = meter(completed, [contract(PER_PARTICIPANT)]).charges
    assert [(c.product_code, c.unit, c.quantity) for c in per_participant] == [
        ("WS-PERSON", Unit.PARTICIPANT, Decimal(14))
    ]
    both = meter(completed, [contract(PER_SESSION, PER_PARTICIPANT)]).charges
    assert sorted(c.product_code for c in both) == ["WS-PERSON", "WS-SESSION"]
    assert meter(completed, [contract(BUNDLE)]).charges == ()


def test_a_workshop_without_participants_still_bills_its_session_but_no_participant() -> None:
    empty = workshop("completed", 0)
    assert empty is not None
    charges = meter(empty, [contract(PER_SESSION, PER_PARTICIPANT)]).charges
    assert [c.product_code for c in charges] == ["WS-SESSION"]


def test_a_late_workshop_cancellation_bills_the_late_cancellation_fee_only_with_one() -> None:
    cancelled = workshop("cancelled", 12, late=True, cancelled_by="client_organisation")
    assert cancelled is not None and cancelled.activity is Activity.WORKSHOP_LATE_CANCELLATION
    assert [c.product_code for c in meter(cancelled, [contract(PER_SESSION, LATE)]).charges] == ["LATE"]
    assert meter(cancelled, [contract(PER_SESSION)]).charges == ()


def test_secondment_hours_bill_the_secondment_product() -> None:
    assert HOURS is not None and HOURS.correction_key is not None
    (charge,) = meter(HOURS, [contract(SECONDMENT)]).charges
    assert (charge.product_code, charge.unit, charge.quantity, charge.unit_price_cents) == (
        "SECOND",
        Unit.HOUR,
        Decimal("7.50"),
        8500,
    )
    assert meter(HOURS, [contract(BUNDLE)]).charges == ()


# -- hour bundles ------------------------------------------------------------------------------------------


def test_a_completed_consult_uses_bundle_hours_at_the_bundle_price() -> None:
    bundle = contract(BUNDLE)
    (charge,) = meter(appointment("completed"), [bundle], bundle_used={bundle.id: Decimal(2)}).charges
    assert (charge.quantity, charge.unit_price_cents, charge.overage, charge.portion) == (
        Decimal("0.75"),
        9500,
        False,
        Portion.BASE,
    )


def test_an_appointment_straddling_the_bundle_limit_is_split_into_included_and_overage() -> None:
    bundle = contract(BUNDLE_WITH_OVERAGE)
    charges = meter(
        appointment("completed", kind="intake", minutes=60), [bundle], bundle_used={bundle.id: Decimal("9.50")}
    ).charges
    assert [(c.quantity, c.unit_price_cents, c.overage, c.portion) for c in charges] == [
        (Decimal("0.50"), 9500, False, Portion.BASE),
        (Decimal("0.50"), 11000, True, Portion.OVERAGE),
    ]


def test_beyond_the_bundle_everything_is_overage() -> None:
    bundle = contract(BUNDLE_WITH_OVERAGE)
    charges = meter(appointment("completed"), [bundle], bundle_used={bundle.id: Decimal(12)}).charges
    assert [(c.quantity, c.unit_price_cents, c.portion) for c in charges] == [(Decimal("0.75"), 11000, Portion.OVERAGE)]


def test_overage_without_an_overage_price_is_billed_at_the_bundle_price() -> None:
    bundle = contract(BUNDLE)
    charges = meter(
        appointment("completed", kind="intake", minutes=60), [bundle], bundle_used={bundle.id: Decimal(10)}
    ).charges
    assert [(c.quantity, c.unit_price_cents, c.overage) for c in charges] == [(Decimal(1), 9500, True)]


@given(
    hours=st.decimals(min_value=0, max_value=24, places=2),
    included=st.decimals(min_value=Decimal("0.01"), max_value=1000, places=2),
    used=st.decimals(min_value=0, max_value=2000, places=2),
)
def test_a_split_never_loses_or_invents_hours(hours: Decimal, included: Decimal, used: Decimal) -> None:
    inside, beyond = split_bundle(hours, included=included, used=used)
    assert inside + beyond == hours
    assert inside >= 0 and beyond >= 0
    assert used + inside <= max(included, used)
    assert beyond == 0 or used + inside >= included


@pytest.mark.parametrize(
    ("used", "reached"),
    [("7.99", ()), ("8", (80,)), ("9.99", (80,)), ("10", (80, 100)), ("14", (80, 100))],
)
def test_thresholds_at_80_and_100_percent(used: str, reached: tuple[int, ...]) -> None:
    assert thresholds_reached(included=Decimal(10), used=Decimal(used)) == reached


# -- subscriptions -----------------------------------------------------------------------------------------


def test_a_subscription_covers_appointments_so_they_make_no_usage() -> None:
    outcome = meter(appointment("completed"), [contract(SUBSCRIPTION)])
    assert outcome.charges == () and not outcome.held


def test_a_consult_booked_beyond_the_subscription_sessions_is_one_session_at_the_overage_price() -> None:
    (charge,) = meter(appointment("completed"), [contract(SUBSCRIPTION)], booked_as_overage=True).charges
    assert (charge.product_code, charge.unit, charge.quantity, charge.unit_price_cents, charge.overage) == (
        "SUB",
        Unit.SESSION,
        Decimal(1),
        7000,
        True,
    )


def test_a_bundle_takes_precedence_over_a_subscription() -> None:
    both = contract(SUBSCRIPTION, BUNDLE)
    charges = meter(appointment("completed"), [both], bundle_used={both.id: Decimal(0)}, booked_as_overage=True).charges
    assert [c.kind for c in charges] == [ProductKind.HOUR_BUNDLE]


# -- contracts in force ------------------------------------------------------------------------------------


def test_without_a_contract_in_force_usage_is_held_not_dropped() -> None:
    last_year = contract(BUNDLE, NO_SHOW, start=date(2025, 1, 1), end=date(2025, 12, 31))
    for activity in (appointment("completed"), appointment("no_show"), CASE_OPENED, HOURS):
        assert activity is not None
        assert meter(activity, []).held
        assert meter(activity, [last_year]).held


def test_the_contract_in_force_on_the_amsterdam_day_decides() -> None:
    # 23:30 UTC on 31 December is already 1 January in Amsterdam: the new contract's day.
    new_year = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    old = Product("OLD-NOSHOW", ProductKind.NO_SHOW_FEE, 1000, VatRate.STANDARD)
    old_contract = contract(old, start=date(2025, 1, 1), end=date(2025, 12, 31))
    new_contract = contract(NO_SHOW)
    data = {"kind": "consult", "start": new_year.isoformat(), "duration_minutes": 45}
    activity = activity_of("scheduling.appointment.no_show.v1", data, event_time=new_year)
    assert activity is not None
    (charge,) = meter(activity, [old_contract, new_contract]).charges
    assert charge.contract_id == new_contract.id


# -- secondment corrections: the latest log is authoritative -------------------------------------------------


def test_a_correction_before_invoicing_replaces_the_pending_quantity() -> None:
    pending = uuid.uuid4()
    plan = correct_secondment(hours=Decimal(6), invoiced=Decimal(0), pending=[(pending, Decimal("7.50"))])
    assert plan.update == (pending, Decimal(6)) and plan.insert is None and plan.delete == ()


def test_a_correction_after_invoicing_records_the_difference() -> None:
    assert correct_secondment(hours=Decimal(6), invoiced=Decimal("7.50"), pending=[]).insert == Decimal("-1.50")
    assert correct_secondment(hours=Decimal(8), invoiced=Decimal("7.50"), pending=[]).insert == Decimal("0.50")
    assert correct_secondment(hours=Decimal("7.50"), invoiced=Decimal("7.50"), pending=[]).insert is None


def test_a_correction_back_to_the_invoiced_hours_removes_the_pending_difference() -> None:
    pending = uuid.uuid4()
    plan = correct_secondment(hours=Decimal("7.50"), invoiced=Decimal("7.50"), pending=[(pending, Decimal(1))])
    assert plan.delete == (pending,) and plan.update is None and plan.insert is None


@given(
    hours=st.decimals(min_value=Decimal("0.25"), max_value=24, places=2),
    invoiced=st.decimals(min_value=0, max_value=24, places=2),
    pending=st.lists(st.decimals(min_value=Decimal("-24"), max_value=24, places=2), max_size=3),
)
def test_after_a_correction_the_usage_adds_up_to_the_latest_hours(
    hours: Decimal, invoiced: Decimal, pending: list[Decimal]
) -> None:
    rows = {uuid.uuid4(): quantity for quantity in pending}
    plan = correct_secondment(hours=hours, invoiced=invoiced, pending=list(rows.items()))
    for row in plan.delete:
        del rows[row]
    if plan.update is not None:
        rows[plan.update[0]] = plan.update[1]
    total = invoiced + sum(rows.values(), Decimal(0)) + (plan.insert or 0)
    assert total == hours
    assert all(quantity != 0 for quantity in rows.values())


# -- contract terms ----------------------------------------------------------------------------------------


def test_product_problems_name_their_fields() -> None:
    exempt_without_reason = Product("A", ProductKind.NO_SHOW_FEE, 1, VatRate.EXEMPT)
    reason_without_exemption = Product(
        "B", ProductKind.LATE_CANCELLATION_FEE, 1, VatRate.ZERO, vat_exemption_reason="x"
    )
    bundle_without_hours = Product("C", ProductKind.HOUR_BUNDLE, 1, VatRate.STANDARD)
    duplicate_code = Product("C", ProductKind.SECONDMENT_HOURLY, 1, VatRate.STANDARD, overage_unit_price_cents=5)
    subscription = Product("D", ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR, 1, VatRate.STANDARD)
    problems = product_problems(
        [exempt_without_reason, reason_without_exemption, bundle_without_hours, duplicate_code, subscription],
        employees=None,
    )
    assert sorted(p.path for p in problems) == [
        "products.0.vat_exemption_reason",
        "products.1.vat_exemption_reason",
        "products.2.included_quantity",
        "products.3.code",
        "products.3.overage_unit_price_cents",
    ]
    assert product_problems([BUNDLE, TRAJECTORY, SUBSCRIPTION], employees=250) == []
    assert [p.path for p in product_problems([BUNDLE], employees=250)] == ["employees"]
    twice = product_problems([NO_SHOW, Product("NS2", ProductKind.NO_SHOW_FEE, 1, VatRate.STANDARD)], employees=None)
    assert [p.path for p in twice] == ["products.1.kind"]


def test_overlapping_contracts_clash_only_on_shared_product_kinds() -> None:
    existing = contract(BUNDLE, NO_SHOW)
    assert [k for _, k in clashes({ProductKind.NO_SHOW_FEE}, date(2026, 6, 1), date(2027, 5, 31), [existing])] == [
        ProductKind.NO_SHOW_FEE
    ]
    assert clashes({ProductKind.SECONDMENT_HOURLY}, date(2026, 6, 1), date(2027, 5, 31), [existing]) == []
    assert clashes({ProductKind.NO_SHOW_FEE}, date(2027, 1, 1), date(2027, 12, 31), [existing]) == []


@pytest.mark.parametrize(
    ("cents", "percent", "indexed"),
    [(9500, "3.5", 9833), (9500, "0", 9500), (1, "50", 2), (3, "50", 5), (10000, "-2.25", 9775), (9999, "2.71", 10270)],
)
def test_indexation_is_exact_and_rounds_half_up_to_whole_cents(cents: int, percent: str, indexed: int) -> None:
    # 1 * 1.5 = 1.5 → 2 and 3 * 1.5 = 4.5 → 5: half up, not to even.
    assert indexed_price(cents, Decimal(percent)) == indexed


def test_a_renewal_follows_the_period_and_indexes_every_price() -> None:
    original = Contract(
        uuid.uuid4(),
        TENANT,
        (BUNDLE_WITH_OVERAGE, SUBSCRIPTION),
        date(2026, 1, 1),
        date(2026, 12, 31),
        employees=120,
        indexation_percent=Decimal("3.5"),
        buyer_reference="PO-REF",
    )
    renewal = renewed(original, new_id=uuid.uuid4())
    assert (renewal.period_start, renewal.period_end) == (date(2027, 1, 1), date(2027, 12, 31))
    assert renewal.renewed_from_id == original.id and renewal.buyer_reference == "PO-REF"
    bundle = renewal.product_of(ProductKind.HOUR_BUNDLE)
    assert bundle is not None
    assert (bundle.unit_price_cents, bundle.overage_unit_price_cents, bundle.included_quantity) == (
        9833,
        11385,
        Decimal(10),
    )
    quarter = renewed(original, new_id=uuid.uuid4(), months=3, percent=Decimal(0))
    assert (quarter.period_start, quarter.period_end) == (date(2027, 1, 1), date(2027, 3, 31))
    assert quarter.products == original.products


def test_months_are_added_with_clamping() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)


def test_expiry_notice_is_due_90_days_ahead_unless_renewed_or_self_renewing() -> None:
    ends = date(2026, 12, 31)
    plain = contract(NO_SHOW, end=ends)
    assert not expiry_notice_due(plain, ends - timedelta(days=91))
    assert expiry_notice_due(plain, ends - timedelta(days=90))
    assert expiry_notice_due(plain, ends)
    assert not expiry_notice_due(plain, ends + timedelta(days=1))
    assert not expiry_notice_due(replace(plain, renewal_id=uuid.uuid4()), ends)
    assert not expiry_notice_due(replace(plain, auto_renew=True), ends)
    assert not expiry_notice_due(replace(plain, status=ContractStatus.ENDED), ends)
    assert auto_renewal_due(replace(plain, auto_renew=True), ends - timedelta(days=30), lead_days=30)
    assert not auto_renewal_due(replace(plain, auto_renew=True), ends - timedelta(days=31), lead_days=30)
