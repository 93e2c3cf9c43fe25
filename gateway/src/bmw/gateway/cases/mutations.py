"""Mutations of the cases part of the schema: consent given or withdrawn, and a person erased.

Each returns its expected failures as members of its result union. The gateway refuses by role before
calling intake (Forbidden) and checks what it can of the input (ValidationFailed); intake checks both again.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

import strawberry

from bmw.contracts.pseudonyms import CLIENT_REF_PATTERN
from bmw.contracts.taxonomy import Role
from bmw.gateway.cases.bodies import ConsentBody, ConsentCreateBody
from bmw.gateway.cases.enums import ConsentItem, ConsentMethod, ConsentRecipient, ErasedData
from bmw.gateway.cases.types import (
    ClientErased,
    ConsentGiven,
    ConsentRecord,
    ConsentWithdrawn,
    EraseClientInput,
    EraseClientResult,
    GiveConsentInput,
    GiveConsentResult,
    WithdrawConsentInput,
    WithdrawConsentResult,
)
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import camel_case, graphql_error, input_path
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.outcomes import (
    Forbidden,
    NotFound,
    Refusal,
    ServiceUnavailable,
    ValidationFailed,
    refusal_of,
)
from bmw.servicekit import errors
from bmw.servicekit.auth import Principal

#: The employee records their own consent; a social worker or provider admin records one given to them.
CONSENT_RECORDERS = (Role.EMPLOYEE, Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN)
STAFF = (Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN)
STAFF_METHODS = frozenset({ConsentMethod.VERBAL, ConsentMethod.WRITTEN})

#: Intake's pattern of a client reference; checked here too because the reference goes into a URL path.
CLIENT_REF = re.compile(CLIENT_REF_PATTERN)


def mutation_input_path(path: str) -> str:
    """Intake's body and path parameter paths as GraphQL input paths (``path.referral_id`` → ``input.referralId``)."""
    location, _, rest = path.partition(".")
    if location == "path" and rest:
        return f"input.{camel_case(rest)}"
    return input_path(path)


def _refused(problems: list[errors.FieldError]) -> errors.InvalidInput:
    return errors.InvalidInput(f"invalid input: {', '.join(p.path for p in problems)}", fields=problems)


def _consent_method(
    method: ConsentMethod | None, principal: Principal, problems: list[errors.FieldError]
) -> ConsentMethod:
    """How the consent was given: the employee's own in the portal, or staff recording what they were told.

    Intake records whatever method it is sent; this keeps the history truthful about who gave it how.
    """
    if principal.has_role(*STAFF):
        if method is not None and method in STAFF_METHODS:
            return method
        problems.append(
            errors.FieldError(path="input.method", message="say how the employee gave it: VERBAL or WRITTEN")
        )
        return ConsentMethod.VERBAL  # never sent: the recorded problem refuses the input
    if method not in (None, ConsentMethod.PORTAL):
        problems.append(errors.FieldError(path="input.method", message="your own consent is given in the PORTAL"))
    return ConsentMethod.PORTAL


async def _record_consent(
    info: GatewayInfo,
    *,
    referral_id: strawberry.ID,
    recipient: ConsentRecipient,
    item: ConsentItem,
    granted: bool,
    valid_until: datetime | None,
    method: ConsentMethod | None,
) -> ConsentRecord:
    """Check the caller and the input, then ``POST /referrals/{id}/consents``; raises the refusals."""
    principal = info.context.caller
    if not principal.has_role(*CONSENT_RECORDERS):
        raise errors.Forbidden("consent is recorded by the employee, or by a social worker or provider admin for them")
    problems: list[errors.FieldError] = []
    parsed_id = parse_id(str(referral_id), "input.referralId", problems)
    recorded_method = _consent_method(method, principal, problems)
    if valid_until is not None and valid_until.utcoffset() is None:
        problems.append(errors.FieldError(path="input.validUntil", message="include a UTC offset, e.g. +01:00 or Z"))
    if problems or parsed_id is None:
        raise _refused(problems)
    body = ConsentCreateBody(
        recipient=recipient, item=item, granted=granted, valid_until=valid_until, method=recorded_method
    )
    response = await info.context.intake.request(
        "POST", f"/referrals/{parsed_id}/consents", json=body.model_dump(mode="json")
    )
    return ConsentRecord.of(info.context.intake.parse(ConsentBody, response))


