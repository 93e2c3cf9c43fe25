"""Input types of the billing mutations, and the billing request bodies made from them.

Field names follow billing's body fields (camelCased), so that billing's field paths map one to
one onto GraphQL input paths: ``body.org_units.0.parent_id`` → ``input.orgUnits.0.parentId``.
Ids are checked here (billing would answer with a less helpful path); everything else billing
checks, and its field errors come back as ``ValidationFailed``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TypeVar

import strawberry

from bmw.gateway.billing.client import (
    AddressesWrite,
    AddressWrite,
    BillingRunCreate,
    ClientOrganisationCreate,
    ContactWrite,
    ContractCreate,
    ContractProductCreate,
    ElectronicAddressWrite,
    OrgUnitCreate,
)
from bmw.gateway.billing.enums import ContactRole, InvoicingPeriod, OrgUnitKind, ProductKind, VatRate
from bmw.gateway.inputs import parse_id
from bmw.servicekit.errors import FieldError, InvalidInput

Value = TypeVar("Value")


class Problems:
    """Problems found in an input before billing is asked; raised together, as billing would."""

    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def id(self, value: strawberry.ID, path: str) -> uuid.UUID | None:
        """The UUID in an ``ID`` input field, or ``None`` with a problem recorded under ``path``."""
        return parse_id(str(value), path, self.found)

    def optional_id(self, value: strawberry.ID | None, path: str) -> uuid.UUID | None:
        """Like ``id``, for a field that may be left out."""
        return None if value is None else self.id(value, path)

    def checked(self, value: Value | None, path: str, message: str) -> Value:
        """``value`` when nothing is wrong; otherwise refuse with every problem found (``message`` at
        ``path`` when the value is missing and no problem names that path yet)."""
        if value is None and not any(problem.path == path for problem in self.found):
            self.found.append(FieldError(path=path, message=message))
        if value is None or self.found:
            raise self._refusal()
        return value

    def raise_any(self) -> None:
        """Refuse the input if anything was found."""
        if self.found:
            raise self._refusal()

    def _refusal(self) -> InvalidInput:
        names = ", ".join(problem.path for problem in self.found)
        return InvalidInput(f"invalid input: {names}", fields=self.found)


def one_id(value: strawberry.ID, path: str) -> uuid.UUID:
    """The UUID in the one ``ID`` field of an input, or ``InvalidInput`` at ``path``."""
    found: list[FieldError] = []
    parsed = parse_id(str(value), path, found)
    if parsed is None:
        raise InvalidInput(f"invalid input: {path}", fields=found)
    return parsed


# -- client organisations -----------------------------------------------------------------------


@strawberry.input(description="A postal address; the postal code is checked and normalised for the country.")
class AddressInput:
    street: str = strawberry.field(description="Street name.")
    house_number: str = strawberry.field(description="House number with any addition, e.g. 12, 12A or 12-3.")
    postal_code: str = strawberry.field(description="Postal code; Dutch codes as 1234 AB.")
    city: str = strawberry.field(description="City (woonplaats).")
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2 country code; NL if absent.")

    def write(self) -> AddressWrite:
        return AddressWrite(
            street=self.street,
            house_number=self.house_number,
            postal_code=self.postal_code,
            city=self.city,
            country=self.country,
        )


@strawberry.input(description="The organisation's addresses by purpose; each may be left out.")
class AddressesInput:
    visiting: AddressInput | None = strawberry.field(default=None, description="Visiting address (bezoekadres).")
    postal: AddressInput | None = strawberry.field(default=None, description="Postal address (postadres).")
    invoice: AddressInput | None = strawberry.field(
        default=None, description="Invoice address (factuuradres); the postal address is used when absent."
    )

    def write(self) -> AddressesWrite:
        return AddressesWrite(
            visiting=self.visiting.write() if self.visiting else None,
            postal=self.postal.write() if self.postal else None,
            invoice=self.invoice.write() if self.invoice else None,
        )


@strawberry.input(description="A business contact at the client organisation. Stays in billing, never in an event.")
class ContactInput:
    role: ContactRole = strawberry.field(description="What the contact is for.")
    name: str = strawberry.field(description="Name of the contact person.")
    email: str = strawberry.field(description="Business e-mail address.")
    phone: str | None = strawberry.field(default=None, description="Business phone number, e.g. +31 20 123 4567.")


@strawberry.input(description="Where the organisation receives e-invoices (Peppol endpoint, EN 16931 BT-49).")
class ElectronicAddressInput:
    scheme: str = strawberry.field(
        description="EAS scheme code: 0106 (KvK number), 0190 (OIN), 9944 (Dutch VAT id), 0208 (Belgian "
        "enterprise number), 9930 (German VAT id) or 0088 (GLN)."
    )
    identifier: str = strawberry.field(description="The identifier within the scheme.")


@strawberry.input(description="A department or location. Give ids yourself to build a tree in one request.")
class OrgUnitInput:
    id: strawberry.ID | None = strawberry.field(default=None, description="Id to use; generated when absent.")
    name: str = strawberry.field(description="Name of the department or location.")
    kind: OrgUnitKind | None = strawberry.field(default=None, description="Department (the default) or location.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The unit above it (one of the organisation's); absent for a top-level unit."
    )
    employees: int | None = strawberry.field(
        default=None, description="Headcount of the unit itself, not of the units below it; absent when not known."
    )

    def create(self, problems: Problems, path: str) -> OrgUnitCreate:
        """The unit as billing takes it; a malformed id is recorded under ``path``."""
        return OrgUnitCreate(
            id=problems.optional_id(self.id, f"{path}.id"),
            name=self.name,
            kind=self.kind,
            parent_id=problems.optional_id(self.parent_id, f"{path}.parentId"),
            employees=self.employees,
        )


@strawberry.input(description="A client organisation to onboard. Only the name is required.")
class RegisterClientOrganisationInput:
    name: str = strawberry.field(description="Legal name.")
    kvk_number: str | None = strawberry.field(
        default=None, description="Chamber of Commerce (KvK) number: exactly 8 digits; unique."
    )
    vat_id: str | None = strawberry.field(
        default=None, description="VAT id (btw-id) with its EU country prefix, e.g. NL004495445B01; checked."
    )
    account_manager_id: str | None = strawberry.field(
        default=None, description="Subject id of the provider's account manager for the organisation."
    )
    k_anonymity: int | None = strawberry.field(
        default=None, description="Small-cell threshold, 5 or more (5 when absent); it can only be raised later."
    )
    payment_terms_days: int | None = strawberry.field(
        default=None, description="Payment term of its invoices in days, 7 to 90 (30 when absent)."
    )
    invoice_email: str | None = strawberry.field(default=None, description="Mailbox that receives the invoices.")
    electronic_address: ElectronicAddressInput | None = strawberry.field(
        default=None, description="Peppol endpoint for e-invoices; the KvK number is used when absent."
    )
    addresses: AddressesInput | None = strawberry.field(
        default=None, description="Visiting, postal and invoice address."
    )
    contacts: list[ContactInput] | None = strawberry.field(
        default=None, description="Business contacts at the organisation (at most 50)."
    )
    org_units: list[OrgUnitInput] | None = strawberry.field(
        default=None, description="Its departments and locations (at most 2000)."
    )

    def create(self) -> ClientOrganisationCreate:
        """The body of ``POST /client-organisations``, or ``InvalidInput`` for malformed ids."""
        problems = Problems()
        units = (
            [unit.create(problems, f"input.orgUnits.{i}") for i, unit in enumerate(self.org_units)]
            if self.org_units is not None
            else None
        )
        problems.raise_any()
        electronic = self.electronic_address
        return ClientOrganisationCreate(
            name=self.name,
            kvk_number=self.kvk_number,
            vat_id=self.vat_id,
            account_manager_id=self.account_manager_id,
            k_anonymity=self.k_anonymity,
            payment_terms_days=self.payment_terms_days,
            invoice_email=self.invoice_email,
            electronic_address=(
                ElectronicAddressWrite(scheme=electronic.scheme, identifier=electronic.identifier)
                if electronic
                else None
            ),
            addresses=self.addresses.write() if self.addresses else None,
            contacts=(
                [ContactWrite(role=c.role, name=c.name, email=c.email, phone=c.phone) for c in self.contacts]
                if self.contacts is not None
                else None
            ),
            org_units=units,
        )


@strawberry.input(description="A department or location to add to a client organisation.")
class AddOrgUnitInput:
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Client organisation; defaults to your own. Required for provider admins."
    )
    id: strawberry.ID | None = strawberry.field(default=None, description="Id to use; generated when absent.")
    name: str = strawberry.field(description="Name of the department or location.")
    kind: OrgUnitKind | None = strawberry.field(default=None, description="Department (the default) or location.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The unit above it (one of the organisation's); absent for a top-level unit."
    )
    employees: int | None = strawberry.field(
        default=None, description="Headcount of the unit itself, not of the units below it; absent when not known."
    )


# -- contracts ----------------------------------------------------------------------------------


@strawberry.input(description="One priced product of a contract. Money in euro cents, excluding VAT.")
class ContractProductInput:
    code: str = strawberry.field(description="Product code from the provider's catalogue, unique within the contract.")
    kind: ProductKind = strawberry.field(description="How it is priced and metered; at most one product per kind.")
    unit_price_cents: int = strawberry.field(
        description="Price per unit in cents: per employee per year (subscription), per hour (bundle, secondment), "
        "per case (trajectory), per session or participant (workshop), per occurrence (fees)."
    )
    vat_rate: VatRate = strawberry.field(description="VAT rate.")
    vat_exemption_reason: str | None = strawberry.field(
        default=None, description="Why it is exempt from VAT (on the invoice); required with EXEMPT, refused otherwise."
    )
    included_quantity: str | None = strawberry.field(
        default=None, description="Hours in an hour bundle (decimal string, e.g. `40` or `37.5`); bundles only."
    )
    overage_unit_price_cents: int | None = strawberry.field(
        default=None,
        description="Price per hour beyond a bundle, or per consult beyond a subscription's sessions per employee; "
        "without it such bookings are refused.",
    )
    sessions_per_employee_per_year: int | None = strawberry.field(
        default=None, description="A subscription's entitlement: consults per employee per calendar year."
    )

    def create(self) -> ContractProductCreate:
        return ContractProductCreate(
            code=self.code,
            kind=self.kind,
            unit_price_cents=self.unit_price_cents,
            vat_rate=self.vat_rate,
            vat_exemption_reason=self.vat_exemption_reason,
            included_quantity=self.included_quantity,
            overage_unit_price_cents=self.overage_unit_price_cents,
            sessions_per_employee_per_year=self.sessions_per_employee_per_year,
        )


@strawberry.input(description="A contract of a client organisation with its priced products.")
class CreateContractInput:
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    products: list[ContractProductInput] = strawberry.field(description="Priced products: 1 to 50.")
    period_start: date = strawberry.field(description="First day (Europe/Amsterdam).")
    period_end: date = strawberry.field(description="Last day (inclusive); not before the first.")
    buyer_reference: str | None = strawberry.field(
        default=None, description="The reference the client requires on its invoices (EN 16931 BT-10)."
    )
    purchase_order: str | None = strawberry.field(
        default=None, description="The client's purchase order number for its invoices (EN 16931 BT-13)."
    )
    employees: int | None = strawberry.field(
        default=None,
        description="Employees a subscription per employee is billed for; give it with a subscription (without it "
        "the subscription is not invoiced), refused without one.",
    )
    invoicing_period: InvoicingPeriod | None = strawberry.field(
        default=None, description="How often the client is invoiced; MONTH when absent."
    )
    auto_renew: bool | None = strawberry.field(
        default=None, description="Renews itself shortly before it ends (no expiry notice then); false when absent."
    )
    renewal_months: int | None = strawberry.field(
        default=None, description="Length of a renewal period in months, 1 to 120; 12 when absent."
    )
    indexation_percent: str | None = strawberry.field(
        default=None, description="Yearly price indexation applied at renewal, e.g. `3.50`; 0 when absent."
    )

    def create(self) -> ContractCreate:
        """The body of ``POST /contracts``, or ``InvalidInput`` for a malformed tenant id."""
        return ContractCreate(
            tenant_id=one_id(self.tenant_id, "input.tenantId"),
            products=[product.create() for product in self.products],
            period_start=self.period_start,
            period_end=self.period_end,
            buyer_reference=self.buyer_reference,
            purchase_order=self.purchase_order,
            employees=self.employees,
            invoicing_period=self.invoicing_period,
            auto_renew=self.auto_renew,
            renewal_months=self.renewal_months,
            indexation_percent=self.indexation_percent,
        )


# -- invoicing ----------------------------------------------------------------------------------


@strawberry.input(description="A period to bill: one draft invoice per client organisation with something to bill.")
class RunBillingInput:
    period: str = strawberry.field(description="A month (`2026-11`) or a quarter (`2026-Q4`).")
    tenant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this client organisation; every one when absent."
    )

    def create(self) -> BillingRunCreate:
        """The body of ``POST /billing-runs``, or ``InvalidInput`` for a malformed tenant id."""
        problems = Problems()
        tenant_id = problems.optional_id(self.tenant_id, "input.tenantId")
        problems.raise_any()
        return BillingRunCreate(period=self.period, tenant_id=tenant_id)


@strawberry.input(description="A reviewed draft invoice to issue.")
class IssueInvoiceInput:
    invoice_id: strawberry.ID = strawberry.field(description="The draft invoice.")


@strawberry.input(description="An issued invoice to correct with a credit note that nets it to zero.")
class IssueCreditNoteInput:
    invoice_id: strawberry.ID = strawberry.field(description="The issued invoice to credit.")
    release_usage: bool = strawberry.field(
        default=True,
        description="Open the invoice's usage again so that the next billing run bills it correctly; false when the "
        "usage itself should not be billed.",
    )
