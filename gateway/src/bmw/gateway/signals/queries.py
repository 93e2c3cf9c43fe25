"""Queries of trends, signals, opportunities, accounts, management actions and observations.

Every field is nullable: when signals cannot answer, only that field is null (with an error whose
``extensions.code`` says why) and the rest of the document still resolves.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import strawberry

from bmw.contracts.taxonomy import OpportunityStage, SignalKind
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError, argument_path, camel_case, graphql_error
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.pagination import Connection, check_window, from_service_page, from_whole_list, page_size
from bmw.gateway.signals.account_types import AccountOverview, PortfolioAccount
from bmw.gateway.signals.action_types import ManagementAction, ManagementActionTypeEffects, SecondmentObservation
from bmw.gateway.signals.api import SignalsApi
from bmw.gateway.signals.enums import ManagementActionType, ReviewStatus, SignalStatus
from bmw.gateway.signals.intervention_types import Intervention
from bmw.gateway.signals.loaders import signals_loaders
from bmw.gateway.signals.opportunity_types import Opportunity, OpportunityKindStatistics
from bmw.gateway.signals.permissions import (
    MayReadActions,
    MayReadCatalogue,
    MayReadFalseAlarms,
    MayReadObservations,
    MayReadPooledEffects,
    MayReadSignals,
    MayReadTrends,
    MayWorkPipeline,
    is_tenant_facing,
    sees_provider_view,
)
from bmw.gateway.signals.signal_types import FalseAlarmReport, Signal
from bmw.gateway.signals.types import TrendReport
from bmw.servicekit.errors import DomainError, FieldError

#: Signals' parameter names whose GraphQL argument is not just their camel case.
_ARGUMENTS = {"cursor": "after", "limit": "first", "opportunity_id": "id", "signal_id": "id"}

First = Annotated[int | None, strawberry.argument(description="Page size: 1 to 200, 50 when absent.")]
After = Annotated[str | None, strawberry.argument(description="`endCursor` of the previous page.")]


def query_argument_path(path: str) -> str:
    """A signals parameter path as the GraphQL argument: ``query.review_status`` → ``reviewStatus``,
    ``query.cursor`` → ``after``, ``path.opportunity_id`` → ``id``."""
    location, _, name = path.partition(".")
    if location in {"query", "path"} and name:
        return _ARGUMENTS.get(name, camel_case(name))
    return path


def _uuid(value: strawberry.ID | None) -> uuid.UUID | None:
    """An id argument the permission class has already checked."""
    return uuid.UUID(value) if value is not None else None


async def trends(
    info: GatewayInfo,
    tenant_id: Annotated[strawberry.ID, strawberry.argument(description="Client organisation.")],
    from_: Annotated[date, strawberry.argument(name="from", description="First day of the period (inclusive).")],
    to: Annotated[date, strawberry.argument(description="Last day of the period (inclusive).")],
) -> TrendReport | None:
    """Ask signals for the report; ``MayReadTrends`` has checked the caller and the tenant id."""
    if from_ > to:
        raise GatewayError(
            ErrorCode.BAD_USER_INPUT,
            "the period ends before it starts",
            fields=[FieldError(path="to", message="must not be before 'from'")],
        )
    try:
        report = await info.context.signals.trends(tenant_id=uuid.UUID(tenant_id), period_from=from_, period_to=to)
    except DomainError as error:
        raise graphql_error(error, field_path=argument_path) from error
    return TrendReport.of(report)


async def signals(
    info: GatewayInfo,
    tenant_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Only this client organisation's; default every one you may see."),
    ] = None,
    status: Annotated[SignalStatus | None, strawberry.argument(description="Only open or resolved ones.")] = None,
    review_status: Annotated[
        ReviewStatus | None, strawberry.argument(description="Only signals in this review state.")
    ] = None,
    kind: Annotated[SignalKind | None, strawberry.argument(description="Only this kind.")] = None,
    first: First = None,
    after: After = None,
) -> Connection[Signal] | None:
    """A page of the signals the caller may see, as signals filters them per audience."""
    try:
        page = await SignalsApi(info.context.signals).signals(
            tenant_id=_uuid(tenant_id),
            status=status,
            review_status=review_status,
            kind=kind,
            cursor=after,
            limit=page_size(first),
        )
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error
    provider_view = sees_provider_view(info.context.caller)
    return from_service_page([Signal.of(item, provider_view=provider_view) for item in page.items], page.next_cursor)


async def signal(
    info: GatewayInfo, id: Annotated[strawberry.ID, strawberry.argument(description="Signal id.")]
) -> Signal | None:
    """One signal as the caller may see it; NOT_FOUND alike for one that does not exist and one not theirs."""
    problems: list[FieldError] = []
    signal_id = parse_id(id, "id", problems)
    if signal_id is None:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid id", fields=problems)
    try:
        found = await SignalsApi(info.context.signals).signal(signal_id)
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error
    return Signal.of(found, provider_view=sees_provider_view(info.context.caller))


async def false_alarms(
    info: GatewayInfo, tenant_id: Annotated[strawberry.ID, strawberry.argument(description="Client organisation.")]
) -> FalseAlarmReport | None:
    """The organisation's review record per signal kind; ``MayReadFalseAlarms`` has checked the caller."""
    try:
        report = await SignalsApi(info.context.signals).false_alarms(uuid.UUID(tenant_id))
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error
    return FalseAlarmReport.of(report)


