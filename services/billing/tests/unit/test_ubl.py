"""UBL 2.1 e-invoices validated against the official artefacts: UBL XSD, EN 16931 and Peppol rules.

``validate_einvoice`` (tests/conftest.py) returns the XSD errors and the fatal EN 16931 and Peppol
BIS 3 (with NL-CIUS) assertions of a document; an empty list means valid. ``validate_en16931``
leaves out the Peppol rules. The tests skip, saying where they looked, when the
artefacts (``BMW_EINVOICE_ARTEFACTS``, default ``<repo>/../shared/einvoice``) are absent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from bmw.billing.adapters.ubl import CUSTOMIZATION_ID, PROFILE_ID, to_ubl
from bmw.billing.domain.invoices import (
    Address,
    DocumentKind,
    ElectronicAddress,
    InvalidInvoice,
    Invoice,
    InvoiceLine,
    InvoicePeriod,
    Party,
    UnitCode,
    VatTreatment,
    credit_note_for,
)
from bmw.billing.testing import EXAMPLE_SELLER
from bmw.contracts.taxonomy import VatRate

Validate = Callable[[bytes], list[str]]

NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}

SELLER = EXAMPLE_SELLER
BUYER = Party(
    name="Gemeente Voorbeeldstad & Partners",
    address=Address(street="Stadhuisplein 1", postal_code="1234 AB", city="Voorbeeldstad"),
    email="facturen@voorbeeldstad.example",
    kvk_number="12345678",
    vat_id="NL123456789B01",
)
FOREIGN_BUYER = Party(
    name="Grenzeloos Werk GmbH",
    address=Address(street="Hauptstraße 5", postal_code="40210", city="Düsseldorf", country_code="DE"),
    email="rechnung@grenzeloos.example",
    vat_id="DE123456789",
    electronic_address=ElectronicAddress(identifier="DE123456789", scheme="9930"),
)

CATALOGUE: dict[str, tuple[str, UnitCode, VatRate]] = {
    "HOURS-40": ("Consult (uurbundel)", UnitCode.HOUR, VatRate.STANDARD),
    "WORKSHOP": ("Workshop 'Feedback geven en ontvangen'", UnitCode.ONE, VatRate.REDUCED),
    "SUB-EMP": ("Abonnement per medewerker per jaar", UnitCode.ONE, VatRate.ZERO),
    "TRAJECT": ("Trajectprijs – case ref c_ab12f9", UnitCode.ONE, VatRate.EXEMPT),
    "SECOND": ("Detachering (uren)", UnitCode.HOUR, VatRate.STANDARD),
    "NO-SHOW": ("No-show", UnitCode.SERVICE_UNIT, VatRate.STANDARD),
}


def line(line_id: str, code: str, quantity: str | Decimal, price_cents: int) -> InvoiceLine:
    description, unit, rate = CATALOGUE[code]
    return InvoiceLine(
        line_id=line_id,
        product_code=code,
        description=description,
        quantity=Decimal(quantity),
        unit_code=unit,
        unit_price_cents=price_cents,
        vat=VatTreatment.from_rate(rate),
    )


def invoice(*lines: InvoiceLine, buyer: Party = BUYER, order_reference: str | None = None) -> Invoice:
    return Invoice(
        kind=DocumentKind.INVOICE,
        number="2026-000123",
        issue_date=dt.date(2026, 2, 2),
        payment_terms_days=30,
        period=InvoicePeriod(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 31)),
        seller=SELLER,
        buyer=buyer,
        seller_iban="NL91ABNA0417164300",
        lines=lines,
        buyer_reference="INK-2026-17" if order_reference is None else None,
        order_reference=order_reference,
    )


def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def nodes(document: etree._Element, path: str) -> list[etree._Element]:
    found = document.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [node for node in found if isinstance(node, etree._Element)]


def text(document: etree._Element, path: str) -> list[str]:
    """Text of the elements, or values of the attributes, that an XPath selects."""
    found = document.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    return [node.text or "" if isinstance(node, etree._Element) else str(node) for node in found]


def remove(document: etree._Element, path: str) -> None:
    for node in nodes(document, path):
        parent = node.getparent()
        assert parent is not None
        parent.remove(node)


ONE_RATE = invoice(line("1", "HOURS-40", "12.75", 9_500), line("2", "NO-SHOW", "2", 4_750))
MIXED = invoice(
    line("1", "HOURS-40", "3.50", 9_500),
    line("2", "WORKSHOP", "1", 125_000),
    line("3", "SUB-EMP", "250", 3_333),
    line("4", "SECOND", "16", 11_250),
)
EXEMPT = invoice(line("1", "TRAJECT", "3", 85_000), line("2", "HOURS-40", "1.25", 9_500), order_reference="PO-4711")
CREDIT_NOTE = credit_note_for(MIXED, "2026-000130", dt.date(2026, 2, 16))
FOREIGN = invoice(line("1", "HOURS-40", "10", 9_500), buyer=FOREIGN_BUYER)


# -- the harness itself ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ubl-tc434-example1.xml", "ubl-tc434-example2.xml", "ubl-tc434-creditnote1.xml"])
def test_the_official_examples_pass_the_validator(
    einvoice_artefacts: Path, validate_en16931: Validate, name: str
) -> None:
    assert validate_en16931((einvoice_artefacts / "examples" / name).read_bytes()) == []


def test_the_official_credit_note_example_passes_the_peppol_rules_once_it_claims_peppol(
    einvoice_artefacts: Path, validate_einvoice: Validate
) -> None:
    xml = (einvoice_artefacts / "examples" / "ubl-tc434-creditnote1.xml").read_bytes()
    # As published it claims plain EN 16931, which Peppol refuses (and nothing else in it).
    assert [problem.split(":")[0] for problem in validate_einvoice(xml)] == ["PEPPOL-EN16931-R004"]
    claimed = xml.replace(
        b"<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>",
        f"<cbc:CustomizationID>{CUSTOMIZATION_ID}</cbc:CustomizationID>".encode(),
    )
    assert validate_einvoice(claimed) == []


def test_the_peppol_rules_report_a_missing_buyer_reference(validate_einvoice: Validate) -> None:
    document = parse(to_ubl(ONE_RATE))
    remove(document, "/inv:Invoice/cbc:BuyerReference")
    problems = validate_einvoice(etree.tostring(document))
    assert [problem.split(":")[0] for problem in problems] == ["PEPPOL-EN16931-R003"], problems


def test_the_nl_cius_rules_report_a_credit_note_without_its_invoice(validate_einvoice: Validate) -> None:
    document = parse(to_ubl(CREDIT_NOTE))
    remove(document, "/cn:CreditNote/cac:BillingReference")
    problems = validate_einvoice(etree.tostring(document))
    assert [problem.split(":")[0] for problem in problems] == ["NL-R-001"], problems


def test_the_nl_cius_rules_report_a_legal_entity_without_kvk_scheme(validate_einvoice: Validate) -> None:
    document = parse(to_ubl(ONE_RATE))
    (company,) = nodes(
        document,
        "/inv:Invoice/cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID",
    )
    del company.attrib["schemeID"]
    problems = validate_einvoice(etree.tostring(document))
    assert [problem.split(":")[0] for problem in problems] == ["NL-R-003"], problems


def test_the_validator_reports_a_wrong_vat_total(validate_einvoice: Validate) -> None:
    xml = to_ubl(MIXED)
    document = parse(xml)
    (tax_amount,) = nodes(document, "/inv:Invoice/cac:TaxTotal/cbc:TaxAmount")
    tax_amount.text = str(Decimal(str(tax_amount.text)) + Decimal("10.00"))
    problems = validate_einvoice(etree.tostring(document))
    assert any(problem.startswith("BR-CO-14") for problem in problems), problems  # VAT total = sum of groups
    assert any(problem.startswith("BR-CO-15") for problem in problems), problems  # with VAT = without + VAT


def test_the_validator_reports_a_schema_error(validate_einvoice: Validate) -> None:
    document = parse(to_ubl(ONE_RATE))
    (issue_date,) = nodes(document, "/inv:Invoice/cbc:IssueDate")
    issue_date.addprevious(etree.Element(f"{{{NS['cbc']}}}NoSuchElement"))
    problems = validate_einvoice(etree.tostring(document))
    assert any(problem.startswith("XSD:") and "NoSuchElement" in problem for problem in problems), problems


def test_the_validator_reports_a_missing_exemption_reason(validate_einvoice: Validate) -> None:
    document = parse(to_ubl(EXEMPT))
    remove(document, "//cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason")
    problems = validate_einvoice(etree.tostring(document))
    assert [problem[:8] for problem in problems] == ["BR-E-10:"], problems


# -- the shapes billing produces -----------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [ONE_RATE, MIXED, EXEMPT, CREDIT_NOTE, FOREIGN],
    ids=["one-rate", "mixed-rates", "exempt", "credit-note", "foreign-buyer"],
)
def test_every_shape_validates(validate_einvoice: Validate, document: Invoice) -> None:
    assert validate_einvoice(to_ubl(document)) == []


def test_an_invoice_carries_the_peppol_and_nl_cius_essentials() -> None:
    document = parse(to_ubl(ONE_RATE))
    assert document.tag == f"{{{NS['inv']}}}Invoice"
    assert text(document, "cbc:CustomizationID") == [CUSTOMIZATION_ID]
    assert text(document, "cbc:ProfileID") == [PROFILE_ID]
    assert text(document, "cbc:ID") == ["2026-000123"]
    assert text(document, "cbc:InvoiceTypeCode") == ["380"]
    assert text(document, "cbc:DueDate") == ["2026-03-04"]
    assert text(document, "cbc:BuyerReference") == ["INK-2026-17"]
    assert text(document, "cac:InvoicePeriod/cbc:*") == ["2026-01-01", "2026-01-31"]
    seller = "cac:AccountingSupplierParty/cac:Party"
    assert text(document, f"{seller}/cbc:EndpointID/@schemeID") == ["0106"]
    assert text(document, f"{seller}/cbc:EndpointID") == ["90000001"]
    assert text(document, f"{seller}/cac:PartyLegalEntity/cbc:CompanyID/@schemeID") == ["0106"]
    assert text(document, f"{seller}/cac:PartyTaxScheme/cbc:CompanyID") == ["NL004495445B01"]
    assert text(document, "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName") == [
        "Gemeente Voorbeeldstad & Partners"
    ]
    assert text(document, "cac:PaymentMeans/cbc:PaymentMeansCode") == ["58"]
    assert text(document, "cac:PaymentMeans/cbc:PaymentID") == ["2026-000123"]
    assert text(document, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == ["NL91ABNA0417164300"]
    # 12.75 h × € 95,00 = € 1.211,25; 2 × € 47,50 = € 95,00; VAT 21 % of € 1.306,25 = € 274,3125 → € 274,31
    assert text(document, "cac:InvoiceLine/cbc:LineExtensionAmount") == ["1211.25", "95.00"]
    assert text(document, "cac:InvoiceLine/cbc:InvoicedQuantity") == ["12.75", "2.00"]
    assert text(document, "cac:InvoiceLine/cbc:InvoicedQuantity/@unitCode") == ["HUR", "E48"]
    assert text(document, "cac:TaxTotal/cbc:TaxAmount") == ["274.31"]
    assert text(document, "cac:LegalMonetaryTotal/cbc:*") == ["1306.25", "1306.25", "1580.56", "1580.56"]


def test_mixed_rates_have_one_breakdown_per_rate() -> None:
    document = parse(to_ubl(MIXED))
    subtotals = "cac:TaxTotal/cac:TaxSubtotal"
    assert text(document, f"{subtotals}/cac:TaxCategory/cbc:ID") == ["S", "S", "Z"]
    assert text(document, f"{subtotals}/cac:TaxCategory/cbc:Percent") == ["21.00", "9.00", "0.00"]
    # 21 %: 332.50 + 1800.00 = 2132.50 → 447.825 → 447.83 (half-up, once per group)
    assert text(document, f"{subtotals}/cbc:TaxableAmount") == ["2132.50", "1250.00", "8332.50"]
    assert text(document, f"{subtotals}/cbc:TaxAmount") == ["447.83", "112.50", "0.00"]


def test_an_exempt_invoice_states_its_reason_and_an_order_reference() -> None:
    document = parse(to_ubl(EXEMPT))
    assert text(document, "cac:OrderReference/cbc:ID") == ["PO-4711"]
    assert text(document, "cbc:BuyerReference") == []
    exempt = "cac:TaxTotal/cac:TaxSubtotal[cac:TaxCategory/cbc:ID='E']"
    assert text(document, f"{exempt}/cac:TaxCategory/cbc:TaxExemptionReason") == [
        "Vrijgesteld van btw (art. 11 lid 1 Wet OB)"
    ]
    assert text(document, f"{exempt}/cbc:TaxAmount") == ["0.00"]
    # the reason lives in the breakdown only, not on the line's classified category
    assert text(document, "//cac:ClassifiedTaxCategory/cbc:TaxExemptionReason") == []


def test_a_credit_note_is_positive_and_references_its_invoice() -> None:
    document = parse(to_ubl(CREDIT_NOTE))
    assert document.tag == f"{{{NS['cn']}}}CreditNote"
    assert text(document, "cbc:CreditNoteTypeCode") == ["381"]
    assert text(document, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:*") == ["2026-000123", "2026-02-02"]
    assert text(document, "cac:LegalMonetaryTotal/cbc:PayableAmount") == text(
        parse(to_ubl(MIXED)), "cac:LegalMonetaryTotal/cbc:PayableAmount"
    )
    assert text(document, "cac:CreditNoteLine/cbc:CreditedQuantity") == ["3.50", "1.00", "250.00", "16.00"]
    assert nodes(document, "cac:PaymentMeans") == []


def test_a_draft_has_no_e_invoice() -> None:
    with pytest.raises(InvalidInvoice, match="draft"):
        to_ubl(replace(ONE_RATE, number=None))


def test_text_is_escaped_in_xml(validate_einvoice: Validate) -> None:
    tricky = invoice(
        InvoiceLine(
            line_id="1",
            product_code="HOURS-40",
            description='Consult <b>&amp; "meer"</b> ]]> é',
            quantity=Decimal(1),
            unit_code=UnitCode.HOUR,
            unit_price_cents=9_500,
            vat=VatTreatment.from_rate(VatRate.STANDARD),
        )
    )
    xml = to_ubl(tricky)
    assert text(parse(xml), "cac:InvoiceLine/cac:Item/cbc:Name") == ['Consult <b>&amp; "meer"</b> ]]> é']
    assert validate_einvoice(xml) == []


# -- any invoice billing can make ----------------------------------------------------------------


@st.composite
def any_document(draw: st.DrawFn) -> Invoice:
    codes = draw(st.lists(st.sampled_from(sorted(CATALOGUE)), min_size=1, max_size=8))
    lines = tuple(
        line(
            str(index),
            code,
            draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)),
            draw(st.integers(min_value=0, max_value=2_500_000)),
        )
        for index, code in enumerate(codes, start=1)
    )
    document = invoice(*lines, buyer=draw(st.sampled_from([BUYER, FOREIGN_BUYER])))
    if draw(st.booleans()):
        return credit_note_for(
            document, "2026-000777", document.issue_date + dt.timedelta(days=draw(st.integers(0, 90)))
        )
    return document


@settings(max_examples=15)
@given(document=any_document())
def test_random_invoices_validate(validate_einvoice: Validate, document: Invoice) -> None:
    assert validate_einvoice(to_ubl(document)) == []


def test_a_yearly_price_billed_per_month_uses_a_price_base_quantity_and_validates(validate_einvoice: Validate) -> None:
    """425 employees at EUR 28.50 a year, one month: exactly 425 x 28.50 / 12 = EUR 1009.375 -> 1009.38, where a
    rounded monthly price (EUR 2.38) would bill EUR 1011.50."""
    subscription = InvoiceLine(
        line_id="1",
        product_code="BMW-ABO",
        description="Abonnement per medewerker (2026-01, medewerker-maanden)",
        quantity=Decimal(425),
        unit_code=UnitCode.MONTH,
        unit_price_cents=2_850,
        vat=VatTreatment.from_rate(VatRate.STANDARD),
        base_quantity=12,
    )
    assert subscription.net_cents == 100_938
    document = invoice(subscription)
    xml = to_ubl(document)
    base = parse(xml).find(".//{*}Price/{*}BaseQuantity")
    assert base is not None and base.text == "12" and base.get("unitCode") == "MON"
    assert validate_einvoice(xml) == []
