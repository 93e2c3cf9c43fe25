"""The billing service's HTTP API as the gateway uses it: typed bodies and one method per route.

The bodies mirror ``services/billing/openapi.json``; answers are read with ``extra="ignore"`` so that
a field billing adds later does not break the gateway. Request bodies leave out what the caller did
not give, so that billing's own defaults (k = 5, 30 payment days, NL, ...) apply.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel

from bmw.contracts.taxonomy import ProductKind, VatRate
from bmw.gateway.clients import ServiceClient

# -- shared values ------------------------------------------------------------------------------


class OrgUnitKind(StrEnum):
    """What an org unit is: part of the organisation chart or a site."""

    DEPARTMENT = "department"
    LOCATION = "location"


class ContactRole(StrEnum):
    """What a business contact at a client organisation is for."""

    HR = "hr"
    FINANCE = "finance"
    MANAGEMENT = "management"
    OTHER = "other"


class ContractStatus(StrEnum):
    """Whether a contract still runs or has ended."""

    ACTIVE = "active"
    ENDED = "ended"


class InvoicingPeriod(StrEnum):
    """How often a client organisation is invoiced."""

    MONTH = "month"
    QUARTER = "quarter"


class InvoiceKind(StrEnum):
    """An invoice, or a credit note that corrects one."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    """A draft under review, or issued (final, numbered, never changed)."""

    DRAFT = "draft"
    ISSUED = "issued"


class _Read(BaseModel):
    """An answer of billing: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")


# -- client organisations -----------------------------------------------------------------------


class AddressBody(_Read):
    street: str
    house_number: str
    postal_code: str
    city: str
    country: str


class AddressesBody(_Read):
    visiting: AddressBody | None = None
    postal: AddressBody | None = None
    invoice: AddressBody | None = None


class ContactBody(_Read):
    role: str
    name: str
    email: str
    phone: str | None = None


class ElectronicAddressBody(_Read):
    scheme: str
    identifier: str


class OrgUnitBody(_Read):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None = None
    kind: OrgUnitKind
    employees: int | None = None


class ClientOrganisationBody(_Read):
    """``ClientOrganisationRead``: a profile with its org units (flat)."""

    id: uuid.UUID
    name: str
    kvk_number: str | None = None
    vat_id: str | None = None
    account_manager_id: str | None = None
    k_anonymity: int
    payment_terms_days: int
    invoice_email: str | None = None
    electronic_address: ElectronicAddressBody | None = None
    addresses: AddressesBody
    contacts: list[ContactBody] | None = None
    org_units: list[OrgUnitBody]


class ClientOrganisationList(RootModel[list[ClientOrganisationBody]]):
    pass


class _Write(BaseModel):
    """A request body: ``None`` fields are left out so that billing's defaults apply."""

    model_config = ConfigDict(extra="forbid")

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return self.model_dump(mode="json", exclude_none=True)


class AddressWrite(_Write):
    street: str
    house_number: str
    postal_code: str
    city: str
    country: str | None = None


class AddressesWrite(_Write):
    visiting: AddressWrite | None = None
    postal: AddressWrite | None = None
    invoice: AddressWrite | None = None


class ContactWrite(_Write):
    role: ContactRole
    name: str
    email: str
    phone: str | None = None


class ElectronicAddressWrite(_Write):
    scheme: str
    identifier: str


class OrgUnitCreate(_Write):
    """``OrgUnitCreate``: one department or location."""

    id: uuid.UUID | None = None
    name: str
    kind: OrgUnitKind | None = None
    parent_id: uuid.UUID | None = None
    employees: int | None = None


class ClientOrganisationCreate(_Write):
    """``ClientOrganisationCreate``: onboard a client organisation."""

    name: str
    kvk_number: str | None = None
    vat_id: str | None = None
    account_manager_id: str | None = None
    k_anonymity: int | None = None
    payment_terms_days: int | None = None
    invoice_email: str | None = None
    electronic_address: ElectronicAddressWrite | None = None
    addresses: AddressesWrite | None = None
    contacts: list[ContactWrite] | None = None
    org_units: list[OrgUnitCreate] | None = None


# -- contracts ----------------------------------------------------------------------------------


class ContractProductBody(_Read):
    code: str
    kind: ProductKind
    unit_price_cents: int
    vat_rate: VatRate
    vat_exemption_reason: str | None = None
    included_quantity: str | None = None
    overage_unit_price_cents: int | None = None
    sessions_per_employee_per_year: int | None = None


