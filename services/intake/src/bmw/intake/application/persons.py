"""The rights of the person: access (an export of everything held), erasure, and retention."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update

from bmw.contracts.events.intake import ClientErased
from bmw.contracts.taxonomy import Role
from bmw.intake.adapters.repository import IntakeRepository
from bmw.intake.adapters.tables import (
    ACCESS_LOG,
    CASE_TRANSITIONS,
    CASES,
    CONSENTS,
    DOSSIER_ENTRIES,
    IDEMPOTENCY_KEYS,
    PERSONS,
    REFERRALS,
)
from bmw.intake.application.common import Intake, audit
from bmw.intake.domain.cases import CaseStatus
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import NotFound
from bmw.servicekit.idempotency import forget_callers, forget_old_keys
from bmw.servicekit.uow import UnitOfWork
from bmw.servicekit.walls import whole_service_view


def erased_ref(client_ref: str) -> str:
    """The pseudonym that replaces a client_ref in the access log after erasure (not reversible)."""
    return "erased-" + hashlib.sha256(client_ref.encode()).hexdigest()[:16]


async def export_person(client_ref: str, *, principal: Principal, intake: Intake) -> dict[str, Any]:
    """Everything intake holds about one person, for a right-of-access request (provider admins).

    The social worker's working notes fall outside the right of access and are not included.
    """
    principal.require_role(Role.PROVIDER_ADMIN)
    async with intake.uow() as work:
        vault = intake.vault(work)
        found = await vault.find(client_ref)
        if found is None:
            raise NotFound("no person with this client_ref")
        person_id, tenant_id = found
        repository = IntakeRepository(work.session)
        profile = await vault.profile(person_id)
        referrals = (await work.session.execute(select(REFERRALS).where(REFERRALS.c.person_id == person_id))).all()
        cases = await repository.cases_of(person_id)
        ledger = await repository.ledger(person_id)
        dossier = []
        for case in cases:
            for row in await repository.entries(case.id, ["formal"]):
                opened = await vault.open(row.person_id, row.sealed)
                dossier.append(
                    {
                        "case_id": str(case.id),
                        "kind": row.kind,
                        "created_at": row.created_at.isoformat(),
                        "text": opened["text"] if opened else None,
                    }
                )
        await audit(
            repository, principal, action="export", resource="person", tenant_id=tenant_id, person_ref=client_ref
        )
        log = await repository.access_log(client_ref)
        await work.commit()
    return {
        "client_ref": client_ref,
        "client_organisation": str(tenant_id),
        "exported_at": datetime.now(UTC).isoformat(),
        "personal_data": profile,
        "referrals": [
            {
                "id": str(r.id),
                "channel": r.channel,
                "category": r.category,
                "urgency": r.urgency,
                "status": r.status,
                "received_at": r.received_at.isoformat(),
                "org_unit_id": str(r.org_unit_id),
            }
            for r in referrals
        ],
        "cases": [
            {
                "id": str(c.id),
                "status": c.status.value,
                "category": c.category.value,
                "opened_at": c.opened_at.isoformat(),
                "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                "outcome": c.outcome.value if c.outcome else None,
            }
            for c in cases
        ],
        "consents": [
            {
                "recipient": r.recipient.value,
                "item": r.item.value,
                "granted": r.granted,
                "recorded_at": r.recorded_at.isoformat(),
                "valid_until": r.valid_until.isoformat() if r.valid_until else None,
                "method": r.method,
            }
            for r in ledger.records
        ],
        "dossier": dossier,
        "access_log": [
            {
                "at": row.at.isoformat(),
                "actor": row.actor,
                "action": row.action,
                "resource": row.resource,
                "break_glass": row.break_glass,
                "reason": row.reason,
            }
            for row in log
        ],
        "not_included": "the social worker's working notes (werkaantekeningen) fall outside the right of access",
    }


async def _own_login(work: UnitOfWork, intake: Intake, person_id: uuid.UUID, client_ref: str) -> str | None:
    """The login of a person who referred themselves, or None: intake keeps only its keyed hash on the person,
    but the login itself stands as the actor of what they did (their self-referral, their case's opening, their
    access-log rows), so those actors are hashed until one matches."""
    subject_hash = await work.session.scalar(select(PERSONS.c.subject_hash).where(PERSONS.c.id == person_id))
    if subject_hash is None:
        return None
    own_cases = select(CASES.c.id).where(CASES.c.person_id == person_id)
    candidates: set[str] = set()
    for query in (
        select(REFERRALS.c.referred_by).where(REFERRALS.c.person_id == person_id),
        select(CASE_TRANSITIONS.c.actor).where(CASE_TRANSITIONS.c.case_id.in_(own_cases)),
        select(ACCESS_LOG.c.actor).where(ACCESS_LOG.c.person_ref == client_ref),
    ):
        candidates.update(await work.session.scalars(query))
    vault = intake.vault(work)
    return next((s for s in candidates if hmac.compare_digest(vault.subject_hash(s), subject_hash)), None)


async def _erase(work: UnitOfWork, intake: Intake, person_id: uuid.UUID, client_ref: str, tenant_id: uuid.UUID) -> None:
    """Crypto-shred the person, drop their dossier, detach their referrals and cases, pseudonymise the log."""
    login = await _own_login(work, intake, person_id, client_ref)
    await intake.vault(work).shred(person_id)
    await work.session.execute(delete(DOSSIER_ENTRIES).where(DOSSIER_ENTRIES.c.person_id == person_id))
    await work.session.execute(delete(CONSENTS).where(CONSENTS.c.person_id == person_id))
    erased = erased_ref(client_ref)
    if login is not None:
        # An employee's own login would link what they did to them as surely as their name: it goes the way of
        # the pseudonym (in the log also where they acted on no person, e.g. listing their referrals).
        own_cases = select(CASES.c.id).where(CASES.c.person_id == person_id)
        await work.session.execute(
            update(REFERRALS)
            .where(REFERRALS.c.person_id == person_id, REFERRALS.c.referred_by == login)
            .values(referred_by=erased)
        )
        await work.session.execute(
            update(CASE_TRANSITIONS)
            .where(CASE_TRANSITIONS.c.case_id.in_(own_cases), CASE_TRANSITIONS.c.actor == login)
            .values(actor=erased)
        )
        await work.session.execute(
            update(ACCESS_LOG)
            .where(
                ACCESS_LOG.c.actor == login,
                (ACCESS_LOG.c.person_ref == client_ref) | ACCESS_LOG.c.person_ref.is_(None),
            )
            .values(actor=erased)
        )
        # Their Idempotency-Keys (kept 7 days) name their login as the caller: behind the caller wall an admin's
        # transaction sees its own keys only, so they go in the service's own view.
        async with whole_service_view(work.session):
            await forget_callers(work.session, IDEMPOTENCY_KEYS, {login})
    await work.session.execute(update(REFERRALS).where(REFERRALS.c.person_id == person_id).values(person_id=None))
    await work.session.execute(
        update(CASES).where(CASES.c.person_id == person_id).values(person_id=None, client_ref=erased)
    )
    await work.session.execute(update(PERSONS).where(PERSONS.c.id == person_id).values(client_ref=erased))
    # Who read the case and when stays accountable; a colleague's stated reason is free text about the person.
    await work.session.execute(
        update(ACCESS_LOG).where(ACCESS_LOG.c.person_ref == client_ref).values(person_ref=erased, reason=None)
    )
    # Published events stay in the outbox for replay; a replay must not bring the pseudonym back to the
    # services that were just told to forget it, so the copies are redacted (the erasure event keeps it),
    # and so is the digest of the employee's login that intake.case.opened.v1 carries.
    await work.session.execute(
        text(
            "UPDATE outbox SET envelope = envelope #- '{data,employee_login}'"
            " WHERE envelope->'data'->>'client_ref' = :ref"
        ),
        {"ref": client_ref},
    )
    await work.session.execute(
        text(
            "UPDATE outbox SET envelope = jsonb_set(envelope, '{data,client_ref}', to_jsonb(CAST(:erased AS text)))"
            " WHERE envelope->'data'->>'client_ref' = :ref"
        ),
        {"erased": erased, "ref": client_ref},
    )
    await work.session.execute(
        text(
            "UPDATE outbox SET envelope = jsonb_set(envelope, '{subject}', to_jsonb(CAST(:erased AS text)))"
            " WHERE envelope->>'subject' = :ref"
        ),
        {"erased": erased, "ref": client_ref},
    )
    await work.emit(
        ClientErased(client_ref=client_ref, erased_at=datetime.now(UTC)), tenant_id=tenant_id, subject=client_ref
    )


async def erase_person(client_ref: str, *, principal: Principal, intake: Intake) -> None:
    """Right to erasure (provider admins): intake forgets the person, and tells every service to."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with intake.uow() as work:
        found = await intake.vault(work).find(client_ref)
        if found is None:
            raise NotFound("no person with this client_ref")
        person_id, tenant_id = found
        await _erase(work, intake, person_id, client_ref, tenant_id)
        await audit(
            IntakeRepository(work.session),
            principal,
            action="erase",
            resource="person",
            tenant_id=tenant_id,
            person_ref=erased_ref(client_ref),
        )
        await work.commit()