async def interventions(
    info: GatewayInfo,
    signal_kind: Annotated[
        SignalKind | None, strawberry.argument(description="Only those recommended for this signal kind.")
    ] = None,
    first: First = None,
    after: After = None,
) -> Connection[Intervention] | None:
    """The catalogue in rank order, as signals shows it to the caller."""
    try:
        check_window(first, after)
        found = await SignalsApi(info.context.signals).interventions(signal_kind=signal_kind)
        return from_whole_list([Intervention.of(item) for item in found], first=first, after=after)
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error


async def opportunity_statistics(
    info: GatewayInfo,
    tenant_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="Only this client organisation's; default all you work."),
    ] = None,
) -> list[OpportunityKindStatistics] | None:
    """Won, lost and open per signal kind over the pipeline the caller works."""
    try:
        found = await SignalsApi(info.context.signals).opportunity_statistics(_uuid(tenant_id))
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error
    return [OpportunityKindStatistics.of(item) for item in found]


async def opportunities(
    info: GatewayInfo,
    stage: Annotated[
        OpportunityStage | None, strawberry.argument(description="Only opportunities in this stage.")
    ] = None,
    tenant_id: Annotated[
        strawberry.ID | None, strawberry.argument(description="Only this client organisation's.")
    ] = None,
    first: First = None,
    after: After = None,
) -> Connection[Opportunity] | None:
    """A page of the pipeline the caller works, newest first."""
    try:
        page = await SignalsApi(info.context.signals).opportunities(
            stage=stage, tenant_id=_uuid(tenant_id), cursor=after, limit=page_size(first)
        )
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error
    return from_service_page([Opportunity.of(item) for item in page.items], page.next_cursor)


async def opportunity(
    info: GatewayInfo, id: Annotated[strawberry.ID, strawberry.argument(description="Opportunity id.")]
) -> Opportunity | None:
    """One opportunity; its notes and recommendations come with it, from the same call."""
    problems: list[FieldError] = []
    opportunity_id = parse_id(id, "id", problems)
    if opportunity_id is None:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid id", fields=problems)
    try:
        # Through the loader, so that `notes` and `recommendations` reuse this answer.
        detail = await signals_loaders(info.context).opportunity_details.load(opportunity_id)
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error
    return Opportunity.of(detail)


async def account_overview(
    info: GatewayInfo, tenant_id: Annotated[strawberry.ID, strawberry.argument(description="Client organisation.")]
) -> AccountOverview | None:
    """The account manager's view of one client organisation of their portfolio."""
    try:
        account = await SignalsApi(info.context.signals).account(uuid.UUID(tenant_id))
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error
    return AccountOverview.of(account)


async def portfolio(info: GatewayInfo, first: First = None, after: After = None) -> Connection[PortfolioAccount] | None:
    """The caller's portfolio (provider admins: every client organisation), the nearest renewal first."""
    try:
        check_window(first, after)
        lines = await SignalsApi(info.context.signals).portfolio()
        return from_whole_list([PortfolioAccount.of(line) for line in lines], first=first, after=after)
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error


async def management_actions(
    info: GatewayInfo,
    tenant_id: Annotated[strawberry.ID, strawberry.argument(description="Client organisation.")],
    first: First = None,
    after: After = None,
) -> Connection[ManagementAction] | None:
    """The organisation's recorded management actions, latest first."""
    try:
        check_window(first, after)
        actions = await SignalsApi(info.context.signals).management_actions(uuid.UUID(tenant_id))
        return from_whole_list([ManagementAction.of(action) for action in actions], first=first, after=after)
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error


async def management_action_effects(
    info: GatewayInfo,
    action_type: Annotated[ManagementActionType, strawberry.argument(description="The action type to report on.")],
) -> ManagementActionTypeEffects | None:
    """The action type's effect on referral rates, pooled across client organisations."""
    try:
        report = await SignalsApi(info.context.signals).action_type_effects(action_type)
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error
    return ManagementActionTypeEffects.of(report)


