"""Who may start each subscription; refused before anything is delivered (the rules in :mod:`.rules`)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError
from bmw.gateway.inputs import parse_id
from bmw.gateway.subscriptions.rules import may_follow_appointments, may_follow_opportunities, signal_audience
from bmw.servicekit.errors import FieldError


class MayFollowSignals(BasePermission):
    """The caller may receive some of the signals of the client organisation in ``tenantId``.

    Follows ``IsAuthenticated``. The refusal is the same whether the organisation exists or not.
    """

    message = "not allowed for this client organisation"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        problems: list[FieldError] = []
        tenant_id = parse_id(str(kwargs["tenant_id"]), "tenantId", problems)
        if tenant_id is None:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid tenantId", fields=problems)
        return signal_audience(info.context.caller, tenant_id) is not None


class MayFollowOpportunities(BasePermission):
    """Account managers and provider administrators. Follows ``IsAuthenticated``."""

    message = "opportunity changes are for account managers and provider administrators"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        return may_follow_opportunities(info.context.caller)


class MayFollowAppointments(BasePermission):
    """Social workers and provider administrators. Follows ``IsAuthenticated``.

    Employees follow their own appointments through ``myAppointments``: the events name no person.
    """

    message = "appointment changes are for social workers and provider administrators"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        return may_follow_appointments(info.context.caller)
