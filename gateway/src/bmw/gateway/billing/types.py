"""GraphQL types of client organisations, contracts, usage and invoices.

Money is exact: integer euro cents with a formatted string beside them; quantities and
percentages are decimal strings, as billing gives them. Nothing here names a person but the
organisation's own business contacts (billing withholds those from integrations).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, TypeVar

import strawberry
from strawberry.dataloader import DataLoader

from bmw.gateway.billing.client import (
    AddressBody,
    AddressesBody,
    ClientOrganisationBody,
    ContactBody,
    ContractBody,
    ContractProductBody,
    ContractUsageBody,
    InvoiceBody,
    InvoiceLineBody,
    OrgUnitBody,
    ProductUsageBody,
    StatementLineBody,
    UsageStatementBody,
)
from bmw.gateway.billing.enums import (
    ContactRole,
    ContractStatus,
    InvoiceKind,
    InvoiceStatus,
    InvoicingPeriod,
    OrgUnitKind,
    ProductKind,
    VatRate,
)
from bmw.gateway.billing.loaders import billing_loaders
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import graphql_error
from bmw.servicekit.errors import DomainError

logger = logging.getLogger(__name__)

Value = TypeVar("Value")


def _id(value: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


def _optional_id(value: uuid.UUID | None) -> strawberry.ID | None:
    return None if value is None else _id(value)


async def _load(loader: DataLoader[uuid.UUID, Value], key: uuid.UUID) -> Value:
    """Load through a request's loader; billing's refusal becomes this field's GraphQL error."""
    try:
        return await loader.load(key)
    except DomainError as error:
        raise graphql_error(error) from error


# -- money --------------------------------------------------------------------------------------


def format_euros(cents: int) -> str:
    """``123456`` → ``€ 1.234,56``; ``-500`` → ``€ -5,00`` (Dutch notation)."""
    whole, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return f"€ {sign}{whole:,}".replace(",", ".") + f",{rest:02d}"


@strawberry.type(description="An exact amount in euros, excluding VAT unless its field says otherwise.")
class Money:
    cents: int = strawberry.field(description="The amount in euro cents; negative on a credit note.")
    amount: str = strawberry.field(description="The amount in euros as a decimal string, e.g. `1234.56`.")
    formatted: str = strawberry.field(description="The amount as Dutch readers write it, e.g. `€ 1.234,56`.")
    currency: str = strawberry.field(description="ISO 4217 currency code; always `EUR`.")

    @classmethod
    def of(cls, cents: int) -> Money:
        """Money from integer euro cents."""
        return cls(
            cents=cents,
            amount=str((Decimal(cents) / 100).quantize(Decimal("0.01"))),
            formatted=format_euros(cents),
            currency="EUR",
        )


# -- client organisations -----------------------------------------------------------------------


@strawberry.type(description="A postal address.")
class Address:
    street: str = strawberry.field(description="Street name.")
    house_number: str = strawberry.field(description="House number with any addition.")
    postal_code: str = strawberry.field(description="Postal code, normalised (1234 AB in the Netherlands).")
    city: str = strawberry.field(description="City (woonplaats).")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")

    @classmethod
    def of(cls, body: AddressBody | None) -> Address | None:
        """An address from billing's answer, if there is one."""
        if body is None:
            return None
        return cls(
            street=body.street,
            house_number=body.house_number,
            postal_code=body.postal_code,
            city=body.city,
            country=body.country,
        )


@strawberry.type(description="The organisation's addresses by purpose.")
class Addresses:
    visiting: Address | None = strawberry.field(description="Visiting address (bezoekadres), if known.")
    postal: Address | None = strawberry.field(description="Postal address (postadres), if known.")
    invoice: Address | None = strawberry.field(
        description="Invoice address (factuuradres), if known; invoices go to the postal address otherwise."
    )

    @classmethod
    def of(cls, body: AddressesBody) -> Addresses:
        """The addresses from billing's answer."""
        return cls(visiting=Address.of(body.visiting), postal=Address.of(body.postal), invoice=Address.of(body.invoice))


