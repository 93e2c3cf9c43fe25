"""UBL 2.1 XML of an invoice or credit note, following EN 16931 and Peppol BIS Billing 3.0 / NL-CIUS.

``to_ubl(invoice)`` writes an ``Invoice`` (type code 380) or a ``CreditNote`` (type code 381)
document. Amounts are positive in both: the credit note document type is what negates. Dutch
parties are identified by their KvK number with scheme 0106 (legal entity and, unless another
electronic address is given, the Peppol EndpointID). Element order follows the UBL 2.1 schemas.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lxml import etree

from bmw.billing.domain.invoices import (
    Address,
    DocumentKind,
    InvalidInvoice,
    Invoice,
    InvoiceLine,
    Party,
    VatCategory,
    VatTreatment,
)

__all__ = ["CUSTOMIZATION_ID", "PROFILE_ID", "to_ubl"]

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

_SEPA_CREDIT_TRANSFER = "58"
_KVK_SCHEME = "0106"


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{_CAC}}}{name}")


def _cbc(parent: etree._Element, tag: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{_CBC}}}{tag}", attributes)
    element.text = text
    return element


def _amount(cents: int) -> str:
    """Cents as a UBL amount with exactly two decimals (BR-DEC rules), e.g. 123456 -> 1234.56."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def _decimal(value: Decimal) -> str:
    return f"{value:.2f}"


def _date(value: dt.date) -> str:
    return value.isoformat()


def _money(parent: etree._Element, name: str, cents: int, currency: str) -> None:
    _cbc(parent, name, _amount(cents), currencyID=currency)


def _tax_scheme(parent: etree._Element) -> None:
    _cbc(_cac(parent, "TaxScheme"), "ID", "VAT")


def _address(parent: etree._Element, address: Address) -> None:
    postal = _cac(parent, "PostalAddress")
    _cbc(postal, "StreetName", address.street)
    _cbc(postal, "CityName", address.city)
    _cbc(postal, "PostalZone", address.postal_code)
    _cbc(_cac(postal, "Country"), "IdentificationCode", address.country_code)


