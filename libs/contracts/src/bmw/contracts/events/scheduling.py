"""Events produced by the scheduling service: appointments, workshops and secondment hours.

Appointments refer to a case by id only; no client identity travels with them.
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import AwareDatetime, Field

from bmw.contracts.events.base import Decimal2, EventData, event
from bmw.contracts.taxonomy import AppointmentKind, CancelledBy, Category, UnschedulableReason, WorkshopTheme

# -- appointments -------------------------------------------------------------------------------


class _AppointmentData(EventData):
    appointment_id: uuid.UUID = Field(description="Id of the appointment.")
    kind: AppointmentKind = Field(description="What the appointment is for.")
    case_id: uuid.UUID | None = Field(
        default=None, description="The intake case the appointment belongs to; none for e.g. a workshop."
    )
    worker_id: uuid.UUID = Field(description="The social worker whose time is booked.")
    start: AwareDatetime = Field(description="Start of the appointment, with its UTC offset.")
    duration_minutes: int = Field(gt=0, le=24 * 60, description="Length of the appointment in minutes.")
    topic: Category | None = Field(
        default=None,
        description="For a manager consultation: the theme the manager asked advice on (a help-request category); "
        "none otherwise.",
    )


@event("scheduling.appointment.booked.v1")
class AppointmentBooked(_AppointmentData):
    """An appointment was booked in a social worker's agenda."""

    overage: bool = Field(
        default=False,
        description="Booked beyond the contract's hour bundle or sessions per employee, at the overage rate.",
    )


@event("scheduling.appointment.rescheduled.v1")
class AppointmentRescheduled(_AppointmentData):
    """An appointment moved; start, duration and worker are the new ones."""

    previous_start: AwareDatetime = Field(description="Start before the move.")


@event("scheduling.appointment.cancelled.v1")
class AppointmentCancelled(_AppointmentData):
    """An appointment was cancelled; a late cancellation (< 24 h before start) is billable."""

    late: bool = Field(description="True when cancelled less than 24 hours before the start.")
    cancelled_by: CancelledBy = Field(description="Which party cancelled.")


@event("scheduling.appointment.completed.v1")
class AppointmentCompleted(_AppointmentData):
    """An appointment took place."""


@event("scheduling.appointment.no_show.v1")
class AppointmentNoShow(_AppointmentData):
    """The client did not turn up for an appointment; billable as a no-show."""


# -- capacity -----------------------------------------------------------------------------------


@event("scheduling.intake.unschedulable.v1")
class IntakeUnschedulable(EventData):
    """Auto-scheduling found no worker and slot for a case's intake inside the SLA."""

    case_id: uuid.UUID = Field(description="The intake case left unscheduled.")
    reason: UnschedulableReason = Field(description="Why no slot was found.")


# -- workshops ----------------------------------------------------------------------------------


class _WorkshopData(EventData):
    workshop_id: uuid.UUID = Field(description="Id of the workshop session.")
    theme: WorkshopTheme = Field(description="Theme from the provider's catalogue.")
    start: AwareDatetime = Field(description="Start of the session, with its UTC offset.")
    participants_count: int = Field(ge=0, description="Number of participants (registered or attended).")


@event("scheduling.workshop.scheduled.v1")
class WorkshopScheduled(_WorkshopData):
    """A workshop session was scheduled; participants_count is the number registered so far."""


@event("scheduling.workshop.cancelled.v1")
class WorkshopCancelled(_WorkshopData):
    """A workshop session was cancelled; participants_count is the number registered at the time."""

    late: bool = Field(description="True when cancelled less than 24 hours before the start.")
    cancelled_by: CancelledBy = Field(
        description="Which party cancelled; a cancellation by the provider is never billed."
    )


@event("scheduling.workshop.completed.v1")
class WorkshopCompleted(_WorkshopData):
    """A workshop session took place; participants_count is the number who attended."""


# -- secondment ---------------------------------------------------------------------------------


@event("scheduling.secondment.hours_logged.v1")
class SecondmentHoursLogged(EventData):
    """A seconded social worker logged hours worked on site at the client organisation."""

    worker_id: uuid.UUID = Field(description="The seconded social worker.")
    hours: Decimal2 = Field(gt=0, le=24, description="Hours worked, exact to two decimal places.")
    date: dt.date = Field(description="Day the hours were worked.")
