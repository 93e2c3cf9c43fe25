"""Queries of the scheduling part of the schema.

Each field is nullable: when scheduling refuses or is down, that field is null with an error carrying
``extensions.code`` and the rest of the response still resolves.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, time, timedelta
from typing import Annotated

import strawberry

from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import argument_path, graphql_error
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.pagination import (
    MAX_PAGE,
    Connection,
    Edge,
    PageInfo,
    check_window,
    from_service_page,
    from_whole_list,
    page_size,
)
from bmw.gateway.scheduling.client import SchedulingClient
from bmw.gateway.scheduling.enums import AppointmentKind, AppointmentStatus, MeetingLocation
from bmw.gateway.scheduling.inputs import LOCAL_TIME, aware, refuse
from bmw.gateway.scheduling.loaders import worker_loader
from bmw.gateway.scheduling.permissions import (
    STAFF,
    MayFindFreeSlots,
    MayReadAgenda,
    MayReadOwnAppointments,
    MayReadWorkshops,
    sees_case_ids,
)
from bmw.gateway.scheduling.types import Appointment, FreeSlot, Workshop
from bmw.servicekit.errors import DomainError, FieldError, InvalidInput

#: The period searched for free slots when ``to`` is left out.
DEFAULT_SLOT_WINDOW = timedelta(days=14)
#: The period of myAppointments when ``to`` is left out (scheduling lists at most 366 days at once).
DEFAULT_OWN_WINDOW = timedelta(days=365)

#: Scheduling's paging parameters, as the GraphQL arguments they come from.
_PAGING = {"query.limit": "first", "query.cursor": "after"}


def _argument(path: str) -> str:
    """A scheduling query parameter path as the GraphQL argument it came from."""
    return _PAGING.get(path) or argument_path(path)


def _client(info: GatewayInfo) -> SchedulingClient:
    return SchedulingClient.over(info.context.scheduling)


def _ids(problems: list[FieldError], **arguments: strawberry.ID | None) -> dict[str, uuid.UUID]:
    """The optional id arguments given, parsed; a problem per malformed one (named in camelCase)."""
    parsed: dict[str, uuid.UUID] = {}
    for name, value in arguments.items():
        if value is not None:
            found = parse_id(value, argument_path(f"query.{name}"), problems)
            if found is not None:
                parsed[name] = found
    return parsed


# -- free slots -----------------------------------------------------------------------------------


def _slot_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"slot:{offset}".encode()).decode()


def _slot_offset(after: str | None) -> int:
    """The number of slots before the page ``after`` starts; the cursor is this list's own."""
    if after is None:
        return 0
    try:
        kind, value = base64.urlsafe_b64decode(after.encode()).decode().split(":", 1)
        if kind != "slot" or int(value) < 0:
            raise ValueError(after)
        return int(value)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(
            "not a cursor of this list", fields=[FieldError(path="after", message="pass an endCursor of freeSlots")]
        ) from error


