"""Mutations of referrals."""

from __future__ import annotations

from typing import Annotated

import strawberry

from bmw.gateway.clients import EmployeeContactBody, ReferralCreateBody
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import graphql_error, input_path
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.outcomes import Forbidden, ServiceUnavailable, ValidationFailed
from bmw.gateway.referrals.types import (
    Referral,
    ReferralInput,
    ReferralSubmitted,
    SubmitReferralResult,
)
from bmw.servicekit import errors
from bmw.servicekit.auth import Principal


def _create_body(referral: ReferralInput, principal: Principal) -> ReferralCreateBody:
    problems: list[errors.FieldError] = []
    tenant_id = (
        parse_id(referral.tenant_id, "input.tenantId", problems)
        if referral.tenant_id is not None
        else principal.tenant_id
    )
    org_unit_id = parse_id(referral.org_unit_id, "input.orgUnitId", problems)
    if referral.tenant_id is None and tenant_id is None:
        problems.append(
            errors.FieldError(path="input.tenantId", message="required for callers without a client organisation")
        )
    if problems or tenant_id is None or org_unit_id is None:
        names = ", ".join(problem.path for problem in problems)
        raise errors.InvalidInput(f"invalid input: {names}", fields=problems)
    return ReferralCreateBody(
        tenant_id=tenant_id,
        org_unit_id=org_unit_id,
        category=referral.category,
        urgency=referral.urgency,
        channel=referral.channel,
        employee=EmployeeContactBody(
            name=referral.employee.name,
            email=referral.employee.email,
            phone=referral.employee.phone,
        ),
        employee_consented=referral.employee_consented,
        language=referral.language,
    )


async def submit_referral(
    info: GatewayInfo,
    input_: Annotated[ReferralInput, strawberry.argument(name="input", description="The referral.")],
) -> SubmitReferralResult:
    """Forward the referral to intake; its expected refusals become members of the result union."""
    principal = info.context.caller
    try:
        body = _create_body(input_, principal)
        # The gateway refuses early; intake checks again (it is not the only wall).
        principal.require_tenant(body.tenant_id)
        referral = await info.context.intake.submit_referral(body)
    except errors.InvalidInput as error:
        return ValidationFailed.of(error, input_path)
    except errors.Forbidden as error:
        return Forbidden(message=error.message)
    except errors.ServiceUnavailable as error:
        return ServiceUnavailable(message=error.message)
    except errors.DomainError as error:
        raise graphql_error(error, field_path=input_path) from error
    return ReferralSubmitted(referral=Referral.of(referral))


@strawberry.type
class ReferralMutation:
    submit_referral: SubmitReferralResult = strawberry.mutation(
        resolver=submit_referral,
        description="Refer an employee to the provider's social workers (aanmelding). A case opens at once "
        "for a self-referral or when the employee consented; otherwise the referral waits for their consent.",
        permission_classes=[IsAuthenticated],
    )