@strawberry.type(description="A business contact at the client organisation (not an employee in care).")
class Contact:
    role: ContactRole = strawberry.field(description="What the contact is for.")
    name: str = strawberry.field(description="Name of the contact person.")
    email: str = strawberry.field(description="Business e-mail address.")
    phone: str | None = strawberry.field(description="Business phone number, if known.")

    @classmethod
    def of(cls, body: ContactBody) -> Contact:
        """A contact from billing's answer; a role billing adds later reads as OTHER."""
        try:
            role = ContactRole(body.role)
        except ValueError:
            role = ContactRole.OTHER
        return cls(role=role, name=body.name, email=body.email, phone=body.phone)


@strawberry.type(description="Where the organisation receives e-invoices (Peppol endpoint, EN 16931 BT-49).")
class ElectronicAddress:
    scheme: str = strawberry.field(description="EAS scheme code, e.g. `0106` (KvK number).")
    identifier: str = strawberry.field(description="The identifier within the scheme.")


@strawberry.type(description="A department or location of a client organisation, with the units below it.")
class OrgUnit:
    id: strawberry.ID = strawberry.field(description="Org unit id.")
    name: str = strawberry.field(description="Name of the department or location.")
    kind: OrgUnitKind = strawberry.field(description="Department or location.")
    parent_id: strawberry.ID | None = strawberry.field(description="The unit above it; null for a top-level unit.")
    employees: int | None = strawberry.field(
        description="Headcount of the unit itself, not of the units below it; null when not given."
    )
    total_employees: int = strawberry.field(
        description="Headcount of the unit and every unit below it, counting the units whose headcount is known."
    )
    children: list[OrgUnit] = strawberry.field(description="The units directly below it, sorted by name.")


def org_unit_tree(units: Sequence[OrgUnitBody]) -> list[OrgUnit]:
    """The flat units of a profile as a tree: top-level units first, children sorted by name.

    A unit whose parent is not in the list is shown at the top rather than lost.
    """
    known = {unit.id for unit in units}
    children: dict[uuid.UUID | None, list[OrgUnitBody]] = defaultdict(list)
    for unit in units:
        children[unit.parent_id if unit.parent_id in known else None].append(unit)

    def ordered(siblings: list[OrgUnitBody]) -> list[OrgUnitBody]:
        return sorted(siblings, key=lambda unit: (unit.name.casefold(), str(unit.id)))

    def node(unit: OrgUnitBody, seen: frozenset[uuid.UUID]) -> OrgUnit:
        # ``seen`` stops a cycle billing should never store from recursing for ever.
        below = [node(child, seen | {child.id}) for child in ordered(children[unit.id]) if child.id not in seen]
        return OrgUnit(
            id=_id(unit.id),
            name=unit.name,
            kind=unit.kind,
            parent_id=_optional_id(unit.parent_id),
            employees=unit.employees,
            total_employees=(unit.employees or 0) + sum(child.total_employees for child in below),
            children=below,
        )

    return [node(root, frozenset({root.id})) for root in ordered(children[None])]


async def organisation_contracts(
    root: ClientOrganisation,
    info: GatewayInfo,
    in_force_on: Annotated[
        date | None, strawberry.argument(description="Only the contracts covering this day (Europe/Amsterdam).")
    ] = None,
) -> list[Contract] | None:
    """The organisation's contracts through the request's loader (one call for many organisations)."""
    found = await _load(billing_loaders(info).contracts, root.tenant_uuid)
    if in_force_on is not None:
        found = [contract for contract in found if contract.in_force_on(in_force_on)]
    return [Contract.of(contract) for contract in sorted(found, key=lambda c: (c.period_start, str(c.id)))]


