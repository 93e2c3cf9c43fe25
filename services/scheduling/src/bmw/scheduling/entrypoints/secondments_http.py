"""Secondment blocks and logged hours over HTTP.

A secondment block puts a social worker on site at a client organisation (*detachering*), possibly as open
walk-in consultation hours (*spreekuur*). The worker logs the hours spent there per day; each log (and each
correction) publishes ``scheduling.secondment.hours_logged.v1``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from bmw.contracts.taxonomy import Location
from bmw.scheduling.application.secondments import (
    MAX_REPEAT_WEEKS,
    LoggedHours,
    SecondmentBlock,
    SecondmentSeries,
    correct_hours,
    create_secondment,
    list_hours,
    list_secondments,
    log_hours,
)
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.servicekit.idempotency import Idempotency, IdempotencyKeyHeader

router = APIRouter(tags=["secondments"])


def _two_places(value: Decimal) -> str:
    return f"{value:.2f}"


#: Hours as an exact decimal string with two places ("7.50"), never a float.
ExactHours = Annotated[Decimal, PlainSerializer(_two_places, return_type=str, when_used="json")]

#: Hours as given by a caller: a JSON number or string, in quarter hours.
HoursInput = Annotated[
    Decimal,
    Field(
        gt=0,
        le=24,
        multiple_of=Decimal("0.25"),
        allow_inf_nan=False,
        description='Hours worked, in quarter hours (a multiple of 0.25), more than 0 and at most 24, e.g. "7.50".',
        examples=["7.50"],
    ),
]


class SecondmentCreate(BaseModel):
    """A block of a social worker on site at a client organisation, optionally repeated weekly."""

    model_config = ConfigDict(extra="forbid")

    worker_id: uuid.UUID = Field(description="The seconded social worker.")
    tenant_id: uuid.UUID = Field(description="The client organisation; the worker must serve it.")
    start: AwareDatetime = Field(description="Start, with its UTC offset; not in the past.")
    end: AwareDatetime = Field(
        description="End, with its UTC offset: after the start, on the same Europe/Amsterdam day (midnight at the "
        "latest), at most 10 hours later."
    )
    walk_in: bool = Field(
        default=False,
        description="Open walk-in consultation hours (spreekuur): shown to the organisation's employees.",
    )
    location: Location = Field(default=Location.CLIENT_SITE, description="Where the worker is; client_site by default.")
    repeat_weekly: int = Field(
        default=0,
        ge=0,
        le=MAX_REPEAT_WEEKS,
        description="Extra weeks to repeat the block at the same Europe/Amsterdam wall-clock times (0-52); Dutch "
        "public holidays are left out and listed in skipped_dates.",
    )


class SecondmentBlockRead(BaseModel):
    """A secondment block as the client organisation may see it: the worker's time and place, never a client."""

    id: uuid.UUID = Field(description="Id of the block (an appointment of kind secondment_block).")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    worker_id: uuid.UUID = Field(description="The seconded social worker.")
    worker_name: str = Field(description="The social worker's working name.")
    start: dt.datetime = Field(description="Start (UTC).")
    end: dt.datetime = Field(description="End (UTC).")
    location: Location = Field(description="Where the worker is.")
    walk_in: bool = Field(description="Open walk-in consultation hours (spreekuur).")
    status: str = Field(description="booked or completed.")

    @classmethod
    def of(cls, block: SecondmentBlock) -> SecondmentBlockRead:
        return cls(
            id=block.id,
            tenant_id=block.tenant_id,
            worker_id=block.worker_id,
            worker_name=block.worker_name,
            start=block.start,
            end=block.end,
            location=block.location,
            walk_in=block.walk_in,
            status=block.status,
        )


class SecondmentSeriesRead(BaseModel):
    """The blocks one request planned."""

    blocks: list[SecondmentBlockRead] = Field(description="The blocks created, earliest first.")
    skipped_dates: list[dt.date] = Field(description="Dates left out because they are Dutch public holidays.")

    @classmethod
    def of(cls, series: SecondmentSeries) -> SecondmentSeriesRead:
        return cls(blocks=[SecondmentBlockRead.of(b) for b in series.blocks], skipped_dates=series.skipped_dates)


