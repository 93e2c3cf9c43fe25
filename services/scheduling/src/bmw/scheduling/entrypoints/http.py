"""Scheduling's HTTP API: staff records, leave and extra hours, free slots and the agenda."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from bmw.contracts.taxonomy import AppointmentKind, CancelledBy, Category, Location
from bmw.scheduling.application.agenda import (
    AppointmentView,
    Booked,
    Booking,
    book,
    change_status,
    duration_of,
    list_appointments,
    read_appointment,
    record_held,
    reschedule,
    suitable_slots,
    worker_slots,
)
from bmw.scheduling.application.workers import (
    AbsenceReason,
    TimeOff,
    Worker,
    add_exception,
    add_worker,
    change_worker,
    list_exceptions,
    list_workers,
    read_worker,
    remove_exception,
)
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import FieldError, InvalidInput, error_responses
from bmw.servicekit.idempotency import Idempotency, IdempotencyKeyHeader

router = APIRouter(tags=["social workers"])

Tag = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{1,39}$")]


class WorkerCreate(BaseModel):
    """A social worker's staff record."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = Field(
        default=None, description="The worker's login subject (so their token matches); generated when absent."
    )
    weekly_hours: dict[str, list[list[str]]] | None = Field(
        default=None,
        description='Local working hours per weekday, e.g. {"monday": [["09:00", "12:30"], ["13:00", "17:00"]]}; '
        "Monday to Friday 09:00-12:30 and 13:00-17:00 when absent. Dutch public holidays are never worked.",
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="Working name shown to colleagues and in agendas."
    )
    specialisms: list[Tag] = Field(default_factory=list, max_length=30, description="E.g. burnout, employment_law.")
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=lambda: ["nl"], min_length=1, description="ISO 639-1 codes of conversation languages."
    )
    tenant_ids: list[uuid.UUID] = Field(default_factory=list, description="Client organisations this worker serves.")
    locations: list[Location] = Field(
        default_factory=lambda: list(Location),
        min_length=1,
        description="Where the worker meets clients: client_site, provider_office, video, phone (all when absent).",
    )


class WorkerChange(BaseModel):
    """Changes to a staff record; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = Field(
        default=None, description="Working name."
    )
    weekly_hours: dict[str, list[list[str]]] | None = Field(
        default=None, description="New local working hours per weekday; booked appointments stay."
    )
    specialisms: list[Tag] | None = Field(default=None, max_length=30, description="Specialisms, replacing the old.")
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]] | None = Field(
        default=None, min_length=1, description="ISO 639-1 codes, replacing the old."
    )
    tenant_ids: list[uuid.UUID] | None = Field(default=None, description="Client organisations served, replacing.")
    locations: list[Location] | None = Field(default=None, min_length=1, description="Where the worker meets clients.")


class WorkerRead(BaseModel):
    id: uuid.UUID = Field(description="Worker id.")
    name: str = Field(description="Working name.")
    specialisms: list[str] = Field(description="Specialisms.")
    languages: list[str] = Field(description="Languages.")
    tenant_ids: list[uuid.UUID] = Field(description="Client organisations served.")
    weekly_hours: dict[str, list[list[str]]] = Field(description="Local working hours per weekday.")
    locations: list[Location] = Field(description="Where the worker meets clients.")

    @classmethod
    def of(cls, worker: Worker) -> WorkerRead:
        return cls(
            id=worker.id,
            name=worker.name,
            specialisms=worker.specialisms,
            languages=worker.languages,
            tenant_ids=worker.tenant_ids,
            weekly_hours=worker.weekly_hours,
            locations=[Location(value) for value in worker.locations],
        )


@router.post(
    "/workers",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkerRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_worker(body: WorkerCreate, principal: CurrentPrincipal, uow: UowFactoryDep) -> WorkerRead:
    """Add a social worker (provider admins)."""
    worker = await add_worker(
        worker_id=body.id,
        weekly_hours=body.weekly_hours,
        name=body.name,
        specialisms=body.specialisms,
        languages=body.languages,
        tenant_ids=body.tenant_ids,
        locations=body.locations,
        principal=principal,
        uow=uow,
    )
    return WorkerRead.of(worker)


@router.get(
    "/workers",
    response_model=list[WorkerRead],
    responses=error_responses(401, 403),
)
async def read_workers(principal: CurrentPrincipal, uow: UowFactoryDep) -> list[WorkerRead]:
    """All social workers (provider staff)."""
    return [WorkerRead.of(w) for w in await list_workers(principal=principal, uow=uow)]


@router.get(
    "/workers/{worker_id}",
    response_model=WorkerRead,
    responses=error_responses(401, 403, 404),
)
async def get_worker(worker_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> WorkerRead:
    """One social worker's staff record (provider staff)."""
    return WorkerRead.of(await read_worker(worker_id, principal=principal, uow=uow))


