"""GraphQL types of scheduling: free slots, appointments, workshops, and the mutations' inputs and results."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

import strawberry
from strawberry.dataloader import DataLoader

from bmw.gateway.errors import graphql_error
from bmw.gateway.outcomes import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from bmw.gateway.scheduling.client import (
    AppointmentBody,
    RegistrationBody,
    SuitableSlotBody,
    TrainerBody,
    WorkerBody,
    WorkshopBody,
)
from bmw.gateway.scheduling.enums import (
    AppointmentKind,
    AppointmentStatus,
    CancelledBy,
    MeetingLocation,
    RegistrationStatus,
    WorkshopStatus,
    WorkshopTheme,
)
from bmw.gateway.taxonomy import Category
from bmw.servicekit.errors import DomainError

#: Social workers by id, for one request; ``None`` for an id scheduling does not know.
WorkerLoader = DataLoader[uuid.UUID, WorkerBody | None]


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


def _minutes(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


# -- read types -----------------------------------------------------------------------------------


@strawberry.type(description="A social worker (bedrijfsmaatschappelijk werker) as provider staff see them.")
class SocialWorker:
    id: strawberry.ID = strawberry.field(description="Worker id (their login subject).")
    name: str = strawberry.field(description="Working name shown in agendas.")
    specialisms: list[str] = strawberry.field(description="Specialisms, e.g. `burnout`, `employment_law`.")
    languages: list[str] = strawberry.field(description="Conversation languages (ISO 639-1 codes).")
    locations: list[MeetingLocation] = strawberry.field(description="Where the worker meets clients.")

    @classmethod
    def of(cls, body: WorkerBody) -> SocialWorker:
        """A social worker from scheduling's staff record (without hours and organisations served)."""
        return cls(
            id=_id(body.id),
            name=body.name,
            specialisms=list(body.specialisms),
            languages=list(body.languages),
            locations=list(body.locations),
        )


@strawberry.type(description="A free slot of one suitable social worker.")
class FreeSlot:
    worker_id: strawberry.ID = strawberry.field(description="The social worker; pass it to bookAppointment.")
    worker_name: str = strawberry.field(description="The worker's working name.")
    start: datetime = strawberry.field(description="Start (UTC); pass it to bookAppointment.")
    end: datetime = strawberry.field(description="End (UTC).")
    duration_minutes: int = strawberry.field(description="Length in minutes.")
    locations: list[MeetingLocation] = strawberry.field(description="Where this worker meets clients.")

    @classmethod
    def of(cls, body: SuitableSlotBody, duration_minutes: int) -> FreeSlot:
        """A slot from scheduling's answer, which gives the length once for all slots."""
        start = body.start
        return cls(
            worker_id=_id(body.worker_id),
            worker_name=body.worker_name,
            start=start,
            end=start + timedelta(minutes=duration_minutes),
            duration_minutes=duration_minutes,
            locations=list(body.locations),
        )


async def _worker(root: Appointment) -> SocialWorker | None:
    """The appointment's worker through the loader of its result: one call for a whole list."""
    if root.workers is None:
        return None
    try:
        body = await root.workers.load(uuid.UUID(root.worker_id))
    except DomainError as error:
        raise graphql_error(error) from error
    return SocialWorker.of(body) if body is not None else None


