"""Intake's HTTP API: referrals and consent, cases and the dossier, the rights of the person."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from bmw.contracts.pseudonyms import ClientRef
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.intake.application import cases as case_use
from bmw.intake.application import dossier as dossier_use
from bmw.intake.application import persons as person_use
from bmw.intake.application import referrals as referral_use
from bmw.intake.application.common import decode_cursor, encode_cursor
from bmw.intake.domain.cases import Case, CaseStatus, Outcome
from bmw.intake.domain.consent import ConsentItem, ConsentRecord, Recipient
from bmw.intake.domain.referrals import Referral, ReferralStatus
from bmw.intake.entrypoints.deps import IntakeDep
from bmw.servicekit.deps import CurrentPrincipal
from bmw.servicekit.errors import FieldError, InvalidInput, error_responses
from bmw.servicekit.idempotency import Idempotency, IdempotencyKeyHeader

referrals = APIRouter(tags=["referrals"])
cases = APIRouter(tags=["cases"])
persons = APIRouter(tags=["rights of the person"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{6,20}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
#: The longest stated reason of a break-glass read, in characters once decoded.
MAX_REASON = 500
BreakGlassReason = Annotated[
    str | None,
    Header(
        alias="X-Break-Glass-Reason",
        max_length=12 * MAX_REASON,  # a 4-byte UTF-8 character percent-encodes to 12 ASCII ones
        description="Why a social worker who is not assigned must read this case (logged as break-glass): "
        f"10 to {MAX_REASON} characters of UTF-8, percent-encoded (RFC 3986) where not plain ASCII, since an "
        "HTTP header carries ASCII only.",
    ),
]


def stated_reason(header: str | None) -> str | None:
    """The break-glass reason as the colleague wrote it: the header percent-decoded (plain ASCII passes as is)."""
    if header is None:
        return None
    try:
        reason = unquote(header, errors="strict")
    except UnicodeDecodeError:
        problem = "percent-encoded bytes that are not UTF-8"
    else:
        if len(reason) <= MAX_REASON:
            return reason
        problem = f"at most {MAX_REASON} characters"
    raise InvalidInput(
        f"invalid break-glass reason: {problem}",
        fields=[FieldError(path="header.X-Break-Glass-Reason", message=problem)],
    )


Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
Cursor = Annotated[str | None, Query(description="The next_cursor of the previous page.")]


# -- referrals -----------------------------------------------------------------------------------


class EmployeeContactCreate(BaseModel):
    """How the social worker can reach the employee. Stays in intake, sealed; never in an event or log."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="The employee's name as they want to be addressed.")
    email: EmailStr | None = Field(default=None, description="E-mail address for appointment messages.")
    phone: Phone | None = Field(default=None, description="Phone number, digits with optional +, spaces, dashes.")
    date_of_birth: date | None = Field(default=None, description="Date of birth, if the employee gives it.")

    @model_validator(mode="after")
    def _reachable(self) -> EmployeeContactCreate:
        if self.email is None and self.phone is None:
            raise ValueError("give an email or a phone number so the social worker can make contact")
        return self


