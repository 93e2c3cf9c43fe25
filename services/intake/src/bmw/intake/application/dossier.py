"""The two-layer dossier: the formal dossier and the worker's private working notes (werkaantekeningen).

Only the assigned social worker reads and writes either; a colleague covering an absence reads with a
stated reason (break-glass), which the access log records. Working notes fall outside the right of
access and have a shorter retention.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bmw.contracts.taxonomy import Role
from bmw.intake.adapters.repository import IntakeRepository
from bmw.intake.application.cases import check_break_glass, is_assigned
from bmw.intake.application.common import Intake, audit_case
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, Forbidden, NotFound


class Layer(StrEnum):
    FORMAL = "formal"
    WORKING = "working"


class EntryKind(StrEnum):
    INTAKE_REPORT = "intake_report"
    PLAN = "plan"
    PROGRESS = "progress"
    CLOSING_REPORT = "closing_report"
    WORKING_NOTE = "working_note"


FORMAL_KINDS = frozenset({EntryKind.INTAKE_REPORT, EntryKind.PLAN, EntryKind.PROGRESS, EntryKind.CLOSING_REPORT})


@dataclass(frozen=True)
class DossierEntry:
    id: uuid.UUID
    layer: Layer
    kind: EntryKind
    text: str | None
    author: str
    created_at: datetime


async def add_entry(
    case_id: uuid.UUID, *, kind: EntryKind, text: str, principal: Principal, intake: Intake
) -> DossierEntry:
    """Write to the dossier of a case the caller is assigned to; the text is sealed with the person's key."""
    layer = Layer.FORMAL if kind in FORMAL_KINDS else Layer.WORKING
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.case(case_id)
        if found is None:
            raise NotFound("case not found")
        case, person_id = found
        if not is_assigned(principal, case):
            if principal.has_role(Role.SOCIAL_WORKER):
                raise Forbidden("only the assigned social worker writes in this dossier")
            raise NotFound("case not found")
        if person_id is None:
            raise Conflict("the person of this case was erased", current_state="erased")
        entry = DossierEntry(uuid.uuid4(), layer, kind, text, principal.subject, intake.clock())
        await repository.add_entry(
            id=entry.id,
            case_id=case.id,
            person_id=person_id,
            layer=layer.value,
            kind=kind.value,
            sealed=await intake.vault(work).seal(person_id, {"text": text}),
            author=principal.subject,
            created_at=entry.created_at,
        )
        await audit_case(repository, principal, case, action="create", resource=f"dossier.{layer.value}")
        await work.commit()
    return entry


async def read_dossier(
    case_id: uuid.UUID,
    *,
    principal: Principal,
    intake: Intake,
    break_glass_reason: str | None,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> tuple[list[DossierEntry], bool]:
    """Both layers for the assigned worker, or for a colleague with a stated reason (logged as break-glass)."""
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.case(case_id)
        if found is None:
            raise NotFound("case not found")
        case = found[0]
        glass = check_break_glass(principal, case, break_glass_reason)
        rows = await repository.entries(case_id, [Layer.FORMAL.value, Layer.WORKING.value], after=after, limit=limit)
        vault = intake.vault(work)
        entries = []
        for row in rows:
            opened = await vault.open(row.person_id, row.sealed)
            entries.append(
                DossierEntry(
                    row.id,
                    Layer(row.layer),
                    EntryKind(row.kind),
                    opened["text"] if opened else None,
                    row.author,
                    row.created_at,
                )
            )
        await audit_case(
            repository, principal, case, action="read", resource="dossier", break_glass=glass, reason=break_glass_reason
        )
        await work.commit()
    return entries, glass
