"""The rights of the person over HTTP: what scheduling holds under a pseudonym (right of access)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bmw.contracts.pseudonyms import ClientRef
from bmw.contracts.taxonomy import AppointmentKind, CancelledBy, Category, Location, Urgency, WorkshopTheme
from bmw.scheduling.application import persons as use
from bmw.scheduling.domain.workshops import RegistrationStatus, WorkshopStatus
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import error_responses

router = APIRouter(tags=["rights of the person"])


class PersonAppointmentRead(BaseModel):
    """An appointment of the person."""

    id: uuid.UUID = Field(description="Appointment id.")
    tenant_id: uuid.UUID = Field(description="The client organisation the person works for.")
    case_id: uuid.UUID | None = Field(description="The person's case in intake the appointment belongs to.")
    kind: AppointmentKind = Field(description="What it is for: intake, consult, ...")
    status: Literal["booked", "cancelled", "completed", "no_show"] = Field(description="Where it stands.")
    start: datetime = Field(description="Start (UTC).")
    end: datetime = Field(description="End (UTC).")
    worker_id: uuid.UUID = Field(description="The social worker.")
    worker_name: str | None = Field(description="The social worker's working name.")
    location: Location | None = Field(description="Where it takes place; null when still to agree.")
    late_cancellation: bool | None = Field(description="Cancelled less than 24 h before the start; null if not.")
    cancelled_by: CancelledBy | None = Field(description="Which party cancelled (a role); null if not cancelled.")
    topic: Category | None = Field(description="A manager consultation's theme; null otherwise.")
    booked_at: datetime = Field(description="When it was booked (UTC).")

    @classmethod
    def of(cls, found: use.PersonAppointment) -> PersonAppointmentRead:
        return cls.model_validate(found, from_attributes=True)


class PersonPendingIntakeRead(BaseModel):
    """The intake scheduling was asked to book when the person's case opened."""

    case_id: uuid.UUID = Field(description="The person's case in intake.")
    tenant_id: uuid.UUID = Field(description="The client organisation the person works for.")
    org_unit_id: uuid.UUID = Field(description="The person's org unit, as intake said.")
    category: Category = Field(description="What the help request is about.")
    urgency: Urgency = Field(description="How soon contact had to be made.")
    sla_deadline: datetime = Field(description="Latest moment of first contact (UTC).")
    needed_specialism: str | None = Field(description="The specialism the worker needed, if any.")
    language: str = Field(description="Language of the conversations (ISO 639-1).")
    received_at: datetime = Field(description="When scheduling learned of the case (UTC).")
    outcome: str | None = Field(
        description="`booked`, or why it could not be scheduled (e.g. `no_capacity_before_deadline`); null while "
        "being worked on."
    )

    @classmethod
    def of(cls, found: use.PersonPendingIntake) -> PersonPendingIntakeRead:
        return cls.model_validate(found, from_attributes=True)


class PersonRegistrationRead(BaseModel):
    """A workshop seat or waitlist place the person took with their own login."""

    id: uuid.UUID = Field(description="Registration id.")
    workshop_id: uuid.UUID = Field(description="The workshop.")
    tenant_id: uuid.UUID = Field(description="The client organisation the workshop is for.")
    title: str = Field(description="The workshop's title.")
    theme: WorkshopTheme = Field(description="Theme from the catalogue.")
    workshop_status: WorkshopStatus = Field(description="Whether the workshop is scheduled, completed or cancelled.")
    start: datetime = Field(description="Start of the workshop (UTC).")
    end: datetime = Field(description="End of the workshop (UTC).")
    location: Location = Field(description="Where it takes place.")
    status: RegistrationStatus = Field(description="A seat (registered), a waitlist place, or given up (cancelled).")
    attended: bool | None = Field(description="Whether the person attended; null until the register is kept.")
    display_name: str | None = Field(description="The name on the attendance register, if one was given.")
    registered_at: datetime = Field(description="When the place was taken (UTC).")

    @classmethod
    def of(cls, found: use.PersonRegistration) -> PersonRegistrationRead:
        return cls.model_validate(found, from_attributes=True)


class PersonDataRead(BaseModel):
    """Everything scheduling holds that is linked to one pseudonym; empty lists when it holds nothing (never
    known, erased, or past retention: scheduling keeps no register of persons to tell these apart)."""

    client_ref: str = Field(description="The pseudonym asked about.")
    exported_at: datetime = Field(description="When this export was made (UTC).")
    appointments: list[PersonAppointmentRead] = Field(description="The person's appointments, earliest first.")
    pending_intakes: list[PersonPendingIntakeRead] = Field(
        description="The intakes scheduling was asked to book for the person's cases, oldest first."
    )
    workshop_registrations: list[PersonRegistrationRead] = Field(
        description="Workshop seats and waitlist places the person took with their own login, earliest first."
    )
    not_included: str = Field(
        description="What scheduling holds that is not the person's, and so is not here.",
        default="the social workers' own records (hours, leave), other participants of a workshop, and who booked "
        "an appointment on the person's behalf",
    )

    @classmethod
    def of(cls, found: use.PersonData) -> PersonDataRead:
        return cls(
            client_ref=found.client_ref,
            exported_at=found.exported_at,
            appointments=[PersonAppointmentRead.of(a) for a in found.appointments],
            pending_intakes=[PersonPendingIntakeRead.of(p) for p in found.pending_intakes],
            workshop_registrations=[PersonRegistrationRead.of(r) for r in found.workshop_registrations],
        )


@router.get("/persons/{client_ref}/export", response_model=PersonDataRead, responses=error_responses(401, 403, 422))
async def export_person(client_ref: ClientRef, principal: CurrentPrincipal, uow: UowFactoryDep) -> PersonDataRead:
    """Right of access (provider admins): everything scheduling holds under the pseudonym; empty when nothing."""
    return PersonDataRead.of(await use.export_person(client_ref, principal=principal, uow=uow))