class ReferralCreate(BaseModel):
    """A referral (aanmelding) of one employee; or, from an integration with an original date, a referral from
    before the client organisation moved to this product (history for statistics, no person kept)."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID | None = Field(
        default=None, description="Client organisation; defaults to the caller's own for tenant-bound roles."
    )
    org_unit_id: uuid.UUID = Field(description="The employee's org unit (department or location).")
    category: Category = Field(description="What the help request is about (taxonomy in bmw.contracts).")
    urgency: Urgency = Field(description="crisis: contact within 24 h; urgent: 3 working days; normal: 5.")
    channel: Channel = Field(description="Who refers: self, manager, hr, company_doctor or integration.")
    employee: EmployeeContactCreate | None = Field(
        default=None,
        description="The employee's contact details; required, except for history (original_received_at), "
        "where they are not needed and, if sent, not stored (data minimisation).",
    )
    employee_consented: bool = Field(
        default=False,
        description="The referrer attests that the employee agreed to this referral. Without it (and unless it "
        "is a self-referral) the referral waits up to 14 days for the employee's consent before a case opens.",
    )
    language: Language = Field(default="nl", description="Language for the conversations (ISO 639-1).")
    original_received_at: AwareDatetime | None = Field(
        default=None,
        description="Integrations only: the date the referral was originally received, at most 3 years back and "
        "not in the future, for history from before the client organisation moved to this product. Such a "
        "referral is stored as `historical` and counted in the week it happened; it opens no case, asks no "
        "consent, books nothing, and keeps no personal data: employee details are not needed and, if sent, "
        "not stored.",
    )


class ReferralRead(BaseModel):
    """A referral as submitted (the answer to the submission itself)."""

    id: uuid.UUID = Field(description="Referral id.")
    tenant_id: uuid.UUID = Field(description="Client organisation.")
    org_unit_id: uuid.UUID = Field(description="Org unit of the employee.")
    category: Category = Field(description="Help request category.")
    urgency: Urgency = Field(description="Urgency as submitted.")
    channel: Channel = Field(description="Referral channel.")
    status: ReferralStatus = Field(
        description="awaiting_consent, case_opened, expired, or historical (history from an integration)."
    )
    case_id: uuid.UUID | None = Field(description="The case opened from it, once consented.")
    received_at: datetime = Field(description="When it was received (UTC); for history, the original date.")
    consent_deadline: datetime | None = Field(
        default=None,
        description="While it awaits the employee's consent: when it expires without consent (UTC); null otherwise.",
    )

    @classmethod
    def of(cls, referral: Referral) -> ReferralRead:
        return cls(
            id=referral.id,
            tenant_id=referral.tenant_id,
            org_unit_id=referral.org_unit_id,
            category=referral.category,
            urgency=referral.urgency,
            channel=referral.channel,
            status=referral.status,
            case_id=referral.case.id if referral.case else None,
            received_at=referral.received_at,
            consent_deadline=referral.consent_deadline if referral.status is ReferralStatus.AWAITING_CONSENT else None,
        )


class ReferralDetails(BaseModel):
    """What only the employee and provider staff see."""

    org_unit_id: uuid.UUID = Field(description="Org unit of the employee.")
    category: Category = Field(description="Help request category.")
    urgency: Urgency = Field(description="Urgency as submitted.")
    channel: Channel = Field(description="Referral channel.")
    case_id: uuid.UUID | None = Field(description="The case opened from it.")
    consent_deadline: datetime = Field(description="When an unconsented referral expires.")


class ReferralStatusRead(BaseModel):
    """A referral as its reader may see it: referrers learn that it was received, and whether the
    employee attended only when the employee consented to tell them; never the category or the case."""

    id: uuid.UUID = Field(description="Referral id.")
    tenant_id: uuid.UUID = Field(description="Client organisation.")
    status: ReferralStatus = Field(
        description="awaiting_consent, case_opened, expired, or historical (history from an integration)."
    )
    received_at: datetime = Field(description="When it was received (UTC); for history, the original date.")
    attended: bool | None = Field(
        description="Whether the employee attended; null unless the employee consented to tell this referrer."
    )
    details: ReferralDetails | None = Field(description="Only for the employee and provider staff.")

    @classmethod
    def of(cls, referral: Referral, *, attended: bool | None, details: bool) -> ReferralStatusRead:
        return cls(
            id=referral.id,
            tenant_id=referral.tenant_id,
            status=referral.status,
            received_at=referral.received_at,
            attended=attended,
            details=ReferralDetails(
                org_unit_id=referral.org_unit_id,
                category=referral.category,
                urgency=referral.urgency,
                channel=referral.channel,
                case_id=referral.case.id if referral.case else None,
                consent_deadline=referral.consent_deadline,
            )
            if details
            else None,
        )


class ReferralPage(BaseModel):
    """One page of referrals, newest first."""

    items: list[ReferralStatusRead] = Field(description="The referrals on this page.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


@referrals.post(
    "/referrals",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralRead,
    responses=error_responses(401, 403, 422, 503),
)
async def create_referral(
    body: ReferralCreate, principal: CurrentPrincipal, intake: IntakeDep, idempotency_key: IdempotencyKeyHeader = None
) -> dict[str, Any]:
    """Submit a referral; a case opens at once for a self-referral or a consented one. An integration may
    send history with its original date: stored without personal data, it only counts in statistics."""
    tenant_id = body.tenant_id or principal.tenant_id
    if tenant_id is None:
        raise InvalidInput(
            "tenant_id is required for provider staff",
            fields=[FieldError(path="body.tenant_id", message="required for callers without a tenant")],
        )
    command = referral_use.SubmitReferral(
        tenant_id=tenant_id,
        org_unit_id=body.org_unit_id,
        category=body.category,
        urgency=body.urgency,
        channel=body.channel,
        # History keeps no person: its employee details, if any, go no further than this request.
        employee=referral_use.EmployeeContact(
            name=body.employee.name,
            email=body.employee.email,
            phone=body.employee.phone,
            date_of_birth=body.employee.date_of_birth,
        )
        if body.employee is not None and body.original_received_at is None
        else None,
        employee_consented=body.employee_consented,
        language=body.language,
        original_received_at=body.original_received_at,
    )
    idempotency = (
        Idempotency.of(principal.subject, idempotency_key, body.model_dump(mode="json")) if idempotency_key else None
    )
    return await referral_use.submit_referral(
        command,
        principal=principal,
        intake=intake,
        idempotency=idempotency,
        render=lambda referral: ReferralRead.of(referral).model_dump(mode="json"),
    )


@referrals.get("/referrals", response_model=ReferralPage, responses=error_responses(401, 403, 422))
async def list_referrals(
    principal: CurrentPrincipal,
    intake: IntakeDep,
    tenant_id: Annotated[uuid.UUID | None, Query(description="Client organisation; defaults to the caller's.")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ReferralPage:
    """Referrals of a client organisation (status only), or an employee's own."""
    tenant = tenant_id or principal.tenant_id
    if tenant is None:
        raise InvalidInput("tenant_id is required", fields=[FieldError(path="query.tenant_id", message="required")])
    listing = await referral_use.list_referrals(
        tenant_id=tenant, principal=principal, intake=intake, after=decode_cursor(cursor), limit=limit
    )
    rows = listing.rows
    items = [ReferralStatusRead.of(referral, attended=None, details=listing.own) for referral, _ in rows]
    last = rows[-1][0] if len(rows) == limit else None
    return ReferralPage(items=items, next_cursor=encode_cursor(last.received_at, last.id) if last else None)


