"""Referrals: submit (idempotently), consent, expiry, and what referrers and employees may see."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from bmw.contracts.events.intake import CaseOpened, ConsentChanged, ReferralExpired, ReferralReceived
from bmw.contracts.pseudonyms import login_digest
from bmw.contracts.taxonomy import Category, Channel, Role, Urgency
from bmw.intake.adapters.repository import IntakeRepository
from bmw.intake.adapters.tables import DOSSIER_ENTRIES, IDEMPOTENCY_KEYS, PERSONS
from bmw.intake.application.common import Intake, audit, audit_case
from bmw.intake.domain.cases import Case, CaseStatus
from bmw.intake.domain.consent import (
    ConsentItem,
    ConsentNotApplicable,
    ConsentRecord,
    Recipient,
    check_applicable,
)
from bmw.intake.domain.referrals import (
    CONSENT_WINDOW,
    ChannelNotAllowed,
    OriginalDateNotAllowed,
    Referral,
    ReferralClosed,
)
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.idempotency import Idempotency, claim, remember
from bmw.servicekit.tenants import org_unit_exists
from bmw.servicekit.uow import UnitOfWork

#: The recipient whose consent decides what a referrer may learn, by referral channel.
RECIPIENT_OF_CHANNEL: dict[Channel, Recipient] = {
    Channel.MANAGER: Recipient.MANAGER,
    Channel.HR: Recipient.HR,
    Channel.COMPANY_DOCTOR: Recipient.COMPANY_DOCTOR,
    Channel.INTEGRATION: Recipient.HR,
}

#: Case states in which the employee has attended the intake.
ATTENDED = frozenset({CaseStatus.IN_PROGRESS})


@dataclass(frozen=True)
class EmployeeContact:
    name: str
    email: str | None
    phone: str | None
    date_of_birth: date | None = None

    def fields(self) -> dict[str, Any]:
        values = asdict(self)
        values["date_of_birth"] = self.date_of_birth.isoformat() if self.date_of_birth else None
        return values


@dataclass(frozen=True)
class SubmitReferral:
    """Command: a referral of one employee of a client organisation.

    With ``original_received_at`` it is history an integration brings from before the move to this product:
    no employee is needed, and one given is not kept (data minimisation).
    """

    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    channel: Channel
    employee: EmployeeContact | None
    employee_consented: bool
    language: str
    original_received_at: datetime | None = None


async def _open_case(
    work: UnitOfWork,
    repository: IntakeRepository,
    referral: Referral,
    client_ref: str,
    person_id: uuid.UUID,
    actor: str,
    at: datetime,
    employee_subject: str | None,
) -> Case:
    case = referral.open_case(client_ref, at)
    await repository.add_case(case, person_id=person_id, actor=actor)
    await work.emit(
        CaseOpened(
            case_id=case.id,
            referral_id=referral.id,
            client_ref=case.client_ref,
            org_unit_id=case.org_unit_id,
            category=case.category,
            urgency=case.urgency,
            sla_deadline=case.sla_deadline,
            needed_specialism=case.needed_specialism,
            language=case.language,
            employee_login=login_digest(employee_subject) if employee_subject else None,
        ),
        tenant_id=referral.tenant_id,
        subject=str(case.id),
    )
    return case


async def submit_referral(
    command: SubmitReferral,
    *,
    principal: Principal,
    intake: Intake,
    idempotency: Idempotency | None,
    render: Callable[[Referral], dict[str, Any]],
) -> dict[str, Any]:
    """Store the referral (and its case) and write the events in one transaction; replay a repeat."""
    principal.require_tenant(command.tenant_id)
    if principal.has_role(Role.INTEGRATION) and "referrals:write" not in principal.scopes:
        raise Forbidden("this integration lacks the scope referrals:write")
    async with intake.uow(tenant_id=command.tenant_id) as work:
        if idempotency is not None:
            stored = await claim(work.session, IDEMPOTENCY_KEYS, idempotency)
            if stored is not None:
                return stored
        if not await org_unit_exists(work.session, command.tenant_id, command.org_unit_id):
            raise InvalidInput(
                "unknown org unit for this client organisation",
                fields=[FieldError(path="body.org_unit_id", message="no such org unit in this client organisation")],
            )
        now = intake.clock()
        if command.original_received_at is not None:
            referral = _historical_referral(command, command.original_received_at, principal=principal, now=now)
            await IntakeRepository(work.session).add_referral(referral, person_id=None)
            await work.emit(_received(referral), tenant_id=referral.tenant_id, subject=str(referral.id))
        elif command.employee is not None:
            referral = await _receive(command, command.employee, principal=principal, intake=intake, work=work, now=now)
        else:
            raise InvalidInput(
                "a referral needs the employee's contact details",
                fields=[FieldError(path="body.employee", message="required, except for history")],
            )
        response = render(referral)
        if idempotency is not None:
            await remember(work.session, IDEMPOTENCY_KEYS, idempotency, 201, response)
        await work.commit()
    return response


def _received(referral: Referral) -> ReferralReceived:
    """intake.referral.received.v1 of a referral; a historical one carries its original date."""
    return ReferralReceived(
        referral_id=referral.id,
        channel=referral.channel,
        org_unit_id=referral.org_unit_id,
        category=referral.category,
        urgency=referral.urgency,
        received_at=referral.received_at,
        historical=referral.historical,
    )


async def _receive(
    command: SubmitReferral,
    employee: EmployeeContact,
    *,
    principal: Principal,
    intake: Intake,
    work: UnitOfWork,
    now: datetime,
) -> Referral:
    """A referral for help now: the employee's details sealed in a new person, and a case when it may open."""
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
            received_at=now,
        )
    except ChannelNotAllowed as error:
        raise Forbidden(str(error)) from error
    repository = IntakeRepository(work.session)
    vault = intake.vault(work)
    own = referral.channel is Channel.SELF and principal.has_role(Role.EMPLOYEE)
    person_id, client_ref = await vault.create(
        tenant_id=command.tenant_id,
        fields=employee.fields(),
        subject=principal.subject if own else None,
    )
    await repository.add_referral(referral, person_id=person_id)
    await audit(
        repository,
        principal,
        action="create",
        resource="referral",
        tenant_id=referral.tenant_id,
        person_ref=client_ref,
    )
    await work.emit(_received(referral), tenant_id=referral.tenant_id, subject=str(referral.id))
    if referral.may_open_case:
        await _record_consent(
            work,
            repository,
            person_id,
            client_ref,
            referral.tenant_id,
            Recipient.PROVIDER,
            ConsentItem.REFERRAL,
            True,
            None,
            principal.subject,
            "portal" if own else "attested_by_referrer",
            now,
        )
        await _open_case(
            work,
            repository,
            referral,
            client_ref,
            person_id,
            principal.subject,
            now,
            principal.subject if own else None,
        )
        await repository.save_referral(referral)  # after opening: the status is case_opened now
    return referral


