"""Workshops and trainings over HTTP."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from bmw.contracts.taxonomy import CancelledBy, Location, WorkshopTheme
from bmw.scheduling.application import workshops as use
from bmw.scheduling.domain.workshops import Audience, CatalogueEntry, RegistrationStatus, WorkshopStatus
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.servicekit.idempotency import Idempotency, IdempotencyKeyHeader

router = APIRouter(tags=["workshops"])


class WorkshopThemeRead(BaseModel):
    """One theme of the provider's workshop catalogue."""

    theme: WorkshopTheme = Field(description="Theme code, used when scheduling a workshop.")
    title_nl: str = Field(description="Dutch title; the default title of a workshop on this theme.")
    title_en: str = Field(description="English title.")
    description: str = Field(description="What participants take away, in one line.")
    audience: Audience = Field(description="Who it is written for: managers, employees or teams.")
    default_duration_minutes: int = Field(description="Usual length of one session in minutes.")
    suggested_capacity: int = Field(description="Usual maximum group size.")

    @classmethod
    def of(cls, entry: CatalogueEntry) -> WorkshopThemeRead:
        return cls(
            theme=entry.theme,
            title_nl=entry.title_nl,
            title_en=entry.title_en,
            description=entry.description,
            audience=entry.audience,
            default_duration_minutes=entry.default_duration_minutes,
            suggested_capacity=entry.suggested_capacity,
        )


@router.get("/workshop-themes", response_model=list[WorkshopThemeRead], responses=error_responses(401))
async def read_workshop_themes(principal: CurrentPrincipal) -> list[WorkshopThemeRead]:
    """The provider's catalogue of workshop and training themes."""
    return [WorkshopThemeRead.of(entry) for entry in use.theme_catalogue()]


class WorkshopCreate(BaseModel):
    """Schedule a workshop session for a client organisation (provider admins, or a trainer)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID = Field(description="The client organisation the session is for.")
    theme: WorkshopTheme = Field(description="Theme from the catalogue (GET /workshop-themes).")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        default=None, description="Title shown to participants; the catalogue's Dutch title when absent."
    )
    location: Location = Field(description="Where it takes place: client_site, provider_office, video or phone.")
    location_detail: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = (
        Field(default=None, description="Room or address at the client, or the video link.")
    )
    start: AwareDatetime = Field(description="Start, with its UTC offset; every trainer must be free then.")
    duration_minutes: int | None = Field(
        default=None, ge=30, le=480, description="Length in minutes; the theme's usual length when absent."
    )
    capacity: int = Field(ge=1, le=200, description="Number of seats; registrations beyond it join the waitlist.")
    trainer_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=4, description="The social workers who give it (1 to 4), each serving the tenant."
    )
    self_registration: bool = Field(
        default=True, description="Employees may register themselves; when false, the client contact nominates."
    )
    override_hours: bool = Field(
        default=False,
        description="Provider admins only: schedule outside the trainers' weekly hours (an evening session); "
        "never over another appointment or an absence.",
    )


class TrainerRead(BaseModel):
    """A trainer of a workshop."""

    id: uuid.UUID = Field(description="The social worker's id.")
    name: str = Field(description="Their working name.")


class RegistrationRead(BaseModel):
    """A participant's registration."""

    id: uuid.UUID = Field(description="Registration id.")
    workshop_id: uuid.UUID = Field(description="The workshop.")
    participant: str = Field(
        description="The employee's login subject (self-registration) or the organisation's own reference."
    )
    display_name: str | None = Field(description="Name on the attendance register, if given.")
    status: RegistrationStatus = Field(description="registered (has a seat), waitlisted or cancelled.")
    waitlist_position: int | None = Field(description="Place on the waitlist (1 = next in line), when waitlisted.")
    attended: bool | None = Field(description="Whether they attended; null until the register is kept.")
    registered_at: datetime = Field(description="When they registered (UTC); the waitlist goes in this order.")

    @classmethod
    def of(cls, registration: use.Registration) -> RegistrationRead:
        return cls(
            id=registration.id,
            workshop_id=registration.workshop_id,
            participant=registration.participant,
            display_name=registration.display_name,
            status=registration.status,
            waitlist_position=registration.waitlist_position,
            attended=registration.attended,
            registered_at=registration.registered_at,
        )