async def free_slots(
    info: GatewayInfo,
    tenant_id: Annotated[strawberry.ID, strawberry.argument(description="The client organisation it is for.")],
    from_: Annotated[
        datetime,
        strawberry.argument(
            name="from", description="Start of the search; a time without offset is Europe/Amsterdam time."
        ),
    ],
    to: Annotated[
        datetime | None,
        strawberry.argument(
            description="End of the search, at most 62 days after `from`; 14 days after it if left out."
        ),
    ] = None,
    kind: Annotated[
        AppointmentKind, strawberry.argument(description="Kind of appointment; sets the usual length.")
    ] = AppointmentKind.CONSULT,
    duration_minutes: Annotated[
        int | None, strawberry.argument(description="Length in minutes (15 to 480), if not the kind's usual length.")
    ] = None,
    specialism: Annotated[
        str | None, strawberry.argument(description="Only workers with this specialism, e.g. `burnout`.")
    ] = None,
    language: Annotated[
        str | None, strawberry.argument(description="Only workers speaking this language (ISO 639-1, e.g. `nl`).")
    ] = None,
    location: Annotated[
        MeetingLocation | None, strawberry.argument(description="Only workers who meet clients there.")
    ] = None,
    first: Annotated[int | None, strawberry.argument(description="Page size (1 to 200; 50 if left out).")] = None,
    after: Annotated[
        str | None,
        strawberry.argument(description="`endCursor` of the previous page; at most 200 slots per search in all."),
    ] = None,
) -> Connection[FreeSlot] | None:
    """Ask scheduling for slots of every suitable worker; page through them with an offset of our own.

    Scheduling returns the earliest ``limit`` slots of one search, so page n asks for the slots up to its
    end plus one (to know whether more follow); its cap of 200 is also this list's.
    """
    client = _client(info)
    try:
        size = page_size(first)
        offset = _slot_offset(after)
        start = aware(from_)
        end = aware(to) if to is not None else start + DEFAULT_SLOT_WINDOW
        params = {
            "tenant_id": str(uuid.UUID(tenant_id)),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "kind": str(kind.value),
            "limit": str(min(offset + size + 1, MAX_PAGE)),
        }
        if duration_minutes is not None:
            params["duration_minutes"] = str(duration_minutes)
        if specialism is not None:
            params["specialism"] = specialism
        if language is not None:
            params["language"] = language
        if location is not None:
            params["location"] = str(location.value)
        found = await client.free_slots(params)
    except DomainError as error:
        raise graphql_error(error, field_path=_argument) from error
    slots = [FreeSlot.of(slot, found.duration_minutes) for slot in found.slots]
    page = slots[offset : offset + size]
    more = offset + size < len(slots)
    return Connection(
        edges=[Edge(node=slot, cursor=_slot_cursor(offset + i + 1)) for i, slot in enumerate(page)],
        page_info=PageInfo(has_next_page=more, end_cursor=_slot_cursor(offset + len(page)) if more else None),
        nodes=page,
    )


# -- appointments ---------------------------------------------------------------------------------


async def _appointment_page(
    info: GatewayInfo,
    *,
    start: datetime,
    end: datetime,
    status: AppointmentStatus | None,
    first: int | None,
    after: str | None,
    ids: dict[str, uuid.UUID],
) -> Connection[Appointment]:
    """One page of ``GET /appointments`` as a connection; its workers load in one call at most."""
    client = _client(info)
    principal = info.context.caller
    params = {"from": start.isoformat(), "to": end.isoformat(), "limit": str(page_size(first))}
    params.update({name: str(value) for name, value in ids.items()})
    if status is not None:
        params["status"] = str(status.value)
    if after is not None:
        params["cursor"] = after
    page = await client.appointments(params)
    workers = worker_loader(client) if principal.has_role(*STAFF) else None
    show_case = sees_case_ids(principal)
    return from_service_page(
        [Appointment.of(item, workers=workers, show_case=show_case) for item in page.items], page.next_cursor
    )


async def agenda(
    info: GatewayInfo,
    from_: Annotated[
        datetime,
        strawberry.argument(
            name="from", description="Start of the period; a time without offset is Europe/Amsterdam time."
        ),
    ],
    to: Annotated[datetime, strawberry.argument(description="End of the period (exclusive), within 366 days.")],
    worker_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Whose agenda: provider admins may name any worker (all if left out)."),
    ] = None,
    tenant_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only appointments for this client organisation.")
    ] = None,
    status: Annotated[
        AppointmentStatus | None, strawberry.argument(description="Only appointments in this status.")
    ] = None,
    first: Annotated[int | None, strawberry.argument(description="Page size (1 to 200; 50 if left out).")] = None,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[Appointment] | None:
    """The caller's agenda (``MayReadAgenda`` has checked whose), earliest first."""
    try:
        problems: list[FieldError] = []
        ids = _ids(problems, worker_id=worker_id, tenant_id=tenant_id)
        refuse(problems)
        return await _appointment_page(
            info, start=aware(from_), end=aware(to), status=status, first=first, after=after, ids=ids
        )
    except DomainError as error:
        raise graphql_error(error, field_path=_argument) from error


