"""Intake's HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.intake.application.referrals import EmployeeContact, SubmitReferral, get_referral, submit_referral
from bmw.intake.domain.referrals import Referral, ReferralStatus
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import ERROR_RESPONSES, FieldError, InvalidInput

router = APIRouter(tags=["referrals"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{6,20}$")]


class EmployeeContactCreate(BaseModel):
    """How the social worker can reach the employee. Stays in intake; never in an event or log."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="The employee's name as they want to be addressed.")
    email: EmailStr | None = Field(default=None, description="E-mail address for appointment messages.")
    phone: Phone | None = Field(default=None, description="Phone number, digits with optional +, spaces, dashes.")

    @model_validator(mode="after")
    def _reachable(self) -> EmployeeContactCreate:
        if self.email is None and self.phone is None:
            raise ValueError("give an email or a phone number so the social worker can make contact")
        return self


class ReferralCreate(BaseModel):
    """A referral (aanmelding) of one employee."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID | None = Field(
        default=None, description="Client organisation; defaults to the caller's own for tenant-bound roles."
    )
    org_unit_id: uuid.UUID = Field(description="The employee's org unit (department or location).")
    category: Category = Field(description="What the help request is about (taxonomy in bmw.contracts).")
    urgency: Urgency = Field(description="crisis: contact within 24 h; urgent: 3 working days; normal: 5.")
    channel: Channel = Field(description="Who refers: self, manager, hr, company_doctor or integration.")
    employee: EmployeeContactCreate = Field(description="The employee's contact details.")
    employee_consented: bool = Field(
        default=False,
        description="The employee agreed to this referral. Without it (and unless it is a self-referral) "
        "the referral waits for the employee's consent before a case opens.",
    )
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = Field(
        default="nl", description="Language for the conversations (ISO 639-1)."
    )


class ReferralRead(BaseModel):
    """A referral as its referrer may see it."""

    id: uuid.UUID = Field(description="Referral id.")
    tenant_id: uuid.UUID = Field(description="Client organisation.")
    org_unit_id: uuid.UUID = Field(description="Org unit of the employee.")
    category: Category = Field(description="Help request category.")
    urgency: Urgency = Field(description="Urgency as submitted.")
    channel: Channel = Field(description="Referral channel.")
    status: ReferralStatus = Field(description="awaiting_consent, or case_opened.")
    case_id: uuid.UUID | None = Field(description="The case opened from it, once consented.")
    received_at: datetime = Field(description="When it was received (UTC).")

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
        )


@router.post(
    "/referrals",
    status_code=status.HTTP_201_CREATED,
    response_model=ReferralRead,
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 422, 503)},
)
async def create_referral(body: ReferralCreate, principal: CurrentPrincipal, uow: UowFactoryDep) -> ReferralRead:
    """Submit a referral; a case opens at once for a self-referral or a consented one."""
    tenant_id = body.tenant_id or principal.tenant_id
    if tenant_id is None:
        raise InvalidInput(
            "tenant_id is required for provider staff",
            fields=[FieldError(path="body.tenant_id", message="required for callers without a tenant")],
        )
    command = SubmitReferral(
        tenant_id=tenant_id,
        org_unit_id=body.org_unit_id,
        category=body.category,
        urgency=body.urgency,
        channel=body.channel,
        employee=EmployeeContact(name=body.employee.name, email=body.employee.email, phone=body.employee.phone),
        employee_consented=body.employee_consented,
        language=body.language,
    )
    return ReferralRead.of(await submit_referral(command, principal=principal, uow=uow))


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralRead,
    responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 404)},
)
async def read_referral(referral_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> ReferralRead:
    """A referral's status, for whoever submitted it and for provider staff."""
    return ReferralRead.of(await get_referral(referral_id, principal=principal, uow=uow))
