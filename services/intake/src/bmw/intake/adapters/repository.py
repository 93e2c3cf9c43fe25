"""Persistence of referrals, cases and clients."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.intake.adapters.tables import CASES, CLIENTS, REFERRALS
from bmw.intake.domain.referrals import Case, CaseStatus, Referral, ReferralStatus


class ReferralRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_client(
        self, *, tenant_id: uuid.UUID, client_ref: str, name: str, email: str | None, phone: str | None
    ) -> uuid.UUID:
        client_id = uuid.uuid4()
        await self.session.execute(
            insert(CLIENTS).values(
                id=client_id, tenant_id=tenant_id, client_ref=client_ref, name=name, email=email, phone=phone
            )
        )
        return client_id

    async def add(self, referral: Referral, *, client_id: uuid.UUID) -> None:
        await self.session.execute(
            insert(REFERRALS).values(
                id=referral.id,
                tenant_id=referral.tenant_id,
                client_id=client_id,
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
        if referral.case is not None:
            case = referral.case
            await self.session.execute(
                insert(CASES).values(
                    id=case.id,
                    tenant_id=referral.tenant_id,
                    referral_id=referral.id,
                    client_ref=case.client_ref,
                    status=case.status.value,
                    sla_deadline=case.sla_deadline,
                    needed_specialism=case.needed_specialism,
                    language=case.language,
                    opened_at=case.opened_at,
                )
            )

    async def get(self, referral_id: uuid.UUID) -> Referral | None:
        row = (await self.session.execute(select(REFERRALS).where(REFERRALS.c.id == referral_id))).first()
        if row is None:
            return None
        case_row = (await self.session.execute(select(CASES).where(CASES.c.referral_id == referral_id))).first()
        referral = Referral(
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
        if case_row is not None:
            referral.case = Case(
                id=case_row.id,
                referral_id=case_row.referral_id,
                client_ref=case_row.client_ref,
                status=CaseStatus(case_row.status),
                sla_deadline=case_row.sla_deadline,
                needed_specialism=case_row.needed_specialism,
                language=case_row.language,
                opened_at=case_row.opened_at,
            )
        return referral
