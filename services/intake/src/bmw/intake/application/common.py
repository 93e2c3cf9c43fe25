"""What every intake use case needs: the unit of work, the cipher, and the access log."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bmw.intake.adapters.crypto import PersonCipher
from bmw.intake.adapters.persons import PersonVault
from bmw.intake.adapters.repository import IntakeRepository
from bmw.intake.domain.cases import Case
from bmw.servicekit.auth import Principal
from bmw.servicekit.context import current_flow
from bmw.servicekit.errors import FieldError, InvalidInput
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Intake:
    """The intake service's dependencies, built once per app."""

    uow: UnitOfWorkFactory
    cipher: PersonCipher
    pepper: bytes
    retention_years: int = 5
    working_notes_retention_days: int = 365
    #: The time source of every use case (replaced in tests to pin a week, e.g. one with a public holiday).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def vault(self, work: UnitOfWork) -> PersonVault:
        return PersonVault(work.session, self.cipher, self.pepper)


async def audit(
    repository: IntakeRepository,
    principal: Principal,
    *,
    action: str,
    resource: str,
    tenant_id: uuid.UUID | None,
    person_ref: str | None,
    case_id: uuid.UUID | None = None,
    break_glass: bool = False,
    reason: str | None = None,
) -> None:
    """Record who touched whose data, in the same transaction as the access itself."""
    await repository.log_access(
        actor=principal.subject,
        actor_roles=",".join(sorted(role.value for role in principal.roles)),
        on_behalf_of=tenant_id,
        person_ref=person_ref,
        case_id=case_id,
        action=action,
        resource=resource,
        break_glass=break_glass,
        reason=reason,
        request_id=current_flow().request_id,
    )


def encode_cursor(at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """A keyset position from an opaque cursor; a bad one is a 422 naming the parameter."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, row_id = text.partition("|")
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(
            "the cursor is not one this API handed out",
            fields=[FieldError(path="query.cursor", message="invalid cursor")],
        ) from error


async def audit_case(
    repository: IntakeRepository,
    principal: Principal,
    case: Case,
    *,
    action: str,
    resource: str,
    break_glass: bool = False,
    reason: str | None = None,
) -> None:
    """Record an access to one case's data (its person, tenant and id come from the case)."""
    await audit(
        repository,
        principal,
        action=action,
        resource=resource,
        tenant_id=case.tenant_id,
        person_ref=case.client_ref,
        case_id=case.id,
        break_glass=break_glass,
        reason=reason if break_glass else None,
    )
