"""Who may read and change what in signals; the gateway refuses early, signals checks the same again.

The rules mirror the signals service's (``services/signals/src/bmw/signals/application``), so that a caller
who may not see something is refused before any service call and gets the same answer whether it exists or
not. Queries refuse through permission classes (a GraphQL error with ``extensions.code`` FORBIDDEN);
mutations through the ``may_*`` functions, whose refusal becomes the ``Forbidden`` member of their result.
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

#: Client contacts and integrations for their own organisation, provider staff as their role allows.
TREND_READERS = (
    Role.CLIENT_CONTACT,
    Role.INTEGRATION,
    Role.ACCOUNT_MANAGER,
    Role.PROVIDER_ADMIN,
    Role.SOCIAL_WORKER,
)
#: Signals: the same audiences as trends; employees see none.
SIGNAL_READERS = TREND_READERS
#: The sales pipeline and the account view: account managers (their portfolio) and provider admins.
PIPELINE_ROLES = (Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN)
#: Management actions and their before/after comparisons.
ACTION_READERS = TREND_READERS
ACTION_RECORDERS = (Role.CLIENT_CONTACT, Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN)
#: Observations of seconded social workers (client contacts see them without the recorder).
OBSERVATION_READERS = (Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT)
#: Who reviews a raised signal.
REVIEWERS = (Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN)
#: The interventions catalogue: everyone but employees (inactive interventions for provider admins only).
CATALOGUE_READERS = (
    Role.PROVIDER_ADMIN,
    Role.ACCOUNT_MANAGER,
    Role.SOCIAL_WORKER,
    Role.CLIENT_CONTACT,
    Role.INTEGRATION,
)
#: The provider's own staff; what is pooled across client organisations is theirs alone.
PROVIDER_STAFF = (Role.ACCOUNT_MANAGER, Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)
#: Roles bound to one client organisation: a token holding any of them gets the client's view.
TENANT_BOUND = (Role.CLIENT_CONTACT, Role.INTEGRATION, Role.EMPLOYEE)

NOT_FOR_THIS_ORGANISATION = "not allowed for this client organisation"


def role_refusal(roles: tuple[Role, ...]) -> str:
    """The refusal of a caller without any of ``roles``, naming them (as the services do)."""
    return "this needs one of the roles: " + ", ".join(sorted(role.value for role in roles))


def sees_provider_view(principal: Principal) -> bool:
    """Provider admins and social workers see a signal's counts, test and evidence; nobody tenant-bound does."""
    return principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER) and not principal.has_role(*TENANT_BOUND)


def is_tenant_facing(principal: Principal) -> bool:
    """Whether the caller gets a client organisation's view of numbers (any tenant-bound role, or no staff role)."""
    return principal.has_role(*TENANT_BOUND) or not principal.has_role(*PROVIDER_STAFF)


def may_read_signals(principal: Principal, tenant_id: uuid.UUID) -> bool:
    """Provider admins any organisation, social workers those they serve, account managers their portfolio, client
    contacts and integrations their own."""
    if principal.has_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER) and principal.may_act_for(tenant_id):
        return True
    if principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio:
        return True
    return principal.has_role(Role.CLIENT_CONTACT, Role.INTEGRATION) and principal.tenant_id == tenant_id


def may_work_pipeline(principal: Principal, tenant_id: uuid.UUID) -> bool:
    """Provider admins every organisation's opportunities and account, account managers their portfolio's."""
    return principal.has_role(Role.PROVIDER_ADMIN) or (
        principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio
    )


def may_record_action(principal: Principal, tenant_id: uuid.UUID) -> bool:
    """Provider admins, the organisation's account manager and its client contacts."""
    if principal.has_role(Role.PROVIDER_ADMIN):
        return True
    if principal.has_role(Role.ACCOUNT_MANAGER) and tenant_id in principal.portfolio:
        return True
    return principal.has_role(Role.CLIENT_CONTACT) and principal.tenant_id == tenant_id


def may_record_observation(principal: Principal, tenant_id: uuid.UUID) -> bool:
    """Social workers (the ones seconded on site) only."""
    return principal.has_role(Role.SOCIAL_WORKER) and principal.may_act_for(tenant_id)


class _SignalsPermission(BasePermission):
    """A role check and, when the field has a ``tenantId`` argument with a value, a check of that organisation.

    Follows ``IsAuthenticated``. Raises the refusal itself so that it can say which of the two failed.
    """

    roles: ClassVar[tuple[Role, ...]]
    message = NOT_FOR_THIS_ORGANISATION
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def may_read(self, principal: Principal, tenant_id: uuid.UUID) -> bool:
        return principal.may_act_for(tenant_id)

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        principal = info.context.caller
        if not principal.has_role(*self.roles):
            raise GatewayError(ErrorCode.FORBIDDEN, role_refusal(self.roles))
        argument = kwargs.get("tenant_id")
        if argument is None:
            return True
        problems: list[FieldError] = []
        tenant_id = parse_id(str(argument), "tenantId", problems)
        if tenant_id is None:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid tenantId", fields=problems)
        if not self.may_read(principal, tenant_id):
            raise GatewayError(ErrorCode.FORBIDDEN, NOT_FOR_THIS_ORGANISATION)
        return True


class MayReadTrends(BasePermission):
    """The caller may read the trends of the client organisation in the ``tenantId`` argument.

    Follows ``IsAuthenticated``. The refusal is the same whether the organisation exists or not.
    """

    message = NOT_FOR_THIS_ORGANISATION
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        principal = info.context.caller
        problems: list[FieldError] = []
        tenant_id = parse_id(str(kwargs["tenant_id"]), "tenantId", problems)
        if tenant_id is None:
            raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid tenantId", fields=problems)
        return principal.has_role(*TREND_READERS) and principal.may_act_for(tenant_id)


class MayReadSignals(_SignalsPermission):
    """Signals of the organisation in ``tenantId`` (or of every organisation the caller may see)."""

    roles = SIGNAL_READERS

    def may_read(self, principal: Principal, tenant_id: uuid.UUID) -> bool:
        return may_read_signals(principal, tenant_id)


class MayWorkPipeline(_SignalsPermission):
    """Opportunities, the portfolio and the account view: account managers (portfolio) and provider admins."""

    roles = PIPELINE_ROLES

    def may_read(self, principal: Principal, tenant_id: uuid.UUID) -> bool:
        return may_work_pipeline(principal, tenant_id)


class MayReadActions(_SignalsPermission):
    """The management actions of the organisation in ``tenantId``."""

    roles = ACTION_READERS


class MayReadObservations(_SignalsPermission):
    """The secondment observations of the organisation in ``tenantId``."""

    roles = OBSERVATION_READERS


class MayReadFalseAlarms(_SignalsPermission):
    """The review record of the organisation in ``tenantId``: the reviewers (social workers, provider admins),
    never through a token that is also bound to a client organisation."""

    roles = REVIEWERS

    def may_read(self, principal: Principal, tenant_id: uuid.UUID) -> bool:
        return not principal.has_role(*TENANT_BOUND)


class MayReadCatalogue(_SignalsPermission):
    """The interventions catalogue: every role but employees."""

    roles = CATALOGUE_READERS


class MayReadPooledEffects(BasePermission):
    """Knowledge pooled across client organisations is the provider's own: staff only, never a tenant-bound token."""

    message = "this report is for provider staff only"
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}

    def has_permission(self, source: Any, info: GatewayInfo, **kwargs: Any) -> bool:
        principal = info.context.caller
        return principal.has_role(*PROVIDER_STAFF) and not principal.has_role(*TENANT_BOUND)
