"""Scheduling's HTTP API (first slice: staff records)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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
