"""Persistence of referrals, cases, consents, dossier entries and the access log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.intake.adapters.tables import (
    ACCESS_LOG,
    CASE_TRANSITIONS,
    CASES,
    CONSENTS,
    DOSSIER_ENTRIES,
    REFERRALS,
)
from bmw.intake.domain.cases import Case, CaseStatus, Outcome
from bmw.intake.domain.consent import ConsentItem, ConsentLedger, ConsentRecord, Recipient
from bmw.intake.domain.referrals import Referral, ReferralStatus


class ConcurrentUpdate(RuntimeError):
    """Someone else changed the case between reading and writing it."""


def _case(row: Row[Any]) -> Case:
    return Case(
        id=row.id,
        tenant_id=row.tenant_id,
        referral_id=row.referral_id,
        client_ref=row.client_ref,
        org_unit_id=row.org_unit_id,
        category=Category(row.category),
        urgency=Urgency(row.urgency),
        sla_deadline=row.sla_deadline,
        needed_specialism=row.needed_specialism,
        language=row.language,
        opened_at=row.opened_at,
        status=CaseStatus(row.status),
        worker_id=row.worker_id,
        outcome=Outcome(row.outcome) if row.outcome else None,
        closed_at=row.closed_at,
        escalation=row.escalation,
        reopened_count=row.reopened_count,
    )


class IntakeRepository:
    """All of intake's aggregates in one session (one unit of work)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._versions: dict[uuid.UUID, int] = {}

    # -- referrals ---------------------------------------------------------------------------

    async def add_referral(self, referral: Referral, *, person_id: uuid.UUID | None) -> None:
        """Insert a referral; a historical one has no person (``person_id`` None)."""
        await self.session.execute(
            insert(REFERRALS).values(
                id=referral.id,
                tenant_id=referral.tenant_id,
                person_id=person_id,
                org_unit_id=referral.org_unit_id,
                category=referral.category.value,
                urgency=referral.urgency.value,
                channel=referral.channel.value,
                language=referral.language,
                referred_by=referral.referred_by,
                employee_consented=referral.employee_consented,
                status=referral.status.value,
                received_at=referral.received_at,
            )
        )

    async def save_referral(self, referral: Referral) -> None:
        await self.session.execute(
            update(REFERRALS)
            .where(REFERRALS.c.id == referral.id)
            .values(status=referral.status.value, employee_consented=referral.employee_consented)
        )

    async def referral(
        self, referral_id: uuid.UUID, *, for_update: bool = False
    ) -> tuple[Referral, uuid.UUID | None] | None:
        """The referral and its person id."""
        query = select(REFERRALS).where(REFERRALS.c.id == referral_id)
        row = (await self.session.execute(query.with_for_update() if for_update else query)).first()
        if row is None:
            return None
        referral = self._referral(row)
        case_row = (await self.session.execute(select(CASES).where(CASES.c.referral_id == referral_id))).first()
        if case_row is not None:
            referral.case = _case(case_row)
        return referral, row.person_id

    @staticmethod
    def _referral(row: Row[Any]) -> Referral:
        return Referral(
            id=row.id,
            tenant_id=row.tenant_id,
            org_unit_id=row.org_unit_id,
            category=Category(row.category),
            urgency=Urgency(row.urgency),
            channel=Channel(row.channel),
            language=row.language,
            received_at=row.received_at,
            referred_by=row.referred_by,
            employee_consented=row.employee_consented,
            status=ReferralStatus(row.status),
        )

    async def referrals_page(
        self,
        *,
        tenant_id: uuid.UUID,
        referred_by: str | None = None,
        person_ids: Sequence[uuid.UUID] | None = None,
        after: tuple[datetime, uuid.UUID] | None = None,
        limit: int,
    ) -> list[tuple[Referral, CaseStatus | None]]:
        """Newest first, keyset-paginated; each with the status of its case, if any."""
        query = (
            select(REFERRALS, CASES.c.status.label("case_status"))
            .outerjoin(CASES, CASES.c.referral_id == REFERRALS.c.id)
            .where(REFERRALS.c.tenant_id == tenant_id)
        )
        if referred_by is not None:
            query = query.where(REFERRALS.c.referred_by == referred_by)
        if person_ids is not None:
            query = query.where(REFERRALS.c.person_id.in_(person_ids))
        if after is not None:
            at, last_id = after
            query = query.where(
                or_(REFERRALS.c.received_at < at, and_(REFERRALS.c.received_at == at, REFERRALS.c.id < last_id))
            )
        query = query.order_by(REFERRALS.c.received_at.desc(), REFERRALS.c.id.desc()).limit(limit)
        rows = (await self.session.execute(query)).all()
        return [(self._referral(row), CaseStatus(row.case_status) if row.case_status else None) for row in rows]

    async def awaiting_consent_before(self, moment: datetime) -> list[uuid.UUID]:
        rows = await self.session.execute(
            select(REFERRALS.c.id).where(
                REFERRALS.c.status == ReferralStatus.AWAITING_CONSENT.value, REFERRALS.c.received_at <= moment
            )
        )
        return list(rows.scalars())

    # -- cases -------------------------------------------------------------------------------

    async def add_case(self, case: Case, *, person_id: uuid.UUID, actor: str) -> None:
        await self.session.execute(
            insert(CASES).values(
                id=case.id,
                tenant_id=case.tenant_id,
                referral_id=case.referral_id,
                person_id=person_id,
                client_ref=case.client_ref,
                org_unit_id=case.org_unit_id,
                category=case.category.value,
                urgency=case.urgency.value,
                status=case.status.value,
                sla_deadline=case.sla_deadline,
                needed_specialism=case.needed_specialism,
                language=case.language,
                opened_at=case.opened_at,
            )
        )
        self._versions[case.id] = 1
        await self._transition(case.id, case.status, case.opened_at, actor)

    async def case(self, case_id: uuid.UUID, *, for_update: bool = False) -> tuple[Case, uuid.UUID | None] | None:
        """The case and its person id; ``for_update`` locks it until the transaction ends."""
        query = select(CASES).where(CASES.c.id == case_id)
        row = (await self.session.execute(query.with_for_update() if for_update else query)).first()
        if row is None:
            return None
        self._versions[row.id] = row.version
        return _case(row), row.person_id

    async def save_case(self, case: Case, *, actor: str, moved_at: datetime | None = None) -> None:
        version = self._versions[case.id]
        result = await self.session.execute(
            update(CASES)
            .where(CASES.c.id == case.id, CASES.c.version == version)
            .values(
                status=case.status.value,
                category=case.category.value,
                urgency=case.urgency.value,
                needed_specialism=case.needed_specialism,
                language=case.language,
                worker_id=case.worker_id,
                outcome=case.outcome.value if case.outcome else None,
                closed_at=case.closed_at,
                escalation=case.escalation,
                reopened_count=case.reopened_count,
                version=version + 1,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentUpdate(f"case {case.id} changed meanwhile")
        self._versions[case.id] = version + 1
        if moved_at is not None:
            await self._transition(case.id, case.status, moved_at, actor)

    async def _transition(self, case_id: uuid.UUID, status: CaseStatus, at: datetime, actor: str) -> None:
        await self.session.execute(
            insert(CASE_TRANSITIONS).values(case_id=case_id, status=status.value, at=at, actor=actor)
        )

    async def caseload(
        self, worker_id: uuid.UUID, *, include_closed: bool, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Case]:
        query = select(CASES).where(CASES.c.worker_id == worker_id)
        if not include_closed:
            query = query.where(CASES.c.status != CaseStatus.CLOSED.value)
        if after is not None:
            at, last_id = after
            query = query.where(or_(CASES.c.opened_at < at, and_(CASES.c.opened_at == at, CASES.c.id < last_id)))
        rows = (
            await self.session.execute(query.order_by(CASES.c.opened_at.desc(), CASES.c.id.desc()).limit(limit))
        ).all()
        return [_case(row) for row in rows]

    async def escalated(self, *, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Case]:
        query = select(CASES).where(CASES.c.escalation.is_not(None))
        if after is not None:
            at, last_id = after
            query = query.where(or_(CASES.c.opened_at < at, and_(CASES.c.opened_at == at, CASES.c.id < last_id)))
        rows = (
            await self.session.execute(query.order_by(CASES.c.opened_at.desc(), CASES.c.id.desc()).limit(limit))
        ).all()
        return [_case(row) for row in rows]

    async def cases_of(self, person_id: uuid.UUID) -> list[Case]:
        rows = (await self.session.execute(select(CASES).where(CASES.c.person_id == person_id))).all()
        return [_case(row) for row in rows]

    async def transitions(self, case_id: uuid.UUID) -> list[tuple[str, datetime, str]]:
        rows = await self.session.execute(
            select(CASE_TRANSITIONS.c.status, CASE_TRANSITIONS.c.at, CASE_TRANSITIONS.c.actor)
            .where(CASE_TRANSITIONS.c.case_id == case_id)
            .order_by(CASE_TRANSITIONS.c.id)
        )
        return [(r.status, r.at, r.actor) for r in rows]

    # -- consents ----------------------------------------------------------------------------

    async def add_consent(self, person_id: uuid.UUID, record: ConsentRecord) -> None:
        await self.session.execute(
            insert(CONSENTS).values(
                id=record.id,
                person_id=person_id,
                recipient=record.recipient.value,
                item=record.item.value,
                granted=record.granted,
                recorded_at=record.recorded_at,
                valid_until=record.valid_until,
                recorded_by=record.recorded_by,
                method=record.method,
            )
        )

    async def ledger(self, person_id: uuid.UUID) -> ConsentLedger:
        rows = await self.session.execute(
            select(CONSENTS).where(CONSENTS.c.person_id == person_id).order_by(CONSENTS.c.recorded_at, CONSENTS.c.id)
        )
        return ConsentLedger(
            [
                ConsentRecord(
                    id=r.id,
                    recipient=Recipient(r.recipient),
                    item=ConsentItem(r.item),
                    granted=r.granted,
                    recorded_at=r.recorded_at,
                    valid_until=r.valid_until,
                    recorded_by=r.recorded_by,
                    method=r.method,
                )
                for r in rows
            ]
        )

    # -- dossier -----------------------------------------------------------------------------

    async def add_entry(self, **values: Any) -> None:
        await self.session.execute(insert(DOSSIER_ENTRIES).values(**values))

    async def entries(
        self,
        case_id: uuid.UUID,
        layers: Sequence[str],
        *,
        after: tuple[datetime, uuid.UUID] | None = None,
        limit: int | None = None,
    ) -> list[Row[Any]]:
        """Dossier entries oldest first, optionally one keyset page."""
        query = select(DOSSIER_ENTRIES).where(DOSSIER_ENTRIES.c.case_id == case_id, DOSSIER_ENTRIES.c.layer.in_(layers))
        if after is not None:
            at, last_id = after
            query = query.where(
                or_(
                    DOSSIER_ENTRIES.c.created_at > at,
                    and_(DOSSIER_ENTRIES.c.created_at == at, DOSSIER_ENTRIES.c.id > last_id),
                )
            )
        query = query.order_by(DOSSIER_ENTRIES.c.created_at, DOSSIER_ENTRIES.c.id)
        rows = await self.session.execute(query.limit(limit) if limit else query)
        return list(rows.all())

    # -- access log --------------------------------------------------------------------------

    async def log_access(self, **values: Any) -> None:
        """Append one row to the access log (NEN 7513 spirit); the table refuses updates and deletes."""
        await self.session.execute(insert(ACCESS_LOG).values(**values))

    async def access_log(self, person_ref: str) -> list[Row[Any]]:
        rows = await self.session.execute(
            select(ACCESS_LOG).where(ACCESS_LOG.c.person_ref == person_ref).order_by(ACCESS_LOG.c.id)
        )
        return list(rows.all())
