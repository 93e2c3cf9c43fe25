"""The case lifecycle as use cases: triage, start, close, reopen; and what scheduling tells intake."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseAssigned, CaseClosed, CaseEscalated, CaseReopened
from bmw.contracts.events.scheduling import AppointmentBooked, AppointmentCompleted, IntakeUnschedulable
from bmw.contracts.taxonomy import AppointmentKind, Category, Role, Urgency
from bmw.intake.adapters.repository import IntakeRepository
from bmw.intake.application.common import Intake, audit_case
from bmw.intake.domain.cases import Case, IllegalTransition, Outcome
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, Forbidden, NotFound
from bmw.servicekit.uow import UnitOfWork

MIN_REASON = 10


def is_assigned(principal: Principal, case: Case) -> bool:
    return (
        principal.has_role(Role.SOCIAL_WORKER)
        and case.worker_id is not None
        and principal.subject == str(case.worker_id)
    )


def check_break_glass(principal: Principal, case: Case, reason: str | None) -> bool:
    """True for a break-glass access (another social worker with a stated reason); refuses the rest."""
    if is_assigned(principal, case):
        return False
    if not principal.has_role(Role.SOCIAL_WORKER):
        raise NotFound("case not found")
    if reason is None or len(reason.strip()) < MIN_REASON:
        raise Forbidden(
            "only the assigned social worker reads this case; a colleague covering needs a stated reason "
            f"(X-Break-Glass-Reason, at least {MIN_REASON} characters), which is logged"
        )
    return True


async def read_case(
    case_id: uuid.UUID, *, principal: Principal, intake: Intake, break_glass_reason: str | None
) -> tuple[Case, list[tuple[str, datetime, str]], bool]:
    """The case with its history; assigned worker, or break-glass (logged)."""
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.case(case_id)
        if found is None:
            raise NotFound("case not found")
        case = found[0]
        glass = check_break_glass(principal, case, break_glass_reason)
        history = await repository.transitions(case_id)
        await audit_case(
            repository, principal, case, action="read", resource="case", break_glass=glass, reason=break_glass_reason
        )
        await work.commit()
    return case, history, glass


async def caseload(
    *, principal: Principal, intake: Intake, include_closed: bool, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Case]:
    """The caller's own cases (social workers)."""
    principal.require_role(Role.SOCIAL_WORKER)
    try:
        worker_id = uuid.UUID(principal.subject)
    except ValueError:
        return []
    async with intake.uow() as work:
        return await IntakeRepository(work.session).caseload(
            worker_id, include_closed=include_closed, after=after, limit=limit
        )


async def _change(
    case_id: uuid.UUID,
    *,
    principal: Principal,
    intake: Intake,
    change: Callable[[Case, datetime], None],
    events: Callable[[Case], list[object]],
    resource: str,
) -> Case:
    """Apply one transition as the assigned worker; 409 with the current state when it is not allowed."""
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.case(case_id, for_update=True)
        if found is None:
            raise NotFound("case not found")
        case = found[0]
        if not is_assigned(principal, case):
            if principal.has_role(Role.SOCIAL_WORKER):
                raise Forbidden("only the assigned social worker changes this case")
            raise NotFound("case not found")
        now = intake.clock()
        before = case.status
        try:
            change(case, now)
        except IllegalTransition as error:
            raise Conflict(str(error), current_state=error.status.value) from error
        await repository.save_case(
            case, actor=principal.subject, moved_at=now if case.status != before or resource == "reopen" else None
        )
        for payload in events(case):
            await work.emit(payload, tenant_id=case.tenant_id, subject=str(case.id))  # type: ignore[arg-type]
        await audit_case(repository, principal, case, action="update", resource=f"case.{resource}")
        await work.commit()
    return case


async def triage_case(
    case_id: uuid.UUID,
    *,
    category: Category,
    urgency: Urgency,
    specialism: str | None,
    language: str,
    principal: Principal,
    intake: Intake,
) -> Case:
    return await _change(
        case_id,
        principal=principal,
        intake=intake,
        resource="triage",
        events=lambda case: [],
        change=lambda case, at: case.triage(
            category=category, urgency=urgency, specialism=specialism, language=language, at=at
        ),
    )