@router.patch(
    "/workers/{worker_id}",
    response_model=WorkerRead,
    responses=error_responses(401, 403, 404, 422),
)
async def patch_worker(
    worker_id: uuid.UUID, body: WorkerChange, principal: CurrentPrincipal, uow: UowFactoryDep
) -> WorkerRead:
    """Change a staff record (provider admins); booked appointments stay, new hours apply to new slots."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    if "tenant_ids" in changes:
        changes["tenant_ids"] = body.tenant_ids
    for key, value in list(changes.items()):
        if value is None:
            raise InvalidInput(f"{key} cannot be null", fields=[FieldError(path=f"body.{key}", message="leave it out")])
    return WorkerRead.of(await change_worker(worker_id, changes, principal=principal, uow=uow))


class TimeOffCreate(BaseModel):
    """Leave or another absence, or one-off extra working time."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime = Field(description="Start, with its UTC offset.")
    end: AwareDatetime = Field(description="End, with its UTC offset; absences up to a year, extra hours one day.")
    reason: AbsenceReason | None = Field(
        default=None,
        description="leave, sickness, training or other for an absence; leave out for extra working time "
        "(an evening session, a Saturday), which adds bookable slots.",
    )


class TimeOffRead(BaseModel):
    """An absence, or extra working time."""

    id: uuid.UUID = Field(description="Id, to withdraw it.")
    worker_id: uuid.UUID = Field(description="The social worker.")
    start: datetime = Field(description="Start (UTC).")
    end: datetime = Field(description="End (UTC).")
    reason: AbsenceReason | None = Field(description="Reason of an absence; null for extra working time.")
    affected_appointments: list[uuid.UUID] = Field(
        description="Booked appointments inside a new absence: they still stand and need rescheduling."
    )

    @classmethod
    def of(cls, item: TimeOff) -> TimeOffRead:
        return cls(
            id=item.id,
            worker_id=item.worker_id,
            start=item.start,
            end=item.end,
            reason=item.reason,
            affected_appointments=item.affected_appointments,
        )


