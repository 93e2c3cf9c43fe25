"""Entitlements: what a client organisation's contract lets it book, decided before a booking is made.

Billing publishes contracts; scheduling keeps their products and checks two limits when a consult or a manager
consultation is booked:

* an **hour bundle** (*strippenkaart*): prepaid hours that consults, manager consultations and intakes use up;
  beyond it a booking is *overage* when the contract prices overage, and refused when it does not;
* **sessions per employee per year** of a subscription: consults one employee may have in a calendar year;
  beyond it the same rule applies (overage when the subscription prices extra sessions, else refused).

Intakes are never refused (the SLA comes first) but do use bundle hours. Pure logic; exact decimals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bmw.contracts.taxonomy import AppointmentKind, ProductKind

#: Kinds whose time is taken from an hour bundle.
BUNDLE_KINDS = frozenset({AppointmentKind.INTAKE, AppointmentKind.CONSULT, AppointmentKind.MANAGER_CONSULTATION})
#: Kinds a booking may be refused for.
LIMITED_KINDS = frozenset({AppointmentKind.CONSULT, AppointmentKind.MANAGER_CONSULTATION})


class Verdict(StrEnum):
    WITHIN = "within"
    OVERAGE = "overage"


class EntitlementExceeded(Exception):
    """The contract does not cover this booking and prices no overage; the message says which limit."""


@dataclass(frozen=True)
class Product:
    """The part of a contract product that limits bookings."""

    kind: ProductKind
    included_quantity: Decimal | None = None
    overage_priced: bool = False
    sessions_per_employee_per_year: int | None = None

    @classmethod
    def of(cls, wire: Mapping[str, Any]) -> Product:
        """From a product as ``billing.contract.activated.v1`` carries it."""
        included = wire.get("included_quantity")
        return cls(
            kind=ProductKind(wire["kind"]),
            included_quantity=Decimal(str(included)) if included is not None else None,
            overage_priced=wire.get("overage_unit_price_cents") is not None,
            sessions_per_employee_per_year=wire.get("sessions_per_employee_per_year"),
        )


@dataclass(frozen=True)
class Usage:
    """What the organisation (and the employee) used so far, bookings included."""

    bundle_hours: Decimal = Decimal(0)
    employee_sessions_this_year: int | None = None


def needs_employee(products: Iterable[Product], kind: AppointmentKind) -> bool:
    """A consult under a per-employee session limit must say whose it is (its case)."""
    return kind is AppointmentKind.CONSULT and any(p.sessions_per_employee_per_year for p in products)


def check(products: Iterable[Product], *, kind: AppointmentKind, hours: Decimal, usage: Usage) -> Verdict:
    """Whether a booking of ``hours`` of ``kind`` fits the contract; raises :class:`EntitlementExceeded`."""
    verdict = Verdict.WITHIN
    for product in products:
        included = product.included_quantity
        beyond_bundle = (
            product.kind is ProductKind.HOUR_BUNDLE
            and included is not None
            and kind in BUNDLE_KINDS
            and usage.bundle_hours + hours > included
        )
        if beyond_bundle:
            if not product.overage_priced and kind in LIMITED_KINDS:
                raise EntitlementExceeded(
                    f"the hour bundle of {included} h is used up ({usage.bundle_hours} h booked or used, "
                    f"{hours} h more asked) and the contract has no overage rate"
                )
            verdict = Verdict.OVERAGE
        limit = product.sessions_per_employee_per_year
        sessions = usage.employee_sessions_this_year
        if limit and kind is AppointmentKind.CONSULT and sessions is not None and sessions + 1 > limit:
            if not product.overage_priced:
                raise EntitlementExceeded(f"this employee had the {limit} consults of this year the contract covers")
            verdict = Verdict.OVERAGE
    return verdict