def _historical_referral(
    command: SubmitReferral, original_received_at: datetime, *, principal: Principal, now: datetime
) -> Referral:
    """A referral from the client organisation's history, at its original date.

    No person is created and the employee's details, if sent, are dropped here: history serves statistics
    only, and what is not kept cannot leak or need erasing. Nothing personal is touched, so nothing is audited.
    """
    try:
        return Referral.receive_historical(
            tenant_id=command.tenant_id,
            org_unit_id=command.org_unit_id,
            category=command.category,
            urgency=command.urgency,
            channel=command.channel,
            language=command.language,
            referred_by=principal.subject,
            referrer_roles=principal.roles,
            original_received_at=original_received_at,
            now=now,
        )
    except OriginalDateNotAllowed as error:
        raise InvalidInput(
            str(error), fields=[FieldError(path="body.original_received_at", message=str(error))]
        ) from error
    except ChannelNotAllowed as error:
        raise Forbidden(str(error)) from error


async def _record_consent(
    work: UnitOfWork,
    repository: IntakeRepository,
    person_id: uuid.UUID,
    client_ref: str,
    tenant_id: uuid.UUID,
    recipient: Recipient,
    item: ConsentItem,
    granted: bool,
    valid_until: datetime | None,
    recorded_by: str,
    method: str,
    at: datetime,
) -> ConsentRecord:
    record = ConsentRecord(
        id=uuid.uuid4(),
        recipient=recipient,
        item=item,
        granted=granted,
        recorded_at=at,
        valid_until=valid_until,
        recorded_by=recorded_by,
        method=method,
    )
    await repository.add_consent(person_id, record)
    await work.emit(
        ConsentChanged(client_ref=client_ref, purpose=f"{recipient.value}:{item.value}", granted=granted),
        tenant_id=tenant_id,
        subject=client_ref,
    )
    return record


@dataclass(frozen=True)
class RecordConsent:
    referral_id: uuid.UUID
    recipient: Recipient
    item: ConsentItem
    granted: bool
    valid_until: datetime | None
    method: str


