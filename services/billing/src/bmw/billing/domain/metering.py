"""Metering rules: which scheduling and intake events are billable, and what each meters to under the client's
contract in force on the day of the activity.

* ``scheduling.appointment.completed.v1`` of an intake, consult or manager consultation: hours
  (``duration_minutes / 60``, exact to two places, half up) of the **hour bundle** if a contract in force has
  one. The bundle's included hours are billed at its ``unit_price_cents``; hours beyond them are overage at
  ``overage_unit_price_cents`` (or, when the contract prices no overage, at the bundle's own hourly price: an
  intake is never refused, see scheduling's entitlements). One appointment straddling the limit is split into
  an included part and an overage part. Without a bundle, a **subscription** covers appointments through its
  fee per employee per period (the billing run invoices that from the contract), so they make **no usage** —
  except a consult scheduling booked as overage beyond ``sessions_per_employee_per_year``, which is one session
  at the subscription's overage price. Under a contract with neither, an appointment is not billable.
* ``scheduling.appointment.no_show.v1``: the **no-show fee**, only if the contract has one.
* ``scheduling.appointment.cancelled.v1`` with ``late`` and not cancelled by the provider: the
  **late-cancellation fee**, only if the contract has one. A provider's cancellation is never billable.
* ``intake.case.opened.v1``: the **trajectory fixed price**, one per case; the invoice refers to the case id
  only (a pseudonymous reference), never to the client_ref.
* ``scheduling.workshop.completed.v1``: **per session** (quantity 1) and/or **per participant** (quantity =
  participants); a contract with both products bills both (a fee per session plus one per participant).
* ``scheduling.workshop.cancelled.v1`` late and not by the provider: the **late-cancellation fee**.
* ``scheduling.secondment.hours_logged.v1``: **secondment hours**. The latest event per worker x client x date
  is authoritative (scheduling publishes the full corrected figure, not a difference): see
  :func:`correct_secondment`.
* **No contract in force** on the day: the activity is **held** (not dropped) until a contract covering that
  day is created; a contract in force without the product means the activity is simply not billable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from bmw.billing.domain.contracts import Contract, Product, local_day, local_midnight, round_cents
from bmw.contracts.taxonomy import AppointmentKind, CancelledBy, ProductKind

TWO_PLACES = Decimal("0.01")
SIXTY = Decimal(60)

#: Appointment kinds whose time is billed (bundle hours) and whose no-show or late cancellation carries a fee.
BILLABLE_APPOINTMENT_KINDS = frozenset(
    {AppointmentKind.INTAKE, AppointmentKind.CONSULT, AppointmentKind.MANAGER_CONSULTATION}
)

#: Shares of a bundle's included hours at which billing.contract.threshold_reached.v1 fires, once each.
THRESHOLDS = (80, 100)


class Activity(StrEnum):
    """What happened, as billing sees it."""

    APPOINTMENT_COMPLETED = "appointment_completed"
    APPOINTMENT_NO_SHOW = "appointment_no_show"
    APPOINTMENT_LATE_CANCELLATION = "appointment_late_cancellation"
    CASE_OPENED = "case_opened"
    WORKSHOP_COMPLETED = "workshop_completed"
    WORKSHOP_LATE_CANCELLATION = "workshop_late_cancellation"
    SECONDMENT_HOURS = "secondment_hours"


class Unit(StrEnum):
    """What a usage quantity counts (the invoice's unit of measure)."""

    HOUR = "hour"
    SESSION = "session"
    PARTICIPANT = "participant"
    CASE = "case"
    OCCURRENCE = "occurrence"


class UsageStatus(StrEnum):
    """``open``: billable, not yet invoiced; ``held``: no contract in force on its day (yet); ``invoiced``: on an
    invoice (``invoice_id``), never changed again (a later correction is a new usage row)."""

    OPEN = "open"
    HELD = "held"
    INVOICED = "invoiced"


class Portion(StrEnum):
    """The part of one source event a usage row is: the whole (or the included part), or the overage part of
    an appointment that straddles a bundle's limit. ``(source_event_id, portion)`` is unique."""

    BASE = "base"
    OVERAGE = "overage"


#: The natural unit of what an activity measures, before it meets a contract (e.g. on held usage).
ACTIVITY_UNIT: dict[Activity, Unit] = {
    Activity.APPOINTMENT_COMPLETED: Unit.HOUR,
    Activity.APPOINTMENT_NO_SHOW: Unit.OCCURRENCE,
    Activity.APPOINTMENT_LATE_CANCELLATION: Unit.OCCURRENCE,
    Activity.CASE_OPENED: Unit.CASE,
    Activity.WORKSHOP_COMPLETED: Unit.PARTICIPANT,
    Activity.WORKSHOP_LATE_CANCELLATION: Unit.OCCURRENCE,
    Activity.SECONDMENT_HOURS: Unit.HOUR,
}


@dataclass(frozen=True)
class BillableActivity:
    """A billable fact from a source event: what, when, how much; the case id only for a trajectory."""

    activity: Activity
    occurred_at: datetime
    quantity: Decimal
    appointment_id: uuid.UUID | None = None
    appointment_kind: AppointmentKind | None = None
    case_id: uuid.UUID | None = None
    client_ref: str | None = None
    correction_key: str | None = None

    @property
    def day(self) -> date:
        """The Europe/Amsterdam day of the activity: it decides the contract and the billing period."""
        return local_day(self.occurred_at)

    @property
    def unit(self) -> Unit:
        return ACTIVITY_UNIT[self.activity]


def hours_of(minutes: int) -> Decimal:
    """Minutes as hours, exact to two places, half up (45 → 0.75, 50 → 0.83)."""
    return (Decimal(minutes) / SIXTY).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def secondment_key(worker_id: uuid.UUID, day: date) -> str:
    """Identifies one worker's hours on one day at one client (the tenant is a column of its own)."""
    return f"secondment:{worker_id}:{day.isoformat()}"


def activity_of(event_type: str, data: Mapping[str, Any], *, event_time: datetime) -> BillableActivity | None:
    """The billable activity of an event (its data in JSON form), or None when the event is never billable.

    Tolerant of a missing ``client_ref`` (erased) so that stored activity can be metered again later.
    """
    if event_type.startswith("scheduling.appointment."):
        kind = AppointmentKind(data["kind"])
        if kind not in BILLABLE_APPOINTMENT_KINDS:
            return None  # workshops and secondment blocks are metered from their own events
        start = _moment(data["start"])
        appointment_id = _uuid(data.get("appointment_id"))

        def appointment(activity: Activity, quantity: Decimal) -> BillableActivity:
            return BillableActivity(activity, start, quantity, appointment_id=appointment_id, appointment_kind=kind)

        if event_type == "scheduling.appointment.completed.v1":
            return appointment(Activity.APPOINTMENT_COMPLETED, hours_of(int(data["duration_minutes"])))
        if event_type == "scheduling.appointment.no_show.v1":
            return appointment(Activity.APPOINTMENT_NO_SHOW, Decimal(1))
        if event_type == "scheduling.appointment.cancelled.v1" and _chargeable_cancellation(data):
            return appointment(Activity.APPOINTMENT_LATE_CANCELLATION, Decimal(1))
        return None
    if event_type == "intake.case.opened.v1":
        return BillableActivity(
            Activity.CASE_OPENED,
            event_time,
            Decimal(1),
            case_id=_uuid(data["case_id"]),
            client_ref=data.get("client_ref"),
        )
    if event_type == "scheduling.workshop.completed.v1":
        participants = Decimal(int(data["participants_count"]))
        return BillableActivity(Activity.WORKSHOP_COMPLETED, _moment(data["start"]), participants)
    if event_type == "scheduling.workshop.cancelled.v1":
        if not _chargeable_cancellation(data):
            return None
        return BillableActivity(Activity.WORKSHOP_LATE_CANCELLATION, _moment(data["start"]), Decimal(1))
    if event_type == "scheduling.secondment.hours_logged.v1":
        day = date.fromisoformat(str(data["date"]))
        worker = uuid.UUID(str(data["worker_id"]))
        return BillableActivity(
            Activity.SECONDMENT_HOURS,
            local_midnight(day),
            Decimal(str(data["hours"])).quantize(TWO_PLACES),
            correction_key=secondment_key(worker, day),
        )
    return None


def _chargeable_cancellation(data: Mapping[str, Any]) -> bool:
    """Late (< 24 h before the start) and not by the provider: a provider's cancellation is never billable."""
    return bool(data.get("late")) and CancelledBy(data["cancelled_by"]) is not CancelledBy.PROVIDER


@dataclass(frozen=True)
class Charge:
    """One usage row an activity meters to."""

    contract_id: uuid.UUID
    product_code: str
    kind: ProductKind
    unit: Unit
    quantity: Decimal
    unit_price_cents: int
    overage: bool = False
    portion: Portion = Portion.BASE

    @property
    def amount(self) -> Decimal:
        """Quantity times price, exact (in cents); rounded where an invoice line or a total is made."""
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class Metering:
    """The outcome for one activity: held (no contract in force), or zero or more charges."""

    held: bool
    charges: tuple[Charge, ...] = ()


HELD = Metering(held=True)
NOT_BILLABLE = Metering(held=False)


def split_bundle(hours: Decimal, *, included: Decimal, used: Decimal) -> tuple[Decimal, Decimal]:
    """Split ``hours`` into the part still inside the bundle and the overage beyond it."""
    remaining = max(included - used, Decimal(0))
    inside = min(hours, remaining)
    return inside, hours - inside


def meter(
    activity: BillableActivity,
    contracts: Sequence[Contract],
    *,
    bundle_used: Mapping[uuid.UUID, Decimal] | None = None,
    booked_as_overage: bool = False,
) -> Metering:
    """What an activity meters to under the contracts in force on its day.

    ``bundle_used`` gives, per contract id, the bundle hours already metered (included and overage);
    ``booked_as_overage`` says scheduling booked the appointment beyond a subscription's session limit.
    """
    in_force = [c for c in contracts if c.covers(activity.day)]
    if not in_force:
        return HELD

    def offer(kind: ProductKind) -> tuple[Contract, Product] | None:
        for contract in in_force:
            product = contract.product_of(kind)
            if product is not None:
                return contract, product
        return None

    def charge(kind: ProductKind, unit: Unit, quantity: Decimal) -> tuple[Charge, ...]:
        found = offer(kind)
        if found is None or quantity <= 0:
            return ()
        contract, product = found
        return (Charge(contract.id, product.code, kind, unit, quantity, product.unit_price_cents),)

    charges: tuple[Charge, ...] = ()
    match activity.activity:
        case Activity.APPOINTMENT_COMPLETED:
            charges = _appointment(activity, offer, bundle_used or {}, booked_as_overage=booked_as_overage)
        case Activity.APPOINTMENT_NO_SHOW:
            charges = charge(ProductKind.NO_SHOW_FEE, Unit.OCCURRENCE, Decimal(1))
        case Activity.APPOINTMENT_LATE_CANCELLATION | Activity.WORKSHOP_LATE_CANCELLATION:
            charges = charge(ProductKind.LATE_CANCELLATION_FEE, Unit.OCCURRENCE, Decimal(1))
        case Activity.CASE_OPENED:
            charges = charge(ProductKind.TRAJECTORY_FIXED_PRICE, Unit.CASE, Decimal(1))
        case Activity.WORKSHOP_COMPLETED:
            charges = charge(ProductKind.WORKSHOP_PER_SESSION, Unit.SESSION, Decimal(1)) + charge(
                ProductKind.WORKSHOP_PER_PARTICIPANT, Unit.PARTICIPANT, activity.quantity
            )
        case Activity.SECONDMENT_HOURS:
            charges = charge(ProductKind.SECONDMENT_HOURLY, Unit.HOUR, activity.quantity)
    return Metering(held=False, charges=charges)


def _appointment(
    activity: BillableActivity,
    offer: Callable[[ProductKind], tuple[Contract, Product] | None],
    bundle_used: Mapping[uuid.UUID, Decimal],
    *,
    booked_as_overage: bool,
) -> tuple[Charge, ...]:
    bundle = offer(ProductKind.HOUR_BUNDLE)
    if bundle is not None:
        contract, product = bundle
        inside, beyond = split_bundle(
            activity.quantity,
            included=product.included_quantity or Decimal(0),
            used=bundle_used.get(contract.id, Decimal(0)),
        )
        kind, unit = ProductKind.HOUR_BUNDLE, Unit.HOUR
        charges: list[Charge] = []
        if inside > 0:
            charges.append(Charge(contract.id, product.code, kind, unit, inside, product.unit_price_cents))
        if beyond > 0:
            price = product.overage_unit_price_cents
            rate = product.unit_price_cents if price is None else price
            charges.append(Charge(contract.id, product.code, kind, unit, beyond, rate, True, Portion.OVERAGE))
        return tuple(charges)
    subscription = offer(ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR)
    if subscription is not None and booked_as_overage and activity.appointment_kind is AppointmentKind.CONSULT:
        contract, product = subscription
        if product.overage_unit_price_cents is not None:
            return (
                Charge(
                    contract.id,
                    product.code,
                    ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR,
                    Unit.SESSION,
                    Decimal(1),
                    product.overage_unit_price_cents,
                    True,
                    Portion.OVERAGE,
                ),
            )
    return ()


def thresholds_reached(*, included: Decimal, used: Decimal) -> tuple[int, ...]:
    """The thresholds (percent of the included hours) that ``used`` hours have reached."""
    if included <= 0:
        return ()
    return tuple(percent for percent in THRESHOLDS if used * 100 >= included * percent)


@dataclass(frozen=True)
class SecondmentCorrection:
    """How to make one worker x client x day's usage equal the latest logged hours.

    ``update``: a not-yet-invoiced row gets this quantity (and the latest event as its source);
    ``delete``: not-yet-invoiced rows that no longer bill anything; ``insert``: the quantity of a new row
    (a correction of invoiced hours, negative when hours were lowered), or None.
    """

    update: tuple[uuid.UUID, Decimal] | None = None
    delete: tuple[uuid.UUID, ...] = ()
    insert: Decimal | None = None


def correct_secondment(
    *, hours: Decimal, invoiced: Decimal, pending: Sequence[tuple[uuid.UUID, Decimal]]
) -> SecondmentCorrection:
    """The latest logged ``hours`` are authoritative: what is already invoiced stays (an issued invoice never
    changes), and the not-yet-invoiced usage becomes the difference — replaced in place while it is open or
    held, or recorded as a new correction row when everything so far was invoiced."""
    difference = hours - invoiced
    if pending:
        (first, _), *rest = pending
        extra = tuple(row for row, _ in rest)
        if difference == 0:
            return SecondmentCorrection(delete=(first, *extra))
        return SecondmentCorrection(update=(first, difference), delete=extra)
    return SecondmentCorrection(insert=difference if difference != 0 else None)


def amount_cents(quantity: Decimal, unit_price_cents: int) -> int:
    """Quantity times price in whole cents, half up."""
    return round_cents(quantity * unit_price_cents)
