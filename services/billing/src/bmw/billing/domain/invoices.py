"""The invoice document and its arithmetic, exactly as EN 16931 requires.

Money is integer euro cents, quantities are ``Decimal`` with at most two places, and every
rounding is explicit and half-up:

* a line's net amount (BT-131) is quantity × unit price, rounded once to the cent;
* the VAT of each breakdown group (BG-23, one per VAT category and rate) is the sum of the
  group's line nets × rate, rounded once per group — never the sum of per-line VAT;
* the document totals follow: sum of line nets (BT-106) = tax exclusive (BT-109, there are no
  document-level allowances or charges), VAT total (BT-110), tax inclusive (BT-112) = payable
  (BT-115, nothing is prepaid).

An invoice (*factuur*) and a credit note (*creditnota*) share one model. Both carry positive
line quantities, prices and totals, as a UBL ``CreditNote`` does (the document type is what
negates); ``Invoice.signed_totals`` gives the amounts with the sign a ledger or an event wants
(negative for a credit note). ``credit_note_for`` builds the note that nets an invoice to zero.

Lines never name a person: they aggregate per product, or carry a pseudonymous case reference.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal

from bmw.contracts.taxonomy import VatRate

__all__ = [
    "DEFAULT_EXEMPTION_REASON",
    "INVOICE_NUMBER_PATTERN",
    "Address",
    "DocumentKind",
    "ElectronicAddress",
    "InvalidInvoice",
    "Invoice",
    "InvoiceLine",
    "InvoicePeriod",
    "InvoiceReference",
    "Party",
    "Totals",
    "UnitCode",
    "VatBreakdown",
    "VatCategory",
    "VatTreatment",
    "compute",
    "credit_note_for",
    "line_net_cents",
    "vat_cents_for",
]

#: The exemption text used when an exempt product names none (corporate social work is often
#: exempt as social care under article 11 of the Dutch VAT act, Wet op de omzetbelasting 1968).
DEFAULT_EXEMPTION_REASON = "Vrijgesteld van btw (art. 11 lid 1 Wet OB)"

#: Invoice numbers are gapless per year: ``2026-000123``.
INVOICE_NUMBER_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{6}$")

_CENT = Decimal(1)
_HUNDRED = Decimal(100)
_TWO_PLACES = Decimal("0.01")
_KVK = re.compile(r"^[0-9]{8}$")
_NL_VAT_ID = re.compile(r"^NL[0-9]{9}B[0-9]{2}$")
_VAT_ID = re.compile(r"^[A-Z]{2}[0-9A-Z+*.]{2,13}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_SCHEME = re.compile(r"^[0-9A-Z]{2,4}$")
_VATEX = re.compile(r"^VATEX-[A-Z0-9-]+$")


class InvalidInvoice(ValueError):
    """The invoice data break a rule of EN 16931, NL-CIUS or this model; the message names it."""


# -- parties ------------------------------------------------------------------------------------


def _require_text(value: str, what: str, *, max_length: int = 200) -> None:
    # Peppol (PEPPOL-EN16931-R008) forbids empty elements; an all-blank value would make one.
    if not value.strip():
        raise InvalidInvoice(f"{what} must not be empty")
    if len(value) > max_length:
        raise InvalidInvoice(f"{what} is longer than {max_length} characters")


def _iban_is_valid(iban: str) -> bool:
    if not _IBAN.match(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


@dataclass(frozen=True)
class Address:
    """A postal address; NL-CIUS wants street, city and postal code for Dutch parties."""

    street: str  # street and house number, e.g. "Catharijnesingel 30"
    postal_code: str
    city: str
    country_code: str = "NL"  # ISO 3166-1 alpha-2

    def __post_init__(self) -> None:
        _require_text(self.street, "address street")
        _require_text(self.postal_code, "address postal code", max_length=16)
        _require_text(self.city, "address city")
        if not _COUNTRY.match(self.country_code):
            raise InvalidInvoice("address country code must be two capital letters (ISO 3166-1 alpha-2)")


@dataclass(frozen=True)
class ElectronicAddress:
    """Where e-invoices reach a party (BT-34/BT-49, Peppol EndpointID) with its EAS scheme."""

    identifier: str
    scheme: str  # EAS code, e.g. 0106 (KvK), 0190 (OIN), 9944 (Dutch VAT id)

    def __post_init__(self) -> None:
        _require_text(self.identifier, "electronic address", max_length=100)
        if not _SCHEME.match(self.scheme):
            raise InvalidInvoice("electronic address scheme must be an EAS code such as 0106")


@dataclass(frozen=True)
class Party:
    """The seller (the provider) or the buyer (a client organisation) on an invoice."""

    name: str  # legal name (BT-27 / BT-44)
    address: Address
    email: str
    kvk_number: str | None = None  # Dutch Chamber of Commerce number, 8 digits (BT-30 / BT-47, scheme 0106)
    vat_id: str | None = None  # btw-id, e.g. NL004495445B01 (BT-31 / BT-48)
    electronic_address: ElectronicAddress | None = None  # defaults to the KvK number, scheme 0106

    def __post_init__(self) -> None:
        _require_text(self.name, "party name")
        if not _EMAIL.match(self.email):
            raise InvalidInvoice(f"party email {self.email!r} is not an email address")
        if self.kvk_number is not None and not _KVK.match(self.kvk_number):
            raise InvalidInvoice("KvK number must be 8 digits")
        if self.vat_id is not None:
            pattern = _NL_VAT_ID if self.vat_id.startswith("NL") else _VAT_ID
            if not pattern.match(self.vat_id):
                raise InvalidInvoice(f"VAT id {self.vat_id!r} is malformed (Dutch: NL + 9 digits + B + 2 digits)")
        if self.electronic_address is None and self.kvk_number is None:
            raise InvalidInvoice("a party needs an electronic address or a KvK number (Peppol EndpointID)")

    @property
    def endpoint(self) -> ElectronicAddress:
        """The Peppol EndpointID: the given electronic address, else the KvK number (scheme 0106)."""
        if self.electronic_address is not None:
            return self.electronic_address
        return ElectronicAddress(identifier=self.kvk_number or "", scheme="0106")


# -- VAT ----------------------------------------------------------------------------------------


class VatCategory(StrEnum):
    """VAT category codes of EN 16931 (UNCL 5305) that this provider uses."""

    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"


@dataclass(frozen=True)
class VatTreatment:
    """The VAT of a product: category and rate in percent, and for an exempt one its reason."""

    category: VatCategory
    rate: Decimal  # percent: 21, 9 or 0
    exemption_reason: str | None = None  # BT-120, e.g. DEFAULT_EXEMPTION_REASON
    exemption_reason_code: str | None = None  # BT-121, a VATEX code such as VATEX-EU-132-1G

    def __post_init__(self) -> None:
        if not self.rate.is_finite() or self.rate < 0 or self.rate != self.rate.quantize(_TWO_PLACES):
            raise InvalidInvoice("VAT rate must be a non-negative percentage with at most two decimals")
        if self.category is VatCategory.STANDARD and self.rate == 0:
            raise InvalidInvoice("standard-rated VAT (S) needs a rate above zero")
        if self.category is not VatCategory.STANDARD and self.rate != 0:
            raise InvalidInvoice(f"VAT category {self.category.value} has rate 0")
        exempt = self.category is VatCategory.EXEMPT
        if exempt and self.exemption_reason is None and self.exemption_reason_code is None:
            raise InvalidInvoice("exempt VAT (E) needs an exemption reason text or code (BR-E-10)")
        if not exempt and (self.exemption_reason is not None or self.exemption_reason_code is not None):
            raise InvalidInvoice("only exempt VAT (E) carries an exemption reason")
        if self.exemption_reason is not None:
            _require_text(self.exemption_reason, "exemption reason", max_length=500)
        if self.exemption_reason_code is not None and not _VATEX.match(self.exemption_reason_code):
            raise InvalidInvoice("exemption reason code must be a VATEX code, e.g. VATEX-EU-132-1G")

    @classmethod
    def from_rate(
        cls,
        rate: VatRate,
        *,
        exemption_reason: str | None = None,
        exemption_reason_code: str | None = None,
    ) -> VatTreatment:
        """Map a contract product's VatRate; an exempt product without a reason gets the default text."""
        if rate is VatRate.EXEMPT:
            if exemption_reason is None and exemption_reason_code is None:
                exemption_reason = DEFAULT_EXEMPTION_REASON
            return cls(VatCategory.EXEMPT, Decimal(0), exemption_reason, exemption_reason_code)
        percent = Decimal(rate.value)
        category = VatCategory.ZERO_RATED if percent == 0 else VatCategory.STANDARD
        return cls(category, percent)

    @property
    def group_key(self) -> tuple[VatCategory, Decimal]:
        """The VAT breakdown group (BG-23) a line falls in: one per category and rate."""
        return (self.category, self.rate)


