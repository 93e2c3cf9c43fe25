"""Mutations of the scheduling part of the schema.

Every expected refusal (the gateway's own early one, or scheduling's) becomes a member of the result
union; scheduling's field paths (``body.worker_id``) come back as input paths (``input.workerId``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import graphql_error, input_path
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.outcomes import (
    Refusal,
    refusal_of,
)
from bmw.gateway.scheduling.client import (
    AppointmentBody,
    AppointmentCreateBody,
    RegistrationCreateBody,
    SchedulingClient,
    WorkshopCreateBody,
)
from bmw.gateway.scheduling.enums import AppointmentKind
from bmw.gateway.scheduling.inputs import aware, check_idempotency_key, refuse
from bmw.gateway.scheduling.loaders import worker_loader
from bmw.gateway.scheduling.permissions import (
    STAFF,
    check_may_book,
    check_may_book_here,
    check_may_book_in_agenda,
    check_may_cancel,
    check_may_register,
    check_may_schedule_workshop,
    check_may_schedule_workshops,
    sees_case_ids,
)
from bmw.gateway.scheduling.types import (
    Appointment,
    AppointmentBooked,
    AppointmentCancelled,
    BookAppointmentInput,
    BookAppointmentResult,
    CancelAppointmentInput,
    CancelAppointmentResult,
    RegisteredForWorkshop,
    RegisterForWorkshopInput,
    RegisterForWorkshopResult,
    ScheduleWorkshopInput,
    ScheduleWorkshopResult,
    Workshop,
    WorkshopRegistration,
    WorkshopScheduled,
)
from bmw.servicekit import errors
from bmw.servicekit.auth import Principal


def _refusal(error: errors.DomainError) -> Refusal:
    """The union member for an expected refusal; anything else (e.g. 401) stays a GraphQL error."""
    found = refusal_of(error, input_path)
    if found is None:
        raise graphql_error(error, field_path=input_path) from error
    return found


def _appointment(principal: Principal, client: SchedulingClient, body: AppointmentBody) -> Appointment:
    """An appointment in a mutation's result, shown as the caller's lists show it."""
    workers = worker_loader(client) if principal.has_role(*STAFF) else None
    return Appointment.of(body, workers=workers, show_case=sees_case_ids(principal))


# -- bookAppointment ------------------------------------------------------------------------------


#: Stands in for the organisation while a booking is checked before intake is asked for its case's.
_TENANT_NOT_YET_KNOWN = uuid.UUID(int=0)


def _needs_case_tenant(booking: BookAppointmentInput, principal: Principal) -> bool:
    """A booking for a case without a ``tenantId``, by a caller bound to no organisation (a social worker booking a
    consult for their case): the organisation is the case's."""
    return booking.tenant_id is None and booking.case_id is not None and principal.tenant_id is None


async def _case_tenant(info: GatewayInfo, booking: BookAppointmentInput) -> uuid.UUID | None:
    """The case's organisation, from intake, when ``_needs_case_tenant``; None when it does not apply or the case
    id is malformed (``_booking`` names that)."""
    if not _needs_case_tenant(booking, info.context.caller) or booking.case_id is None:
        return None
    case_id = parse_id(booking.case_id, "input.caseId", [])
    if case_id is None:
        return None
    try:
        return await info.context.intake.case_tenant(case_id)
    except (errors.NotFound, errors.Forbidden) as error:
        raise errors.InvalidInput(
            "invalid input: input.caseId",
            fields=[errors.FieldError(path="input.caseId", message="no case of yours has this id")],
        ) from error