@strawberry.type(description="An appointment in a social worker's agenda. It never names or identifies the client.")
class Appointment:
    id: strawberry.ID = strawberry.field(description="Appointment id.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation it is for.")
    worker_id: strawberry.ID = strawberry.field(description="The social worker.")
    kind: AppointmentKind = strawberry.field(description="What it is for.")
    case_id: strawberry.ID | None = strawberry.field(
        description="The case it belongs to; shown to the employee, their social worker and provider admins "
        "only, null otherwise."
    )
    start: datetime = strawberry.field(description="Start (UTC).")
    end: datetime = strawberry.field(description="End (UTC).")
    duration_minutes: int = strawberry.field(description="Length in minutes.")
    status: AppointmentStatus = strawberry.field(description="Where it stands.")
    location: MeetingLocation | None = strawberry.field(description="Where it takes place; null when still to agree.")
    late_cancellation: bool | None = strawberry.field(
        description="When cancelled: true if less than 24 hours before the start (billable); null otherwise."
    )
    cancelled_by: CancelledBy | None = strawberry.field(description="When cancelled: which party cancelled.")
    overage: bool = strawberry.field(
        description="Beyond the contract's entitlement, billed at the overage rate of the contract."
    )
    walk_in: bool = strawberry.field(description="A secondment block with open consultation hours (spreekuur).")
    workshop_id: strawberry.ID | None = strawberry.field(description="For a trainer's workshop block: the workshop.")
    topic: Category | None = strawberry.field(
        description="For a manager consultation: the theme the manager asks advice on; null otherwise."
    )
    workers: strawberry.Private[WorkerLoader | None]

    worker: SocialWorker | None = strawberry.field(
        resolver=_worker,
        description="The social worker's staff record; for provider staff (social workers, account managers, "
        "provider admins), null for everyone else.",
    )

    @classmethod
    def of(cls, body: AppointmentBody, *, workers: WorkerLoader | None, show_case: bool) -> Appointment:
        """An appointment from scheduling's answer; ``workers`` resolves its worker, ``show_case`` its case id."""
        return cls(
            id=_id(body.id),
            tenant_id=_id(body.tenant_id),
            worker_id=_id(body.worker_id),
            kind=body.kind,
            case_id=_id(body.case_id) if body.case_id is not None and show_case else None,
            start=body.start,
            end=body.end,
            duration_minutes=_minutes(body.start, body.end),
            status=body.status,
            location=body.location,
            late_cancellation=body.late_cancellation,
            cancelled_by=body.cancelled_by,
            overage=body.overage,
            walk_in=body.walk_in,
            workshop_id=_id(body.workshop_id) if body.workshop_id is not None else None,
            topic=body.topic,
            workers=workers,
        )


@strawberry.type(description="A social worker who gives a workshop.")
class Trainer:
    id: strawberry.ID = strawberry.field(description="The social worker's id.")
    name: str = strawberry.field(description="Their working name.")

    @classmethod
    def of(cls, body: TrainerBody) -> Trainer:
        """A trainer from scheduling's answer."""
        return cls(id=_id(body.id), name=body.name)


@strawberry.type(description="A participant's registration for a workshop: a seat or a place on the waitlist.")
class WorkshopRegistration:
    id: strawberry.ID = strawberry.field(description="Registration id.")
    workshop_id: strawberry.ID = strawberry.field(description="The workshop.")
    display_name: str | None = strawberry.field(description="Name on the attendance register, if given.")
    status: RegistrationStatus = strawberry.field(description="A seat, a place on the waitlist, or given up.")
    waitlist_position: int | None = strawberry.field(
        description="Place on the waitlist (1 = next in line) while waitlisted; null otherwise."
    )
    attended: bool | None = strawberry.field(description="Whether they attended; null until the register is kept.")
    registered_at: datetime = strawberry.field(description="When they registered (UTC); the waitlist keeps this order.")

    @classmethod
    def of(cls, body: RegistrationBody) -> WorkshopRegistration:
        """A registration from scheduling's answer."""
        return cls(
            id=_id(body.id),
            workshop_id=_id(body.workshop_id),
            display_name=body.display_name,
            status=body.status,
            waitlist_position=body.waitlist_position,
            attended=body.attended,
            registered_at=body.registered_at,
        )