def _group_order(key: tuple[VatCategory, Decimal]) -> tuple[int, Decimal]:
    order = {VatCategory.STANDARD: 0, VatCategory.ZERO_RATED: 1, VatCategory.EXEMPT: 2}
    return (order[key[0]], -key[1])


# -- lines --------------------------------------------------------------------------------------


class UnitCode(StrEnum):
    """Units of measure (UN/ECE recommendation 20) used on invoice lines."""

    HOUR = "HUR"
    ONE = "C62"  # a piece: a session, a trajectory, a fee
    SERVICE_UNIT = "E48"
    DAY = "DAY"
    MONTH = "MON"
    YEAR = "ANN"


def line_net_cents(quantity: Decimal, unit_price_cents: int, base_quantity: int = 1) -> int:
    """Line net amount (BT-131): quantity × unit price / price base quantity, rounded half-up to the cent."""
    return int((quantity * unit_price_cents / base_quantity).quantize(_CENT, rounding=ROUND_HALF_UP))


def vat_cents_for(taxable_cents: int, rate: Decimal) -> int:
    """VAT of one breakdown group (BT-117): taxable amount × rate / 100, rounded half-up to the cent."""
    return int((taxable_cents * rate / _HUNDRED).quantize(_CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice line: a product, aggregated over the period; never a person."""

    line_id: str  # unique within the invoice, e.g. "1"
    product_code: str  # the seller's item id (BT-155), e.g. HOURS-40
    description: str  # item name (BT-153), e.g. "Consult (uurbundel)"
    quantity: Decimal  # > 0, at most two decimals
    unit_code: UnitCode
    unit_price_cents: int  # net price per unit, excluding VAT (BT-146)
    vat: VatTreatment
    # Item price base quantity (BT-149): the price is for this many units. A yearly price per employee billed
    # per month is priced per 12 employee-months, so that the line is exact instead of a rounded monthly price.
    base_quantity: int = 1

    def __post_init__(self) -> None:
        _require_text(self.line_id, "line id", max_length=50)
        _require_text(self.product_code, "product code", max_length=64)
        _require_text(self.description, "line description", max_length=500)
        quantity = self.quantity
        if not quantity.is_finite() or quantity <= 0 or quantity != quantity.quantize(_TWO_PLACES):
            raise InvalidInvoice(f"line {self.line_id}: quantity must be positive with at most two decimals")
        # Negative prices would need document-level allowances; a correction is a credit note.
        if self.unit_price_cents < 0:
            raise InvalidInvoice(f"line {self.line_id}: unit price must not be negative")
        if not 1 <= self.base_quantity <= 10_000:
            raise InvalidInvoice(f"line {self.line_id}: the price base quantity must be 1 to 10000")

    @property
    def net_cents(self) -> int:
        """Line net amount (BT-131) in cents."""
        return line_net_cents(self.quantity, self.unit_price_cents, self.base_quantity)


# -- totals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VatBreakdown:
    """One VAT breakdown group (BG-23): its taxable amount and its VAT, both in cents."""

    vat: VatTreatment
    taxable_cents: int  # BT-116
    vat_cents: int  # BT-117

    def negated(self) -> VatBreakdown:
        """The same group with opposite signs."""
        return replace(self, taxable_cents=-self.taxable_cents, vat_cents=-self.vat_cents)


@dataclass(frozen=True)
class Totals:
    """The document totals in cents and the VAT breakdown (standard rates high to low, then Z, then E)."""

    net_cents: int  # sum of line nets (BT-106) = tax exclusive (BT-109)
    vat_cents: int  # BT-110
    gross_cents: int  # tax inclusive (BT-112) = payable (BT-115)
    breakdown: tuple[VatBreakdown, ...]

    @property
    def line_extension_cents(self) -> int:
        """Sum of invoice line net amounts (BT-106)."""
        return self.net_cents

    @property
    def tax_exclusive_cents(self) -> int:
        """Invoice total without VAT (BT-109); there are no document allowances or charges."""
        return self.net_cents

    @property
    def tax_inclusive_cents(self) -> int:
        """Invoice total with VAT (BT-112)."""
        return self.gross_cents

    @property
    def payable_cents(self) -> int:
        """Amount due for payment (BT-115); nothing is prepaid."""
        return self.gross_cents

    def negated(self) -> Totals:
        """The same totals with opposite signs (what a credit note books)."""
        return Totals(
            net_cents=-self.net_cents,
            vat_cents=-self.vat_cents,
            gross_cents=-self.gross_cents,
            breakdown=tuple(group.negated() for group in self.breakdown),
        )


def compute(lines: Iterable[InvoiceLine]) -> Totals:
    """Totals of some lines: VAT rounded once per (category, rate) group, never per line.

    Raises InvalidInvoice when exempt lines give different exemption reasons: EN 16931 has one
    breakdown group per category and rate, and that group carries one reason.
    """
    taxable: dict[tuple[VatCategory, Decimal], int] = {}
    treatment: dict[tuple[VatCategory, Decimal], VatTreatment] = {}
    for line in lines:
        key = line.vat.group_key
        known = treatment.setdefault(key, line.vat)
        if known != line.vat:
            raise InvalidInvoice(
                f"line {line.line_id}: exempt lines on one invoice must share one exemption reason "
                f"({known.exemption_reason!r} vs {line.vat.exemption_reason!r})"
            )
        taxable[key] = taxable.get(key, 0) + line.net_cents
    breakdown = tuple(
        VatBreakdown(vat=treatment[key], taxable_cents=taxable[key], vat_cents=vat_cents_for(taxable[key], key[1]))
        for key in sorted(taxable, key=_group_order)
    )
    net = sum(group.taxable_cents for group in breakdown)
    vat = sum(group.vat_cents for group in breakdown)
    return Totals(net_cents=net, vat_cents=vat, gross_cents=net + vat, breakdown=breakdown)


# -- the document -------------------------------------------------------------------------------


class DocumentKind(StrEnum):
    """An invoice (UBL Invoice, type code 380) or a credit note (UBL CreditNote, type code 381)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


@dataclass(frozen=True)
class InvoicePeriod:
    """The period the invoice covers (BG-14), both days inclusive."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidInvoice("invoice period ends before it starts (BR-29)")


@dataclass(frozen=True)
class InvoiceReference:
    """The invoice a credit note corrects (BG-3: BT-25 number, BT-26 issue date)."""

    number: str
    issue_date: dt.date

    def __post_init__(self) -> None:
        _require_text(self.number, "corrected invoice number", max_length=50)


@dataclass(frozen=True)
class Invoice:
    """An invoice or credit note. Issued (it has a number) it never changes; drafts have no number."""

    kind: DocumentKind
    number: str | None  # None for a draft; assigned at issue, e.g. 2026-000123
    issue_date: dt.date
    payment_terms_days: int  # due date = issue date + terms
    period: InvoicePeriod
    seller: Party
    buyer: Party
    seller_iban: str  # payment means 58 (SEPA credit transfer) to this account
    lines: tuple[InvoiceLine, ...]
    buyer_reference: str | None = None  # BT-10, the client's reference
    order_reference: str | None = None  # BT-13, the client's purchase order number
    corrects: InvoiceReference | None = None  # the corrected invoice; required for a credit note
    currency: Literal["EUR"] = "EUR"
    _totals: Totals = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.number is not None and not INVOICE_NUMBER_PATTERN.match(self.number):
            raise InvalidInvoice(f"invoice number {self.number!r} is not of the form 2026-000123")
        if not 0 <= self.payment_terms_days <= 365:
            raise InvalidInvoice("payment terms must be 0 to 365 days")
        if not self.lines:
            raise InvalidInvoice("an invoice has at least one line (BR-16)")
        ids = [line.line_id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise InvalidInvoice("line ids must be unique within an invoice")
        for reference, what in ((self.buyer_reference, "buyer reference"), (self.order_reference, "order reference")):
            if reference is not None:
                _require_text(reference, what, max_length=200)
        if self.buyer_reference is None and self.order_reference is None:
            raise InvalidInvoice("NL-CIUS needs a buyer reference or a purchase order reference (BT-10 / BT-13)")
        if self.seller.vat_id is None or self.seller.kvk_number is None:
            raise InvalidInvoice("the seller needs a VAT id and a KvK number")
        if not _iban_is_valid(self.seller_iban):
            raise InvalidInvoice(f"seller IBAN {self.seller_iban!r} is not a valid IBAN (no spaces)")
        if self.kind is DocumentKind.CREDIT_NOTE and self.corrects is None:
            raise InvalidInvoice("a credit note names the invoice it corrects (NL-R-001)")
        if self.kind is DocumentKind.INVOICE and self.corrects is not None:
            raise InvalidInvoice("only a credit note corrects an invoice")
        # Computed once: the invoice is immutable, and the validation also checks exemption reasons.
        object.__setattr__(self, "_totals", compute(self.lines))

    @property
    def is_draft(self) -> bool:
        """True until the invoice is issued and numbered."""
        return self.number is None

    @property
    def is_credit_note(self) -> bool:
        """True for a credit note (creditnota)."""
        return self.kind is DocumentKind.CREDIT_NOTE

    @property
    def due_date(self) -> dt.date:
        """Payment due date (BT-9): issue date plus the payment terms."""
        return self.issue_date + dt.timedelta(days=self.payment_terms_days)

    @property
    def totals(self) -> Totals:
        """Totals as the document shows them: positive for an invoice and a credit note alike."""
        return self._totals

    @property
    def signed_totals(self) -> Totals:
        """Totals with the ledger's sign: negative for a credit note (billing.invoice.issued.v1)."""
        return self._totals.negated() if self.is_credit_note else self._totals

    def issued(self, number: str, issue_date: dt.date) -> Invoice:
        """This draft, numbered and dated at issue."""
        if not self.is_draft:
            raise InvalidInvoice(f"invoice {self.number} is already issued; correct it with a credit note")
        return replace(self, number=number, issue_date=issue_date)


def credit_note_for(invoice: Invoice, number: str | None, issue_date: dt.date) -> Invoice:
    """The credit note that nets an issued invoice to zero: same lines, parties and period."""
    if invoice.is_credit_note:
        raise InvalidInvoice("a credit note is not corrected by another credit note")
    if invoice.number is None:
        raise InvalidInvoice("a draft is changed, not credited; only an issued invoice gets a credit note")
    if issue_date < invoice.issue_date:
        raise InvalidInvoice("a credit note cannot predate the invoice it corrects")
    return replace(
        invoice,
        kind=DocumentKind.CREDIT_NOTE,
        number=number,
        issue_date=issue_date,
        corrects=InvoiceReference(number=invoice.number, issue_date=invoice.issue_date),
    )
