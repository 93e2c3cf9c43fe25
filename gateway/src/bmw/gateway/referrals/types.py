"""GraphQL types of referrals (aanmeldingen)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from bmw.gateway.clients import ReferralBody, ReferralStatus
from bmw.gateway.outcomes import Forbidden, ServiceUnavailable, ValidationFailed
from bmw.gateway.taxonomy import Category, Channel, Urgency

strawberry.enum(
    ReferralStatus,
    description="Where a referral stands: a case opened at once (self-referral or the employee "
    "consented), or it waits for the employee's consent.",
)


@strawberry.input(description="How the social worker can reach the employee. Stays in intake.")
class EmployeeContactInput:
    name: str = strawberry.field(description="The employee's name as they want to be addressed.")
    email: str | None = strawberry.field(default=None, description="E-mail address for appointment messages.")
    phone: str | None = strawberry.field(
        default=None, description="Phone number: digits with an optional +, spaces and dashes."
    )


@strawberry.input(description="A referral (aanmelding) of one employee.")
class ReferralInput:
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Client organisation; defaults to your own. Required for provider staff.",
    )
    org_unit_id: strawberry.ID = strawberry.field(description="The employee's org unit (department or location).")
    category: Category = strawberry.field(description="What the help request is about.")
    urgency: Urgency = strawberry.field(description="How soon contact must be made.")
    channel: Channel = strawberry.field(description="Who refers: the employee, a manager, HR, ...")
    employee: EmployeeContactInput = strawberry.field(
        description="The employee's contact details: a name and an e-mail address or phone number."
    )
    employee_consented: bool = strawberry.field(
        default=False,
        description="The employee agreed to this referral. Without it (unless it is a "
        "self-referral) the referral waits for the employee's consent before a case opens.",
    )
    language: str = strawberry.field(default="nl", description="Language for the conversations (ISO 639-1 code).")


@strawberry.type(description="A referral as its referrer may see it; no contact details.")
class Referral:
    id: strawberry.ID = strawberry.field(description="Referral id.")
    tenant_id: strawberry.ID = strawberry.field(description="Client organisation.")
    org_unit_id: strawberry.ID = strawberry.field(description="Org unit of the employee.")
    category: Category = strawberry.field(description="Help request category.")
    urgency: Urgency = strawberry.field(description="Urgency as submitted.")
    channel: Channel = strawberry.field(description="Referral channel.")
    status: ReferralStatus = strawberry.field(description="Where the referral stands.")
    case_id: strawberry.ID | None = strawberry.field(
        description="The case opened from it; null while it awaits consent."
    )
    received_at: datetime = strawberry.field(description="When it was received (UTC).")
    consent_deadline: datetime | None = strawberry.field(
        default=None,
        description="While it awaits the employee's consent: when it expires unless they consent (UTC); null "
        "once a case is opened, and after it expired.",
    )

    @classmethod
    def of(cls, body: ReferralBody) -> Referral:
        """A referral from intake's answer."""
        return cls(
            id=strawberry.ID(str(body.id)),
            tenant_id=strawberry.ID(str(body.tenant_id)),
            org_unit_id=strawberry.ID(str(body.org_unit_id)),
            category=body.category,
            urgency=body.urgency,
            channel=body.channel,
            status=body.status,
            case_id=strawberry.ID(str(body.case_id)) if body.case_id else None,
            received_at=body.received_at,
            consent_deadline=body.consent_deadline if body.status is ReferralStatus.AWAITING_CONSENT else None,
        )


@strawberry.type(description="The referral was received.")
class ReferralSubmitted:
    referral: Referral = strawberry.field(description="The referral as stored.")


SubmitReferralResult = Annotated[
    ReferralSubmitted | ValidationFailed | Forbidden | ServiceUnavailable,
    strawberry.union(
        "SubmitReferralResult",
        description="The outcome of submitReferral: the referral, or why it was not received.",
    ),
]