def _booking(
    booking: BookAppointmentInput, principal: Principal, case_tenant: uuid.UUID | None = None
) -> tuple[AppointmentCreateBody, dict[str, str]]:
    """The body of ``POST /appointments`` and its headers, or ``InvalidInput`` naming every bad field."""
    problems: list[errors.FieldError] = []
    if booking.tenant_id is not None:
        tenant_id = parse_id(booking.tenant_id, "input.tenantId", problems)
    else:
        tenant_id = case_tenant or principal.tenant_id
        if tenant_id is None:
            problems.append(
                errors.FieldError(
                    path="input.tenantId",
                    message="required for callers without a client organisation, unless caseId names your case",
                )
            )
    worker_id = parse_id(booking.worker_id, "input.workerId", problems)
    case_id = parse_id(booking.case_id, "input.caseId", problems) if booking.case_id is not None else None
    if booking.kind in (AppointmentKind.WORKSHOP, AppointmentKind.SECONDMENT_BLOCK):
        problems.append(
            errors.FieldError(
                path="input.kind",
                message="book INTAKE, CONSULT or MANAGER_CONSULTATION; workshops use scheduleWorkshop",
            )
        )
    if booking.topic is not None and booking.kind is not AppointmentKind.MANAGER_CONSULTATION:
        problems.append(
            errors.FieldError(path="input.topic", message="leave it out unless kind is MANAGER_CONSULTATION")
        )
    headers = check_idempotency_key(booking.idempotency_key, "input.idempotencyKey", problems)
    refuse(problems)
    assert tenant_id is not None and worker_id is not None  # noqa: S101 - refuse() raised otherwise
    body = AppointmentCreateBody(
        worker_id=worker_id,
        tenant_id=tenant_id,
        kind=booking.kind,
        start=aware(booking.start),
        duration_minutes=booking.duration_minutes,
        case_id=case_id,
        location=booking.location,
        topic=booking.topic,
    )
    return body, headers


async def book_appointment(
    info: GatewayInfo,
    input_: Annotated[BookAppointmentInput, strawberry.argument(name="input", description="The appointment.")],
) -> BookAppointmentResult:
    """Refuse early what scheduling would refuse for the caller's role, then book through scheduling."""
    principal = info.context.caller
    try:
        check_may_book(principal)
        if _needs_case_tenant(input_, principal):
            # Everything the gateway can refuse without the tenant is refused before intake is asked: reading the
            # case leaves a line in the person's access log, which a booking refused anyway should not.
            case_parses = parse_id(input_.case_id or "", "input.caseId", []) is not None
            _booking(input_, principal, case_tenant=_TENANT_NOT_YET_KNOWN if case_parses else None)
            check_may_book_in_agenda(principal, worker_id=uuid.UUID(input_.worker_id), kind=input_.kind)
        body, headers = _booking(input_, principal, await _case_tenant(info, input_))
        check_may_book_here(principal, tenant_id=body.tenant_id, worker_id=body.worker_id, kind=input_.kind)
        client = SchedulingClient.over(info.context.scheduling, headers)
        booked = await client.book(body)
    except errors.DomainError as error:
        return _refusal(error)
    return AppointmentBooked(appointment=_appointment(principal, client, booked))


# -- cancelAppointment ----------------------------------------------------------------------------


async def cancel_appointment(
    info: GatewayInfo,
    input_: Annotated[
        CancelAppointmentInput, strawberry.argument(name="input", description="The appointment to cancel.")
    ],
) -> CancelAppointmentResult:
    """Cancel through scheduling, which decides whether the caller may and whether it is late."""
    principal = info.context.caller
    try:
        check_may_cancel(principal)
        problems: list[errors.FieldError] = []
        appointment_id = parse_id(input_.appointment_id, "input.appointmentId", problems)
        refuse(problems)
        assert appointment_id is not None  # noqa: S101 - refuse() raised otherwise
        client = SchedulingClient.over(info.context.scheduling)
        cancelled = await client.cancel(appointment_id)
    except errors.DomainError as error:
        return _refusal(error)
    return AppointmentCancelled(
        appointment=_appointment(principal, client, cancelled),
        late_cancellation=bool(cancelled.late_cancellation),
        cancelled_by=cancelled.cancelled_by,
    )


# -- scheduleWorkshop -----------------------------------------------------------------------------