async def record_consent(command: RecordConsent, *, principal: Principal, intake: Intake) -> ConsentRecord:
    """Give or withdraw a consent of the employee behind a referral.

    The employee records their own (when the referral is linked to their login); a social worker records
    one given verbally or in writing. Consent to the referral itself opens the case.
    """
    try:
        check_applicable(command.recipient, command.item)
    except ConsentNotApplicable as error:
        raise InvalidInput(str(error), fields=[FieldError(path="body.item", message=str(error))]) from error
    now = intake.clock()
    if command.valid_until is not None and command.valid_until <= now:
        raise InvalidInput(
            "a consent cannot expire in the past",
            fields=[FieldError(path="body.valid_until", message="must lie in the future")],
        )
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.referral(command.referral_id, for_update=True)
        if found is None or found[1] is None:
            raise NotFound("referral not found")
        referral, person_id = found[0], found[1]
        vault = intake.vault(work)
        if not await _may_record_consent(principal, vault, referral, person_id):
            raise NotFound("referral not found")
        client_ref = await work.session.scalar(select(PERSONS.c.client_ref).where(PERSONS.c.id == person_id))
        if client_ref is None:
            raise NotFound("referral not found")
        if command.item is ConsentItem.REFERRAL and command.granted:
            try:
                referral.consent(now)
            except ReferralClosed as error:
                raise Conflict(str(error), current_state=referral.status.value) from error
        record = await _record_consent(
            work,
            repository,
            person_id,
            client_ref,
            referral.tenant_id,
            command.recipient,
            command.item,
            command.granted,
            command.valid_until,
            principal.subject,
            command.method,
            now,
        )
        if command.item is ConsentItem.REFERRAL and command.granted:
            # _may_record_consent let an employee through only for their own person: their login is the client's.
            employee = principal.subject if principal.has_role(Role.EMPLOYEE) else None
            await _open_case(work, repository, referral, client_ref, person_id, principal.subject, now, employee)
            await repository.save_referral(referral)  # after opening: the status is case_opened now
        await audit(
            repository,
            principal,
            action="update",
            resource="consent",
            tenant_id=referral.tenant_id,
            person_ref=client_ref,
        )
        await work.commit()
    return record


async def _may_record_consent(principal: Principal, vault: Any, referral: Referral, person_id: uuid.UUID) -> bool:
    if principal.has_role(Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN) and principal.may_act_for(referral.tenant_id):
        return True
    if principal.has_role(Role.EMPLOYEE) and principal.tenant_id == referral.tenant_id:
        return person_id in await vault.find_by_subject(referral.tenant_id, principal.subject)
    return False


async def consents_of_referral(referral_id: uuid.UUID, *, principal: Principal, intake: Intake) -> list[ConsentRecord]:
    """The whole consent history of the employee behind a referral (employee or staff)."""
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.referral(referral_id)
        if found is None or found[1] is None:
            raise NotFound("referral not found")
        referral, person_id = found[0], found[1]
        if not await _may_record_consent(principal, intake.vault(work), referral, person_id):
            raise NotFound("referral not found")
        ledger = await repository.ledger(person_id)
        client_ref = await work.session.scalar(select(PERSONS.c.client_ref).where(PERSONS.c.id == person_id))
        await audit(
            repository,
            principal,
            action="read",
            resource="consents",
            tenant_id=referral.tenant_id,
            person_ref=client_ref,
        )
        await work.commit()
    return ledger.records


@dataclass(frozen=True)
class ReferralView:
    """What one caller may see of a referral: referrers get the status, and attendance only with consent."""

    referral: Referral
    attended: bool | None
    show_details: bool


async def view_referral(referral_id: uuid.UUID, *, principal: Principal, intake: Intake) -> ReferralView:
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.referral(referral_id)
        if found is None or not principal.may_act_for(found[0].tenant_id):
            raise NotFound("referral not found")
        referral, person_id = found
        staff = principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)
        own = (
            person_id is not None
            and principal.has_role(Role.EMPLOYEE)
            and person_id in await intake.vault(work).find_by_subject(referral.tenant_id, principal.subject)
        )
        if not (staff or own or referral.referred_by == principal.subject):
            # Referrers are not readers of others' referrals: the same answer as for a missing one.
            raise NotFound("referral not found")
        attended: bool | None = None
        if not staff and not own and person_id is not None and referral.case is not None:
            recipient = RECIPIENT_OF_CHANNEL.get(referral.channel)
            ledger = await repository.ledger(person_id)
            if recipient is not None and ledger.allows(recipient, ConsentItem.ATTENDANCE, intake.clock()):
                attended = referral.case.status in ATTENDED or (
                    referral.case.status is CaseStatus.CLOSED
                    and referral.case.outcome is not None
                    and referral.case.outcome.value in ("resolved", "referred_elsewhere")
                )
    return ReferralView(referral=referral, attended=attended, show_details=staff or own)


