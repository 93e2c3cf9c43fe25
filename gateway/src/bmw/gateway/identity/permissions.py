"""Authentication as a strawberry permission: fields that need a caller say so in their declaration."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError


class IsAuthenticated(BasePermission):
    """The request carries a valid bearer token."""

    message = "authentication required"
    error_extensions = {"code": ErrorCode.UNAUTHENTICATED.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        context = info.context
        if context.principal is not None:
            return True
        # Say why (missing vs. invalid or expired) so a client knows whether to log in or refresh.
        raise GatewayError(ErrorCode.UNAUTHENTICATED, context.authentication_error or self.message or "")