def _workshop(workshop: ScheduleWorkshopInput) -> tuple[WorkshopCreateBody, dict[str, str]]:
    """The body of ``POST /workshops`` and its headers, or ``InvalidInput`` naming every bad field."""
    problems: list[errors.FieldError] = []
    tenant_id = parse_id(workshop.tenant_id, "input.tenantId", problems)
    trainer_ids = [
        parse_id(trainer, f"input.trainerIds.{index}", problems) for index, trainer in enumerate(workshop.trainer_ids)
    ]
    headers = check_idempotency_key(workshop.idempotency_key, "input.idempotencyKey", problems)
    refuse(problems)
    assert tenant_id is not None  # noqa: S101 - refuse() raised otherwise
    body = WorkshopCreateBody(
        tenant_id=tenant_id,
        theme=workshop.theme,
        title=workshop.title,
        location=workshop.location,
        location_detail=workshop.location_detail,
        start=aware(workshop.start),
        duration_minutes=workshop.duration_minutes,
        capacity=workshop.capacity,
        trainer_ids=[trainer for trainer in trainer_ids if trainer is not None],
        self_registration=workshop.self_registration,
        override_hours=workshop.override_hours,
    )
    return body, headers


async def schedule_workshop(
    info: GatewayInfo,
    input_: Annotated[ScheduleWorkshopInput, strawberry.argument(name="input", description="The workshop.")],
) -> ScheduleWorkshopResult:
    """Refuse early what scheduling would refuse for the caller's role, then schedule through scheduling."""
    principal = info.context.caller
    try:
        check_may_schedule_workshops(principal)
        body, headers = _workshop(input_)
        check_may_schedule_workshop(
            principal, tenant_id=body.tenant_id, trainer_ids=body.trainer_ids, override_hours=body.override_hours
        )
        scheduled = await SchedulingClient.over(info.context.scheduling, headers).schedule_workshop(body)
    except errors.DomainError as error:
        return _refusal(error)
    return WorkshopScheduled(workshop=Workshop.of(scheduled))


# -- registerForWorkshop --------------------------------------------------------------------------


async def register_for_workshop(
    info: GatewayInfo,
    input_: Annotated[
        RegisterForWorkshopInput, strawberry.argument(name="input", description="The workshop and participant.")
    ],
) -> RegisterForWorkshopResult:
    """Register (or nominate) through scheduling, which checks the workshop's organisation and seats."""
    principal = info.context.caller
    try:
        check_may_register(principal, nominates=input_.participant_ref is not None)
        problems: list[errors.FieldError] = []
        workshop_id = parse_id(input_.workshop_id, "input.workshopId", problems)
        refuse(problems)
        assert workshop_id is not None  # noqa: S101 - refuse() raised otherwise
        body = RegistrationCreateBody(participant_ref=input_.participant_ref, display_name=input_.display_name)
        registration = await SchedulingClient.over(info.context.scheduling).register(workshop_id, body)
    except errors.DomainError as error:
        return _refusal(error)
    return RegisteredForWorkshop(registration=WorkshopRegistration.of(registration))


@strawberry.type
class SchedulingMutation:
    book_appointment: BookAppointmentResult = strawberry.mutation(
        resolver=book_appointment,
        description="Book an appointment in a free slot of a social worker (see freeSlots): client contacts book "
        "manager consultations, social workers their own agenda, provider admins any. Pass an idempotencyKey to "
        "retry safely.",
        permission_classes=[IsAuthenticated],
    )
    cancel_appointment: CancelAppointmentResult = strawberry.mutation(
        resolver=cancel_appointment,
        description="Cancel a booked appointment (the employee it is for, its social worker, a provider admin, or "
        "the client contact for a manager consultation). Less than 24 hours before the start it is a late, "
        "billable cancellation.",
        permission_classes=[IsAuthenticated],
    )
    schedule_workshop: ScheduleWorkshopResult = strawberry.mutation(
        resolver=schedule_workshop,
        description="Schedule a workshop session for a client organisation and book its trainers' time (provider "
        "admins, or a social worker who gives it). Pass an idempotencyKey to retry safely.",
        permission_classes=[IsAuthenticated],
    )
    register_for_workshop: RegisterForWorkshopResult = strawberry.mutation(
        resolver=register_for_workshop,
        description="Take a seat in a workshop, or a place on its waitlist when it is full: employees register "
        "themselves, client contacts nominate participants.",
        permission_classes=[IsAuthenticated],
    )
