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
    MAX_REASON,
    MIN_REASON,
    AfterArgument,
    Case,
    CaseSummary,
    FirstArgument,
    break_glass_header,
    intake_page_params,
    page_argument_path,
)
from bmw.gateway.clients import ReferralStatus, UpstreamError
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError, graphql_error
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.pagination import Connection, from_service_page
from bmw.gateway.referrals.types import Referral
from bmw.servicekit.errors import DomainError, FieldError, Forbidden


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


def _break_glass_reason(reason: str | None, problems: list[FieldError]) -> str | None:
    """The stated reason, trimmed, if it has the length intake asks for."""
    if reason is None:
        return None
    stripped = reason.strip()
    if not MIN_REASON <= len(stripped) <= MAX_REASON:
        problems.append(FieldError(path="breakGlassReason", message=f"{MIN_REASON} to {MAX_REASON} characters"))
    return stripped


def _case_argument_path(path: str) -> str:
    """Intake's ``header.X-Break-Glass-Reason`` is the ``breakGlassReason`` argument."""
    return "breakGlassReason" if path.lower() == "header.x-break-glass-reason" else path


async def case(
    info: GatewayInfo,
    id_: Annotated[strawberry.ID, strawberry.argument(name="id", description="Case id.")],
    break_glass_reason: Annotated[
        str | None,
        strawberry.argument(
            description=f"Only when you are not the case's social worker and must read it anyway (covering for a "
            f"colleague in a crisis): why, {MIN_REASON} to {MAX_REASON} characters. The read and the reason are "
            "logged in the person's access log, which they can request."
        ),
    ] = None,
) -> Case | None:
    """One case from intake, which shows it to its assigned social worker (or a colleague who states why)."""
    problems: list[FieldError] = []
    case_id = parse_id(str(id_), "id", problems)
    reason = _break_glass_reason(break_glass_reason, problems)
    if case_id is None or problems:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid arguments", fields=problems)
    try:
        response = await info.context.intake.request("GET", f"/cases/{case_id}", headers=break_glass_header(reason))
    except Forbidden as error:
        if reason is not None:
            raise graphql_error(error, field_path=_case_argument_path) from error
        # Intake names its header; a GraphQL client needs the argument.
        covering = Forbidden(
            f"only the assigned social worker reads this case; a colleague covering must give `breakGlassReason` "
            f"({MIN_REASON} to {MAX_REASON} characters), which is logged",
            **error.details,
        )
        raise graphql_error(covering) from error
    except DomainError as error:
        raise graphql_error(error, field_path=_case_argument_path) from error
    found = Case.of(info.context.intake.parse(CaseBody, response))
    found.break_glass_reason = reason
    return found


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
        consent_deadline=details.consent_deadline if body.status is ReferralStatus.AWAITING_CONSENT else None,
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
        "assigned social worker; a colleague covering in a crisis reads it with a `breakGlassReason` (logged). "
        "NOT_FOUND when it does not exist or is not yours to see; FORBIDDEN when it is a colleague's and you "
        "gave no reason.",
        permission_classes=[IsAuthenticated, MayReadCases],
    )
    my_referrals: Connection[Referral] | None = strawberry.field(
        resolver=my_referrals,
        description="Your own referrals as an employee, newest first, with where each stands.",
        permission_classes=[IsAuthenticated, IsEmployee],
    )