def _party(parent: etree._Element, wrapper: str, party: Party) -> None:
    element = _cac(_cac(parent, wrapper), "Party")
    endpoint = party.endpoint
    _cbc(element, "EndpointID", endpoint.identifier, schemeID=endpoint.scheme)
    _address(element, party.address)
    if party.vat_id is not None:
        tax_scheme = _cac(element, "PartyTaxScheme")
        _cbc(tax_scheme, "CompanyID", party.vat_id)
        _tax_scheme(tax_scheme)
    legal = _cac(element, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    if party.kvk_number is not None:
        _cbc(legal, "CompanyID", party.kvk_number, schemeID=_KVK_SCHEME)
    _cbc(_cac(element, "Contact"), "ElectronicMail", party.email)


def _tax_category(parent: etree._Element, name: str, vat: VatTreatment, *, with_reason: bool) -> None:
    category = _cac(parent, name)
    _cbc(category, "ID", vat.category.value)
    _cbc(category, "Percent", _decimal(vat.rate))
    # The exemption reason belongs to the VAT breakdown (BT-120/121), not to the line's category.
    if with_reason and vat.category is VatCategory.EXEMPT:
        if vat.exemption_reason_code is not None:
            _cbc(category, "TaxExemptionReasonCode", vat.exemption_reason_code)
        if vat.exemption_reason is not None:
            _cbc(category, "TaxExemptionReason", vat.exemption_reason)
    _tax_scheme(category)


def _line(parent: etree._Element, invoice: Invoice, line: InvoiceLine) -> None:
    credit = invoice.kind is DocumentKind.CREDIT_NOTE
    element = _cac(parent, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(element, "ID", line.line_id)
    _cbc(
        element, "CreditedQuantity" if credit else "InvoicedQuantity", _decimal(line.quantity), unitCode=line.unit_code
    )
    _money(element, "LineExtensionAmount", line.net_cents, invoice.currency)
    item = _cac(element, "Item")
    _cbc(item, "Name", line.description)
    _cbc(_cac(item, "SellersItemIdentification"), "ID", line.product_code)
    _tax_category(item, "ClassifiedTaxCategory", line.vat, with_reason=False)
    price = _cac(element, "Price")
    _money(price, "PriceAmount", line.unit_price_cents, invoice.currency)
    if line.base_quantity != 1:
        _cbc(price, "BaseQuantity", str(line.base_quantity), unitCode=line.unit_code)


def to_ubl(invoice: Invoice) -> bytes:
    """The UBL 2.1 document (UTF-8 bytes) of an issued invoice or credit note.

    Raises InvalidInvoice for a draft: an e-invoice needs its number (BT-1).
    """
    if invoice.number is None:
        raise InvalidInvoice("a draft has no number yet; issue it before writing its e-invoice")
    credit = invoice.kind is DocumentKind.CREDIT_NOTE
    root_ns = _CREDIT_NOTE_NS if credit else _INVOICE_NS
    # Parsed rather than built: the UBL root namespace is the default one (lxml-stubs cannot type a None prefix).
    root = etree.fromstring(
        f'<{"CreditNote" if credit else "Invoice"} xmlns="{root_ns}" xmlns:cac="{_CAC}" xmlns:cbc="{_CBC}"/>'
    )
    currency = invoice.currency
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", invoice.number)
    _cbc(root, "IssueDate", _date(invoice.issue_date))
    if credit:
        _cbc(root, "CreditNoteTypeCode", "381")
    else:
        _cbc(root, "DueDate", _date(invoice.due_date))
        _cbc(root, "InvoiceTypeCode", "380")
    _cbc(root, "DocumentCurrencyCode", currency)
    if invoice.buyer_reference is not None:
        _cbc(root, "BuyerReference", invoice.buyer_reference)
    period = _cac(root, "InvoicePeriod")
    _cbc(period, "StartDate", _date(invoice.period.start))
    _cbc(period, "EndDate", _date(invoice.period.end))
    if invoice.order_reference is not None:
        _cbc(_cac(root, "OrderReference"), "ID", invoice.order_reference)
    if invoice.corrects is not None:
        document = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(document, "ID", invoice.corrects.number)
        _cbc(document, "IssueDate", _date(invoice.corrects.issue_date))
    _party(root, "AccountingSupplierParty", invoice.seller)
    _party(root, "AccountingCustomerParty", invoice.buyer)
    if not credit:
        # A credit note's money flows back to the buyer: no payment instruction for them (NL-R-007).
        means = _cac(root, "PaymentMeans")
        _cbc(means, "PaymentMeansCode", _SEPA_CREDIT_TRANSFER, name="SEPA credit transfer")
        _cbc(means, "PaymentID", invoice.number)
        account = _cac(means, "PayeeFinancialAccount")
        _cbc(account, "ID", invoice.seller_iban)
        _cbc(account, "Name", invoice.seller.name)
        _cbc(_cac(root, "PaymentTerms"), "Note", f"Betaling binnen {invoice.payment_terms_days} dagen")

    totals = invoice.totals
    tax_total = _cac(root, "TaxTotal")
    _money(tax_total, "TaxAmount", totals.vat_cents, currency)
    for group in totals.breakdown:
        subtotal = _cac(tax_total, "TaxSubtotal")
        _money(subtotal, "TaxableAmount", group.taxable_cents, currency)
        _money(subtotal, "TaxAmount", group.vat_cents, currency)
        _tax_category(subtotal, "TaxCategory", group.vat, with_reason=True)

    monetary = _cac(root, "LegalMonetaryTotal")
    _money(monetary, "LineExtensionAmount", totals.line_extension_cents, currency)
    _money(monetary, "TaxExclusiveAmount", totals.tax_exclusive_cents, currency)
    _money(monetary, "TaxInclusiveAmount", totals.tax_inclusive_cents, currency)
    _money(monetary, "PayableAmount", totals.payable_cents, currency)

    for line in invoice.lines:
        _line(root, invoice, line)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