@strawberry.type(description="A client organisation (tenant) of the provider: its profile and org unit tree.")
class ClientOrganisation:
    id: strawberry.ID = strawberry.field(description="Tenant id: pass it as `tenantId` to other operations.")
    name: str = strawberry.field(description="Legal name.")
    kvk_number: str | None = strawberry.field(description="Chamber of Commerce (KvK) number.")
    vat_id: str | None = strawberry.field(description="VAT id (btw-id) with its country prefix.")
    account_manager_id: str | None = strawberry.field(
        description="Subject id of the provider's account manager for this organisation; null if none."
    )
    k_anonymity: int = strawberry.field(
        description="Small-cell threshold: aggregates about fewer people are never shown to the organisation."
    )
    payment_terms_days: int = strawberry.field(description="Payment term of its invoices, in days.")
    invoice_email: str | None = strawberry.field(description="Mailbox that receives the invoices.")
    electronic_address: ElectronicAddress | None = strawberry.field(
        description="Peppol endpoint for e-invoices, if set."
    )
    addresses: Addresses = strawberry.field(description="Visiting, postal and invoice address.")
    contacts: list[Contact] | None = strawberry.field(
        description="Business contacts; null when withheld from the caller (integrations)."
    )
    org_units: list[OrgUnit] = strawberry.field(
        description="The org unit tree: the top-level units, each with the units below it."
    )
    total_employees: int = strawberry.field(
        description="Headcount of the whole organisation, counting the units whose headcount is known."
    )
    tenant_uuid: strawberry.Private[uuid.UUID]

    contracts: list[Contract] | None = strawberry.field(
        resolver=organisation_contracts,
        description="Its contracts, oldest first; with `inForceOn`, only those covering that day. Costs one billing "
        "call for a whole list of organisations.",
    )

    @classmethod
    def of(cls, body: ClientOrganisationBody) -> ClientOrganisation:
        """An organisation from billing's answer."""
        units = org_unit_tree(body.org_units)
        electronic = body.electronic_address
        return cls(
            id=_id(body.id),
            name=body.name,
            kvk_number=body.kvk_number,
            vat_id=body.vat_id,
            account_manager_id=body.account_manager_id,
            k_anonymity=body.k_anonymity,
            payment_terms_days=body.payment_terms_days,
            invoice_email=body.invoice_email,
            electronic_address=(
                ElectronicAddress(scheme=electronic.scheme, identifier=electronic.identifier) if electronic else None
            ),
            addresses=Addresses.of(body.addresses),
            contacts=None if body.contacts is None else [Contact.of(contact) for contact in body.contacts],
            org_units=units,
            total_employees=sum(unit.total_employees for unit in units),
            tenant_uuid=body.id,
        )


# -- contracts ----------------------------------------------------------------------------------


@strawberry.type(description="A priced product of a contract. Prices exclude VAT.")
class ContractProduct:
    code: str = strawberry.field(description="Product code from the provider's catalogue.")
    kind: ProductKind = strawberry.field(description="How it is priced and metered.")
    unit_price: Money = strawberry.field(
        description="Price per unit: per employee per year, per hour, per case, per session or participant, or "
        "per occurrence, after its kind."
    )
    vat_rate: VatRate = strawberry.field(description="VAT rate.")
    vat_exemption_reason: str | None = strawberry.field(description="Why it is exempt from VAT, if it is.")
    included_quantity: str | None = strawberry.field(description="Hours in an hour bundle (decimal string).")
    overage_unit_price: Money | None = strawberry.field(
        description="Price per hour beyond a bundle, or per consult beyond a subscription's sessions; null when "
        "such use is not sold."
    )
    sessions_per_employee_per_year: int | None = strawberry.field(
        description="A subscription's entitlement: consults per employee per calendar year."
    )

    @classmethod
    def of(cls, body: ContractProductBody) -> ContractProduct:
        """A product from billing's answer."""
        return cls(
            code=body.code,
            kind=body.kind,
            unit_price=Money.of(body.unit_price_cents),
            vat_rate=body.vat_rate,
            vat_exemption_reason=body.vat_exemption_reason,
            included_quantity=body.included_quantity,
            overage_unit_price=(
                Money.of(body.overage_unit_price_cents) if body.overage_unit_price_cents is not None else None
            ),
            sessions_per_employee_per_year=body.sessions_per_employee_per_year,
        )