@router.post(
    "/workers/{worker_id}/time-off",
    status_code=status.HTTP_201_CREATED,
    response_model=TimeOffRead,
    responses=error_responses(401, 403, 404, 422),
)
async def create_time_off(
    worker_id: uuid.UUID, body: TimeOffCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> TimeOffRead:
    """Record leave or an absence (no slots are offered in it), or one-off extra working time (the worker
    or a provider admin)."""
    item = await add_exception(
        worker_id, start=body.start, end=body.end, reason=body.reason, principal=principal, uow=uow
    )
    return TimeOffRead.of(item)


@router.get(
    "/workers/{worker_id}/time-off",
    response_model=list[TimeOffRead],
    responses=error_responses(401, 403, 422),
)
async def read_time_off(
    worker_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    period_from: Annotated[AwareDatetime, Query(alias="from", description="Start of the period (with offset).")],
    period_to: Annotated[AwareDatetime, Query(alias="to", description="End of the period, within a year.")],
) -> list[TimeOffRead]:
    """Absences and extra working time that touch the period (the worker or a provider admin)."""
    items = await list_exceptions(worker_id, start=period_from, end=period_to, principal=principal, uow=uow)
    return [TimeOffRead.of(item) for item in items]


@router.delete(
    "/workers/{worker_id}/time-off/{time_off_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404),
)
async def delete_time_off(
    worker_id: uuid.UUID, time_off_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep
) -> Response:
    """Withdraw an absence or extra working time."""
    await remove_exception(worker_id, time_off_id, principal=principal, uow=uow)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


agenda = APIRouter(tags=["agenda"])


class SlotsRead(BaseModel):
    """Free slots of one worker."""

    worker_id: uuid.UUID = Field(description="The social worker.")
    duration_minutes: int = Field(description="Length of each slot.")
    slots: list[datetime] = Field(description="Start times (UTC) of every free slot, earliest first.")


@agenda.get(
    "/workers/{worker_id}/free-slots",
    response_model=SlotsRead,
    responses=error_responses(401, 403, 404, 422),
)
async def read_free_slots(
    worker_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    period_from: Annotated[AwareDatetime, Query(alias="from", description="Start of the period (with offset).")],
    period_to: Annotated[AwareDatetime, Query(alias="to", description="End of the period, at most 62 days later.")],
    kind: Annotated[AppointmentKind, Query(description="Kind of appointment; sets the default length.")] = (
        AppointmentKind.CONSULT
    ),
    duration_minutes: Annotated[int | None, Query(ge=15, le=480, description="Length, if not the default.")] = None,
) -> SlotsRead:
    """Free slots within the worker's hours (Europe/Amsterdam, no Dutch holidays), with buffers and notice (provider
    staff; a client contact for a worker serving its organisation)."""
    duration = duration_of(kind, duration_minutes)
    slots = await worker_slots(
        worker_id, principal=principal, start=period_from, end=period_to, duration=duration, uow=uow
    )
    return SlotsRead(worker_id=worker_id, duration_minutes=int(duration.total_seconds() // 60), slots=slots)


class SuitableSlotRead(BaseModel):
    """A free slot of one suitable social worker."""

    worker_id: uuid.UUID = Field(description="The social worker.")
    worker_name: str = Field(description="The worker's working name.")
    start: datetime = Field(description="Start (UTC).")
    locations: list[Location] = Field(description="Where this worker meets clients.")


class SuitableSlotsRead(BaseModel):
    """Free slots across every worker who fits, earliest first."""

    duration_minutes: int = Field(description="Length of each slot.")
    slots: list[SuitableSlotRead] = Field(description="Earliest first, at most `limit`.")


@agenda.get(
    "/free-slots",
    response_model=SuitableSlotsRead,
    responses=error_responses(401, 403, 422),
)
async def read_suitable_slots(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID, Query(description="The client organisation the appointment is for.")],
    period_from: Annotated[AwareDatetime, Query(alias="from", description="Start of the period (with offset).")],
    period_to: Annotated[AwareDatetime, Query(alias="to", description="End of the period, at most 62 days later.")],
    kind: Annotated[AppointmentKind, Query(description="Kind of appointment; sets the default length.")] = (
        AppointmentKind.CONSULT
    ),
    duration_minutes: Annotated[int | None, Query(ge=15, le=480, description="Length, if not the default.")] = None,
    specialism: Annotated[Tag | None, Query(description="Only workers with this specialism.")] = None,
    language: Annotated[str | None, Query(pattern=r"^[a-z]{2}$", description="Only workers speaking it.")] = None,
    location: Annotated[Location | None, Query(description="Only workers who meet clients there.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many slots.")] = 50,
) -> SuitableSlotsRead:
    """Free slots of any suitable worker: serves the organisation, has the specialism, language and location."""
    duration = duration_of(kind, duration_minutes)
    found = await suitable_slots(
        principal=principal,
        uow=uow,
        tenant_id=tenant_id,
        start=period_from,
        end=period_to,
        duration=duration,
        specialism=specialism,
        language=language,
        location=location,
        limit=limit,
    )
    return SuitableSlotsRead(
        duration_minutes=int(duration.total_seconds() // 60),
        slots=[
            SuitableSlotRead(worker_id=s.worker_id, worker_name=s.worker_name, start=s.start, locations=s.locations)
            for s in found
        ],
    )


class AppointmentCreate(BaseModel):
    """Book an appointment in a social worker's agenda."""

    model_config = ConfigDict(extra="forbid")

    worker_id: uuid.UUID = Field(description="The social worker.")
    tenant_id: uuid.UUID = Field(description="The client organisation it is for.")
    kind: AppointmentKind = Field(
        description="intake, consult or manager_consultation (workshops and secondments have their own resources)."
    )
    start: AwareDatetime = Field(description="Start, with its UTC offset; must be a free slot.")
    duration_minutes: int | None = Field(default=None, ge=15, le=480, description="Length; default per kind.")
    case_id: uuid.UUID | None = Field(
        default=None,
        description="The case it belongs to; required for a consult when the contract limits consults per employee.",
    )
    location: Location | None = Field(default=None, description="Where it takes place; one of the worker's.")
    topic: Category | None = Field(
        default=None,
        description="For a manager consultation only: the theme the manager asks advice on, as a help-request "
        "category (e.g. conflict_manager, reorganisation_uncertainty). It names no one; signals uses it to see "
        "repeated manager consultations on one theme.",
    )

    def booking(self) -> Booking:
        return Booking(
            worker_id=self.worker_id,
            tenant_id=self.tenant_id,
            kind=self.kind,
            start=self.start,
            duration=duration_of(self.kind, self.duration_minutes),
            case_id=self.case_id,
            location=self.location,
            topic=self.topic,
        )


class AppointmentRead(BaseModel):
    """An appointment (never the client's identity)."""

    id: uuid.UUID = Field(description="Appointment id.")
    tenant_id: uuid.UUID = Field(description="Client organisation.")
    worker_id: uuid.UUID = Field(description="The social worker.")
    kind: AppointmentKind = Field(description="What it is for.")
    case_id: uuid.UUID | None = Field(description="The case, if any.")
    start: datetime = Field(description="Start (UTC).")
    end: datetime = Field(description="End (UTC).")
    status: str = Field(description="booked, cancelled, completed or no_show.")
    location: Location | None = Field(default=None, description="Where it takes place; null when still to agree.")
    late_cancellation: bool | None = Field(default=None, description="Cancelled less than 24 h before the start.")
    cancelled_by: CancelledBy | None = Field(default=None, description="Which party cancelled.")
    overage: bool = Field(default=False, description="Beyond the contract's entitlement, billed at the overage rate.")
    walk_in: bool = Field(default=False, description="Secondment block with open consultation hours (spreekuur).")
    workshop_id: uuid.UUID | None = Field(default=None, description="For a trainer's block: the workshop.")
    topic: Category | None = Field(
        default=None, description="For a manager consultation: the theme asked about; null otherwise."
    )

    @classmethod
    def of(cls, view: AppointmentView) -> AppointmentRead:
        return cls(**{name: getattr(view, name) for name in cls.model_fields})

    @classmethod
    def booked(cls, booked: Booked) -> AppointmentRead:
        appointment = booked.appointment
        return cls(
            id=appointment.id,
            tenant_id=appointment.tenant_id,
            worker_id=appointment.worker_id,
            kind=appointment.kind,
            case_id=appointment.case_id,
            start=appointment.start,
            end=appointment.end,
            status="booked",
            location=booked.location,
            overage=booked.overage,
            topic=appointment.topic,
        )


class AppointmentPage(BaseModel):
    """A page of appointments, by start time."""

    items: list[AppointmentRead] = Field(description="Appointments, earliest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def _encode_cursor(view: AppointmentView) -> str:
    return base64.urlsafe_b64encode(f"{view.start.isoformat()}|{view.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        start, appointment_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(start)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, uuid.UUID(appointment_id)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(
            "the cursor is not one this API gave out", fields=[FieldError(path="query.cursor", message="invalid")]
        ) from error


@agenda.get(
    "/appointments",
    response_model=AppointmentPage,
    responses=error_responses(401, 403, 422),
)
async def read_appointments(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    period_from: Annotated[AwareDatetime, Query(alias="from", description="Start of the period (with offset).")],
    period_to: Annotated[AwareDatetime, Query(alias="to", description="End of the period, within 366 days.")],
    worker_id: Annotated[
        uuid.UUID | None, Query(description="Only this worker's (admins; workers: themselves).")
    ] = None,
    tenant_id: Annotated[uuid.UUID | None, Query(description="Only this client organisation's.")] = None,
    appointment_status: Annotated[
        Literal["booked", "cancelled", "completed", "no_show"] | None,
        Query(alias="status", description="Only appointments in this status."),
    ] = None,
    cursor: Annotated[str | None, Query(description="From `next_cursor` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 100,
) -> AppointmentPage:
    """The agenda as the caller may see it: a social worker's own, an employee's own appointments, a client
    contact's manager consultations, everything for provider admins."""
    views = await list_appointments(
        principal=principal,
        uow=uow,
        start=period_from,
        end=period_to,
        worker_id=worker_id,
        tenant_id=tenant_id,
        status=appointment_status,
        after=_decode_cursor(cursor) if cursor else None,
        limit=limit,
    )
    return AppointmentPage(
        items=[AppointmentRead.of(v) for v in views],
        next_cursor=_encode_cursor(views[-1]) if len(views) == limit else None,
    )


@agenda.get(
    "/appointments/{appointment_id}",
    response_model=AppointmentRead,
    responses=error_responses(401, 404),
)
async def get_appointment(
    appointment_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep
) -> AppointmentRead:
    """One appointment, for those who may see it (404 for everyone else)."""
    return AppointmentRead.of(await read_appointment(appointment_id, principal=principal, uow=uow))


@agenda.post(
    "/appointments",
    status_code=status.HTTP_201_CREATED,
    response_model=AppointmentRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_appointment(
    body: AppointmentCreate,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Book a free slot (409 when it is not free, was just taken — no double booking, ever — or exceeds the
    contract's entitlement without an overage rate)."""
    return await book(
        body.booking(),
        principal=principal,
        uow=uow,
        idempotency=Idempotency.optional(principal.subject, idempotency_key, body.model_dump(mode="json")),
        render=lambda booked: AppointmentRead.booked(booked).model_dump(mode="json"),
    )


@agenda.post(
    "/appointments/held",
    status_code=status.HTTP_201_CREATED,
    response_model=AppointmentRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_held_appointment(
    body: AppointmentCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> AppointmentRead:
    """Record an appointment that already took place without being booked (a walk-in consult during
    consultation hours): booked and completed at once, in the past, overlapping nothing of the worker."""
    held = await record_held(
        body.booking(),
        principal=principal,
        uow=uow,
    )
    read = AppointmentRead.booked(held)
    return read.model_copy(update={"status": "completed"})


class AppointmentMove(BaseModel):
    """A new start for an appointment (same worker, same length)."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime = Field(description="New start, with its UTC offset; must be a free slot.")


@agenda.post(
    "/appointments/{appointment_id}/reschedule",
    response_model=AppointmentRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def reschedule_appointment(
    appointment_id: uuid.UUID, body: AppointmentMove, principal: CurrentPrincipal, uow: UowFactoryDep
) -> AppointmentRead:
    """Move a booked appointment to another free slot of its worker (409 when not free)."""
    return AppointmentRead.of(await reschedule(appointment_id, start=body.start, principal=principal, uow=uow))


def _status_route(action: str, summary: str) -> None:
    async def route(appointment_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> AppointmentRead:
        return AppointmentRead.of(await change_status(appointment_id, action=action, principal=principal, uow=uow))

    route.__doc__ = summary
    agenda.add_api_route(
        f"/appointments/{{appointment_id}}/{action.replace('_', '-')}",
        route,
        methods=["POST"],
        response_model=AppointmentRead,
        responses=error_responses(401, 403, 404, 409),
        name=f"{action}_appointment",
    )


_status_route(
    "cancel",
    "Cancel (the worker, an admin, the employee it is for, or the client contact for a manager consultation); "
    "under 24 h before the start it is a late cancellation, and which party cancelled is kept.",
)
_status_route("complete", "Record that the appointment took place (its social worker).")
_status_route("no_show", "Record that the client did not come (its social worker).")
