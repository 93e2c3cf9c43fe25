"""Invoice arithmetic as EN 16931 requires: line nets and VAT per group rounded once, half-up."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.billing.domain.invoices import (
    DEFAULT_EXEMPTION_REASON,
    Address,
    DocumentKind,
    ElectronicAddress,
    InvalidInvoice,
    Invoice,
    InvoiceLine,
    InvoicePeriod,
    InvoiceReference,
    Party,
    UnitCode,
    VatCategory,
    VatTreatment,
    compute,
    credit_note_for,
)
from bmw.billing.testing import EXAMPLE_BUYER, EXAMPLE_SELLER
from bmw.contracts.taxonomy import VatRate

SELLER = EXAMPLE_SELLER
BUYER = EXAMPLE_BUYER
IBAN = "NL91ABNA0417164300"
CENT = Decimal("0.01")


def line(
    line_id: str = "1",
    *,
    quantity: str | Decimal = "1",
    price_cents: int = 10_000,
    rate: VatRate = VatRate.STANDARD,
    unit: UnitCode = UnitCode.HOUR,
) -> InvoiceLine:
    return InvoiceLine(
        line_id=line_id,
        product_code=f"P-{rate.value}",
        description="Consult (uurbundel)",
        quantity=Decimal(quantity),
        unit_code=unit,
        unit_price_cents=price_cents,
        vat=VatTreatment.from_rate(rate),
    )


def invoice(lines: tuple[InvoiceLine, ...], *, number: str | None = "2026-000123") -> Invoice:
    return Invoice(
        kind=DocumentKind.INVOICE,
        number=number,
        issue_date=dt.date(2026, 2, 2),
        payment_terms_days=30,
        period=InvoicePeriod(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 31)),
        seller=SELLER,
        buyer=BUYER,
        seller_iban=IBAN,
        lines=lines,
        buyer_reference="INK-2026-17",
    )


# -- strategies ---------------------------------------------------------------------------------

# Halves and small prices are mixed in so that exact ties (x.5 cent) are common: they are where
# half-up and banker's rounding part ways.
quantities = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000"), places=2),
    st.sampled_from([Decimal("0.50"), Decimal("1.50"), Decimal("2.50"), Decimal("0.25"), Decimal("0.75")]),
)
prices = st.one_of(
    st.integers(min_value=0, max_value=5_000_000),  # up to € 50.000 per unit
    st.integers(min_value=0, max_value=250),
    st.sampled_from([50, 150, 250, 1_050, 2_250]),  # 9 % or 21 % of these end in half a cent
)
rates = st.sampled_from(list(VatRate))


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    specs = draw(
        st.lists(st.tuples(quantities, prices, rates, st.sampled_from(list(UnitCode))), min_size=1, max_size=12)
    )
    lines = tuple(
        line(str(index), quantity=quantity, price_cents=price, rate=rate, unit=unit)
        for index, (quantity, price, rate, unit) in enumerate(specs, start=1)
    )
    return invoice(lines)


def reference_line_net(quantity: Decimal, price_cents: int) -> Decimal:
    """Independent computation in euros: quantity × price, half-up to the cent."""
    return (quantity * (Decimal(price_cents) / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def reference_rate(rate: VatRate) -> Decimal:
    return Decimal(0) if rate is VatRate.EXEMPT else Decimal(rate.value)


# -- properties ---------------------------------------------------------------------------------


@given(invoices())
def test_totals_equal_the_sum_of_their_lines(document: Invoice) -> None:
    totals = document.totals
    assert totals.net_cents == sum(item.net_cents for item in document.lines)
    assert totals.net_cents == sum(group.taxable_cents for group in totals.breakdown)
    assert totals.vat_cents == sum(group.vat_cents for group in totals.breakdown)
    assert totals.gross_cents == totals.net_cents + totals.vat_cents
    assert totals.tax_exclusive_cents == totals.line_extension_cents == totals.net_cents
    assert totals.payable_cents == totals.tax_inclusive_cents == totals.gross_cents
    # one breakdown group per (category, rate), each line in exactly one
    keys = [group.vat.group_key for group in totals.breakdown]
    assert len(keys) == len(set(keys))
    assert set(keys) == {item.vat.group_key for item in document.lines}


@given(st.lists(st.tuples(quantities, prices, rates), min_size=1, max_size=12))
def test_vat_is_rounded_once_per_group(specs: list[tuple[Decimal, int, VatRate]]) -> None:
    lines = tuple(
        line(str(index), quantity=quantity, price_cents=price, rate=rate)
        for index, (quantity, price, rate) in enumerate(specs, start=1)
    )
    totals = compute(lines)

    expected_nets = [reference_line_net(quantity, price) for quantity, price, _ in specs]
    assert [Decimal(item.net_cents) / 100 for item in lines] == expected_nets
    taxable: dict[VatRate, Decimal] = defaultdict(Decimal)
    for (_, _, rate), net in zip(specs, expected_nets, strict=True):
        taxable[rate] += net
    expected_vat = {
        rate: (amount * reference_rate(rate) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        for rate, amount in taxable.items()
    }
    actual = {
        (VatRate.EXEMPT if group.vat.category is VatCategory.EXEMPT else VatRate(f"{group.vat.rate:f}")): group
        for group in totals.breakdown
    }
    assert actual.keys() == expected_vat.keys()
    for rate, group in actual.items():
        assert Decimal(group.taxable_cents) / 100 == taxable[rate]
        assert Decimal(group.vat_cents) / 100 == expected_vat[rate]
    assert Decimal(totals.vat_cents) / 100 == sum(expected_vat.values(), Decimal(0))


@given(invoices(), st.integers(min_value=0, max_value=400))
def test_a_credit_note_nets_its_invoice_to_zero(document: Invoice, days_later: int) -> None:
    note = credit_note_for(document, "2026-000999", document.issue_date + dt.timedelta(days=days_later))
    assert note.kind is DocumentKind.CREDIT_NOTE
    assert note.corrects == InvoiceReference(number="2026-000123", issue_date=document.issue_date)
    assert note.totals == document.totals  # the document shows positive amounts, as UBL CreditNote does
    for field in ("net_cents", "vat_cents", "gross_cents"):
        assert getattr(document.signed_totals, field) + getattr(note.signed_totals, field) == 0
    for original, negated in zip(document.signed_totals.breakdown, note.signed_totals.breakdown, strict=True):
        assert original.taxable_cents + negated.taxable_cents == 0
        assert original.vat_cents + negated.vat_cents == 0
    if document.totals.gross_cents:
        assert note.signed_totals.gross_cents < 0


# -- worked examples ----------------------------------------------------------------------------


def test_line_net_rounds_half_up_to_the_cent() -> None:
    assert line(quantity="0.50", price_cents=1).net_cents == 1  # 0.5 cent: half-up, not to even
    assert line(quantity="0.50", price_cents=3).net_cents == 2  # 1.5 cents
    assert line(quantity="1.25", price_cents=9_999).net_cents == 12_499  # 12 498.75 cents
    assert line(quantity="0.33", price_cents=10_001).net_cents == 3_300  # 3 300.33 cents


def test_vat_is_rounded_per_group_not_per_line() -> None:
    lines = tuple(line(str(index), quantity="1", price_cents=7) for index in (1, 2, 3))
    # per line 7 × 21 % = 1.47 cents → 1 cent, three lines 3 cents; the group's 21 × 21 % = 4.41 → 4 cents
    totals = compute(lines)
    assert totals.vat_cents == 4
    assert totals.gross_cents == 25


def test_group_vat_rounds_half_up() -> None:
    totals = compute((line(quantity="1", price_cents=50, rate=VatRate.REDUCED),))
    assert totals.vat_cents == 5  # 4.5 cents → 5 (banker's rounding would give 4)


def test_mixed_rates_give_one_group_per_rate_in_a_fixed_order() -> None:
    document = invoice(
        (
            line("1", quantity="2", price_cents=9_500, rate=VatRate.EXEMPT),
            line("2", quantity="3.5", price_cents=9_500, rate=VatRate.REDUCED),
            line("3", quantity="1", price_cents=1_000, rate=VatRate.ZERO),
            line("4", quantity="1.5", price_cents=12_000, rate=VatRate.STANDARD),
            line("5", quantity="1", price_cents=5_000, rate=VatRate.STANDARD),
        )
    )
    groups = [(g.vat.category, g.vat.rate, g.taxable_cents, g.vat_cents) for g in document.totals.breakdown]
    assert groups == [
        (VatCategory.STANDARD, Decimal(21), 23_000, 4_830),
        (VatCategory.STANDARD, Decimal(9), 33_250, 2_993),  # 2 992.5 → 2 993
        (VatCategory.ZERO_RATED, Decimal(0), 1_000, 0),
        (VatCategory.EXEMPT, Decimal(0), 19_000, 0),
    ]
    assert (document.totals.net_cents, document.totals.vat_cents, document.totals.gross_cents) == (
        76_250,
        7_823,
        84_073,
    )


def test_vat_rates_map_from_the_contract_taxonomy() -> None:
    assert VatTreatment.from_rate(VatRate.STANDARD) == VatTreatment(VatCategory.STANDARD, Decimal(21))
    assert VatTreatment.from_rate(VatRate.REDUCED) == VatTreatment(VatCategory.STANDARD, Decimal(9))
    assert VatTreatment.from_rate(VatRate.ZERO) == VatTreatment(VatCategory.ZERO_RATED, Decimal(0))
    exempt = VatTreatment.from_rate(VatRate.EXEMPT)
    assert (exempt.category, exempt.rate, exempt.exemption_reason) == (
        VatCategory.EXEMPT,
        Decimal(0),
        DEFAULT_EXEMPTION_REASON,
    )
    coded = VatTreatment.from_rate(VatRate.EXEMPT, exemption_reason_code="VATEX-EU-132-1G")
    assert (coded.exemption_reason, coded.exemption_reason_code) == (None, "VATEX-EU-132-1G")


def test_signed_totals_and_due_date() -> None:
    document = invoice((line(quantity="2", price_cents=10_000),))
    assert document.due_date == dt.date(2026, 3, 4)
    assert (document.signed_totals.net_cents, document.signed_totals.gross_cents) == (20_000, 24_200)
    note = credit_note_for(document, None, dt.date(2026, 2, 20))
    assert note.is_draft
    assert (note.signed_totals.net_cents, note.signed_totals.vat_cents, note.signed_totals.gross_cents) == (
        -20_000,
        -4_200,
        -24_200,
    )


def test_a_draft_is_numbered_at_issue_and_then_never_again() -> None:
    draft = invoice((line(),), number=None)
    assert draft.is_draft
    issued = draft.issued("2026-000124", dt.date(2026, 2, 5))
    assert (issued.number, issued.issue_date, issued.due_date) == (
        "2026-000124",
        dt.date(2026, 2, 5),
        dt.date(2026, 3, 7),
    )
    with pytest.raises(InvalidInvoice, match="already issued"):
        issued.issued("2026-000125", dt.date(2026, 2, 6))


def test_credit_notes_only_for_issued_invoices() -> None:
    with pytest.raises(InvalidInvoice, match="draft"):
        credit_note_for(invoice((line(),), number=None), "2026-000200", dt.date(2026, 3, 1))
    note = credit_note_for(invoice((line(),)), "2026-000200", dt.date(2026, 3, 1))
    with pytest.raises(InvalidInvoice, match="credit note"):
        credit_note_for(note, "2026-000201", dt.date(2026, 3, 1))
    with pytest.raises(InvalidInvoice, match="predate"):
        credit_note_for(invoice((line(),)), "2026-000202", dt.date(2026, 1, 1))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: line(quantity="1.005"), "two decimals"),
        (lambda: line(quantity="0"), "positive"),
        (lambda: line(price_cents=-1), "negative"),
        (lambda: VatTreatment(VatCategory.EXEMPT, Decimal(0)), "BR-E-10"),
        (lambda: VatTreatment(VatCategory.STANDARD, Decimal(0)), "above zero"),
        (lambda: VatTreatment(VatCategory.ZERO_RATED, Decimal(0), exemption_reason="x"), "only exempt"),
        (lambda: VatTreatment(VatCategory.EXEMPT, Decimal(0), exemption_reason_code="ART11"), "VATEX"),
        (lambda: Party(name="X", address=BUYER.address, email="x@example.nl", kvk_number="1234567"), "8 digits"),
        (
            lambda: Party(
                name="X", address=BUYER.address, email="x@example.nl", kvk_number="12345678", vat_id="NL1B01"
            ),
            "VAT id",
        ),
        (lambda: Party(name="X", address=BUYER.address, email="x@example.nl"), "electronic address"),
        (lambda: Party(name=" ", address=BUYER.address, email="x@example.nl", kvk_number="12345678"), "empty"),
        (lambda: Address(street="Havenweg 1", postal_code="3011 AA", city="Rotterdam", country_code="nl"), "country"),
        (lambda: ElectronicAddress(identifier="12345678", scheme="kvk"), "EAS"),
        (lambda: InvoicePeriod(start=dt.date(2026, 2, 1), end=dt.date(2026, 1, 31)), "BR-29"),
    ],
)
def test_malformed_parts_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInvoice, match=message):
        build()


VALID = invoice((line(),))
OTHER_EXEMPTION = VatTreatment(VatCategory.EXEMPT, Decimal(0), exemption_reason="Andere reden")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: replace(VALID, lines=()), "BR-16"),
        (lambda: replace(VALID, lines=(line("1"), line("1"))), "unique"),
        (lambda: replace(VALID, buyer_reference=None), "NL-CIUS"),
        (lambda: replace(VALID, seller_iban="NL91ABNA0417164301"), "IBAN"),
        (lambda: replace(VALID, number="123"), "2026-000123"),
        (lambda: replace(VALID, kind=DocumentKind.CREDIT_NOTE), "NL-R-001"),
        (
            lambda: replace(VALID, corrects=InvoiceReference(number="2025-000001", issue_date=dt.date(2025, 12, 1))),
            "only a credit note",
        ),
        (lambda: replace(VALID, seller=replace(SELLER, vat_id=None)), "seller needs"),
        (lambda: replace(VALID, payment_terms_days=-1), "payment terms"),
        (
            lambda: replace(
                VALID,
                lines=(
                    line("1", rate=VatRate.EXEMPT),
                    replace(line("2", rate=VatRate.EXEMPT), vat=OTHER_EXEMPTION),
                ),
            ),
            "one exemption reason",
        ),
    ],
)
def test_malformed_invoices_are_refused(build: Callable[[], Invoice], message: str) -> None:
    with pytest.raises(InvalidInvoice, match=message):
        build()


def test_an_order_reference_alone_satisfies_nl_cius() -> None:
    assert replace(VALID, buyer_reference=None, order_reference="PO-4711").order_reference == "PO-4711"