@strawberry.type(description="A contract of a client organisation: its period and priced products.")
class Contract:
    id: strawberry.ID = strawberry.field(description="Contract id.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    status: ContractStatus = strawberry.field(description="Active, or ended early.")
    period_start: date = strawberry.field(description="First day.")
    period_end: date = strawberry.field(description="Last day (inclusive); the actual last day of an ended contract.")
    products: list[ContractProduct] = strawberry.field(description="Priced products, at most one per kind.")
    buyer_reference: str | None = strawberry.field(description="The client's reference on its invoices (BT-10).")
    purchase_order: str | None = strawberry.field(description="The client's purchase order number (BT-13).")
    employees: int | None = strawberry.field(description="Employees a subscription per employee is billed for.")
    invoicing_period: InvoicingPeriod = strawberry.field(description="How often it is invoiced.")
    auto_renew: bool = strawberry.field(description="Whether it renews itself shortly before it ends.")
    renewal_months: int = strawberry.field(description="Length of a renewal period in months.")
    indexation_percent: str = strawberry.field(description="Yearly price indexation at renewal, in percent (decimal).")
    renewed_from_id: strawberry.ID | None = strawberry.field(description="The contract this one renews, if any.")
    renewal_id: strawberry.ID | None = strawberry.field(description="The contract that renews this one, if any.")
    ended_at: datetime | None = strawberry.field(description="When it was ended early (UTC), if it was.")

    @classmethod
    def of(cls, body: ContractBody) -> Contract:
        """A contract from billing's answer."""
        return cls(
            id=_id(body.id),
            tenant_id=_id(body.tenant_id),
            status=body.status,
            period_start=body.period_start,
            period_end=body.period_end,
            products=[ContractProduct.of(product) for product in body.products],
            buyer_reference=body.buyer_reference,
            purchase_order=body.purchase_order,
            employees=body.employees,
            invoicing_period=body.invoicing_period,
            auto_renew=body.auto_renew,
            renewal_months=body.renewal_months,
            indexation_percent=body.indexation_percent,
            renewed_from_id=_optional_id(body.renewed_from_id),
            renewal_id=_optional_id(body.renewal_id),
            ended_at=body.ended_at,
        )


# -- usage --------------------------------------------------------------------------------------


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        logger.warning("billing sent a quantity that is not a decimal")
        return None


def used_percent(used: str | None, included: str | None) -> str | None:
    """``used`` as a percentage of ``included``, one decimal, rounded half up; null without a base."""
    used_value, included_value = _decimal(used), _decimal(included)
    if used_value is None or not included_value:
        return None
    return str((used_value * 100 / included_value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@strawberry.type(
    description="One product's use against what the contract includes, in the contract's period so far: totals "
    "only, never per person or per case."
)
class ProductUsage:
    code: str = strawberry.field(description="Product code.")
    kind: ProductKind = strawberry.field(description="Product kind.")
    vat_rate: VatRate = strawberry.field(description="VAT rate of the product.")
    unit: str = strawberry.field(
        description="What the quantities count: hour, session, participant, case or occurrence."
    )
    quantity: str = strawberry.field(
        description="Units used within what the contract includes or prices normally (decimal string)."
    )
    amount: Money = strawberry.field(description="Their price, excluding VAT.")
    overage_quantity: str = strawberry.field(
        description="Units beyond an hour bundle or beyond a subscription's sessions per employee (decimal string)."
    )
    overage_amount: Money = strawberry.field(description="Their price, excluding VAT.")
    invoiced_amount: Money = strawberry.field(description="The part of both amounts invoiced already.")
    included_hours: str | None = strawberry.field(
        description="An hour bundle's hours (decimal string); null otherwise."
    )
    bundle_hours_used: str | None = strawberry.field(
        description="An hour bundle's hours used over the whole contract period (decimal string); null otherwise."
    )
    bundle_used_percent: str | None = strawberry.field(
        description="Hours used as a percentage of the bundle, one decimal (e.g. `82.5`); null for other products."
    )
    sessions_per_employee_per_year: int | None = strawberry.field(
        description="A subscription's entitlement: consults per employee per calendar year; use beyond it is "
        "`overageQuantity`."
    )

    @classmethod
    def of(cls, body: ProductUsageBody, product: ContractProductBody | None) -> ProductUsage:
        """A product's usage from billing's answer, with its entitlement from the contract."""
        return cls(
            code=body.code,
            kind=body.kind,
            vat_rate=body.vat_rate,
            unit=body.unit,
            quantity=body.quantity,
            amount=Money.of(body.amount_cents),
            overage_quantity=body.overage_quantity,
            overage_amount=Money.of(body.overage_amount_cents),
            invoiced_amount=Money.of(body.invoiced_amount_cents),
            included_hours=body.included_quantity,
            bundle_hours_used=body.bundle_hours_used,
            bundle_used_percent=used_percent(body.bundle_hours_used, body.included_quantity),
            sessions_per_employee_per_year=product.sessions_per_employee_per_year if product else None,
        )


@strawberry.type(description="One contract in force and the use of each of its products.")
class ContractUsage:
    contract: Contract = strawberry.field(description="The contract.")
    period_from: date = strawberry.field(description="First day counted: the contract's first day.")
    period_to: date = strawberry.field(description="Last day counted: the contract's last day.")
    computed_at: datetime = strawberry.field(description="When billing computed the totals (UTC).")
    products: list[ProductUsage] = strawberry.field(description="One entry per product of the contract.")

    @classmethod
    def of(cls, contract: ContractBody, usage: ContractUsageBody) -> ContractUsage:
        """A contract's usage from billing's answers."""
        products = {product.code: product for product in contract.products}
        return cls(
            contract=Contract.of(contract),
            period_from=usage.period_from,
            period_to=usage.period_to,
            computed_at=usage.computed_at,
            products=[ProductUsage.of(product, products.get(product.code)) for product in usage.products],
        )


@strawberry.type(description="What a client organisation uses of its contracts in force on one day.")
class ClientUsage:
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    on: date = strawberry.field(description="The day the contracts are in force on.")
    contracts: list[ContractUsage] = strawberry.field(
        description="Each contract in force on that day, oldest first; empty when none is."
    )


# -- invoices -----------------------------------------------------------------------------------


@strawberry.type(description="One line of an invoice; it names a product, never a person.")
class InvoiceLine:
    line_id: str = strawberry.field(description="Line number.")
    product_code: str = strawberry.field(description="Product code of the contract.")
    description: str = strawberry.field(description="What is billed.")
    quantity: str = strawberry.field(description="Exact quantity (hours, sessions, participants, employees, ...).")
    unit_code: str = strawberry.field(description="UN/ECE recommendation 20 unit: HUR hours, C62 pieces.")
    unit_price: Money = strawberry.field(description="Price per unit, excluding VAT.")
    vat_category: str = strawberry.field(description="EN 16931 VAT category: S standard, Z zero, E exempt.")
    vat_rate: str = strawberry.field(description="VAT percentage of the line (decimal string).")

    @classmethod
    def of(cls, body: InvoiceLineBody) -> InvoiceLine:
        """A line from billing's answer."""
        return cls(
            line_id=body.line_id,
            product_code=body.product_code,
            description=body.description,
            quantity=body.quantity,
            unit_code=body.unit_code,
            unit_price=Money.of(body.unit_price_cents),
            vat_category=body.vat_category,
            vat_rate=body.vat_rate,
        )


@strawberry.type(description="What one product line of an invoice consisted of, without exposing a person.")
class StatementLine:
    product_code: str = strawberry.field(description="Product code.")
    description: str = strawberry.field(description="What was used.")
    quantity: str = strawberry.field(description="Exact quantity billed (decimal string).")
    people: int | None = strawberry.field(
        description="Distinct employees behind it; null when fewer than k (suppressed)."
    )
    suppressed: bool = strawberry.field(description="True when the number of people is hidden (fewer than k).")

    @classmethod
    def of(cls, body: StatementLineBody, k: int) -> StatementLine:
        """A line from billing's answer, suppressed again here if it counts fewer than k people.

        Billing suppresses small counts; the gateway does not rely on it alone (DESIGN §2 rule 2).
        """
        small = body.people is not None and 0 < body.people < k
        if small and not body.suppressed:
            logger.warning("billing sent an unsuppressed people count below k=%d; suppressed it", k)
        suppressed = body.suppressed or small
        return cls(
            product_code=body.product_code,
            description=body.description,
            quantity=body.quantity,
            people=None if suppressed else body.people,
            suppressed=suppressed,
        )


@strawberry.type(description="The usage behind an invoice, per product, with the number of people only from k.")
class UsageStatement:
    invoice_id: strawberry.ID = strawberry.field(description="The invoice.")
    k_anonymity: int = strawberry.field(description="Smallest number of people shown for the organisation.")
    lines: list[StatementLine] = strawberry.field(description="Per product and price.")

    @classmethod
    def of(cls, body: UsageStatementBody) -> UsageStatement:
        """A statement from billing's answer."""
        return cls(
            invoice_id=_id(body.invoice_id),
            k_anonymity=body.k_anonymity,
            lines=[StatementLine.of(line, body.k_anonymity) for line in body.lines],
        )


async def invoice_ubl_xml(root: Invoice, info: GatewayInfo) -> str | None:
    """The e-invoice, asked of billing only when selected; a draft has none (billing would refuse)."""
    if root.status is InvoiceStatus.DRAFT:
        return None
    return await _load(billing_loaders(info).ubl_xml, root.invoice_uuid)


async def invoice_html(root: Invoice, info: GatewayInfo) -> str | None:
    """The rendering, asked of billing only when selected."""
    return await _load(billing_loaders(info).html, root.invoice_uuid)


async def invoice_usage_statement(root: Invoice, info: GatewayInfo) -> UsageStatement | None:
    """The usage statement, asked of billing only when selected."""
    return UsageStatement.of(await _load(billing_loaders(info).usage_statements, root.invoice_uuid))


@strawberry.type(
    description="An invoice or credit note of a client organisation. Drafts are seen by provider admins only."
)
class Invoice:
    id: strawberry.ID = strawberry.field(description="Invoice id.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation billed.")
    kind: InvoiceKind = strawberry.field(description="Invoice or credit note.")
    status: InvoiceStatus = strawberry.field(description="Draft or issued.")
    number: str | None = strawberry.field(
        description="Gapless number per year given at issue, e.g. `2026-000123`; null for a draft."
    )
    period_start: date = strawberry.field(description="First day of the period billed.")
    period_end: date = strawberry.field(description="Last day of the period billed.")
    issue_date: date | None = strawberry.field(description="Date of issue; null for a draft.")
    due_date: date | None = strawberry.field(description="Payment due date; null for a draft.")
    buyer_reference: str | None = strawberry.field(description="The client's reference (BT-10).")
    order_reference: str | None = strawberry.field(description="The client's purchase order number (BT-13).")
    net: Money = strawberry.field(description="Total excluding VAT; negative on a credit note.")
    vat: Money = strawberry.field(description="VAT; negative on a credit note.")
    gross: Money = strawberry.field(description="Total including VAT; negative on a credit note.")
    corrects_invoice_id: strawberry.ID | None = strawberry.field(
        description="For a credit note: the invoice it corrects."
    )
    credited_by_id: strawberry.ID | None = strawberry.field(description="For a credited invoice: its credit note.")
    lines: list[InvoiceLine] = strawberry.field(description="The invoice lines.")
    invoice_uuid: strawberry.Private[uuid.UUID]

    ubl_xml: str | None = strawberry.field(
        resolver=invoice_ubl_xml,
        description="The e-invoice: UBL 2.1 XML following EN 16931, Peppol BIS Billing 3.0 and NL-CIUS. Null for a "
        "draft (issue it first). Fetched only when selected: one billing call per invoice.",
    )
    html: str | None = strawberry.field(
        resolver=invoice_html,
        description="A readable, printable HTML rendering (Dutch); a draft is marked CONCEPT. Fetched only when "
        "selected: one billing call per invoice.",
    )
    usage_statement: UsageStatement | None = strawberry.field(
        resolver=invoice_usage_statement,
        description="The usage behind it per product, with the number of people only where at least k. Fetched "
        "only when selected: one billing call per invoice.",
    )

    @classmethod
    def of(cls, body: InvoiceBody) -> Invoice:
        """An invoice from billing's answer."""
        return cls(
            id=_id(body.id),
            tenant_id=_id(body.tenant_id),
            kind=body.kind,
            status=body.status,
            number=body.number,
            period_start=body.period_start,
            period_end=body.period_end,
            issue_date=body.issue_date,
            due_date=body.due_date,
            buyer_reference=body.buyer_reference,
            order_reference=body.order_reference,
            net=Money.of(body.net_cents),
            vat=Money.of(body.vat_cents),
            gross=Money.of(body.gross_cents),
            corrects_invoice_id=_optional_id(body.corrects_invoice_id),
            credited_by_id=_optional_id(body.credited_by_id),
            lines=[InvoiceLine.of(line) for line in body.lines],
            invoice_uuid=body.id,
        )