@referrals.get("/referrals/{referral_id}", response_model=ReferralStatusRead, responses=error_responses(401, 404))
async def read_referral(referral_id: uuid.UUID, principal: CurrentPrincipal, intake: IntakeDep) -> ReferralStatusRead:
    """A referral's status, for its referrer, the employee, and provider staff."""
    view = await referral_use.view_referral(referral_id, principal=principal, intake=intake)
    return ReferralStatusRead.of(view.referral, attended=view.attended, details=view.show_details)


class ConsentCreate(BaseModel):
    """Give or withdraw one consent: to one recipient, for one item."""

    model_config = ConfigDict(extra="forbid")

    recipient: Recipient = Field(description="Who may receive it: manager, hr, company_doctor, or provider.")
    item: ConsentItem = Field(
        description="What: referral (a case may open; provider), attendance, closing_report, "
        "or anonymised_statistics (provider)."
    )
    granted: bool = Field(description="true to give, false to withdraw.")
    valid_until: AwareDatetime | None = Field(default=None, description="When the consent lapses by itself.")
    method: Annotated[str, StringConstraints(pattern=r"^(portal|verbal|written)$")] = Field(
        default="portal", description="How it was given: portal (by the employee), verbal or written."
    )


class ConsentRead(BaseModel):
    """One entry of the consent history."""

    id: uuid.UUID = Field(description="Consent record id.")
    recipient: Recipient = Field(description="Who may receive it.")
    item: ConsentItem = Field(description="What may be shared or done.")
    granted: bool = Field(description="Given (true) or withdrawn (false).")
    recorded_at: datetime = Field(description="When it was recorded.")
    valid_until: datetime | None = Field(description="When it lapses by itself, if ever.")
    recorded_by: str = Field(description="Subject id of who recorded it.")
    method: str = Field(description="portal, verbal, written, or attested_by_referrer.")

    @classmethod
    def of(cls, record: ConsentRecord) -> ConsentRead:
        return cls(
            id=record.id,
            recipient=record.recipient,
            item=record.item,
            granted=record.granted,
            recorded_at=record.recorded_at,
            valid_until=record.valid_until,
            recorded_by=record.recorded_by,
            method=record.method,
        )


