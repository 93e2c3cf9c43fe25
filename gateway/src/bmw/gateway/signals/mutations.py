"""Mutations of signals, opportunities, management actions and observations.

Each checks what the gateway can check without asking (role, ids, the organisation, the idempotency key) and
forwards the rest to signals, which checks everything again. Expected refusals come back as members of the
mutation's result union, with service field paths (``body.loss_reason``, ``path.signal_id``,
``header.Idempotency-Key``) mapped to GraphQL input paths (``input.lossReason``, ``input.signalId``,
``input.idempotencyKey``).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

import strawberry

from bmw.contracts.taxonomy import Role
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import camel_case, graphql_error, input_path
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.outcomes import (
    Conflict,
    Forbidden,
    NotFound,
    Refusal,
    ServiceUnavailable,
    ValidationFailed,
    refusal_of,
)
from bmw.gateway.signals.action_types import ManagementAction, SecondmentObservation
from bmw.gateway.signals.api import SignalsApi
from bmw.gateway.signals.bodies import (
    InterventionPutBody,
    ManagementActionCreateBody,
    OpportunityNoteCreateBody,
    OpportunityStageChangeBody,
    SecondmentObservationCreateBody,
    SignalReviewCreateBody,
)
from bmw.gateway.signals.convert import graph_id
from bmw.gateway.signals.inputs import (
    AddOpportunityNoteInput,
    AddOpportunityNoteResult,
    InterventionSaved,
    ManagementActionRecorded,
    MoveOpportunityInput,
    MoveOpportunityResult,
    OpportunityMoved,
    OpportunityNoteAdded,
    PutInterventionInput,
    PutInterventionResult,
    RecordManagementActionInput,
    RecordManagementActionResult,
    RecordSecondmentObservationInput,
    RecordSecondmentObservationResult,
    ReviewSignalInput,
    ReviewSignalResult,
    SecondmentObservationRecorded,
    SignalReviewed,
)
from bmw.gateway.signals.intervention_types import Intervention
from bmw.gateway.signals.opportunity_types import Opportunity, OpportunityNote
from bmw.gateway.signals.permissions import (
    ACTION_RECORDERS,
    NOT_FOR_THIS_ORGANISATION,
    PIPELINE_ROLES,
    REVIEWERS,
    is_tenant_facing,
    may_record_action,
    may_record_observation,
    role_refusal,
    sees_provider_view,
)
from bmw.gateway.signals.signal_types import Signal
from bmw.servicekit import errors
from bmw.servicekit.auth import Principal

#: An intervention code as signals accepts it (it is also a path segment: never a slash).
INTERVENTION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
#: The length signals accepts for an ``Idempotency-Key``.
IDEMPOTENCY_KEY_LENGTH = range(8, 201)


def mutation_input_path(path: str) -> str:
    """A signals field path as a GraphQL input path: ``body.loss_reason`` → ``input.lossReason``,
    ``path.signal_id`` → ``input.signalId``, ``header.Idempotency-Key`` → ``input.idempotencyKey``."""
    location, _, rest = path.partition(".")
    if location == "header" and rest.lower() == "idempotency-key":
        return "input.idempotencyKey"
    if location == "path" and rest:
        return f"input.{camel_case(rest)}"
    return input_path(path)


def refusal(error: errors.DomainError) -> Refusal | None:
    """The result union member for a refusal by signals (or by the gateway's own checks); None if none fits."""
    return refusal_of(error, mutation_input_path)


def _require_role(principal: Principal, roles: tuple[Role, ...]) -> None:
    if not principal.has_role(*roles):
        raise errors.Forbidden(role_refusal(roles))


def _check_idempotency_key(key: str | None, problems: list[errors.FieldError]) -> None:
    if key is not None and len(key) not in IDEMPOTENCY_KEY_LENGTH:
        problems.append(errors.FieldError(path="input.idempotencyKey", message="between 8 and 200 characters"))


def _invalid(problems: list[errors.FieldError]) -> errors.InvalidInput:
    names = ", ".join(problem.path for problem in problems)
    return errors.InvalidInput(f"invalid input: {names}", fields=problems)


def _checked_id(raw: strawberry.ID, path: str, idempotency_key: str | None) -> uuid.UUID:
    """The id a command acts on, checked with its idempotency key; ``InvalidInput`` naming both problems if any."""
    problems: list[errors.FieldError] = []
    parsed = parse_id(raw, path, problems)
    _check_idempotency_key(idempotency_key, problems)
    if problems or parsed is None:
        raise _invalid(problems)
    return parsed


def _action_tenant(
    input_: RecordManagementActionInput, principal: Principal, problems: list[errors.FieldError]
) -> uuid.UUID | None:
    """The organisation named in the input, else the caller's own; provider staff must name one."""
    if input_.tenant_id is not None:
        return parse_id(input_.tenant_id, "input.tenantId", problems)
    if principal.tenant_id is None:
        problems.append(
            errors.FieldError(path="input.tenantId", message="required for callers without a client organisation")
        )
    return principal.tenant_id


async def record_management_action(
    info: GatewayInfo,
    input_: Annotated[RecordManagementActionInput, strawberry.argument(name="input", description="The action.")],
) -> RecordManagementActionResult:
    """Record what management did; client contacts for their own organisation, account managers for their
    portfolio, provider admins for any."""
    principal = info.context.caller
    try:
        _require_role(principal, ACTION_RECORDERS)
        problems: list[errors.FieldError] = []
        tenant_id = _action_tenant(input_, principal, problems)
        org_unit_id = parse_id(input_.org_unit_id, "input.orgUnitId", problems) if input_.org_unit_id else None
        _check_idempotency_key(input_.idempotency_key, problems)
        if problems or tenant_id is None:
            raise _invalid(problems)
        if not may_record_action(principal, tenant_id):
            raise errors.Forbidden(NOT_FOR_THIS_ORGANISATION)
        action = await SignalsApi(info.context.signals).record_management_action(
            ManagementActionCreateBody(
                tenant_id=tenant_id,
                org_unit_id=org_unit_id,
                action_type=input_.action_type,
                occurred_on=input_.occurred_on,
            ),
            idempotency_key=input_.idempotency_key,
        )
    except errors.DomainError as error:
        outcome = refusal(error)
        if isinstance(outcome, ValidationFailed | Forbidden | ServiceUnavailable):
            return outcome
        raise graphql_error(error, field_path=mutation_input_path) from error
    return ManagementActionRecorded(action=ManagementAction.of(action))


async def record_secondment_observation(
    info: GatewayInfo,
    input_: Annotated[
        RecordSecondmentObservationInput, strawberry.argument(name="input", description="The observation.")
    ],
) -> RecordSecondmentObservationResult:
    """Record a bottleneck observed on site (social workers only); it becomes evidence beside the counts."""
    principal = info.context.caller
    try:
        _require_role(principal, (Role.SOCIAL_WORKER,))
        problems: list[errors.FieldError] = []
        tenant_id = parse_id(input_.tenant_id, "input.tenantId", problems)
        org_unit_id = parse_id(input_.org_unit_id, "input.orgUnitId", problems)
        _check_idempotency_key(input_.idempotency_key, problems)
        if problems or tenant_id is None or org_unit_id is None:
            raise _invalid(problems)
        if not may_record_observation(principal, tenant_id):
            raise errors.Forbidden(NOT_FOR_THIS_ORGANISATION)
        observation = await SignalsApi(info.context.signals).record_secondment_observation(
            SecondmentObservationCreateBody(
                tenant_id=tenant_id,
                org_unit_id=org_unit_id,
                bottleneck=input_.bottleneck,
                observed_on=input_.observed_on,
                severity=input_.severity,
            ),
            idempotency_key=input_.idempotency_key,
        )
    except errors.DomainError as error:
        outcome = refusal(error)
        if isinstance(outcome, ValidationFailed | Forbidden | ServiceUnavailable):
            return outcome
        raise graphql_error(error, field_path=mutation_input_path) from error
    return SecondmentObservationRecorded(
        observation=SecondmentObservation.of(observation, tenant_facing=is_tenant_facing(principal))
    )


async def review_signal(
    info: GatewayInfo,
    input_: Annotated[ReviewSignalInput, strawberry.argument(name="input", description="The review.")],
) -> ReviewSignalResult:
    """Confirm or dismiss a pending signal (social workers, provider admins)."""
    principal = info.context.caller
    try:
        _require_role(principal, REVIEWERS)
        signal_id = _checked_id(input_.signal_id, "input.signalId", input_.idempotency_key)
        reviewed = await SignalsApi(info.context.signals).review_signal(
            signal_id,
            SignalReviewCreateBody(decision=input_.decision, reason=input_.reason, note=input_.note),
            idempotency_key=input_.idempotency_key,
        )
    except errors.DomainError as error:
        outcome = refusal(error)
        if outcome is not None:
            return outcome
        raise graphql_error(error, field_path=mutation_input_path) from error
    return SignalReviewed(
        signal=Signal.of(reviewed.signal, provider_view=sees_provider_view(principal)),
        opportunity_id=graph_id(reviewed.opportunity_id) if reviewed.opportunity_id else None,
    )


async def move_opportunity(
    info: GatewayInfo,
    input_: Annotated[MoveOpportunityInput, strawberry.argument(name="input", description="The move.")],
) -> MoveOpportunityResult:
    """Move an opportunity along the pipeline (account managers for their portfolio, provider admins)."""
    principal = info.context.caller
    try:
        _require_role(principal, PIPELINE_ROLES)
        opportunity_id = _checked_id(input_.opportunity_id, "input.opportunityId", input_.idempotency_key)
        moved = await SignalsApi(info.context.signals).move_opportunity(
            opportunity_id,
            OpportunityStageChangeBody(
                stage=input_.stage,
                note=input_.note,
                loss_reason=input_.loss_reason,
                won_intervention=input_.won_intervention,
            ),
            idempotency_key=input_.idempotency_key,
        )
    except errors.DomainError as error:
        outcome = refusal(error)
        if outcome is not None:
            return outcome
        raise graphql_error(error, field_path=mutation_input_path) from error
    return OpportunityMoved(opportunity=Opportunity.of(moved))


async def add_opportunity_note(
    info: GatewayInfo,
    input_: Annotated[AddOpportunityNoteInput, strawberry.argument(name="input", description="The remark.")],
) -> AddOpportunityNoteResult:
    """Add a remark to an opportunity without moving it (account managers for their portfolio, provider admins)."""
    principal = info.context.caller
    try:
        _require_role(principal, PIPELINE_ROLES)
        opportunity_id = _checked_id(input_.opportunity_id, "input.opportunityId", input_.idempotency_key)
        note = await SignalsApi(info.context.signals).add_note(
            opportunity_id, OpportunityNoteCreateBody(note=input_.note), idempotency_key=input_.idempotency_key
        )
    except errors.DomainError as error:
        outcome = refusal(error)
        if isinstance(outcome, ValidationFailed | Forbidden | NotFound | ServiceUnavailable):
            return outcome
        raise graphql_error(error, field_path=mutation_input_path) from error
    return OpportunityNoteAdded(note=OpportunityNote.of(note))


async def put_intervention(
    info: GatewayInfo,
    input_: Annotated[PutInterventionInput, strawberry.argument(name="input", description="The intervention.")],
) -> PutInterventionResult:
    """Create or replace an intervention of the catalogue (provider admins)."""
    principal = info.context.caller
    try:
        _require_role(principal, (Role.PROVIDER_ADMIN,))
        if not INTERVENTION_CODE.fullmatch(input_.code):
            raise _invalid(
                [
                    errors.FieldError(
                        path="input.code",
                        message="1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit",
                    )
                ]
            )
        saved, created = await SignalsApi(info.context.signals).put_intervention(
            input_.code,
            InterventionPutBody(
                title_nl=input_.title_nl,
                title_en=input_.title_en,
                description=input_.description,
                product_kind=input_.product_kind,
                quantity=input_.quantity,
                list_price_cents=input_.list_price_cents,
                signal_kinds=list(input_.signal_kinds),
                rank=input_.rank,
                active=input_.active,
            ),
        )
    except errors.DomainError as refused:
        error = refused
        if isinstance(refused, errors.NotFound):  # signals has no route for this code: the code is what is wrong
            error = _invalid([errors.FieldError(path="input.code", message="not a valid intervention code")])
        outcome = refusal(error)
        if isinstance(outcome, ValidationFailed | Forbidden | Conflict | ServiceUnavailable):
            return outcome
        raise graphql_error(error, field_path=mutation_input_path) from error
    return InterventionSaved(intervention=Intervention.of(saved), created=created)


@strawberry.type
class SignalsMutation:
    record_management_action: RecordManagementActionResult = strawberry.mutation(
        resolver=record_management_action,
        description="Record what management did in an org unit (e.g. a reorganisation announced in Logistics on "
        "1 March): a known change point for the detectors and the start of a before/after comparison.",
        permission_classes=[IsAuthenticated],
    )
    record_secondment_observation: RecordSecondmentObservationResult = strawberry.mutation(
        resolver=record_secondment_observation,
        description="Record a bottleneck a seconded social worker observed in an org unit (a code, never a "
        "person); it is evidence beside the referral counts.",
        permission_classes=[IsAuthenticated],
    )
    review_signal: ReviewSignalResult = strawberry.mutation(
        resolver=review_signal,
        description="Confirm or dismiss a pending signal. A confirmation releases it to the account manager and "
        "the client organisation and opens an opportunity; a dismissal makes the detector stricter.",
        permission_classes=[IsAuthenticated],
    )
    move_opportunity: MoveOpportunityResult = strawberry.mutation(
        resolver=move_opportunity,
        description="Move an opportunity along the pipeline: NEW → CONTACTED → PROPOSED → WON (with the "
        "intervention sold) or LOST (with a reason).",
        permission_classes=[IsAuthenticated],
    )
    add_opportunity_note: AddOpportunityNoteResult = strawberry.mutation(
        resolver=add_opportunity_note,
        description="Add a remark to an opportunity without moving it (a call made, a meeting planned). "
        "Provider-internal; never name a person.",
        permission_classes=[IsAuthenticated],
    )
    put_intervention: PutInterventionResult = strawberry.mutation(
        resolver=put_intervention,
        description="Create or replace an intervention of the catalogue (provider admins). Every signal kind "
        "keeps at least one active intervention.",
        permission_classes=[IsAuthenticated],
    )