@strawberry.type(
    description="A workshop or training session for a client organisation: counts of seats and waitlist, "
    "never the participants."
)
class Workshop:
    id: strawberry.ID = strawberry.field(description="Workshop id.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    theme: WorkshopTheme = strawberry.field(description="Theme from the provider's catalogue.")
    title: str = strawberry.field(description="Title shown to participants.")
    location: MeetingLocation = strawberry.field(description="Where it takes place.")
    location_detail: str | None = strawberry.field(description="Room, address or video link.")
    start: datetime = strawberry.field(description="Start (UTC).")
    end: datetime = strawberry.field(description="End (UTC).")
    duration_minutes: int = strawberry.field(description="Length in minutes.")
    capacity: int = strawberry.field(description="Number of seats.")
    seats_taken: int = strawberry.field(description="Registered participants holding a seat.")
    seats_available: int = strawberry.field(description="Seats still free.")
    waitlist_length: int = strawberry.field(description="Registrations waiting for a seat.")
    status: WorkshopStatus = strawberry.field(description="Scheduled, completed or cancelled.")
    trainers: list[Trainer] = strawberry.field(description="The social workers who give it.")
    self_registration: bool = strawberry.field(
        description="Employees may register themselves; when false, the client contact nominates participants."
    )
    attended_count: int | None = strawberry.field(description="Number who attended; set when it is completed.")
    cancelled_by: CancelledBy | None = strawberry.field(description="When cancelled: which party cancelled.")
    my_registration: WorkshopRegistration | None = strawberry.field(
        description="Your own active registration (employees), with your waitlist position; null otherwise."
    )

    @classmethod
    def of(cls, body: WorkshopBody) -> Workshop:
        """A workshop from scheduling's answer."""
        return cls(
            id=_id(body.id),
            tenant_id=_id(body.tenant_id),
            theme=body.theme,
            title=body.title,
            location=body.location,
            location_detail=body.location_detail,
            start=body.start,
            end=body.end,
            duration_minutes=body.duration_minutes,
            capacity=body.capacity,
            seats_taken=body.seats_taken,
            seats_available=body.seats_available,
            waitlist_length=body.waitlist_length,
            status=body.status,
            trainers=[Trainer.of(trainer) for trainer in body.trainers],
            self_registration=body.self_registration,
            attended_count=body.attended_count,
            cancelled_by=body.cancelled_by,
            my_registration=WorkshopRegistration.of(body.my_registration) if body.my_registration else None,
        )


# -- inputs ---------------------------------------------------------------------------------------

_IDEMPOTENCY_KEY = (
    "Repeat the request safely with the same key (8 to 200 characters, e.g. a UUID): scheduling answers a "
    "repeat with the first answer instead of acting twice (keys are kept 7 days)."
)
_MOMENT = "With its UTC offset; a time without offset is read as Europe/Amsterdam time."


@strawberry.input(description="An appointment to book in a social worker's agenda, in a free slot (see freeSlots).")
class BookAppointmentInput:
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The client organisation it is for; defaults to your own, or to the case's when `caseId` names "
        "a case of yours. Required for other staff bookings.",
    )
    worker_id: strawberry.ID = strawberry.field(description="The social worker (a freeSlots result's workerId).")
    kind: AppointmentKind = strawberry.field(
        description="INTAKE, CONSULT or MANAGER_CONSULTATION; client contacts book manager consultations."
    )
    start: datetime = strawberry.field(description=f"Start; must be a free slot. {_MOMENT}")
    duration_minutes: int | None = strawberry.field(
        default=None, description="Length (15 to 480 minutes); the kind's usual length when absent."
    )
    case_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For an intake or consult: the case it belongs to (required for a consult when the contract "
        "limits consults per employee).",
    )
    topic: Category | None = strawberry.field(
        default=None,
        description="For a manager consultation only: the theme the manager asks advice on. It names no one.",
    )
    location: MeetingLocation | None = strawberry.field(
        default=None, description="Where it takes place: one of the worker's locations; null to agree later."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=_IDEMPOTENCY_KEY)


@strawberry.input(description="An appointment to cancel.")
class CancelAppointmentInput:
    appointment_id: strawberry.ID = strawberry.field(description="The appointment.")


