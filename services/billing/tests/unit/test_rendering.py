"""The HTML rendering of invoices: Dutch amounts, the facts a reader needs, and nothing unescaped."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from bmw.billing.adapters.rendering import format_date, format_euro, format_quantity, render_html
from bmw.billing.domain.invoices import (
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoicePeriod,
    UnitCode,
    VatTreatment,
    credit_note_for,
)
from bmw.billing.testing import EXAMPLE_BUYER, EXAMPLE_SELLER
from bmw.contracts.taxonomy import VatRate

SELLER = EXAMPLE_SELLER
BUYER = EXAMPLE_BUYER


def line(line_id: str, description: str, quantity: str, price_cents: int, rate: VatRate) -> InvoiceLine:
    return InvoiceLine(
        line_id=line_id,
        product_code=f"P{line_id}",
        description=description,
        quantity=Decimal(quantity),
        unit_code=UnitCode.HOUR,
        unit_price_cents=price_cents,
        vat=VatTreatment.from_rate(rate),
    )


INVOICE = Invoice(
    kind=DocumentKind.INVOICE,
    number="2026-000123",
    issue_date=dt.date(2026, 2, 2),
    payment_terms_days=14,
    period=InvoicePeriod(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 31)),
    seller=SELLER,
    buyer=BUYER,
    seller_iban="NL91ABNA0417164300",
    lines=(
        line("1", "Consult (uurbundel)", "12.50", 9_500, VatRate.STANDARD),  # € 1.187,50, VAT € 249,38
        line("2", "Trajectprijs – case ref c_ab12f9", "1", 85_000, VatRate.EXEMPT),  # € 850,00
    ),
    buyer_reference="INK-2026-17",
)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def tags_of(page: str) -> list[str]:
    collector = _Collector()
    collector.feed(page)
    return collector.tags


@pytest.mark.parametrize(
    ("cents", "expected"),
    [(0, "€ 0,00"), (5, "€ 0,05"), (123_456, "€ 1.234,56"), (100_000_000, "€ 1.000.000,00"), (-24_200, "€ -242,00")],
)
def test_amounts_are_formatted_the_dutch_way(cents: int, expected: str) -> None:
    assert format_euro(cents) == expected


def test_quantities_and_dates_are_dutch() -> None:
    assert format_quantity(Decimal("1234.5")) == "1.234,50"
    assert format_date(dt.date(2026, 3, 4)) == "4 maart 2026"


def test_an_invoice_shows_what_its_reader_needs() -> None:
    page = render_html(INVOICE)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="nl">' in page
    assert "2026-000123" in page
    assert "CONCEPT" not in page
    for expected in (
        "€ 1.187,50",  # line net
        "€ 2.037,50",  # net total
        "€ 249,38",  # VAT 21 % of € 1.187,50 = € 249,375 → € 249,38
        "€ 2.286,88",  # total to pay
        "Vrijgesteld van btw (art. 11 lid 1 Wet OB)",
        "KvK-nummer: 90000001",
        "Btw-nummer: NL123456789B01",
        "INK-2026-17",
        "1 januari 2026 t/m 31 januari 2026",
        "16 februari 2026",  # due date after 14 days
        "NL91 ABNA 0417 1643 00",
        "12,50",
    ):
        assert expected in page, expected
    assert "<script" not in page
    assert "http" not in page.lower().replace("http-equiv", "")  # self-contained: no external resources


def test_a_malicious_description_is_escaped() -> None:
    evil = replace(
        INVOICE,
        lines=(line("1", '<script>alert("x")</script><img src=x onerror=alert(1)>', "1", 100, VatRate.STANDARD),),
        buyer=replace(BUYER, name="Acme <b>B.V.</b> & Zn"),
        buyer_reference='"><iframe>',
    )
    page = render_html(evil)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Acme &lt;b&gt;B.V.&lt;/b&gt; &amp; Zn" in page
    assert "&quot;&gt;&lt;iframe&gt;" in page
    assert {"script", "img", "iframe", "b"}.isdisjoint(tags_of(page))


def test_a_draft_says_concept() -> None:
    page = render_html(replace(INVOICE, number=None))
    assert "CONCEPT" in page
    assert "Factuur (CONCEPT)" in page
    assert "betaal nog niet" in page


def test_a_credit_note_shows_negative_amounts_and_the_invoice_it_corrects() -> None:
    page = render_html(credit_note_for(INVOICE, "2026-000130", dt.date(2026, 2, 20)))
    assert "Creditnota" in page
    assert "2026-000130" in page
    assert "2026-000123 van 2 februari 2026" in page
    assert "€ -2.286,88" in page
    assert "€ -1.187,50" in page
    assert "-12,50" in page
