"""The billing vocabularies as GraphQL enums; the GraphQL names are the member names.

Imported by every module that declares a billing type or input, so that each enum is registered
before strawberry first meets it in an annotation (it would otherwise make a second definition).
"""

from __future__ import annotations

import strawberry

from bmw.contracts.taxonomy import VatRate
from bmw.gateway.billing.client import (
    ContactRole,
    ContractStatus,
    InvoiceKind,
    InvoiceStatus,
    InvoicingPeriod,
    OrgUnitKind,
)

# The product kinds are shared with signals' opportunities and registered (with a description per value) there;
# a second registration here would make a second GraphQL enum of the same name.
from bmw.gateway.signals.enums import ProductKind

strawberry.enum(VatRate, description="Dutch VAT rate of a product: 21 %, 9 %, 0 % or exempt (vrijgesteld).")
strawberry.enum(OrgUnitKind, description="A department (part of the organisation chart) or a location (a site).")
strawberry.enum(ContactRole, description="What a business contact is for: HR (P&O), finance, management or other.")
strawberry.enum(
    ContractStatus,
    description="ACTIVE until the contract ends; ENDED once ended early by the provider (its period then "
    "ends on the actual last day).",
)
strawberry.enum(InvoicingPeriod, description="How often the client organisation is invoiced.")
strawberry.enum(InvoiceKind, description="An invoice, or a credit note that nets an issued invoice to zero.")
strawberry.enum(
    InvoiceStatus,
    description="DRAFT while the provider reviews it (only provider admins see drafts); ISSUED once numbered, "
    "after which it never changes.",
)

__all__ = [
    "ContactRole",
    "ContractStatus",
    "InvoiceKind",
    "InvoiceStatus",
    "InvoicingPeriod",
    "OrgUnitKind",
    "ProductKind",
    "VatRate",
]