async def secondment_observations(
    info: GatewayInfo,
    tenant_id: Annotated[strawberry.ID, strawberry.argument(description="Client organisation.")],
    since: Annotated[date | None, strawberry.argument(description="Only observations on or after this day.")] = None,
    first: First = None,
    after: After = None,
) -> Connection[SecondmentObservation] | None:
    """The organisation's secondment observations, latest first."""
    try:
        check_window(first, after)
        found = await SignalsApi(info.context.signals).secondment_observations(uuid.UUID(tenant_id), since=since)
        tenant_facing = is_tenant_facing(info.context.caller)
        nodes = [SecondmentObservation.of(item, tenant_facing=tenant_facing) for item in found]
        return from_whole_list(nodes, first=first, after=after)
    except DomainError as error:
        raise graphql_error(error, field_path=query_argument_path) from error


@strawberry.type
class SignalsQuery:
    trends: TrendReport | None = strawberry.field(
        resolver=trends,
        description="Referrals per org unit and category of one client organisation over the ISO weeks "
        "that overlap the period. Counts of fewer than k people are suppressed.",
        permission_classes=[IsAuthenticated, MayReadTrends],
    )
    signals: Connection[Signal] | None = strawberry.field(
        resolver=signals,
        description="Detected signals, newest first, as your role may see them: provider admins and social workers "
        "every signal with its counts and evidence; account managers (their portfolio) and client contacts and "
        "integrations (their own organisation) only confirmed signals, without counts (client organisations also "
        "none about fewer than k people).",
        permission_classes=[IsAuthenticated, MayReadSignals],
    )
    signal: Signal | None = strawberry.field(
        resolver=signal,
        description="One signal, as your role may see it (see `signals`). NOT_FOUND when it does not exist or is "
        "not yours to see.",
        permission_classes=[IsAuthenticated, MayReadSignals],
    )
    false_alarms: FalseAlarmReport | None = strawberry.field(
        resolver=false_alarms,
        description="What social workers' reviews taught the detectors about a client organisation: per signal "
        "kind raised, confirmed, dismissed and pending over twelve months, and how much stricter the detector "
        "became (social workers and provider admins).",
        permission_classes=[IsAuthenticated, MayReadFalseAlarms],
    )
    interventions: Connection[Intervention] | None = strawberry.field(
        resolver=interventions,
        description="The interventions catalogue in rank order: what can be offered for which signal kind, at "
        "which list price. Inactive interventions are listed for provider admins only.",
        permission_classes=[IsAuthenticated, MayReadCatalogue],
    )
    opportunity_statistics: list[OpportunityKindStatistics] | None = strawberry.field(
        resolver=opportunity_statistics,
        description="Won, lost and open opportunities and the win rate per signal kind: account managers over "
        "their portfolio, provider admins over every client organisation (or one, with `tenantId`).",
        permission_classes=[IsAuthenticated, MayWorkPipeline],
    )
    opportunities: Connection[Opportunity] | None = strawberry.field(
        resolver=opportunities,
        description="The sales pipeline drawn from signals, newest first: account managers their portfolio's, "
        "provider admins every one.",
        permission_classes=[IsAuthenticated, MayWorkPipeline],
    )
    opportunity: Opportunity | None = strawberry.field(
        resolver=opportunity,
        description="One opportunity with its notes and priced recommendations (account managers, provider admins).",
        permission_classes=[IsAuthenticated, MayWorkPipeline],
    )
    account_overview: AccountOverview | None = strawberry.field(
        resolver=account_overview,
        description="One client organisation for its account manager: contracts and their use, renewals, open "
        "signals, the pipeline and what was delivered. Never any case data.",
        permission_classes=[IsAuthenticated, MayWorkPipeline],
    )
    portfolio: Connection[PortfolioAccount] | None = strawberry.field(
        resolver=portfolio,
        description="Your portfolio of client organisations, the nearest renewal first (provider admins: all).",
        permission_classes=[IsAuthenticated, MayWorkPipeline],
    )
    management_actions: Connection[ManagementAction] | None = strawberry.field(
        resolver=management_actions,
        description="The management actions recorded for a client organisation, latest first, each with its "
        "before/after comparison on request (`effects`).",
        permission_classes=[IsAuthenticated, MayReadActions],
    )
    management_action_effects: ManagementActionTypeEffects | None = strawberry.field(
        resolver=management_action_effects,
        description="Which management actions help and which hurt: every action of the type pooled per category "
        "across client organisations, naming none of them (provider staff only).",
        permission_classes=[IsAuthenticated, MayReadPooledEffects],
    )
    secondment_observations: Connection[SecondmentObservation] | None = strawberry.field(
        resolver=secondment_observations,
        description="Bottlenecks seconded social workers observed in a client organisation, latest first (who "
        "recorded them only for provider staff).",
        permission_classes=[IsAuthenticated, MayReadObservations],
    )
