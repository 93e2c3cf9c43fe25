"""Contracts and their products: what a client organisation buys, for which period, at which prices.

One contract may mix every product kind (DESIGN §3 billing):

* ``subscription_per_employee_year``: a yearly price per employee, invoiced per period (month or quarter) for
  the contract's number of employees; optionally limits consults per employee per year
  (``sessions_per_employee_per_year``, an entitlement scheduling enforces) with extra sessions at the overage
  price;
* ``hour_bundle`` (*strippenkaart*): ``included_quantity`` hours at ``unit_price_cents`` an hour, consumed by
  intakes, consults and manager consultations; hours beyond it at ``overage_unit_price_cents``;
* ``trajectory_fixed_price``: a fixed price per opened case;
* ``workshop_per_session`` / ``workshop_per_participant``;
* ``secondment_hourly`` (*detachering*);
* ``late_cancellation_fee`` and ``no_show_fee``.

A contract holds at most one product of each kind, so that an activity meters to exactly one product; and a
client organisation has at most one contract in force per product kind on any day (overlaps are refused).
Pure logic: exact decimals and integer cents, no infrastructure.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bmw.contracts.taxonomy import ProductKind, VatRate

#: Contract days, billing periods and "the day of an activity" are Europe/Amsterdam calendar days.
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: A contract ending within this many days, without a renewal, is announced as expiring.
EXPIRY_NOTICE_DAYS = 90

#: Renewal length when a contract does not say otherwise.
DEFAULT_RENEWAL_MONTHS = 12

CENT = Decimal(1)
HUNDRED = Decimal(100)


class InvoicingPeriod(StrEnum):
    """How often a subscription (and the usage) is invoiced."""

    MONTH = "month"
    QUARTER = "quarter"


class ContractStatus(StrEnum):
    """``active`` until the contract ends (at its period end or early); an ended contract keeps its (actual)
    period, so that late events about days inside it are still metered against it."""

    ACTIVE = "active"
    ENDED = "ended"


#: Product kinds that may price usage beyond what the contract includes.
OVERAGE_KINDS = frozenset({ProductKind.HOUR_BUNDLE, ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR})


def round_cents(amount: Decimal) -> int:
    """Round an exact amount in cents to whole cents, half up (away from zero), as invoices do."""
    return int(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def indexed_price(cents: int, percent: Decimal) -> int:
    """A price after indexation by ``percent`` (e.g. ``Decimal("3.5")``), rounded to whole cents half up."""
    return round_cents(Decimal(cents) * (HUNDRED + percent) / HUNDRED)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 January + 1 month = 28/29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def local_day(moment: datetime) -> date:
    """The Europe/Amsterdam calendar day of an aware moment."""
    return moment.astimezone(AMSTERDAM).date()


def local_midnight(day: date) -> datetime:
    """The start of a Europe/Amsterdam day, as an aware moment."""
    return datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM)


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """``[start, end)`` of the Europe/Amsterdam days ``first`` to ``last`` (inclusive)."""
    return local_midnight(first), local_midnight(last + timedelta(days=1))


@dataclass(frozen=True)
class Product:
    """One priced product of a contract. Money in integer euro cents, excluding VAT."""

    code: str
    kind: ProductKind
    unit_price_cents: int
    vat_rate: VatRate
    vat_exemption_reason: str | None = None
    included_quantity: Decimal | None = None
    overage_unit_price_cents: int | None = None
    sessions_per_employee_per_year: int | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored (JSONB): decimals as strings with two places."""
        return {
            "code": self.code,
            "kind": self.kind.value,
            "unit_price_cents": self.unit_price_cents,
            "vat_rate": self.vat_rate.value,
            "vat_exemption_reason": self.vat_exemption_reason,
            "included_quantity": None if self.included_quantity is None else f"{self.included_quantity:.2f}",
            "overage_unit_price_cents": self.overage_unit_price_cents,
            "sessions_per_employee_per_year": self.sessions_per_employee_per_year,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Product:
        included = raw.get("included_quantity")
        return cls(
            code=str(raw["code"]),
            kind=ProductKind(raw["kind"]),
            unit_price_cents=int(raw["unit_price_cents"]),
            vat_rate=VatRate(raw["vat_rate"]),
            vat_exemption_reason=raw.get("vat_exemption_reason"),
            included_quantity=None if included is None else Decimal(str(included)),
            overage_unit_price_cents=raw.get("overage_unit_price_cents"),
            sessions_per_employee_per_year=raw.get("sessions_per_employee_per_year"),
        )

    def indexed(self, percent: Decimal) -> Product:
        """The product with its prices indexed (quantities and entitlements stay)."""
        overage = self.overage_unit_price_cents
        return replace(
            self,
            unit_price_cents=indexed_price(self.unit_price_cents, percent),
            overage_unit_price_cents=None if overage is None else indexed_price(overage, percent),
        )


@dataclass(frozen=True)
class Contract:
    """A contract of one client organisation; ``period_end`` is the (actual) last day, inclusive."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    products: tuple[Product, ...]
    period_start: date
    period_end: date
    status: ContractStatus = ContractStatus.ACTIVE
    buyer_reference: str | None = None
    purchase_order: str | None = None
    employees: int | None = None
    invoicing_period: InvoicingPeriod = InvoicingPeriod.MONTH
    auto_renew: bool = False
    renewal_months: int = DEFAULT_RENEWAL_MONTHS
    indexation_percent: Decimal = Decimal(0)
    renewed_from_id: uuid.UUID | None = None
    renewal_id: uuid.UUID | None = field(default=None, compare=False)
    ended_at: datetime | None = None
    created_at: datetime | None = field(default=None, compare=False)

    def product_of(self, kind: ProductKind) -> Product | None:
        """The contract's product of a kind (there is at most one)."""
        return next((p for p in self.products if p.kind is kind), None)

    @property
    def kinds(self) -> frozenset[ProductKind]:
        return frozenset(p.kind for p in self.products)

    def covers(self, day: date) -> bool:
        """Whether the contract is in force on a day."""
        return self.period_start <= day <= self.period_end

    def overlaps(self, first: date, last: date) -> bool:
        return self.period_start <= last and first <= self.period_end


@dataclass(frozen=True)
class Problem:
    """A reason a contract is refused, with the request field it is about (relative to ``body``)."""

    path: str
    message: str


def product_problems(products: Sequence[Product], *, employees: int | None, path: str = "products") -> list[Problem]:
    """What is wrong with a contract's products (empty when nothing is)."""
    problems: list[Problem] = []
    codes: set[str] = set()
    kinds: set[ProductKind] = set()
    for index, product in enumerate(products):
        at = f"{path}.{index}"
        if product.code in codes:
            problems.append(Problem(f"{at}.code", f"product code {product.code} occurs twice in this contract"))
        codes.add(product.code)
        if product.kind in kinds:
            message = f"a contract has at most one {product.kind.value} product, so that usage meters to one"
            problems.append(Problem(f"{at}.kind", message))
        kinds.add(product.kind)
        problems.extend(_product_problems(product, at))
    # A subscription without employees is accepted (callers from before employees existed keep working); the
    # billing run has nothing to invoice for it until a contract with employees replaces it.
    has_subscription = ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR in kinds
    if not has_subscription and employees is not None:
        problems.append(Problem("employees", "only a contract with a subscription per employee has employees"))
    return problems


def _product_problems(product: Product, at: str) -> list[Problem]:
    problems: list[Problem] = []
    exempt = product.vat_rate is VatRate.EXEMPT
    if exempt and not product.vat_exemption_reason:
        problems.append(Problem(f"{at}.vat_exemption_reason", "an exempt product needs its VAT exemption reason"))
    if not exempt and product.vat_exemption_reason:
        problems.append(Problem(f"{at}.vat_exemption_reason", "only an exempt product has a VAT exemption reason"))
    bundle = product.kind is ProductKind.HOUR_BUNDLE
    if bundle and product.included_quantity is None:
        problems.append(Problem(f"{at}.included_quantity", "an hour bundle needs its included hours"))
    if not bundle and product.included_quantity is not None:
        problems.append(Problem(f"{at}.included_quantity", "only an hour bundle has included hours"))
    subscription = product.kind is ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR
    if product.sessions_per_employee_per_year is not None and not subscription:
        problems.append(
            Problem(f"{at}.sessions_per_employee_per_year", "only a subscription per employee limits sessions")
        )
    if product.overage_unit_price_cents is not None:
        if product.kind not in OVERAGE_KINDS:
            problems.append(
                Problem(f"{at}.overage_unit_price_cents", "only an hour bundle or a subscription prices overage")
            )
        elif subscription and product.sessions_per_employee_per_year is None:
            problems.append(
                Problem(
                    f"{at}.overage_unit_price_cents",
                    "a subscription prices overage only beyond its sessions_per_employee_per_year",
                )
            )
    return problems


def clashes(
    kinds: Iterable[ProductKind], first: date, last: date, others: Iterable[Contract]
) -> list[tuple[Contract, ProductKind]]:
    """Contracts of the same client that are in force on a day of ``first``..``last`` with a product of one of
    ``kinds``: a client has at most one contract in force per product kind."""
    wanted = frozenset(kinds)
    return [(other, kind) for other in others if other.overlaps(first, last) for kind in sorted(wanted & other.kinds)]


def renewal_period(contract: Contract, months: int) -> tuple[date, date]:
    """The period following a contract: from the day after its end, ``months`` long."""
    start = contract.period_end + timedelta(days=1)
    return start, add_months(start, months) - timedelta(days=1)


def renewed(
    contract: Contract, *, new_id: uuid.UUID, months: int | None = None, percent: Decimal | None = None
) -> Contract:
    """The contract for the next period: same terms, prices indexed (Decimal, half-up to whole cents).

    ``indexation_percent`` is applied once per renewal; with the usual yearly renewal that is the yearly
    indexation. The new contract remembers the one it renews.
    """
    length = months or contract.renewal_months
    index = contract.indexation_percent if percent is None else percent
    start, end = renewal_period(contract, length)
    return replace(
        contract,
        id=new_id,
        products=tuple(product.indexed(index) for product in contract.products),
        period_start=start,
        period_end=end,
        status=ContractStatus.ACTIVE,
        renewal_months=length,
        indexation_percent=index,
        renewed_from_id=contract.id,
        renewal_id=None,
        ended_at=None,
        created_at=None,
    )


def expiry_notice_due(contract: Contract, today: date, *, notice_days: int = EXPIRY_NOTICE_DAYS) -> bool:
    """Whether to announce that a contract is about to end: it ends within ``notice_days`` (and has not ended),
    it is not renewed, and it does not renew itself."""
    return (
        contract.status is ContractStatus.ACTIVE
        and today <= contract.period_end <= today + timedelta(days=notice_days)
        and contract.renewal_id is None
        and not contract.auto_renew
    )


def auto_renewal_due(contract: Contract, today: date, *, lead_days: int) -> bool:
    """Whether a self-renewing contract should get its next period now (``lead_days`` before it ends, or late
    if the service was down)."""
    return (
        contract.auto_renew
        and contract.status is ContractStatus.ACTIVE
        and contract.renewal_id is None
        and contract.period_end <= today + timedelta(days=lead_days)
    )


def lapsed(contract: Contract, today: date) -> bool:
    """An active contract whose last day has passed: it ends now."""
    return contract.status is ContractStatus.ACTIVE and contract.period_end < today
