"""Who may read which client organisation's billing data; billing checks the same again.

Provider admins read every organisation, account managers their portfolio, client contacts and
integrations their own (integrations with a scope for usage and invoices). Employees and social
workers have no business in billing. A refusal for another organisation is the same whether it
exists or not, and comes before any call to billing.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from strawberry.permission import BasePermission

from bmw.contracts.taxonomy import Role
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError
from bmw.gateway.inputs import parse_id
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError

#: The roles that read billing data at all.
BILLING_READERS = (Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT, Role.INTEGRATION)
#: The integration scope that reads contracts and usage.
USAGE_SCOPE = "usage:read"
#: The integration scope that reads invoices.
INVOICES_SCOPE = "invoices:read"
#: The integration scope that adds org units.
ORG_UNITS_WRITE_SCOPE = "org_units:write"

NOT_ALLOWED = "not allowed for this client organisation"


def may_read_organisation(principal: Principal, tenant_id: uuid.UUID) -> bool:
    """Whether the caller may read this client organisation (unlike ``may_act_for``, social
    workers and employees may not)."""
    if principal.has_role(Role.PROVIDER_ADMIN):
        return True
    if principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio:
        return True
    return principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION) and principal.tenant_id == tenant_id


def lacks_scope(principal: Principal, scope: str) -> bool:
    """True for a machine client (integration) without ``scope``; people need no scopes."""
    acts_as_person = principal.has_role(Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT)
    return principal.has_role(Role.INTEGRATION) and not acts_as_person and scope not in principal.scopes


def require_reader(principal: Principal) -> None:
    """Refuse callers whose role reads no billing data."""
    if not principal.has_role(*BILLING_READERS):
        allowed = ", ".join(sorted(role.value for role in BILLING_READERS))
        raise GatewayError(ErrorCode.FORBIDDEN, f"this operation needs one of the roles: {allowed}")


def tenant_argument(principal: Principal, value: object, argument: str) -> uuid.UUID | None:
    """The tenant id in an argument; when absent, a tenant-bound caller's own (None for staff)."""
    if value is None:
        return principal.tenant_id if principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION) else None
    problems: list[FieldError] = []
    tenant_id = parse_id(str(value), argument, problems)
    if tenant_id is None:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, f"invalid {argument}", fields=problems)
    return tenant_id


class ReadsBilling(BasePermission):
    """The caller's role reads billing data (the service narrows the answer to what they may see)."""

    message = "not allowed"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        require_reader(info.context.caller)
        return True


class _ReadsOrganisation(BasePermission):
    """The caller may read the client organisation named by ``argument`` (with ``scope``, for an
    integration). Follows ``IsAuthenticated``."""

    #: The Python name of the argument, and its GraphQL name for error paths.
    argument: ClassVar[tuple[str, str]] = ("tenant_id", "tenantId")
    #: The scope an integration needs, if any.
    scope: ClassVar[str | None] = None
    #: Whether staff who see several organisations may leave the argument out (all they may see).
    optional_for_admins: ClassVar[bool] = False

    message = NOT_ALLOWED
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        principal = info.context.caller
        python_name, graphql_name = self.argument
        require_reader(principal)
        tenant_id = tenant_argument(principal, kwargs.get(python_name), graphql_name)
        if self.scope is not None and lacks_scope(principal, self.scope):
            raise GatewayError(ErrorCode.FORBIDDEN, f"this integration lacks the scope {self.scope}")
        if tenant_id is None:
            if self.optional_for_admins and principal.has_role(Role.PROVIDER_ADMIN):
                return True
            raise GatewayError(
                ErrorCode.BAD_USER_INPUT,
                f"say which client organisation: {graphql_name} is required",
                fields=[FieldError(path=graphql_name, message="required")],
            )
        return may_read_organisation(principal, tenant_id)


class ReadsOrganisation(_ReadsOrganisation):
    """The caller may read the client organisation in the ``id`` argument."""

    argument = ("id", "id")


class ReadsUsage(_ReadsOrganisation):
    """The caller may read the contracts and usage of the organisation in ``tenantId``."""

    scope = USAGE_SCOPE


class ReadsInvoices(_ReadsOrganisation):
    """The caller may read the invoices of the organisation in ``tenantId`` (admins: all when absent)."""

    scope = INVOICES_SCOPE
    optional_for_admins = True
