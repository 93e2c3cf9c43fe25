"""Queries of the cases part of the schema: a social worker's caseload and cases, an employee's referrals.

Each field is nullable, so that an unavailable intake fails only that field and the rest of the response
still resolves.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from bmw.gateway.cases.bodies import CaseBody, CasePageBody, ReferralPageBody, ReferralStatusBody
from bmw.gateway.cases.enums import CaseloadStatus
from bmw.gateway.cases.permissions import IsEmployee, MayReadCases
from bmw.gateway.cases.types import (
    AfterArgument,
    Case,
    CaseSummary,
    FirstArgument,
    intake_page_params,
    page_argument_path,
)
from bmw.gateway.clients import UpstreamError
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError, graphql_error
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.pagination import Connection, from_service_page
from bmw.gateway.referrals.types import Referral
from bmw.servicekit.errors import DomainError, FieldError


async def caseload(
    info: GatewayInfo,
    status: Annotated[
        CaseloadStatus, strawberry.argument(description="Open cases only (the default), or closed ones as well.")
    ] = CaseloadStatus.OPEN,
    first: FirstArgument = None,
    after: AfterArgument = None,
) -> Connection[CaseSummary] | None:
    """The caller's own cases from intake, newest first; ``MayReadCases`` has checked the role."""
    try:
        params = intake_page_params(first, after)
        params["include_closed"] = "true" if status is CaseloadStatus.ALL else "false"
        response = await info.context.intake.request("GET", "/cases", params=params)
    except DomainError as error:
        raise graphql_error(error, field_path=page_argument_path) from error
    page = info.context.intake.parse(CasePageBody, response)
    return from_service_page([CaseSummary.of(case) for case in page.items], page.next_cursor)


async def case(
    info: GatewayInfo,
    id_: Annotated[strawberry.ID, strawberry.argument(name="id", description="Case id.")],
) -> Case | None:
    """One case from intake, which shows it to its assigned social worker only."""
    problems: list[FieldError] = []
    case_id = parse_id(str(id_), "id", problems)
    if case_id is None:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid id", fields=problems)
    try:
        response = await info.context.intake.request("GET", f"/cases/{case_id}")
    except DomainError as error:
        raise graphql_error(error) from error
    return Case.of(info.context.intake.parse(CaseBody, response))


def _own_referral(body: ReferralStatusBody) -> Referral:
    details = body.details
    if details is None:
        # Intake shows an employee every detail of their own referrals; without them it answered someone else.
        raise UpstreamError("intake listed a referral without its details to its employee")
    return Referral(
        id=strawberry.ID(str(body.id)),
        tenant_id=strawberry.ID(str(body.tenant_id)),
        org_unit_id=strawberry.ID(str(details.org_unit_id)),
        category=details.category,
        urgency=details.urgency,
        channel=details.channel,
        status=body.status,
        case_id=strawberry.ID(str(details.case_id)) if details.case_id else None,
        received_at=body.received_at,
    )


async def my_referrals(
    info: GatewayInfo, first: FirstArgument = None, after: AfterArgument = None
) -> Connection[Referral] | None:
    """The employee's own referrals from intake, asked with their own token; ``IsEmployee`` has checked it."""
    try:
        response = await info.context.intake.request("GET", "/referrals", params=intake_page_params(first, after))
    except DomainError as error:
        raise graphql_error(error, field_path=page_argument_path) from error
    page = info.context.intake.parse(ReferralPageBody, response)
    return from_service_page([_own_referral(referral) for referral in page.items], page.next_cursor)


@strawberry.type
class CasesQuery:
    caseload: Connection[CaseSummary] | None = strawberry.field(
        resolver=caseload,
        description="Your own caseload as a social worker, newest first. Refused (FORBIDDEN) for client "
        "contacts, account managers, integrations and employees.",
        permission_classes=[IsAuthenticated, MayReadCases],
    )
    case: Case | None = strawberry.field(
        resolver=case,
        description="One case with its status, category, urgency, SLA deadline, history and dossier, for its "
        "assigned social worker. NOT_FOUND when it does not exist or is not yours to see.",
        permission_classes=[IsAuthenticated, MayReadCases],
    )
    my_referrals: Connection[Referral] | None = strawberry.field(
        resolver=my_referrals,
        description="Your own referrals as an employee, newest first, with where each stands.",
        permission_classes=[IsAuthenticated, IsEmployee],
    )
