"""Entitlement checks: hour bundles and sessions per employee, refused or overage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bmw.contracts.taxonomy import AppointmentKind, ProductKind
from bmw.scheduling.domain.entitlements import EntitlementExceeded, Product, Usage, Verdict, check, needs_employee

BUNDLE = Product.of({"kind": "hour_bundle", "included_quantity": "10", "overage_unit_price_cents": None})
BUNDLE_WITH_OVERAGE = Product.of({"kind": "hour_bundle", "included_quantity": "10", "overage_unit_price_cents": 9500})
SUBSCRIPTION = Product(ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR, sessions_per_employee_per_year=5)
HOUR = Decimal("0.75")


def test_within_the_bundle() -> None:
    assert check([BUNDLE], kind=AppointmentKind.CONSULT, hours=HOUR, usage=Usage(Decimal("9.25"))) is Verdict.WITHIN


def test_beyond_the_bundle_without_overage_rate_is_refused_with_the_numbers() -> None:
    with pytest.raises(EntitlementExceeded, match=r"10 h is used up \(9.50 h"):
        check([BUNDLE], kind=AppointmentKind.CONSULT, hours=HOUR, usage=Usage(Decimal("9.50")))


def test_beyond_the_bundle_with_overage_rate_is_overage() -> None:
    verdict = check(
        [BUNDLE_WITH_OVERAGE], kind=AppointmentKind.MANAGER_CONSULTATION, hours=HOUR, usage=Usage(Decimal(10))
    )
    assert verdict is Verdict.OVERAGE


def test_an_intake_is_never_refused_but_counts_as_overage() -> None:
    assert check([BUNDLE], kind=AppointmentKind.INTAKE, hours=Decimal(1), usage=Usage(Decimal(10))) is Verdict.OVERAGE


def test_workshops_do_not_touch_the_bundle() -> None:
    assert check([BUNDLE], kind=AppointmentKind.WORKSHOP, hours=Decimal(3), usage=Usage(Decimal(10))) is Verdict.WITHIN


def test_sessions_per_employee_per_year() -> None:
    fifth = Usage(employee_sessions_this_year=4)
    sixth = Usage(employee_sessions_this_year=5)
    assert check([SUBSCRIPTION], kind=AppointmentKind.CONSULT, hours=HOUR, usage=fifth) is Verdict.WITHIN
    with pytest.raises(EntitlementExceeded, match="the 5 consults of this year"):
        check([SUBSCRIPTION], kind=AppointmentKind.CONSULT, hours=HOUR, usage=sixth)
    assert needs_employee([SUBSCRIPTION], AppointmentKind.CONSULT)
    assert not needs_employee([SUBSCRIPTION], AppointmentKind.MANAGER_CONSULTATION)
    assert not needs_employee([BUNDLE], AppointmentKind.CONSULT)


def test_no_products_no_limits() -> None:
    assert check([], kind=AppointmentKind.CONSULT, hours=HOUR, usage=Usage(Decimal(1000), 1000)) is Verdict.WITHIN
