"""Who may see which appointment: the confidentiality rules of the agenda, in one place.

An appointment of a consult or intake says that an employee sees a social worker; only that employee, their
social worker and provider admins may know it. A client contact sees their organisation's manager
consultations (they book those), never an employee's. Account managers and integrations see no single
appointment at all.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from bmw.contracts.pseudonyms import login_digest
from bmw.contracts.taxonomy import AppointmentKind, Role
from bmw.servicekit.auth import Principal


class AppointmentLike(Protocol):
    tenant_id: uuid.UUID
    worker_id: uuid.UUID
    kind: str
    employee_login: str | None


def is_own_agenda(principal: Principal, worker_id: uuid.UUID) -> bool:
    """The caller is the social worker whose agenda it is."""
    return principal.has_role(Role.SOCIAL_WORKER) and principal.subject == str(worker_id)


def is_employees_own(principal: Principal, row: AppointmentLike | Any) -> bool:
    """The caller is the employee the appointment is for (by the digest of their login)."""
    return (
        principal.has_role(Role.EMPLOYEE)
        and principal.tenant_id == row.tenant_id
        and row.employee_login is not None
        and row.employee_login == login_digest(principal.subject)
    )


def may_see_appointment(principal: Principal, row: AppointmentLike | Any) -> bool:
    """Whether ``principal`` may learn that this appointment exists (and read its times)."""
    if principal.has_role(Role.PROVIDER_ADMIN):
        return True
    if is_own_agenda(principal, row.worker_id) or is_employees_own(principal, row):
        return True
    return (
        principal.has_role(Role.CLIENT_CONTACT)
        and principal.tenant_id == row.tenant_id
        and row.kind == AppointmentKind.MANAGER_CONSULTATION.value
    )
