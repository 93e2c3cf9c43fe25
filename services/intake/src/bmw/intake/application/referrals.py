"""Submit a referral: store it, open a case when the employee consented, emit the events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from bmw.contracts.events.intake import CaseOpened, ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Role, Urgency
from bmw.intake.adapters.repository import ReferralRepository
from bmw.intake.domain.referrals import ChannelNotAllowed, Referral, new_client_ref
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.tenants import org_unit_exists
from bmw.servicekit.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class EmployeeContact:
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class SubmitReferral:
    """Command: a referral of one employee of a client organisation."""

    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    channel: Channel
    employee: EmployeeContact
    employee_consented: bool
    language: str


async def submit_referral(command: SubmitReferral, *, principal: Principal, uow: UnitOfWorkFactory) -> Referral:
    """Store the referral (and its case) and write the events in the same transaction."""
    principal.require_tenant(command.tenant_id)
    async with uow(tenant_id=command.tenant_id) as work:
        if not await org_unit_exists(work.session, command.tenant_id, command.org_unit_id):
            raise InvalidInput(
                "unknown org unit for this client organisation",
                fields=[FieldError(path="body.org_unit_id", message="no such org unit in this client organisation")],
            )
        try:
            referral = Referral.receive(
                tenant_id=command.tenant_id,
                org_unit_id=command.org_unit_id,
                category=command.category,
                urgency=command.urgency,
                channel=command.channel,
                language=command.language,
                referred_by=principal.subject,
                referrer_roles=principal.roles,
                employee_consented=command.employee_consented,
                received_at=datetime.now(UTC),
            )
        except ChannelNotAllowed as error:
            raise Forbidden(str(error)) from error
        client_ref = new_client_ref()
        repository = ReferralRepository(work.session)
        client_id = await repository.add_client(
            tenant_id=command.tenant_id,
            client_ref=client_ref,
            name=command.employee.name,
            email=command.employee.email,
            phone=command.employee.phone,
        )
        case = referral.open_case(client_ref) if referral.may_open_case else None
        await repository.add(referral, client_id=client_id)
        await work.emit(
            ReferralReceived(
                referral_id=referral.id,
                channel=referral.channel,
                org_unit_id=referral.org_unit_id,
                category=referral.category,
                urgency=referral.urgency,
                received_at=referral.received_at,
            ),
            tenant_id=referral.tenant_id,
            subject=str(referral.id),
        )
        if case is not None:
            await work.emit(
                CaseOpened(
                    case_id=case.id,
                    referral_id=referral.id,
                    client_ref=case.client_ref,
                    org_unit_id=referral.org_unit_id,
                    category=referral.category,
                    urgency=referral.urgency,
                    sla_deadline=case.sla_deadline,
                    needed_specialism=case.needed_specialism,
                    language=case.language,
                ),
                tenant_id=referral.tenant_id,
                subject=str(case.id),
            )
        await work.commit()
    return referral


async def get_referral(referral_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory) -> Referral:
    """A referral's status; callers outside its client organisation get the same 404 as for none."""
    async with uow() as work:
        referral = await ReferralRepository(work.session).get(referral_id)
    if referral is None or not principal.may_act_for(referral.tenant_id):
        raise NotFound("referral not found")
    staff = principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)
    if not staff and referral.referred_by != principal.subject:
        # Referrers are not readers of others' referrals: same answer as for a missing one.
        raise NotFound("referral not found")
    return referral