@referrals.post(
    "/referrals/{referral_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentRead,
    responses=error_responses(401, 404, 409, 422),
)
async def give_consent(
    referral_id: uuid.UUID, body: ConsentCreate, principal: CurrentPrincipal, intake: IntakeDep
) -> ConsentRead:
    """Record a consent of the employee behind the referral (the employee, or a social worker for them)."""
    record = await referral_use.record_consent(
        referral_use.RecordConsent(
            referral_id=referral_id,
            recipient=body.recipient,
            item=body.item,
            granted=body.granted,
            valid_until=body.valid_until,
            method=body.method,
        ),
        principal=principal,
        intake=intake,
    )
    return ConsentRead.of(record)


class ConsentPage(BaseModel):
    items: list[ConsentRead] = Field(description="Consent records on this page, oldest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


@referrals.get(
    "/referrals/{referral_id}/consents", response_model=ConsentPage, responses=error_responses(401, 404, 422)
)
async def consent_history(
    referral_id: uuid.UUID, principal: CurrentPrincipal, intake: IntakeDep, cursor: Cursor = None, limit: Limit = 50
) -> ConsentPage:
    """The consent history of the employee behind the referral, oldest first."""
    records = await referral_use.consents_of_referral(referral_id, principal=principal, intake=intake)
    after = decode_cursor(cursor)
    if after is not None:
        records = [r for r in records if (r.recorded_at, r.id) > after]
    page = records[:limit]
    last = page[-1] if len(records) > limit else None
    return ConsentPage(
        items=[ConsentRead.of(r) for r in page], next_cursor=encode_cursor(last.recorded_at, last.id) if last else None
    )


class ClosingReportRead(BaseModel):
    """The closing report(s) of the case, as disclosed to the referrer with the employee's consent."""

    referral_id: uuid.UUID = Field(description="The referral.")
    reports: list[str] = Field(description="The closing report text(s), oldest first.")


@referrals.get(
    "/referrals/{referral_id}/closing-report",
    response_model=ClosingReportRead,
    responses=error_responses(401, 403, 404),
)
async def closing_report(referral_id: uuid.UUID, principal: CurrentPrincipal, intake: IntakeDep) -> ClosingReportRead:
    """The closing report for the referrer (e.g. the company doctor), only with the employee's consent in force."""
    reports = await referral_use.disclose_closing_report(referral_id, principal=principal, intake=intake)
    return ClosingReportRead(referral_id=referral_id, reports=reports)


# -- cases ---------------------------------------------------------------------------------------


class Transition(BaseModel):
    status: CaseStatus = Field(description="The state entered.")
    at: datetime = Field(description="When.")
    actor: str = Field(description="Who (a subject id, or the service that caused it).")


class CaseRead(BaseModel):
    """A case, for its social worker."""

    id: uuid.UUID = Field(description="Case id.")
    tenant_id: uuid.UUID = Field(description="Client organisation.")
    client_ref: str = Field(description="Pseudonym of the employee.")
    org_unit_id: uuid.UUID = Field(description="Org unit of the employee.")
    category: Category = Field(description="Help request category (after triage).")
    urgency: Urgency = Field(description="Urgency (after triage).")
    status: CaseStatus = Field(description="registered, triaged, intake_scheduled, in_progress or closed.")
    sla_deadline: datetime = Field(description="Latest first contact under the SLA.")
    needed_specialism: str | None = Field(description="Specialism the worker needs.")
    language: str = Field(description="Conversation language.")
    worker_id: uuid.UUID | None = Field(description="The assigned social worker.")
    outcome: Outcome | None = Field(description="How it ended, when closed.")
    escalation: str | None = Field(description="Why the case needs someone to act (e.g. no capacity).")
    opened_at: datetime = Field(description="When the case opened.")
    closed_at: datetime | None = Field(description="When it closed.")
    reopened_count: int = Field(description="How often it was reopened.")
    history: list[Transition] = Field(default_factory=list, description="Every state it went through.")

    @classmethod
    def of(cls, case: Case, history: list[tuple[str, datetime, str]] | None = None) -> CaseRead:
        return cls(
            id=case.id,
            tenant_id=case.tenant_id,
            client_ref=case.client_ref,
            org_unit_id=case.org_unit_id,
            category=case.category,
            urgency=case.urgency,
            status=case.status,
            sla_deadline=case.sla_deadline,
            needed_specialism=case.needed_specialism,
            language=case.language,
            worker_id=case.worker_id,
            outcome=case.outcome,
            escalation=case.escalation,
            opened_at=case.opened_at,
            closed_at=case.closed_at,
            reopened_count=case.reopened_count,
            history=[Transition(status=CaseStatus(s), at=at, actor=actor) for s, at, actor in history or []],
        )


class CasePage(BaseModel):
    items: list[CaseRead] = Field(description="Cases on this page, newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class TriageUpdate(BaseModel):
    """The worker's triage of the help request."""

    model_config = ConfigDict(extra="forbid")

    category: Category = Field(description="Category after triage.")
    urgency: Urgency = Field(description="Urgency after triage.")
    needed_specialism: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,39}$")] | None = Field(
        default=None, description="Specialism the worker needs."
    )
    language: Language = Field(default="nl", description="Conversation language.")


class CaseClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome = Field(description="resolved, referred_elsewhere, dropped_out or no_show.")


class CaseAssign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: uuid.UUID = Field(description="The social worker who takes the case over.")


@cases.get("/cases", response_model=CasePage, responses=error_responses(401, 403, 422))
async def my_caseload(
    principal: CurrentPrincipal,
    intake: IntakeDep,
    include_closed: Annotated[bool, Query(description="Include closed cases.")] = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> CasePage:
    """The caller's caseload (social workers)."""
    found = await case_use.caseload(
        principal=principal, intake=intake, include_closed=include_closed, after=decode_cursor(cursor), limit=limit
    )
    return _case_page(found, limit)


def _case_page(found: list[Case], limit: int) -> CasePage:
    last = found[-1] if len(found) == limit else None
    return CasePage(
        items=[CaseRead.of(c) for c in found], next_cursor=encode_cursor(last.opened_at, last.id) if last else None
    )


@cases.get("/cases/escalated", response_model=CasePage, responses=error_responses(401, 403, 422))
async def escalated(
    principal: CurrentPrincipal, intake: IntakeDep, cursor: Cursor = None, limit: Limit = 50
) -> CasePage:
    """Cases that need someone to act, e.g. no intake slot within the SLA (provider admins)."""
    found = await case_use.escalated_cases(principal=principal, intake=intake, after=decode_cursor(cursor), limit=limit)
    return _case_page(found, limit)


@cases.get("/cases/{case_id}", response_model=CaseRead, responses=error_responses(401, 403, 404))
async def read_case(
    case_id: uuid.UUID, principal: CurrentPrincipal, intake: IntakeDep, reason: BreakGlassReason = None
) -> CaseRead:
    """A case with its history: the assigned worker, or a colleague with a stated reason (break-glass)."""
    case, history, _ = await case_use.read_case(
        case_id, principal=principal, intake=intake, break_glass_reason=stated_reason(reason)
    )
    return CaseRead.of(case, history)


@cases.post("/cases/{case_id}/triage", response_model=CaseRead, responses=error_responses(401, 403, 404, 409, 422))
async def triage(case_id: uuid.UUID, body: TriageUpdate, principal: CurrentPrincipal, intake: IntakeDep) -> CaseRead:
    """Triage: confirm category, urgency, specialism and language (assigned worker)."""
    return CaseRead.of(
        await case_use.triage_case(
            case_id,
            category=body.category,
            urgency=body.urgency,
            specialism=body.needed_specialism,
            language=body.language,
            principal=principal,
            intake=intake,
        )
    )


@cases.post("/cases/{case_id}/start", response_model=CaseRead, responses=error_responses(401, 403, 404, 409))
async def start(case_id: uuid.UUID, principal: CurrentPrincipal, intake: IntakeDep) -> CaseRead:
    """The intake took place: the case is in progress (assigned worker)."""
    return CaseRead.of(await case_use.start_case(case_id, principal=principal, intake=intake))


@cases.post("/cases/{case_id}/close", response_model=CaseRead, responses=error_responses(401, 403, 404, 409, 422))
async def close(case_id: uuid.UUID, body: CaseClose, principal: CurrentPrincipal, intake: IntakeDep) -> CaseRead:
    """Close the case with an outcome (assigned worker)."""
    return CaseRead.of(await case_use.close_case(case_id, outcome=body.outcome, principal=principal, intake=intake))


@cases.post("/cases/{case_id}/reopen", response_model=CaseRead, responses=error_responses(401, 403, 404, 409))
async def reopen(case_id: uuid.UUID, principal: CurrentPrincipal, intake: IntakeDep) -> CaseRead:
    """Reopen a case closed less than 90 days ago (assigned worker)."""
    return CaseRead.of(await case_use.reopen_case(case_id, principal=principal, intake=intake))


@cases.post("/cases/{case_id}/assign", response_model=CaseRead, responses=error_responses(401, 403, 404, 409))
async def assign(case_id: uuid.UUID, body: CaseAssign, principal: CurrentPrincipal, intake: IntakeDep) -> CaseRead:
    """Assign the case to another social worker (provider admins)."""
    return CaseRead.of(
        await case_use.assign_case(case_id, worker_id=body.worker_id, principal=principal, intake=intake)
    )


class DossierEntryCreate(BaseModel):
    """A text for the dossier: intake_report, plan, progress, closing_report (formal) or working_note."""

    model_config = ConfigDict(extra="forbid")

    kind: dossier_use.EntryKind = Field(description="Which document; working_note goes to the private layer.")
    text: Annotated[str, StringConstraints(min_length=1, max_length=20000)] = Field(description="The text.")


class DossierEntryRead(BaseModel):
    id: uuid.UUID = Field(description="Entry id.")
    layer: dossier_use.Layer = Field(description="formal (the dossier) or working (private working notes).")
    kind: dossier_use.EntryKind = Field(description="Which document.")
    text: str | None = Field(description="The text; null when the person was erased.")
    author: str = Field(description="Subject id of the social worker who wrote it.")
    created_at: datetime = Field(description="When it was written.")

    @classmethod
    def of(cls, entry: dossier_use.DossierEntry) -> DossierEntryRead:
        return cls(
            id=entry.id,
            layer=entry.layer,
            kind=entry.kind,
            text=entry.text,
            author=entry.author,
            created_at=entry.created_at,
        )


@cases.post(
    "/cases/{case_id}/dossier",
    status_code=status.HTTP_201_CREATED,
    response_model=DossierEntryRead,
    responses=error_responses(401, 403, 404, 409, 422),
)
async def write_dossier(
    case_id: uuid.UUID, body: DossierEntryCreate, principal: CurrentPrincipal, intake: IntakeDep
) -> DossierEntryRead:
    """Add to the dossier or the working notes (assigned worker only)."""
    entry = await dossier_use.add_entry(case_id, kind=body.kind, text=body.text, principal=principal, intake=intake)
    return DossierEntryRead.of(entry)


class DossierPage(BaseModel):
    items: list[DossierEntryRead] = Field(description="Dossier entries on this page, oldest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


@cases.get("/cases/{case_id}/dossier", response_model=DossierPage, responses=error_responses(401, 403, 404, 422))
async def read_dossier(
    case_id: uuid.UUID,
    principal: CurrentPrincipal,
    intake: IntakeDep,
    reason: BreakGlassReason = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DossierPage:
    """Both layers, oldest first: the assigned worker, or a colleague with a stated reason (break-glass)."""
    entries, _ = await dossier_use.read_dossier(
        case_id,
        principal=principal,
        intake=intake,
        break_glass_reason=stated_reason(reason),
        after=decode_cursor(cursor),
        limit=limit,
    )
    last = entries[-1] if len(entries) == limit else None
    return DossierPage(
        items=[DossierEntryRead.of(e) for e in entries],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


# -- the rights of the person ----------------------------------------------------------------------


@persons.get("/persons/{client_ref}/export", responses=error_responses(401, 403, 404, 422))
async def export(client_ref: ClientRef, principal: CurrentPrincipal, intake: IntakeDep) -> dict[str, Any]:
    """Right of access: everything intake holds about the person, as JSON (provider admins)."""
    return await person_use.export_person(client_ref, principal=principal, intake=intake)


@persons.post(
    "/persons/{client_ref}/erase", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401, 403, 404, 422)
)
async def erase(client_ref: ClientRef, principal: CurrentPrincipal, intake: IntakeDep) -> Response:
    """Right to erasure: shred the person's key and data, and tell every service (provider admins)."""
    await person_use.erase_person(client_ref, principal=principal, intake=intake)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


routers = [referrals, cases, persons]
