"""Who may read a client organisation's trends (signals checks the same again)."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from bmw.contracts.taxonomy import Role
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError
from bmw.gateway.inputs import parse_id
from bmw.servicekit.errors import FieldError

#: Client contacts and integrations for their own organisation, provider staff as their role allows.
TREND_READERS = (
    Role.CLIENT_CONTACT,
    Role.INTEGRATION,
    Role.ACCOUNT_MANAGER,
    Role.PROVIDER_ADMIN,
    Role.SOCIAL_WORKER,
)


class MayReadTrends(BasePermission):
    """The caller may read the trends of the client organisation in the ``tenantId`` argument.

    Follows ``IsAuthenticated``. The refusal is the same whether the organisation exists or not.
    """

    message = "not allowed for this client organisation"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        principal = info.context.caller
        problems: list[FieldError] = []
        tenant_id = parse_id(str(kwargs["tenant_id"]), "tenantId", problems)
        if tenant_id is None:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid tenantId", fields=problems)
        return principal.has_role(*TREND_READERS) and principal.may_act_for(tenant_id)