class WorkshopRead(BaseModel):
    """A workshop session, as far as the caller may see it."""

    id: uuid.UUID = Field(description="Workshop id.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    theme: WorkshopTheme = Field(description="Theme from the catalogue.")
    title: str = Field(description="Title shown to participants.")
    location: Location = Field(description="Where it takes place.")
    location_detail: str | None = Field(description="Room, address or video link.")
    start: datetime = Field(description="Start (UTC).")
    end: datetime = Field(description="End (UTC).")
    duration_minutes: int = Field(description="Length in minutes.")
    capacity: int = Field(description="Number of seats.")
    seats_taken: int = Field(description="Registrations holding a seat.")
    seats_available: int = Field(description="Seats still free.")
    waitlist_length: int = Field(description="Registrations waiting for a seat.")
    status: WorkshopStatus = Field(description="scheduled, completed or cancelled.")
    trainers: list[TrainerRead] = Field(description="Who gives it.")
    self_registration: bool = Field(description="Whether employees may register themselves.")
    attended_count: int | None = Field(description="Number who attended; set on completion.")
    cancelled_by: CancelledBy | None = Field(description="Which party cancelled it, when cancelled.")
    my_registration: RegistrationRead | None = Field(
        description="The caller's own active registration (employees), with their waitlist position."
    )
    registrations: list[RegistrationRead] | None = Field(
        description="Every registration (the attendance register): only in the single-workshop view, and only "
        "to provider admins, the trainers and the organisation's client contacts; null otherwise."
    )

    @classmethod
    def of(cls, workshop: use.Workshop) -> WorkshopRead:
        own = workshop.my_registration
        return cls(
            id=workshop.id,
            tenant_id=workshop.tenant_id,
            theme=workshop.theme,
            title=workshop.title,
            location=workshop.location,
            location_detail=workshop.location_detail,
            start=workshop.start,
            end=workshop.end,
            duration_minutes=workshop.duration_minutes,
            capacity=workshop.capacity,
            seats_taken=workshop.seats_taken,
            seats_available=max(workshop.capacity - workshop.seats_taken, 0),
            waitlist_length=workshop.waitlist_length,
            status=workshop.status,
            trainers=[TrainerRead(id=t.id, name=t.name) for t in workshop.trainers],
            self_registration=workshop.self_registration,
            attended_count=workshop.attended_count,
            cancelled_by=workshop.cancelled_by,
            my_registration=RegistrationRead.of(own) if own is not None else None,
            registrations=(
                [RegistrationRead.of(r) for r in workshop.registrations] if workshop.registrations is not None else None
            ),
        )


@router.post(
    "/workshops",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkshopRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_workshop(
    body: WorkshopCreate,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Schedule a workshop and book its trainers' time (409 naming the trainer who is not free)."""
    command = use.ScheduleWorkshop(
        tenant_id=body.tenant_id,
        theme=body.theme,
        title=body.title,
        location=body.location,
        location_detail=body.location_detail,
        start=body.start,
        duration_minutes=body.duration_minutes,
        capacity=body.capacity,
        trainer_ids=body.trainer_ids,
        self_registration=body.self_registration,
        override_hours=body.override_hours,
    )
    return await use.schedule_workshop(
        command,
        principal=principal,
        uow=uow,
        idempotency=Idempotency.optional(principal.subject, idempotency_key, body.model_dump(mode="json")),
        render=lambda workshop: WorkshopRead.of(workshop).model_dump(mode="json"),
    )


@router.get("/workshops", response_model=list[WorkshopRead], responses=error_responses(401, 403, 422))
async def list_workshops(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[
        uuid.UUID | None, Query(description="Client organisation; defaults to the caller's own.")
    ] = None,
    period_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Only sessions ending after this moment.")
    ] = None,
    period_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Only sessions starting before this moment.")
    ] = None,
) -> list[WorkshopRead]:
    """Workshops of a client organisation, earliest first (employees see those open to them)."""
    found = await use.list_workshops(
        tenant_id=tenant_id, start=period_from, end=period_to, principal=principal, uow=uow
    )
    return [WorkshopRead.of(workshop) for workshop in found]


@router.get("/workshops/{workshop_id}", response_model=WorkshopRead, responses=error_responses(401, 404, 422))
async def read_workshop(workshop_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> WorkshopRead:
    """One workshop, with the attendance register for those who keep it."""
    return WorkshopRead.of(await use.get_workshop(workshop_id, principal=principal, uow=uow))


class RegistrationCreate(BaseModel):
    """Register for a workshop: an employee themself (send nothing), or a nomination by the client contact."""

    model_config = ConfigDict(extra="forbid")

    participant_ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = (
        Field(
            default=None,
            description="Nominations only: the organisation's own reference for the participant, e.g. a personnel "
            "number, or the employee's portal login id (kept as a digest; the employee then sees the registration "
            "and may withdraw it). Leave out to register yourself.",
        )
    )
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        default=None, description="Name on the attendance register; required for a nomination."
    )


@router.post(
    "/workshops/{workshop_id}/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_registration(
    workshop_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    body: Annotated[RegistrationCreate | None, Body()] = None,
) -> RegistrationRead:
    """Take a seat, or a place on the waitlist when the workshop is full (409 when already registered)."""
    request = body or RegistrationCreate()
    registration = await use.register(
        workshop_id,
        participant_ref=request.participant_ref,
        display_name=request.display_name,
        principal=principal,
        uow=uow,
    )
    return RegistrationRead.of(registration)


@router.post(
    "/workshops/{workshop_id}/registrations/{registration_id}/cancel",
    response_model=RegistrationRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def cancel_registration(
    workshop_id: uuid.UUID, registration_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep
) -> RegistrationRead:
    """Give up a seat or a waitlist place; the first on the waitlist takes a freed seat at once."""
    registration = await use.cancel_registration(workshop_id, registration_id, principal=principal, uow=uow)
    return RegistrationRead.of(registration)


class AttendanceMark(BaseModel):
    """Whether one registered participant attended."""

    model_config = ConfigDict(extra="forbid")

    registration_id: uuid.UUID = Field(description="A registration holding a seat in this workshop.")
    attended: bool = Field(description="True when the participant was there.")


@router.put(
    "/workshops/{workshop_id}/attendance",
    response_model=WorkshopRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def put_attendance(
    workshop_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    marks: Annotated[
        list[AttendanceMark],
        Body(max_length=200, description="One mark per registration; registrations not listed keep their mark."),
    ],
) -> WorkshopRead:
    """Keep the attendance register (the trainers or a provider admin, once the workshop has started)."""
    workshop = await use.record_attendance(
        workshop_id,
        [(mark.registration_id, mark.attended) for mark in marks],
        principal=principal,
        uow=uow,
    )
    return WorkshopRead.of(workshop)


@router.post(
    "/workshops/{workshop_id}/complete",
    response_model=WorkshopRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def complete_workshop(workshop_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> WorkshopRead:
    """Record that the workshop took place, with the number who attended (unmarked participants did not)."""
    return WorkshopRead.of(await use.complete_workshop(workshop_id, principal=principal, uow=uow))


@router.post(
    "/workshops/{workshop_id}/cancel",
    response_model=WorkshopRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def cancel_workshop(workshop_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> WorkshopRead:
    """Call the workshop off before it starts; under 24 h before the start it is a late cancellation."""
    return WorkshopRead.of(await use.cancel_workshop(workshop_id, principal=principal, uow=uow))
