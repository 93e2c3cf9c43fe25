"""Queries of trends."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import strawberry

from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError, argument_path, graphql_error
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.signals.permissions import MayReadTrends
from bmw.gateway.signals.types import TrendReport
from bmw.servicekit.errors import DomainError, FieldError


async def trends(
    info: GatewayInfo,
    tenant_id: Annotated[strawberry.ID, strawberry.argument(description="Client organisation.")],
    from_: Annotated[date, strawberry.argument(name="from", description="First day of the period (inclusive).")],
    to: Annotated[date, strawberry.argument(description="Last day of the period (inclusive).")],
) -> TrendReport:
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


@strawberry.type
class SignalsQuery:
    trends: TrendReport = strawberry.field(
        resolver=trends,
        description="Referrals per org unit and category of one client organisation over the ISO weeks "
        "that overlap the period. Counts of fewer than k people are suppressed.",
        permission_classes=[IsAuthenticated, MayReadTrends],
    )