@router.post(
    "/secondments",
    status_code=status.HTTP_201_CREATED,
    response_model=SecondmentSeriesRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_secondment_blocks(
    body: SecondmentCreate,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Plan a secondment block, optionally weekly: all blocks or, if any week clashes, none (409 names the date)."""
    return await create_secondment(
        worker_id=body.worker_id,
        tenant_id=body.tenant_id,
        start=body.start,
        end=body.end,
        walk_in=body.walk_in,
        location=body.location,
        repeat_weekly=body.repeat_weekly,
        principal=principal,
        uow=uow,
        idempotency=Idempotency.optional(principal.subject, idempotency_key, body.model_dump(mode="json")),
        render=lambda series: SecondmentSeriesRead.of(series).model_dump(mode="json"),
    )


@router.get(
    "/secondments",
    response_model=list[SecondmentBlockRead],
    responses=error_responses(401, 403, 422),
)
async def read_secondments(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID, Query(description="The client organisation.")],
    period_from: Annotated[AwareDatetime, Query(alias="from", description="Start of the period (with offset).")],
    period_to: Annotated[AwareDatetime, Query(alias="to", description="End of the period, at most 366 days later.")],
) -> list[SecondmentBlockRead]:
    """When social workers are on site: all blocks for admins and client contacts, walk-in hours for employees."""
    blocks = await list_secondments(tenant_id=tenant_id, start=period_from, end=period_to, principal=principal, uow=uow)
    return [SecondmentBlockRead.of(b) for b in blocks]


class SecondmentHoursCreate(BaseModel):
    """Hours a seconded social worker spent at a client organisation on one day."""

    model_config = ConfigDict(extra="forbid")

    worker_id: uuid.UUID = Field(description="The seconded social worker (the caller, unless a provider admin).")
    tenant_id: uuid.UUID = Field(description="The client organisation where the hours were worked.")
    date: dt.date = Field(description="The day (Europe/Amsterdam) on which the worker had a secondment block there.")
    hours: HoursInput


class SecondmentHoursCorrection(BaseModel):
    """The corrected hours of one day."""

    model_config = ConfigDict(extra="forbid")

    hours: HoursInput


class SecondmentHoursRead(BaseModel):
    """Hours logged for one worker, client organisation and day."""

    worker_id: uuid.UUID = Field(description="The seconded social worker.")
    worker_name: str = Field(description="The social worker's working name.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    date: dt.date = Field(description="The day the hours were worked.")
    hours: ExactHours = Field(description='Hours worked, exact to two decimals, as a string (e.g. "7.50").')
    logged_at: dt.datetime = Field(description="When the hours were logged or last corrected (UTC).")

    @classmethod
    def of(cls, logged: LoggedHours) -> SecondmentHoursRead:
        return cls(
            worker_id=logged.worker_id,
            worker_name=logged.worker_name,
            tenant_id=logged.tenant_id,
            date=logged.day,
            hours=logged.hours,
            logged_at=logged.logged_at,
        )


class SecondmentHoursPage(BaseModel):
    """The hours logged at a client organisation in a period."""

    tenant_id: uuid.UUID = Field(description="The client organisation.")
    period_from: dt.date = Field(description="First day of the period.")
    period_to: dt.date = Field(description="Last day of the period (inclusive).")
    entries: list[SecondmentHoursRead] = Field(description="One entry per worker and day, earliest first.")
    total_hours: ExactHours = Field(description='Sum of the entries\' hours, exact, as a string (e.g. "15.25").')


@router.post(
    "/secondment-hours",
    status_code=status.HTTP_201_CREATED,
    response_model=SecondmentHoursRead,
    responses=error_responses(401, 403, 409, 422),
)
async def create_secondment_hours(
    body: SecondmentHoursCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> SecondmentHoursRead:
    """Log the hours of a day on site (the seconded worker, or an admin); once per day, 409 the second time."""
    logged = await log_hours(
        worker_id=body.worker_id,
        tenant_id=body.tenant_id,
        day=body.date,
        hours=body.hours,
        principal=principal,
        uow=uow,
    )
    return SecondmentHoursRead.of(logged)


@router.put(
    "/secondment-hours/{tenant_id}/{worker_id}/{day}",
    response_model=SecondmentHoursRead,
    responses=error_responses(401, 403, 404, 422),
)
async def correct_secondment_hours(
    tenant_id: Annotated[uuid.UUID, Path(description="The client organisation.")],
    worker_id: Annotated[uuid.UUID, Path(description="The seconded social worker.")],
    day: Annotated[dt.date, Path(description="The day whose hours are corrected.")],
    body: SecondmentHoursCorrection,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
) -> SecondmentHoursRead:
    """Correct the hours of a logged day; publishes hours_logged again with the new hours (latest one counts).

    Every correction publishes a new ``scheduling.secondment.hours_logged.v1`` carrying the corrected hours (the
    full figure, not a difference). Consumers such as billing must treat the latest event per worker x client
    organisation x date as authoritative and must not add the events up. Giving the same hours again changes
    nothing and publishes nothing.
    """
    logged = await correct_hours(
        worker_id=worker_id, tenant_id=tenant_id, day=day, hours=body.hours, principal=principal, uow=uow
    )
    return SecondmentHoursRead.of(logged)


@router.get(
    "/secondment-hours",
    response_model=SecondmentHoursPage,
    responses=error_responses(401, 403, 422),
)
async def read_secondment_hours(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID, Query(description="The client organisation.")],
    period_from: Annotated[dt.date, Query(alias="from", description="First day of the period.")],
    period_to: Annotated[
        dt.date, Query(alias="to", description="Last day of the period (inclusive), within 366 days.")
    ],
) -> SecondmentHoursPage:
    """The hours logged at a client organisation with their exact total (admins, its account manager and client
    contacts; a social worker sees their own)."""
    entries, total = await list_hours(
        tenant_id=tenant_id, first=period_from, last=period_to, principal=principal, uow=uow
    )
    return SecondmentHoursPage(
        tenant_id=tenant_id,
        period_from=period_from,
        period_to=period_to,
        entries=[SecondmentHoursRead.of(e) for e in entries],
        total_hours=total,
    )