async def start_case(case_id: uuid.UUID, *, principal: Principal, intake: Intake) -> Case:
    return await _change(
        case_id,
        principal=principal,
        intake=intake,
        resource="start",
        events=lambda case: [],
        change=lambda case, at: case.start(at),
    )


async def close_case(case_id: uuid.UUID, *, outcome: Outcome, principal: Principal, intake: Intake) -> Case:
    return await _change(
        case_id,
        principal=principal,
        intake=intake,
        resource="close",
        change=lambda case, at: case.close(outcome, at),
        events=lambda case: [CaseClosed(case_id=case.id, outcome=outcome.value, duration_days=case.duration_days)],
    )


async def reopen_case(case_id: uuid.UUID, *, principal: Principal, intake: Intake) -> Case:
    return await _change(
        case_id,
        principal=principal,
        intake=intake,
        resource="reopen",
        change=lambda case, at: case.reopen(at),
        events=lambda case: [CaseReopened(case_id=case.id, worker_id=case.worker_id)],
    )


async def assign_case(case_id: uuid.UUID, *, worker_id: uuid.UUID, principal: Principal, intake: Intake) -> Case:
    """A provider admin (re)assigns a case, e.g. to cover a long absence."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.case(case_id, for_update=True)
        if found is None:
            raise NotFound("case not found")
        case = found[0]
        if case.status.value == "closed":
            raise Conflict("cannot assign a closed case", current_state=case.status.value)
        case.worker_id = worker_id
        await repository.save_case(case, actor=principal.subject)
        await work.emit(
            CaseAssigned(case_id=case.id, worker_id=worker_id), tenant_id=case.tenant_id, subject=str(case.id)
        )
        await audit_case(repository, principal, case, action="update", resource="case.assign")
        await work.commit()
    return case


# -- what scheduling tells intake ----------------------------------------------------------------


async def _locked(work: UnitOfWork, case_id: uuid.UUID) -> tuple[IntakeRepository, Case] | None:
    repository = IntakeRepository(work.session)
    found = await repository.case(case_id, for_update=True)
    return (repository, found[0]) if found else None


async def on_appointment_booked(work: UnitOfWork, event: CloudEvent, data: AppointmentBooked) -> None:
    """An intake appointment was booked: the case is scheduled and assigned to that worker."""
    if data.kind is not AppointmentKind.INTAKE or data.case_id is None:
        return
    found = await _locked(work, data.case_id)
    if found is None:
        return  # not a case of ours (or erased): nothing to do
    repository, case = found
    try:
        changed = case.schedule_intake(data.worker_id, event.time)
    except IllegalTransition:
        return  # e.g. closed meanwhile: the booking changes nothing here
    await repository.save_case(case, actor="scheduling", moved_at=event.time)
    if changed:
        await work.emit(
            CaseAssigned(case_id=case.id, worker_id=data.worker_id), tenant_id=case.tenant_id, subject=str(case.id)
        )


async def on_intake_unschedulable(work: UnitOfWork, event: CloudEvent, data: IntakeUnschedulable) -> None:
    """No slot within the SLA: flag the case for escalation."""
    found = await _locked(work, data.case_id)
    if found is None:
        return
    repository, case = found
    try:
        case.escalate(data.reason.value)
    except IllegalTransition:
        return
    await repository.save_case(case, actor="scheduling")
    await work.emit(
        CaseEscalated(case_id=case.id, reason=data.reason.value), tenant_id=case.tenant_id, subject=str(case.id)
    )


async def on_appointment_completed(work: UnitOfWork, event: CloudEvent, data: AppointmentCompleted) -> None:
    """The intake took place: the case is in progress."""
    if data.kind is not AppointmentKind.INTAKE or data.case_id is None:
        return
    found = await _locked(work, data.case_id)
    if found is None:
        return
    repository, case = found
    try:
        case.start(event.time)
    except IllegalTransition:
        return
    await repository.save_case(case, actor="scheduling", moved_at=event.time)


async def escalated_cases(
    *, principal: Principal, intake: Intake, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Case]:
    """Cases that need a person to act (provider admins), newest first."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with intake.uow() as work:
        return await IntakeRepository(work.session).escalated(after=after, limit=limit)
