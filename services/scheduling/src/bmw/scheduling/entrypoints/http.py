"""Scheduling's HTTP API (first slice: staff records)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from bmw.contracts.taxonomy import AppointmentKind
from bmw.scheduling.application.agenda import book, change_status, duration_of, reschedule, worker_slots
from bmw.scheduling.application.appointments import Appointment
from bmw.scheduling.application.workers import Worker, add_worker, list_workers
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import ERROR_RESPONSES

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


class WorkerRead(BaseModel):
    id: uuid.UUID = Field(description="Worker id.")
    name: str = Field(description="Working name.")
    specialisms: list[str] = Field(description="Specialisms.")
    languages: list[str] = Field(description="Languages.")
    tenant_ids: list[uuid.UUID] = Field(description="Client organisations served.")
    weekly_hours: dict[str, list[list[str]]] = Field(description="Local working hours per weekday.")

    @classmethod
    def of(cls, worker: Worker) -> WorkerRead:
        return cls(
            id=worker.id,
            name=worker.name,
            specialisms=worker.specialisms,
            languages=worker.languages,
            tenant_ids=worker.tenant_ids,
            weekly_hours=worker.weekly_hours,
        )


@router.post(
    "/workers",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkerRead,
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 409, 422)},
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
        principal=principal,
        uow=uow,
    )
    return WorkerRead.of(worker)


@router.get(
    "/workers",
    response_model=list[WorkerRead],
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403)},
)
async def read_workers(principal: CurrentPrincipal, uow: UowFactoryDep) -> list[WorkerRead]:
    """All social workers (provider staff)."""
    return [WorkerRead.of(w) for w in await list_workers(principal=principal, uow=uow)]


agenda = APIRouter(tags=["agenda"])


class SlotsRead(BaseModel):
    """Free slots of one worker."""

    worker_id: uuid.UUID = Field(description="The social worker.")
    duration_minutes: int = Field(description="Length of each slot.")
    slots: list[datetime] = Field(description="Start times (UTC) of every free slot, earliest first.")


@agenda.get(
    "/workers/{worker_id}/free-slots",
    response_model=SlotsRead,
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 404, 422)},
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
    """Free slots within the worker's hours (Europe/Amsterdam, no Dutch holidays), with buffers and notice."""
    duration = duration_of(kind, duration_minutes)
    slots = await worker_slots(worker_id, start=period_from, end=period_to, duration=duration, uow=uow)
    return SlotsRead(worker_id=worker_id, duration_minutes=int(duration.total_seconds() // 60), slots=slots)


class AppointmentCreate(BaseModel):
    """Book an appointment in a social worker's agenda."""

    model_config = ConfigDict(extra="forbid")

    worker_id: uuid.UUID = Field(description="The social worker.")
    tenant_id: uuid.UUID = Field(description="The client organisation it is for.")
    kind: AppointmentKind = Field(description="intake, consult, manager_consultation, workshop or secondment_block.")
    start: AwareDatetime = Field(description="Start, with its UTC offset; must be a free slot.")
    duration_minutes: int | None = Field(default=None, ge=15, le=480, description="Length; default per kind.")
    case_id: uuid.UUID | None = Field(default=None, description="The case it belongs to, if any.")


class AppointmentRead(BaseModel):
    """An appointment (no client identity)."""

    id: uuid.UUID = Field(description="Appointment id.")
    tenant_id: uuid.UUID = Field(description="Client organisation.")
    worker_id: uuid.UUID = Field(description="The social worker.")
    kind: AppointmentKind = Field(description="What it is for.")
    case_id: uuid.UUID | None = Field(description="The case, if any.")
    start: datetime = Field(description="Start (UTC).")
    end: datetime = Field(description="End (UTC).")
    status: str = Field(description="booked, cancelled, completed or no_show.")
    late_cancellation: bool | None = Field(default=None, description="Cancelled less than 24 h before the start.")

    @classmethod
    def of(cls, appointment: Appointment, status: str, late: bool | None = None) -> AppointmentRead:
        return cls(
            id=appointment.id,
            tenant_id=appointment.tenant_id,
            worker_id=appointment.worker_id,
            kind=appointment.kind,
            case_id=appointment.case_id,
            start=appointment.start,
            end=appointment.end,
            status=status,
            late_cancellation=late,
        )


@agenda.post(
    "/appointments",
    status_code=status.HTTP_201_CREATED,
    response_model=AppointmentRead,
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 409, 422)},
)
async def create_appointment(
    body: AppointmentCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> AppointmentRead:
    """Book a free slot (409 when it is not free, or was just taken: no double booking, ever)."""
    appointment = await book(
        worker_id=body.worker_id,
        tenant_id=body.tenant_id,
        kind=body.kind,
        start=body.start,
        duration=duration_of(body.kind, body.duration_minutes),
        case_id=body.case_id,
        principal=principal,
        uow=uow,
    )
    return AppointmentRead.of(appointment, "booked")


class AppointmentMove(BaseModel):
    """A new start for an appointment (same worker, same length)."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime = Field(description="New start, with its UTC offset; must be a free slot.")


@agenda.post(
    "/appointments/{appointment_id}/reschedule",
    response_model=AppointmentRead,
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 404, 409, 422)},
)
async def reschedule_appointment(
    appointment_id: uuid.UUID, body: AppointmentMove, principal: CurrentPrincipal, uow: UowFactoryDep
) -> AppointmentRead:
    """Move a booked appointment to another free slot of its worker (409 when not free)."""
    moved = await reschedule(appointment_id, start=body.start, principal=principal, uow=uow)
    return AppointmentRead.of(moved, "booked")


def _status_route(action: str, summary: str) -> None:
    async def route(appointment_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> AppointmentRead:
        appointment, new_status, late = await change_status(appointment_id, action=action, principal=principal, uow=uow)
        return AppointmentRead.of(appointment, new_status, late)

    route.__doc__ = summary
    agenda.add_api_route(
        f"/appointments/{{appointment_id}}/{action.replace('_', '-')}",
        route,
        methods=["POST"],
        response_model=AppointmentRead,
        responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 404, 409)},
        name=f"{action}_appointment",
    )


_status_route("cancel", "Cancel; under 24 h before the start it is a late cancellation, and who cancelled is kept.")
_status_route("complete", "Record that the appointment took place (its social worker).")
_status_route("no_show", "Record that the client did not come (its social worker).")
