"""Typed calls of the scheduling service's HTTP API (see services/scheduling/openapi.json).

The bodies mirror scheduling's ``...Read`` and ``...Create`` models as far as the gateway uses them;
unknown fields are ignored so that scheduling can add fields without breaking the gateway.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, RootModel

from bmw.contracts.taxonomy import Category
from bmw.gateway.clients import ServiceClient
from bmw.gateway.scheduling.enums import (
    AppointmentKind,
    AppointmentStatus,
    CancelledBy,
    MeetingLocation,
    RegistrationStatus,
    WorkshopStatus,
    WorkshopTheme,
)

#: The header scheduling reads to answer a repeated booking with its first answer instead of booking twice.
IDEMPOTENCY_HEADER = "Idempotency-Key"


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SuitableSlotBody(_Read):
    """A free slot of one suitable social worker."""

    worker_id: uuid.UUID
    worker_name: str
    start: datetime
    locations: list[MeetingLocation]


class SuitableSlotsBody(_Read):
    """Answer of ``GET /free-slots``: slots across every worker who fits, earliest first."""

    duration_minutes: int
    slots: list[SuitableSlotBody]


class AppointmentBody(_Read):
    """An appointment as scheduling returns it (never the client's identity)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    worker_id: uuid.UUID
    kind: AppointmentKind
    case_id: uuid.UUID | None
    start: datetime
    end: datetime
    status: AppointmentStatus
    location: MeetingLocation | None = None
    late_cancellation: bool | None = None
    cancelled_by: CancelledBy | None = None
    overage: bool = False
    walk_in: bool = False
    workshop_id: uuid.UUID | None = None
    topic: Category | None = None


class AppointmentPageBody(_Read):
    """Answer of ``GET /appointments``: one keyset page."""

    items: list[AppointmentBody]
    next_cursor: str | None


class AppointmentCreateBody(BaseModel):
    """Body of ``POST /appointments``."""

    worker_id: uuid.UUID
    tenant_id: uuid.UUID
    kind: AppointmentKind
    start: datetime
    duration_minutes: int | None = None
    case_id: uuid.UUID | None = None
    location: MeetingLocation | None = None
    topic: Category | None = None


class WorkerBody(_Read):
    """A social worker's staff record, as far as the gateway shows it."""

    id: uuid.UUID
    name: str
    specialisms: list[str]
    languages: list[str]
    locations: list[MeetingLocation]


class TrainerBody(_Read):
    """A trainer of a workshop."""

    id: uuid.UUID
    name: str


class RegistrationBody(_Read):
    """A participant's registration for a workshop."""

    id: uuid.UUID
    workshop_id: uuid.UUID
    display_name: str | None
    status: RegistrationStatus
    waitlist_position: int | None
    attended: bool | None
    registered_at: datetime


class WorkshopBody(_Read):
    """A workshop session as scheduling shows it to the caller (the register itself is never read here)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    theme: WorkshopTheme
    title: str
    location: MeetingLocation
    location_detail: str | None
    start: datetime
    end: datetime
    duration_minutes: int
    capacity: int
    seats_taken: int
    seats_available: int
    waitlist_length: int
    status: WorkshopStatus
    trainers: list[TrainerBody]
    self_registration: bool
    attended_count: int | None
    cancelled_by: CancelledBy | None
    my_registration: RegistrationBody | None


class WorkshopCreateBody(BaseModel):
    """Body of ``POST /workshops``."""

    tenant_id: uuid.UUID
    theme: WorkshopTheme
    title: str | None = None
    location: MeetingLocation
    location_detail: str | None = None
    start: datetime
    duration_minutes: int | None = None
    capacity: int
    trainer_ids: list[uuid.UUID]
    self_registration: bool = True
    override_hours: bool = False


class RegistrationCreateBody(BaseModel):
    """Body of ``POST /workshops/{id}/registrations``: nothing for oneself, a reference and name to nominate."""

    participant_ref: str | None = None
    display_name: str | None = None


class SchedulingClient(ServiceClient):
    """Scheduling: free slots, agendas, appointments, workshops and social workers."""

    @classmethod
    def over(cls, client: ServiceClient, extra_headers: Mapping[str, str] | None = None) -> SchedulingClient:
        """The request's scheduling client with typed calls, optionally with extra headers (an
        ``Idempotency-Key``), over the same shared connection pool, forwarded headers and retry policy."""
        return cls(
            client.name,
            client._http,
            client._base_url,
            {**client._headers, **(extra_headers or {})},
            retries=client._retries,
        )

    async def free_slots(self, params: Mapping[str, str]) -> SuitableSlotsBody:
        """``GET /free-slots``."""
        return self.parse(SuitableSlotsBody, await self.request("GET", "/free-slots", params=params))

    async def appointments(self, params: Mapping[str, str]) -> AppointmentPageBody:
        """``GET /appointments``."""
        return self.parse(AppointmentPageBody, await self.request("GET", "/appointments", params=params))

    async def book(self, body: AppointmentCreateBody) -> AppointmentBody:
        """``POST /appointments``."""
        response = await self.request("POST", "/appointments", json=body.model_dump(mode="json", exclude_none=True))
        return self.parse(AppointmentBody, response)

    async def cancel(self, appointment_id: uuid.UUID) -> AppointmentBody:
        """``POST /appointments/{id}/cancel``."""
        return self.parse(AppointmentBody, await self.request("POST", f"/appointments/{appointment_id}/cancel"))

    async def workshops(self, params: Mapping[str, str]) -> list[WorkshopBody]:
        """``GET /workshops``."""
        response = await self.request("GET", "/workshops", params=params)
        return self.parse(_WorkshopList, response).root

    async def schedule_workshop(self, body: WorkshopCreateBody) -> WorkshopBody:
        """``POST /workshops``."""
        response = await self.request("POST", "/workshops", json=body.model_dump(mode="json", exclude_none=True))
        return self.parse(WorkshopBody, response)

    async def register(self, workshop_id: uuid.UUID, body: RegistrationCreateBody) -> RegistrationBody:
        """``POST /workshops/{id}/registrations``."""
        response = await self.request(
            "POST", f"/workshops/{workshop_id}/registrations", json=body.model_dump(mode="json", exclude_none=True)
        )
        return self.parse(RegistrationBody, response)

    async def worker(self, worker_id: uuid.UUID) -> WorkerBody:
        """``GET /workers/{id}``."""
        return self.parse(WorkerBody, await self.request("GET", f"/workers/{worker_id}"))

    async def workers(self) -> list[WorkerBody]:
        """``GET /workers``: every social worker (provider staff)."""
        return self.parse(_WorkerList, await self.request("GET", "/workers")).root


class _WorkshopList(RootModel[list[WorkshopBody]]):
    """``GET /workshops`` answers a bare JSON array."""


class _WorkerList(RootModel[list[WorkerBody]]):
    """``GET /workers`` answers a bare JSON array."""
