"""Mutations of the billing part of the schema: onboarding, org units, contracts and invoicing.

The gateway refuses early what billing would refuse for the caller's role or organisation (no
call is made then); billing checks everything again. Billing's routes take no Idempotency-Key
(see its openapi.json), so none is forwarded: a billing run makes nothing new when repeated,
issuing and crediting answer Conflict when repeated, and so do a registration with a known KvK
number and a unit with a taken id.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from bmw.contracts.taxonomy import Role
from bmw.gateway.billing.client import BillingApi, OrgUnitCreate
from bmw.gateway.billing.inputs import (
    AddOrgUnitInput,
    CreateContractInput,
    IssueCreditNoteInput,
    IssueInvoiceInput,
    Problems,
    RegisterClientOrganisationInput,
    RunBillingInput,
    one_id,
)
from bmw.gateway.billing.outcomes import (
    AddOrgUnitResult,
    BillingRun,
    BillingRunCompleted,
    ClientOrganisationRegistered,
    ContractCreated,
    CreateContractResult,
    CreditNoteIssued,
    InvoiceIssued,
    IssueCreditNoteResult,
    IssueInvoiceResult,
    OrgUnitAdded,
    RegisterClientOrganisationResult,
    RunBillingResult,
)
from bmw.gateway.billing.permissions import NOT_ALLOWED, ORG_UNITS_WRITE_SCOPE, lacks_scope
from bmw.gateway.billing.types import ClientOrganisation, Contract, Invoice, OrgUnit
from bmw.gateway.clients import UpstreamError
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import graphql_error, input_path
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.outcomes import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from bmw.servicekit import errors
from bmw.servicekit.auth import Principal


def billing_input_path(path: str) -> str:
    """A billing field path as a GraphQL input path: body fields and path parameters are both
    fields of ``input`` (``body.org_units.0.parent_id`` → ``input.orgUnits.0.parentId``,
    ``path.invoice_id`` → ``input.invoiceId``)."""
    if path.startswith("path."):
        return input_path("body." + path.removeprefix("path."))
    return input_path(path)


def _common(error: errors.DomainError) -> ValidationFailed | Forbidden | ServiceUnavailable:
    """The failures every billing mutation can meet; anything else is a GraphQL error."""
    if isinstance(error, errors.InvalidInput):
        return ValidationFailed.of(error, billing_input_path)
    if isinstance(error, errors.Forbidden):
        return Forbidden(message=error.message)
    if isinstance(error, errors.ServiceUnavailable):
        return ServiceUnavailable(message=error.message)
    raise graphql_error(error, field_path=billing_input_path) from error


def _api(info: GatewayInfo) -> BillingApi:
    return BillingApi(info.context.billing)


def _require_admin(principal: Principal) -> None:
    principal.require_role(Role.PROVIDER_ADMIN)


# -- client organisations -----------------------------------------------------------------------


async def register_client_organisation(
    info: GatewayInfo,
    input_: Annotated[
        RegisterClientOrganisationInput, strawberry.argument(name="input", description="The organisation.")
    ],
) -> RegisterClientOrganisationResult:
    """Provider admins onboard client organisations."""
    try:
        _require_admin(info.context.caller)
        body = input_.create()
        organisation = await _api(info).register_client_organisation(body)
    except errors.Conflict as error:
        return Conflict(message=error.message)
    except errors.DomainError as error:
        return _common(error)
    return ClientOrganisationRegistered(client_organisation=ClientOrganisation.of(organisation))


def _may_add_org_units(principal: Principal, tenant_id: uuid.UUID) -> None:
    """Provider admins for any organisation; client contacts and integrations (with the scope
    ``org_units:write``) for their own. Account managers do not change the org chart."""
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if principal.tenant_id != tenant_id:
        raise errors.Forbidden(NOT_ALLOWED)
    if lacks_scope(principal, ORG_UNITS_WRITE_SCOPE):
        raise errors.Forbidden(f"this integration lacks the scope {ORG_UNITS_WRITE_SCOPE}")


async def add_org_unit(
    info: GatewayInfo,
    input_: Annotated[AddOrgUnitInput, strawberry.argument(name="input", description="The unit.")],
) -> AddOrgUnitResult:
    """Add a unit; its id is chosen here when the caller gives none, so that the answer can name it."""
    principal = info.context.caller
    try:
        principal.require_role(Role.PROVIDER_ADMIN, Role.CLIENT_CONTACT, Role.INTEGRATION)
        problems = Problems()
        given_tenant = problems.optional_id(input_.tenant_id, "input.tenantId")
        unit = OrgUnitCreate(
            id=problems.optional_id(input_.id, "input.id") or uuid.uuid4(),
            name=input_.name,
            kind=input_.kind,
            parent_id=problems.optional_id(input_.parent_id, "input.parentId"),
            employees=input_.employees,
        )
        tenant_id = problems.checked(
            given_tenant if input_.tenant_id is not None else principal.tenant_id,
            "input.tenantId",
            "required for callers without a client organisation",
        )
        _may_add_org_units(principal, tenant_id)
        organisation = await _api(info).add_org_unit(tenant_id, unit)
    except errors.NotFound as error:
        return NotFound(message=error.message)
    except errors.Conflict as error:
        return Conflict(message=error.message)
    except errors.DomainError as error:
        return _common(error)
    shown = ClientOrganisation.of(organisation)
    added = _find_unit(shown.org_units, strawberry.ID(str(unit.id)))
    if added is None:
        raise UpstreamError("billing's answer lacks the unit it added")
    return OrgUnitAdded(org_unit=added, client_organisation=shown)


def _find_unit(units: list[OrgUnit], unit_id: strawberry.ID) -> OrgUnit | None:
    for unit in units:
        if unit.id == unit_id:
            return unit
        found = _find_unit(unit.children, unit_id)
        if found is not None:
            return found
    return None


# -- contracts ----------------------------------------------------------------------------------


async def create_contract(
    info: GatewayInfo,
    input_: Annotated[CreateContractInput, strawberry.argument(name="input", description="The contract.")],
) -> CreateContractResult:
    """Provider admins record contracts."""
    try:
        _require_admin(info.context.caller)
        body = input_.create()
        contract = await _api(info).create_contract(body)
    except errors.Conflict as error:
        return Conflict(message=error.message)
    except errors.DomainError as error:
        return _common(error)
    return ContractCreated(contract=Contract.of(contract))


# -- invoicing ----------------------------------------------------------------------------------


async def run_billing(
    info: GatewayInfo,
    input_: Annotated[RunBillingInput, strawberry.argument(name="input", description="The period to bill.")],
) -> RunBillingResult:
    """Provider admins bill a period."""
    try:
        _require_admin(info.context.caller)
        body = input_.create()
        run = await _api(info).run_billing(body)
    except errors.NotFound as error:
        return NotFound(message=error.message)
    except errors.DomainError as error:
        return _common(error)
    return BillingRunCompleted(run=BillingRun.of(run))


async def issue_invoice(
    info: GatewayInfo,
    input_: Annotated[IssueInvoiceInput, strawberry.argument(name="input", description="The draft to issue.")],
) -> IssueInvoiceResult:
    """Provider admins issue reviewed drafts."""
    try:
        _require_admin(info.context.caller)
        issued = await _api(info).issue_invoice(one_id(input_.invoice_id, "input.invoiceId"))
    except errors.NotFound as error:
        return NotFound(message=error.message)
    except errors.Conflict as error:
        return Conflict(message=error.message)
    except errors.DomainError as error:
        return _common(error)
    return InvoiceIssued(invoice=Invoice.of(issued))


async def issue_credit_note(
    info: GatewayInfo,
    input_: Annotated[IssueCreditNoteInput, strawberry.argument(name="input", description="The invoice to credit.")],
) -> IssueCreditNoteResult:
    """Provider admins correct issued invoices."""
    try:
        _require_admin(info.context.caller)
        note = await _api(info).issue_credit_note(
            one_id(input_.invoice_id, "input.invoiceId"), release_usage=input_.release_usage
        )
    except errors.NotFound as error:
        return NotFound(message=error.message)
    except errors.Conflict as error:
        return Conflict(message=error.message)
    except errors.DomainError as error:
        return _common(error)
    return CreditNoteIssued(credit_note=Invoice.of(note))


@strawberry.type
class BillingMutation:
    register_client_organisation: RegisterClientOrganisationResult = strawberry.mutation(
        resolver=register_client_organisation,
        description="Onboard a client organisation (provider admins); the other services learn of it by event, "
        "without its contacts or addresses.",
        permission_classes=[IsAuthenticated],
    )
    add_org_unit: AddOrgUnitResult = strawberry.mutation(
        resolver=add_org_unit,
        description="Add a department or location (provider admins; client contacts and integrations with the "
        "scope org_units:write for their own organisation).",
        permission_classes=[IsAuthenticated],
    )
    create_contract: CreateContractResult = strawberry.mutation(
        resolver=create_contract,
        description="Record a contract with its priced products (provider admins). Usage held for the days it "
        "covers is metered against it.",
        permission_classes=[IsAuthenticated],
    )
    run_billing: RunBillingResult = strawberry.mutation(
        resolver=run_billing,
        description="Bill a month or quarter (provider admins): one draft invoice per client organisation with "
        "something to bill. Running it again makes nothing new.",
        permission_classes=[IsAuthenticated],
    )
    issue_invoice: IssueInvoiceResult = strawberry.mutation(
        resolver=issue_invoice,
        description="Issue a reviewed draft (provider admins): it gets its gapless number and never changes again.",
        permission_classes=[IsAuthenticated],
    )
    issue_credit_note: IssueCreditNoteResult = strawberry.mutation(
        resolver=issue_credit_note,
        description="Correct an issued invoice with a credit note that nets it to zero (provider admins).",
        permission_classes=[IsAuthenticated],
    )
