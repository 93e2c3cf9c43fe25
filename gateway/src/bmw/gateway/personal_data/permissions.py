"""Who may ask what every service holds about a person: provider admins, who handle the rights of the person.

The refusal depends on the caller's roles only, never on the person asked about, so it reveals nothing about
whether anyone is known; the services check the same again.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from bmw.contracts.taxonomy import Role
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode


class IsProviderAdmin(BasePermission):
    """The caller is a provider admin. Follows ``IsAuthenticated``."""

    message = "the rights of the person are handled by provider admins only"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        return info.context.caller.has_role(Role.PROVIDER_ADMIN)