class ContractBody(_Read):
    """``ContractRead``."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    status: ContractStatus
    period_start: date
    period_end: date
    products: list[ContractProductBody]
    buyer_reference: str | None = None
    purchase_order: str | None = None
    employees: int | None = None
    invoicing_period: InvoicingPeriod
    auto_renew: bool
    renewal_months: int
    indexation_percent: str
    renewed_from_id: uuid.UUID | None = None
    renewal_id: uuid.UUID | None = None
    ended_at: datetime | None = None

    def in_force_on(self, day: date) -> bool:
        """Whether the contract covers ``day`` and has not ended before it (an ended contract keeps its
        actual last day as ``period_end``)."""
        return self.period_start <= day <= self.period_end


class ContractList(RootModel[list[ContractBody]]):
    pass


class ContractProductCreate(_Write):
    code: str
    kind: ProductKind
    unit_price_cents: int
    vat_rate: VatRate
    vat_exemption_reason: str | None = None
    included_quantity: str | None = None
    overage_unit_price_cents: int | None = None
    sessions_per_employee_per_year: int | None = None


class ContractCreate(_Write):
    """``ContractCreate``."""

    tenant_id: uuid.UUID
    products: list[ContractProductCreate]
    period_start: date
    period_end: date
    buyer_reference: str | None = None
    purchase_order: str | None = None
    employees: int | None = None
    invoicing_period: InvoicingPeriod | None = None
    auto_renew: bool | None = None
    renewal_months: int | None = None
    indexation_percent: str | None = None


class ProductUsageBody(_Read):
    code: str
    kind: ProductKind
    vat_rate: VatRate
    unit: str
    quantity: str
    amount_cents: int
    overage_quantity: str
    overage_amount_cents: int
    invoiced_amount_cents: int
    included_quantity: str | None = None
    bundle_hours_used: str | None = None


class ContractUsageBody(_Read):
    """``ContractUsageRead``: totals per product, never per person or case."""

    contract_id: uuid.UUID
    tenant_id: uuid.UUID
    period_from: date
    period_to: date
    products: list[ProductUsageBody]
    computed_at: datetime


# -- invoices -----------------------------------------------------------------------------------


class InvoiceLineBody(_Read):
    line_id: str
    product_code: str
    description: str
    quantity: str
    unit_code: str
    unit_price_cents: int
    vat_category: str
    vat_rate: str


class InvoiceBody(_Read):
    """``InvoiceRead``: an invoice or credit note."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: InvoiceKind
    status: InvoiceStatus
    number: str | None = None
    period_start: date
    period_end: date
    issue_date: date | None = None
    due_date: date | None = None
    buyer_reference: str | None = None
    order_reference: str | None = None
    net_cents: int
    vat_cents: int
    gross_cents: int
    corrects_invoice_id: uuid.UUID | None = None
    credited_by_id: uuid.UUID | None = None
    lines: list[InvoiceLineBody]


class InvoiceList(RootModel[list[InvoiceBody]]):
    pass


class StatementLineBody(_Read):
    product_code: str
    description: str
    quantity: str
    people: int | None = None
    suppressed: bool


class UsageStatementBody(_Read):
    """``UsageStatementRead``: the usage behind an invoice, people counted only from k."""

    invoice_id: uuid.UUID
    k_anonymity: int
    lines: list[StatementLineBody]


class SkippedBody(_Read):
    tenant_id: uuid.UUID
    reason: str


class BillingRunBody(_Read):
    """``BillingRunRead``."""

    run_id: uuid.UUID
    period: str
    period_start: date
    period_end: date
    drafts: list[uuid.UUID]
    skipped: list[SkippedBody]


class BillingRunCreate(_Write):
    period: str
    tenant_id: uuid.UUID | None = None


#: Billing's largest page of ``GET /invoices`` (it has no cursor).
INVOICE_LIMIT = 500


# -- the client ---------------------------------------------------------------------------------


