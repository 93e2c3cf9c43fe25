"""Who may ask for cases and for their own referrals; intake checks the same again.

The refusals depend on the caller's roles only, never on the id asked for, so they reveal nothing about
whether a case exists. Both follow ``IsAuthenticated``.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from bmw.contracts.taxonomy import Role
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode

#: Provider staff who work with cases. Client contacts, account managers, integrations and employees never
#: see an individual case (DESIGN §2 rule 1).
CASE_READERS = (Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN)

#: Roles for which intake's ``GET /referrals`` lists the whole organisation's referrals instead of the
#: caller's own, even when the token also says ``employee``.
ORGANISATION_READERS = (Role.CLIENT_CONTACT, Role.INTEGRATION, Role.PROVIDER_ADMIN)


class MayReadCases(BasePermission):
    """The caller is a social worker or a provider admin."""

    message = "cases are for social workers and provider admins only"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        return info.context.caller.has_role(*CASE_READERS)


class IsEmployee(BasePermission):
    """The caller is an employee and nothing that would widen intake's answer to the organisation."""

    message = "myReferrals lists an employee's own referrals; sign in with an employee token"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        caller = info.context.caller
        return caller.has_role(Role.EMPLOYEE) and not caller.has_role(*ORGANISATION_READERS)