def _start_of_today() -> datetime:
    today = datetime.now(LOCAL_TIME).date()
    return datetime.combine(today, time.min, tzinfo=LOCAL_TIME)


async def my_appointments(
    info: GatewayInfo,
    from_: Annotated[
        datetime | None,
        strawberry.argument(name="from", description="Start of the period; the start of today if left out."),
    ] = None,
    to: Annotated[
        datetime | None,
        strawberry.argument(
            description="End of the period (exclusive), within 366 days; a year after `from` if left out."
        ),
    ] = None,
    status: Annotated[
        AppointmentStatus | None, strawberry.argument(description="Only appointments in this status.")
    ] = None,
    first: Annotated[int | None, strawberry.argument(description="Page size (1 to 200; 50 if left out).")] = None,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[Appointment] | None:
    """The caller's own appointments; scheduling narrows them to the caller by their token."""
    start = aware(from_) if from_ is not None else _start_of_today()
    end = aware(to) if to is not None else start + DEFAULT_OWN_WINDOW
    try:
        return await _appointment_page(info, start=start, end=end, status=status, first=first, after=after, ids={})
    except DomainError as error:
        raise graphql_error(error, field_path=_argument) from error


# -- workshops ------------------------------------------------------------------------------------


async def workshops(
    info: GatewayInfo,
    tenant_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(
            description="Client organisation; defaults to your own. Provider staff who leave it out see every "
            "workshop they may (account managers: their portfolio; social workers: those they give)."
        ),
    ] = None,
    from_: Annotated[
        datetime | None, strawberry.argument(name="from", description="Only sessions ending after this moment.")
    ] = None,
    to: Annotated[
        datetime | None, strawberry.argument(description="Only sessions starting before this moment.")
    ] = None,
    first: Annotated[int | None, strawberry.argument(description="Page size (1 to 200; 50 if left out).")] = None,
    after: Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")] = None,
) -> Connection[Workshop] | None:
    """Scheduling returns the organisation's workshops whole, earliest first; they are paged here."""
    client = _client(info)
    try:
        check_window(first, after)
        problems: list[FieldError] = []
        params = {name: str(value) for name, value in _ids(problems, tenant_id=tenant_id).items()}
        refuse(problems)
        if from_ is not None:
            params["from"] = aware(from_).isoformat()
        if to is not None:
            params["to"] = aware(to).isoformat()
        found = await client.workshops(params)
        return from_whole_list([Workshop.of(body) for body in found], first=first, after=after)
    except DomainError as error:
        raise graphql_error(error, field_path=_argument) from error


@strawberry.type
class SchedulingQuery:
    free_slots: Connection[FreeSlot] | None = strawberry.field(
        resolver=free_slots,
        description="Free slots of every social worker who suits the client organisation (serves it, has the "
        "specialism, language and location asked for), earliest first. For provider staff and client contacts.",
        permission_classes=[IsAuthenticated, MayFindFreeSlots],
    )
    agenda: Connection[Appointment] | None = strawberry.field(
        resolver=agenda,
        description="A social worker's agenda, earliest first: your own as a social worker; any worker's (or "
        "everyone's) as a provider admin.",
        permission_classes=[IsAuthenticated, MayReadAgenda],
    )
    my_appointments: Connection[Appointment] | None = strawberry.field(
        resolver=my_appointments,
        description="Your own appointments, earliest first: an employee's intakes and consults; for a client "
        "contact, the manager consultations of their organisation.",
        permission_classes=[IsAuthenticated, MayReadOwnAppointments],
    )
    workshops: Connection[Workshop] | None = strawberry.field(
        resolver=workshops,
        description="Workshops and trainings of a client organisation, earliest first, with seats and waitlist "
        "counts (employees see those open to them and those they are registered for).",
        permission_classes=[IsAuthenticated, MayReadWorkshops],
    )