class BillingApi:
    """Billing's routes over the request's ``ServiceClient`` (caller's token and trace forwarded)."""

    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    async def client_organisations(self) -> list[ClientOrganisationBody]:
        """``GET /client-organisations``: those the caller may see."""
        response = await self._client.request("GET", "/client-organisations")
        return ServiceClient.parse(ClientOrganisationList, response).root

    async def client_organisation(self, tenant_id: uuid.UUID) -> ClientOrganisationBody:
        """``GET /client-organisations/{tenant_id}``."""
        response = await self._client.request("GET", f"/client-organisations/{tenant_id}")
        return ServiceClient.parse(ClientOrganisationBody, response)

    async def register_client_organisation(self, body: ClientOrganisationCreate) -> ClientOrganisationBody:
        """``POST /client-organisations``."""
        response = await self._client.request("POST", "/client-organisations", json=body.body())
        return ServiceClient.parse(ClientOrganisationBody, response)

    async def add_org_unit(self, tenant_id: uuid.UUID, body: OrgUnitCreate) -> ClientOrganisationBody:
        """``POST /client-organisations/{tenant_id}/org-units``: the profile with the new unit."""
        response = await self._client.request("POST", f"/client-organisations/{tenant_id}/org-units", json=body.body())
        return ServiceClient.parse(ClientOrganisationBody, response)

    async def contracts(self, tenant_id: uuid.UUID | None = None) -> list[ContractBody]:
        """``GET /contracts``: one organisation's, or all the caller may read."""
        params = {"tenant_id": str(tenant_id)} if tenant_id is not None else None
        response = await self._client.request("GET", "/contracts", params=params)
        return ServiceClient.parse(ContractList, response).root

    async def create_contract(self, body: ContractCreate) -> ContractBody:
        """``POST /contracts``."""
        response = await self._client.request("POST", "/contracts", json=body.body())
        return ServiceClient.parse(ContractBody, response)

    async def contract_usage(self, contract_id: uuid.UUID) -> ContractUsageBody:
        """``GET /contracts/{contract_id}/usage`` over the whole contract period."""
        response = await self._client.request("GET", f"/contracts/{contract_id}/usage")
        return ServiceClient.parse(ContractUsageBody, response)

    async def invoices(self, tenant_id: uuid.UUID | None, status: InvoiceStatus | None) -> list[InvoiceBody]:
        """``GET /invoices``: newest period first, at most ``INVOICE_LIMIT``."""
        params = {"limit": str(INVOICE_LIMIT)}
        if tenant_id is not None:
            params["tenant_id"] = str(tenant_id)
        if status is not None:
            params["status"] = status.value
        response = await self._client.request("GET", "/invoices", params=params)
        return ServiceClient.parse(InvoiceList, response).root

    async def invoice(self, invoice_id: uuid.UUID) -> InvoiceBody:
        """``GET /invoices/{invoice_id}``."""
        response = await self._client.request("GET", f"/invoices/{invoice_id}")
        return ServiceClient.parse(InvoiceBody, response)

    async def ubl_xml(self, invoice_id: uuid.UUID) -> str:
        """``GET /invoices/{invoice_id}/ubl.xml``: the e-invoice of an issued invoice."""
        return (await self._client.request("GET", f"/invoices/{invoice_id}/ubl.xml")).text

    async def html(self, invoice_id: uuid.UUID) -> str:
        """``GET /invoices/{invoice_id}/invoice.html``: the readable rendering."""
        return (await self._client.request("GET", f"/invoices/{invoice_id}/invoice.html")).text

    async def usage_statement(self, invoice_id: uuid.UUID) -> UsageStatementBody:
        """``GET /invoices/{invoice_id}/usage-statement``."""
        response = await self._client.request("GET", f"/invoices/{invoice_id}/usage-statement")
        return ServiceClient.parse(UsageStatementBody, response)

    async def run_billing(self, body: BillingRunCreate) -> BillingRunBody:
        """``POST /billing-runs``."""
        response = await self._client.request("POST", "/billing-runs", json=body.body())
        return ServiceClient.parse(BillingRunBody, response)

    async def issue_invoice(self, invoice_id: uuid.UUID) -> InvoiceBody:
        """``POST /invoices/{invoice_id}/issue``."""
        response = await self._client.request("POST", f"/invoices/{invoice_id}/issue")
        return ServiceClient.parse(InvoiceBody, response)

    async def issue_credit_note(self, invoice_id: uuid.UUID, *, release_usage: bool) -> InvoiceBody:
        """``POST /invoices/{invoice_id}/credit-note``."""
        response = await self._client.request(
            "POST", f"/invoices/{invoice_id}/credit-note", json={"release_usage": release_usage}
        )
        return ServiceClient.parse(InvoiceBody, response)
