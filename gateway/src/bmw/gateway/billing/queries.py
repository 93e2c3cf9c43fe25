"""Queries of client organisations, contract usage and invoices.

Every field is nullable: when billing is down (or refuses), only that field fails with its
``extensions.code`` and the rest of the response still resolves.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import strawberry

from bmw.contracts.taxonomy import Role
from bmw.gateway.billing.client import InvoiceBody, InvoiceStatus
from bmw.gateway.billing.loaders import billing_loaders
from bmw.gateway.billing.permissions import (
    INVOICES_SCOPE,
    ReadsBilling,
    ReadsInvoices,
    ReadsOrganisation,
    ReadsUsage,
    lacks_scope,
    may_read_organisation,
    tenant_argument,
)
from bmw.gateway.billing.types import ClientOrganisation, ClientUsage, ContractUsage, Invoice
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import ErrorCode, GatewayError, argument_path, graphql_error
from bmw.gateway.identity.permissions import IsAuthenticated
from bmw.gateway.inputs import parse_id
from bmw.gateway.pagination import Connection, check_window, from_whole_list
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import DomainError, FieldError, NotFound

logger = logging.getLogger(__name__)

#: Contracts are in force on calendar days in the Netherlands.
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

First = Annotated[int | None, strawberry.argument(description="Page size: 1 to 200 (50 when absent).")]
After = Annotated[
    str | None, strawberry.argument(description="Continue after this cursor (a page's `pageInfo.endCursor`).")
]
TenantId = Annotated[strawberry.ID, strawberry.argument(description="The client organisation.")]


def _visible(principal: Principal, invoice: InvoiceBody) -> bool:
    """Defence in depth: what billing answered is shown only if the caller may see it (drafts are
    the provider's until issued)."""
    if principal.has_role(Role.PROVIDER_ADMIN):
        return True
    return invoice.status is InvoiceStatus.ISSUED and may_read_organisation(principal, invoice.tenant_id)


async def client_organisations(
    info: GatewayInfo, first: First = None, after: After = None
) -> Connection[ClientOrganisation] | None:
    """Billing answers with those the caller may see; the gateway pages them."""
    try:
        check_window(first, after)
        found = await billing_loaders(info).api.client_organisations()
        return from_whole_list([ClientOrganisation.of(body) for body in found], first=first, after=after)
    except DomainError as error:
        raise graphql_error(error, field_path=argument_path) from error


async def client_organisation(
    info: GatewayInfo, id: Annotated[strawberry.ID, strawberry.argument(description="Tenant id.")]
) -> ClientOrganisation | None:
    """``ReadsOrganisation`` has checked the caller and the id."""
    try:
        body = await billing_loaders(info).organisations.load(uuid.UUID(id))
    except DomainError as error:
        raise graphql_error(error, field_path=argument_path) from error
    return ClientOrganisation.of(body)


def today_in_amsterdam() -> date:
    """Today's date where the contracts are in force."""
    return datetime.now(AMSTERDAM).date()


async def contract_usage(
    info: GatewayInfo,
    tenant_id: TenantId,
    on: Annotated[
        date | None, strawberry.argument(description="The day the contracts are in force on; today when absent.")
    ] = None,
) -> ClientUsage | None:
    """One call for the organisation's contracts and one per contract in force (a few at most: contracts
    with a product of the same kind never overlap), concurrently."""
    day = on or today_in_amsterdam()
    loaders = billing_loaders(info)
    try:
        contracts = await loaders.contracts.load(uuid.UUID(tenant_id))
        in_force = sorted(
            (contract for contract in contracts if contract.in_force_on(day)),
            key=lambda contract: (contract.period_start, str(contract.id)),
        )
        usages = await loaders.contract_usage.load_many([contract.id for contract in in_force])
    except DomainError as error:
        raise graphql_error(error, field_path=argument_path) from error
    return ClientUsage(
        tenant_id=tenant_id,
        on=day,
        contracts=[ContractUsage.of(contract, usage) for contract, usage in zip(in_force, usages, strict=True)],
    )


async def invoices(
    info: GatewayInfo,
    tenant_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(
            description="The client organisation; defaults to your own. Provider admins may leave it out for all."
        ),
    ] = None,
    status: Annotated[
        InvoiceStatus | None,
        strawberry.argument(description="Only drafts or only issued ones; others than admins see issued ones only."),
    ] = None,
    first: First = None,
    after: After = None,
) -> Connection[Invoice] | None:
    """``ReadsInvoices`` has checked the caller and the tenant id. Billing has no cursor: the gateway
    pages over the newest 500."""
    principal = info.context.caller
    tenant = tenant_argument(principal, tenant_id, "tenantId")
    try:
        check_window(first, after)
        found = await billing_loaders(info).api.invoices(tenant, status)
        shown = [body for body in found if _visible(principal, body) and tenant in (None, body.tenant_id)]
        if len(shown) < len(found):
            logger.warning("billing listed %d invoice(s) the caller may not see; left out", len(found) - len(shown))
        return from_whole_list([Invoice.of(body) for body in shown], first=first, after=after)
    except DomainError as error:
        raise graphql_error(error, field_path=argument_path) from error


async def invoice(
    info: GatewayInfo, id: Annotated[strawberry.ID, strawberry.argument(description="Invoice id.")]
) -> Invoice | None:
    """Billing decides who sees it (the invoice names its organisation only once read); the gateway
    checks its answer again and says "not found" alike for unknown and not visible."""
    principal = info.context.caller
    if lacks_scope(principal, INVOICES_SCOPE):
        raise GatewayError(ErrorCode.FORBIDDEN, f"this integration lacks the scope {INVOICES_SCOPE}")
    problems: list[FieldError] = []
    invoice_id = parse_id(id, "id", problems)
    if invoice_id is None:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, "invalid id", fields=problems)
    try:
        body = await billing_loaders(info).api.invoice(invoice_id)
        if not _visible(principal, body):
            logger.warning("billing answered with an invoice the caller may not see; refused")
            raise NotFound("invoice not found")
    except DomainError as error:
        raise graphql_error(error, field_path=argument_path) from error
    return Invoice.of(body)


@strawberry.type
class BillingQuery:
    client_organisations: Connection[ClientOrganisation] | None = strawberry.field(
        resolver=client_organisations,
        description="The client organisations you may see: all (provider admins), your portfolio (account "
        "managers) or your own (client contacts, integrations).",
        permission_classes=[IsAuthenticated, ReadsBilling],
    )
    client_organisation: ClientOrganisation | None = strawberry.field(
        resolver=client_organisation,
        description="One client organisation: profile, org unit tree with headcounts, account manager.",
        permission_classes=[IsAuthenticated, ReadsOrganisation],
    )
    contract_usage: ClientUsage | None = strawberry.field(
        resolver=contract_usage,
        description="The contracts of a client organisation in force on a day, with each product's use against "
        "what the contract includes. Totals only: never per person or per case.",
        permission_classes=[IsAuthenticated, ReadsUsage],
    )
    invoices: Connection[Invoice] | None = strawberry.field(
        resolver=invoices,
        description="Invoices and credit notes of a client organisation, newest period first.",
        permission_classes=[IsAuthenticated, ReadsInvoices],
    )
    invoice: Invoice | None = strawberry.field(
        resolver=invoice,
        description="One invoice or credit note with its lines and totals; its UBL XML, HTML rendering and usage "
        "statement are fetched only when selected.",
        permission_classes=[IsAuthenticated, ReadsBilling],
    )
