"""Who may use which part of scheduling. The gateway refuses early; scheduling checks the same again.

The rules follow scheduling's own (services/scheduling, application/access.py and agenda.py): an
appointment of an intake or consult says that an employee sees a social worker, so only that employee,
their social worker and provider admins may know of it; client contacts book and see manager
consultations; account managers look for free slots but book nothing and see no appointment.
"""

from __future__ import annotations

import uuid
from typing import Any

from strawberry.permission import BasePermission

from bmw.contracts.taxonomy import Role
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError
from bmw.gateway.inputs import parse_id
from bmw.gateway.scheduling.enums import AppointmentKind
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError, Forbidden

#: May read social workers' staff records (scheduling's GET /workers).
STAFF = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.ACCOUNT_MANAGER)
SLOT_FINDERS = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.CLIENT_CONTACT, Role.ACCOUNT_MANAGER)
BOOKERS = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.CLIENT_CONTACT)
AGENDA_READERS = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)
OWN_APPOINTMENT_READERS = (Role.EMPLOYEE, Role.CLIENT_CONTACT)
CANCELLERS = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.EMPLOYEE, Role.CLIENT_CONTACT)
WORKSHOP_READERS = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT, Role.EMPLOYEE)
WORKSHOP_SCHEDULERS = (Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)
WORKSHOP_REGISTRANTS = (Role.PROVIDER_ADMIN, Role.CLIENT_CONTACT, Role.EMPLOYEE)


def _argument_id(value: object, path: str) -> uuid.UUID:
    problems: list[FieldError] = []
    parsed = parse_id(str(value), path, problems)
    if parsed is None:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, f"invalid {path}", fields=problems)
    return parsed


def sees_case_ids(principal: Principal) -> bool:
    """Whether appointments show their case id: the employee's own, their social worker's, provider admins'."""
    return principal.has_role(Role.EMPLOYEE, Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN)


class MayFindFreeSlots(BasePermission):
    """Provider staff and client contacts, for a client organisation they may act for (``tenantId``)."""

    message = "only provider staff and client contacts look for free slots, for their own client organisations"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        principal = info.context.caller
        tenant_id = _argument_id(kwargs["tenant_id"], "tenantId")
        return principal.has_role(*SLOT_FINDERS) and principal.may_act_for(tenant_id)


class MayReadAgenda(BasePermission):
    """A social worker reads their own agenda; a provider admin anyone's (``workerId``)."""

    message = "a social worker reads their own agenda; provider admins may read any worker's"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        principal = info.context.caller
        if not principal.has_role(*AGENDA_READERS):
            return False
        worker = kwargs.get("worker_id")
        if worker is None or principal.has_role(Role.PROVIDER_ADMIN):
            return True
        return str(_argument_id(worker, "workerId")) == principal.subject


class MayReadOwnAppointments(BasePermission):
    """Employees (their own appointments) and client contacts (their organisation's manager consultations)."""

    message = "only employees and client contacts have appointments of their own; social workers use agenda"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        return info.context.caller.has_role(*OWN_APPOINTMENT_READERS)


class MayReadWorkshops(BasePermission):
    """Everyone but integrations, for a client organisation they may act for (``tenantId``, when given)."""

    message = "not allowed to read the workshops of this client organisation"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        principal = info.context.caller
        if not principal.has_role(*WORKSHOP_READERS):
            return False
        tenant = kwargs.get("tenant_id")
        return tenant is None or principal.may_act_for(_argument_id(tenant, "tenantId"))


# -- mutations: refusals become the Forbidden member of the result union --------------------------


def check_may_book(principal: Principal) -> None:
    """Raise ``Forbidden`` for roles that book nothing (account managers, employees, integrations)."""
    if not principal.has_role(*BOOKERS):
        raise Forbidden(
            "this role cannot book appointments: client contacts book manager consultations, social workers "
            "their own agenda, provider admins any"
        )


def check_may_book_here(
    principal: Principal, *, tenant_id: uuid.UUID, worker_id: uuid.UUID, kind: AppointmentKind
) -> None:
    """Raise ``Forbidden`` unless the caller may book this kind of appointment in this agenda."""
    check_may_book(principal)
    principal.require_tenant(tenant_id)
    check_may_book_in_agenda(principal, worker_id=worker_id, kind=kind)


def check_may_book_in_agenda(principal: Principal, *, worker_id: uuid.UUID, kind: AppointmentKind) -> None:
    """Raise ``Forbidden`` unless the caller may book this kind of appointment in this worker's agenda (whatever the
    organisation)."""
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if principal.has_role(Role.SOCIAL_WORKER) and principal.subject != str(worker_id):
        raise Forbidden("social workers book in their own agenda")
    if (
        principal.has_role(Role.CLIENT_CONTACT)
        and not principal.has_role(Role.SOCIAL_WORKER)
        and kind is not AppointmentKind.MANAGER_CONSULTATION
    ):
        raise Forbidden("client contacts book manager consultations; workshop seats are taken on the workshop")


def check_may_cancel(principal: Principal) -> None:
    """Raise ``Forbidden`` for roles that can see no appointment (scheduling decides per appointment)."""
    if not principal.has_role(*CANCELLERS):
        raise Forbidden("this role cannot cancel appointments")


def check_may_schedule_workshops(principal: Principal) -> None:
    """Raise ``Forbidden`` for roles that schedule no workshops (only the provider does)."""
    if not principal.has_role(*WORKSHOP_SCHEDULERS):
        raise Forbidden("workshops are scheduled by the provider; ask your account manager or a provider admin")


def check_may_schedule_workshop(
    principal: Principal, *, tenant_id: uuid.UUID, trainer_ids: list[uuid.UUID], override_hours: bool
) -> None:
    """Raise ``Forbidden`` unless the caller may schedule this workshop."""
    check_may_schedule_workshops(principal)
    principal.require_tenant(tenant_id)
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if principal.subject not in {str(trainer) for trainer in trainer_ids}:
        raise Forbidden("social workers schedule the workshops they give themselves")
    if override_hours:
        raise Forbidden("only provider admins schedule outside a trainer's working hours")


def check_may_register(principal: Principal, *, nominates: bool) -> None:
    """Raise ``Forbidden`` unless the caller may register (employees) or nominate (client contacts, admins)."""
    if not principal.has_role(*WORKSHOP_REGISTRANTS):
        raise Forbidden("employees register themselves; the organisation's client contact nominates others")
    if nominates and not principal.has_role(Role.CLIENT_CONTACT, Role.PROVIDER_ADMIN):
        raise Forbidden("only the organisation's client contact nominates participants")