@dataclass(frozen=True)
class RetentionReport:
    """What the retention job erased (or, in a dry run, would erase)."""

    persons: list[str]
    working_notes: int
    dry_run: bool


async def apply_retention(*, intake: Intake, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """Erase persons whose cases all closed longer than the retention period ago, and old working notes."""
    moment = now or intake.clock()
    case_cutoff = moment - timedelta(days=365 * intake.retention_years)
    notes_cutoff = moment - timedelta(days=intake.working_notes_retention_days)
    async with intake.uow() as work:
        # Due: no case of theirs is open or closed within the period, and no referral of theirs is that
        # recent either (someone whose referral expired unconsented is forgotten after the same period).
        open_or_recent = (
            select(CASES.c.person_id)
            .where(CASES.c.person_id == PERSONS.c.id)
            .where((CASES.c.status != CaseStatus.CLOSED.value) | (CASES.c.closed_at > case_cutoff))
        )
        recent_referral = select(REFERRALS.c.id).where(
            REFERRALS.c.person_id == PERSONS.c.id, REFERRALS.c.received_at > case_cutoff
        )
        rows = await work.session.execute(
            select(PERSONS.c.id, PERSONS.c.client_ref, PERSONS.c.tenant_id).where(
                PERSONS.c.erased_at.is_(None), ~open_or_recent.exists(), ~recent_referral.exists()
            )
        )
        due = rows.all()
        closed_long_ago = select(CASES.c.id).where(
            CASES.c.status == CaseStatus.CLOSED.value, CASES.c.closed_at <= notes_cutoff
        )
        notes = await work.session.scalar(
            select(func.count()).where(
                DOSSIER_ENTRIES.c.layer == "working", DOSSIER_ENTRIES.c.case_id.in_(closed_long_ago)
            )
        )
        if not dry_run:
            for person_id, client_ref, tenant_id in due:
                await _erase(work, intake, person_id, client_ref, tenant_id)
            await work.session.execute(
                delete(DOSSIER_ENTRIES).where(
                    DOSSIER_ENTRIES.c.layer == "working", DOSSIER_ENTRIES.c.case_id.in_(closed_long_ago)
                )
            )
            await forget_old_keys(work.session, IDEMPOTENCY_KEYS, now=moment)
            await work.commit()
    return RetentionReport(persons=[ref for _, ref, _ in due], working_notes=int(notes or 0), dry_run=dry_run)