ConsentRefusal = Refusal


def _consent_refusal(error: errors.DomainError) -> ConsentRefusal:
    """An expected refusal as its union member; anything else becomes a GraphQL error."""
    found = refusal_of(error, mutation_input_path)
    if found is None:
        raise graphql_error(error, field_path=mutation_input_path) from error
    return found


async def give_consent(
    info: GatewayInfo,
    input_: Annotated[GiveConsentInput, strawberry.argument(name="input", description="The consent.")],
) -> GiveConsentResult:
    """Record a grant; intake's expected refusals become members of the result union."""
    try:
        record = await _record_consent(
            info,
            referral_id=input_.referral_id,
            recipient=input_.recipient,
            item=input_.item,
            granted=True,
            valid_until=input_.valid_until,
            method=input_.method,
        )
    except errors.DomainError as error:
        return _consent_refusal(error)
    return ConsentGiven(consent=record)


async def withdraw_consent(
    info: GatewayInfo,
    input_: Annotated[WithdrawConsentInput, strawberry.argument(name="input", description="The withdrawal.")],
) -> WithdrawConsentResult:
    """Record a withdrawal; intake's expected refusals become members of the result union."""
    try:
        record = await _record_consent(
            info,
            referral_id=input_.referral_id,
            recipient=input_.recipient,
            item=input_.item,
            granted=False,
            valid_until=None,
            method=input_.method,
        )
    except errors.DomainError as error:
        return _consent_refusal(error)
    return ConsentWithdrawn(consent=record)


async def erase_client(
    info: GatewayInfo,
    input_: Annotated[EraseClientInput, strawberry.argument(name="input", description="Who to erase.")],
) -> EraseClientResult:
    """``POST /persons/{client_ref}/erase`` for a provider admin; intake answers 204 once it is done."""
    try:
        info.context.caller.require_role(Role.PROVIDER_ADMIN)
        client_ref = input_.client_ref
        if CLIENT_REF.fullmatch(client_ref) is None:
            raise _refused(
                [
                    errors.FieldError(
                        path="input.clientRef", message="a client reference is c_ and 10-40 letters, digits, _ or -"
                    )
                ]
            )
        await info.context.intake.request("POST", f"/persons/{client_ref}/erase")
    except errors.InvalidInput as error:
        return ValidationFailed.of(error, mutation_input_path)
    except errors.Forbidden as error:
        return Forbidden(message=error.message)
    except errors.NotFound as error:
        return NotFound(message=error.message)
    except errors.ServiceUnavailable as error:
        return ServiceUnavailable(message=error.message)
    except errors.DomainError as error:
        raise graphql_error(error, field_path=mutation_input_path) from error
    return ClientErased(client_ref=client_ref, erased=list(ErasedData))


@strawberry.type
class CasesMutation:
    give_consent: GiveConsentResult = strawberry.mutation(
        resolver=give_consent,
        description="Record a consent of the employee behind a referral: to one recipient, for one item (e.g. "
        '"my manager may know that I attended"). The employee gives their own; a social worker or provider '
        "admin records one given to them. Consent to the REFERRAL opens its case.",
        permission_classes=[IsAuthenticated],
    )
    withdraw_consent: WithdrawConsentResult = strawberry.mutation(
        resolver=withdraw_consent,
        description="Withdraw a consent of the employee behind a referral: to one recipient, for one item. "
        "Nothing more is shared under it from now on.",
        permission_classes=[IsAuthenticated],
    )
    erase_client: EraseClientResult = strawberry.mutation(
        resolver=erase_client,
        description="Right to erasure (provider admins): intake forgets the person behind a client reference and "
        "tells every other service to forget them too. Cannot be undone.",
        permission_classes=[IsAuthenticated],
    )