@strawberry.input(description="A workshop session to schedule for a client organisation, with its trainers' time.")
class ScheduleWorkshopInput:
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation the session is for.")
    theme: WorkshopTheme = strawberry.field(description="Theme from the provider's catalogue.")
    title: str | None = strawberry.field(
        default=None, description="Title shown to participants (up to 200 characters); the catalogue's when absent."
    )
    location: MeetingLocation = strawberry.field(description="Where it takes place.")
    location_detail: str | None = strawberry.field(
        default=None, description="Room or address at the client, or the video link (up to 300 characters)."
    )
    start: datetime = strawberry.field(description=f"Start; every trainer must be free then. {_MOMENT}")
    duration_minutes: int | None = strawberry.field(
        default=None, description="Length (30 to 480 minutes); the theme's usual length when absent."
    )
    capacity: int = strawberry.field(description="Number of seats (1 to 200); further registrations are waitlisted.")
    trainer_ids: list[strawberry.ID] = strawberry.field(
        description="The social workers who give it (1 to 4), each serving the client organisation."
    )
    self_registration: bool = strawberry.field(
        default=True, description="Employees may register themselves; when false, the client contact nominates."
    )
    override_hours: bool = strawberry.field(
        default=False,
        description="Provider admins only: outside the trainers' working hours (an evening session); never over "
        "another appointment or an absence.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=_IDEMPOTENCY_KEY)


@strawberry.input(
    description="A registration for a workshop: an employee registers themself (leave participantRef out); a "
    "client contact nominates a participant with participantRef and displayName."
)
class RegisterForWorkshopInput:
    workshop_id: strawberry.ID = strawberry.field(description="The workshop.")
    participant_ref: str | None = strawberry.field(
        default=None,
        description="Nominations only: your organisation's reference for the participant (e.g. a personnel number, "
        "or the employee's portal login id, so that they see and may withdraw it).",
    )
    display_name: str | None = strawberry.field(
        default=None, description="Name on the attendance register; required for a nomination."
    )


# -- results --------------------------------------------------------------------------------------


@strawberry.type(description="The appointment was booked.")
class AppointmentBooked:
    appointment: Appointment = strawberry.field(description="The appointment as booked.")


@strawberry.type(description="The appointment was cancelled.")
class AppointmentCancelled:
    appointment: Appointment = strawberry.field(description="The appointment as it now stands.")
    late_cancellation: bool = strawberry.field(
        description="True when cancelled less than 24 hours before the start: a late cancellation, billable "
        "under the contract."
    )
    cancelled_by: CancelledBy | None = strawberry.field(description="Which party the cancellation is recorded for.")


@strawberry.type(description="The workshop was scheduled and its trainers' time booked.")
class WorkshopScheduled:
    workshop: Workshop = strawberry.field(description="The workshop as scheduled.")


@strawberry.type(
    description="The registration was taken: a seat, or a place on the waitlist when the workshop is full."
)
class RegisteredForWorkshop:
    registration: WorkshopRegistration = strawberry.field(description="The registration, with its status.")


BookAppointmentResult = Annotated[
    AppointmentBooked | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "BookAppointmentResult",
        description="The outcome of bookAppointment: the appointment, or why it was not booked (Conflict when the "
        "slot is not free or the contract's entitlement is used up).",
    ),
]
CancelAppointmentResult = Annotated[
    AppointmentCancelled | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "CancelAppointmentResult",
        description="The outcome of cancelAppointment: the cancelled appointment, or why it was not cancelled "
        "(Conflict when it has started or is no longer booked).",
    ),
]
ScheduleWorkshopResult = Annotated[
    WorkshopScheduled | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "ScheduleWorkshopResult",
        description="The outcome of scheduleWorkshop: the workshop, or why it was not scheduled (Conflict naming a "
        "trainer who is not free).",
    ),
]
RegisterForWorkshopResult = Annotated[
    RegisteredForWorkshop | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "RegisterForWorkshopResult",
        description="The outcome of registerForWorkshop: the registration, or why it was not taken (Conflict when "
        "already registered or registrations are closed).",
    ),
]