@dataclass(frozen=True)
class ReferralListing:
    """A page of referrals, and whether it is the caller's own (an employee's): only then with their details."""

    rows: list[tuple[Referral, CaseStatus | None]]
    own: bool


async def list_referrals(
    *, tenant_id: uuid.UUID, principal: Principal, intake: Intake, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> ReferralListing:
    """A client organisation's referrals (status only for client contacts), or an employee's own.

    A token that holds an organisation-wide role *and* the employee role gets the organisation's list, status only:
    the employee's details never ride along with a list of other people's referrals.
    """
    principal.require_tenant(tenant_id)
    if principal.has_role(Role.INTEGRATION) and "referrals:read" not in principal.scopes:
        raise Forbidden("this integration lacks the scope referrals:read")
    async with intake.uow(tenant_id=tenant_id) as work:
        repository = IntakeRepository(work.session)
        if principal.has_role(Role.PROVIDER_ADMIN, Role.CLIENT_CONTACT, Role.INTEGRATION):
            rows = await repository.referrals_page(tenant_id=tenant_id, after=after, limit=limit)
            return ReferralListing(rows=rows, own=False)
        if principal.has_role(Role.EMPLOYEE):
            people = await intake.vault(work).find_by_subject(tenant_id, principal.subject)
            rows = await repository.referrals_page(tenant_id=tenant_id, person_ids=people, after=after, limit=limit)
            return ReferralListing(rows=rows, own=True)
    raise Forbidden("this list is for client contacts, integrations, provider admins and employees")


async def expire_referrals(*, intake: Intake, now: datetime | None = None) -> int:
    """Expire referrals that waited 14 days for consent; each publishes intake.referral.expired.v1."""
    moment = now or intake.clock()
    async with intake.uow() as work:
        candidates = await IntakeRepository(work.session).awaiting_consent_before(moment - CONSENT_WINDOW)
    expired = 0
    for referral_id in candidates:
        async with intake.uow() as work:
            repository = IntakeRepository(work.session)
            found = await repository.referral(referral_id, for_update=True)
            if found is None or not found[0].expire(moment):
                continue
            referral = found[0]
            await repository.save_referral(referral)
            await work.emit(
                ReferralExpired(referral_id=referral.id, org_unit_id=referral.org_unit_id),
                tenant_id=referral.tenant_id,
                subject=str(referral.id),
            )
            await work.commit()
            expired += 1
    return expired


async def disclose_closing_report(referral_id: uuid.UUID, *, principal: Principal, intake: Intake) -> list[str]:
    """The closing report for the referrer (e.g. the company doctor), only while the employee's consent
    for exactly that recipient and item is in force; the disclosure is logged."""
    async with intake.uow() as work:
        repository = IntakeRepository(work.session)
        found = await repository.referral(referral_id)
        if found is None or found[0].referred_by != principal.subject or not principal.may_act_for(found[0].tenant_id):
            raise NotFound("referral not found")
        referral, person_id = found
        recipient = RECIPIENT_OF_CHANNEL.get(referral.channel)
        allowed = (
            recipient is not None
            and person_id is not None
            and referral.case is not None
            and (await repository.ledger(person_id)).allows(recipient, ConsentItem.CLOSING_REPORT, intake.clock())
        )
        if not allowed or referral.case is None or person_id is None:
            raise Forbidden("the employee has not consented to share the closing report with you")
        rows = await work.session.execute(
            select(DOSSIER_ENTRIES.c.person_id, DOSSIER_ENTRIES.c.sealed)
            .where(DOSSIER_ENTRIES.c.case_id == referral.case.id, DOSSIER_ENTRIES.c.kind == "closing_report")
            .order_by(DOSSIER_ENTRIES.c.created_at)
        )
        vault = intake.vault(work)
        texts = []
        for row in rows:
            opened = await vault.open(row.person_id, row.sealed)
            if opened is not None:
                texts.append(str(opened["text"]))
        if not texts:
            raise NotFound("there is no closing report yet")
        await audit_case(repository, principal, referral.case, action="disclose", resource="closing_report")
        await work.commit()
    return texts
