"""A readable, printable HTML rendering of an invoice or credit note, in Dutch.

``render_html(invoice)`` returns one self-contained page (inline CSS, no scripts, no external
resources) with the seller and buyer, their KvK and VAT ids, the invoice details, the lines, the
VAT breakdown per rate (with the exemption text), the totals and the payment instructions.
Amounts read as Dutch readers expect: ``€ 1.234,56``. A credit note shows its amounts negative;
a draft is marked CONCEPT. Every value from the invoice is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html import escape

from bmw.billing.domain.invoices import Invoice, InvoiceLine, Party, UnitCode, VatBreakdown, VatCategory

__all__ = ["format_date", "format_euro", "format_quantity", "render_html"]

_MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)

_UNITS: dict[UnitCode, str] = {
    UnitCode.HOUR: "uur",
    UnitCode.ONE: "stuk",
    UnitCode.SERVICE_UNIT: "eenheid",
    UnitCode.DAY: "dag",
    UnitCode.MONTH: "maand",
    UnitCode.YEAR: "jaar",
}

_STYLE = """
@page { size: A4; margin: 18mm 16mm; }
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Arial, sans-serif; font-size: 10pt; color: #1d1d1f; margin: 0; }
.page { max-width: 190mm; margin: 0 auto; padding: 12mm 0; position: relative; }
header { display: flex; justify-content: space-between; align-items: flex-start; margin-bottom: 10mm; }
h1 { font-size: 22pt; margin: 0 0 2mm 0; letter-spacing: 0.5px; }
.seller-name { font-size: 13pt; font-weight: bold; }
.parties { display: flex; justify-content: space-between; gap: 10mm; margin-bottom: 8mm; }
.party { width: 50%; }
.label { color: #6e6e73; font-size: 8.5pt; text-transform: uppercase; letter-spacing: 0.6px; margin-bottom: 1.5mm; }
address { font-style: normal; line-height: 1.45; }
dl.details { display: grid; grid-template-columns: max-content auto; gap: 1mm 6mm; margin: 0 0 8mm 0; }
dl.details dt { color: #6e6e73; }
dl.details dd { margin: 0; }
table { width: 100%; border-collapse: collapse; margin-bottom: 6mm; }
th { text-align: left; font-size: 8.5pt; color: #6e6e73; text-transform: uppercase; letter-spacing: 0.4px;
     border-bottom: 1.5px solid #1d1d1f; padding: 2mm 1.5mm; }
td { padding: 2mm 1.5mm; border-bottom: 0.5px solid #d2d2d7; vertical-align: top; }
.num, .amount { text-align: right; white-space: nowrap; }
table.totals { width: 60%; margin-left: auto; }
table.totals td { border: none; padding: 1mm 1.5mm; }
table.totals tr.grand td { border-top: 1.5px solid #1d1d1f; font-weight: bold; font-size: 11.5pt; padding-top: 2mm; }
.note { font-size: 8.5pt; color: #6e6e73; }
.payment { border: 0.5px solid #d2d2d7; padding: 4mm; margin-top: 6mm; line-height: 1.5; }
.draft { position: fixed; top: 40%; left: 0; right: 0; text-align: center; font-size: 90pt; font-weight: bold;
         color: rgba(200, 0, 0, 0.12); transform: rotate(-30deg); pointer-events: none; z-index: 0; }
.draft-banner { color: #b00020; font-weight: bold; letter-spacing: 2px; }
footer { margin-top: 10mm; font-size: 8pt; color: #6e6e73; border-top: 0.5px solid #d2d2d7; padding-top: 3mm; }
@media print { .page { padding: 0; } }
"""


def format_euro(cents: int) -> str:
    """Cents as Dutch readers write euros: 123456 -> ``€ 1.234,56``, -5 -> ``€ -0,05``."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"€ {sign}{whole:,}".replace(",", ".") + f",{part:02d}"


def format_quantity(quantity: Decimal) -> str:
    """A quantity with two decimals and a decimal comma: 1234.5 -> ``1.234,50``."""
    text = f"{quantity:,.2f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def format_date(day: dt.date) -> str:
    """A date in Dutch: ``1 februari 2026``."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _format_percent(rate: Decimal) -> str:
    text = f"{rate.normalize():f}".replace(".", ",")
    return f"{text}%"


def _vat_label(breakdown_or_line: VatBreakdown | InvoiceLine) -> str:
    vat = breakdown_or_line.vat
    if vat.category is VatCategory.EXEMPT:
        return "vrijgesteld"
    return _format_percent(vat.rate)


def _party_block(title: str, party: Party) -> str:
    ids = []
    if party.kvk_number is not None:
        ids.append(f"KvK-nummer: {escape(party.kvk_number)}")
    if party.vat_id is not None:
        ids.append(f"Btw-nummer: {escape(party.vat_id)}")
    address = party.address
    lines = [
        f"<strong>{escape(party.name)}</strong>",
        escape(address.street),
        f"{escape(address.postal_code)} {escape(address.city)}",
    ]
    if address.country_code != "NL":
        lines.append(escape(address.country_code))
    lines.extend(ids)
    lines.append(escape(party.email))
    return (
        f'<section class="party"><div class="label">{escape(title)}</div>'
        f"<address>{'<br>'.join(lines)}</address></section>"
    )


def _iban_grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _per_base(line: InvoiceLine) -> str:
    if line.base_quantity == 1:
        return ""
    unit = _UNITS.get(line.unit_code, line.unit_code.value)
    return f"<div class='note'>per {line.base_quantity} {escape(unit)}</div>"


def render_html(invoice: Invoice) -> str:
    """The invoice as one self-contained, printable HTML page in Dutch."""
    credit = invoice.is_credit_note
    sign = -1 if credit else 1
    totals = invoice.signed_totals
    document = "Creditnota" if credit else "Factuur"
    title = f"{document} {invoice.number}" if invoice.number is not None else f"{document} (CONCEPT)"

    details: list[tuple[str, str]] = [
        (
            f"{document}nummer",
            invoice.number if invoice.number is not None else "CONCEPT — nummer volgt bij verzending",
        ),
        (f"{document}datum", format_date(invoice.issue_date)),
    ]
    if not credit:
        details.append(("Vervaldatum", format_date(invoice.due_date)))
    details.append(("Periode", f"{format_date(invoice.period.start)} t/m {format_date(invoice.period.end)}"))
    if invoice.buyer_reference is not None:
        details.append(("Uw referentie", invoice.buyer_reference))
    if invoice.order_reference is not None:
        details.append(("Inkoopordernummer", invoice.order_reference))
    if invoice.corrects is not None:
        details.append(
            ("Correctie op factuur", f"{invoice.corrects.number} van {format_date(invoice.corrects.issue_date)}")
        )
    details_html = "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in details)

    line_rows = "".join(
        "<tr>"
        f"<td>{escape(line.description)}<div class='note'>{escape(line.product_code)}</div></td>"
        f'<td class="num">{format_quantity(sign * line.quantity)}</td>'
        f"<td>{escape(_UNITS.get(line.unit_code, line.unit_code.value))}</td>"
        f'<td class="amount">{format_euro(line.unit_price_cents)}'
        f"{_per_base(line)}</td>"
        f'<td class="num">{escape(_vat_label(line))}</td>'
        f'<td class="amount">{format_euro(sign * line.net_cents)}</td>'
        "</tr>"
        for line in invoice.lines
    )

    vat_rows = []
    exemption_notes = []
    for group in totals.breakdown:
        if group.vat.category is VatCategory.EXEMPT:
            label = "Vrijgesteld van btw"
            reason = group.vat.exemption_reason or group.vat.exemption_reason_code or ""
            exemption_notes.append(reason)
        elif group.vat.category is VatCategory.ZERO_RATED:
            label = "Btw 0% (nultarief)"
        else:
            label = f"Btw {_format_percent(group.vat.rate)}"
        vat_rows.append(
            "<tr>"
            f"<td>{escape(label)}</td>"
            f'<td class="amount">{format_euro(group.taxable_cents)}</td>'
            f'<td class="amount">{format_euro(group.vat_cents)}</td>'
            "</tr>"
        )
    exemption_html = "".join(f'<p class="note">{escape(note)}</p>' for note in exemption_notes)

    if invoice.is_draft:
        payment = (
            "Dit is een concept en nog geen factuur. Het factuurnummer en de betaalgegevens volgen bij verzending; "
            "betaal nog niet."
        )
    elif credit:
        corrects = invoice.corrects
        payment = (
            f"Deze creditnota corrigeert factuur {corrects.number if corrects is not None else ''}. "
            f"Het bedrag van {format_euro(-totals.gross_cents)} wordt met u verrekend of binnen "
            f"{invoice.payment_terms_days} dagen teruggestort."
        )
    else:
        payment = (
            f"Wij verzoeken u het bedrag van {format_euro(totals.gross_cents)} vóór "
            f"{format_date(invoice.due_date)} over te maken op IBAN {_iban_grouped(invoice.seller_iban)} "
            f"t.n.v. {invoice.seller.name}, onder vermelding van factuurnummer {invoice.number}."
        )

    draft_marks = (
        '<div class="draft" aria-hidden="true">CONCEPT</div><div class="draft-banner">CONCEPT</div>'
        if invoice.is_draft
        else ""
    )
    seller = invoice.seller
    return f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} — {escape(seller.name)}</title>
<style>{_STYLE}</style>
</head>
<body>
<div class="page">
{draft_marks}
<header>
  <div>
    <h1>{escape(document)}</h1>
    <div class="seller-name">{escape(seller.name)}</div>
  </div>
</header>
<div class="parties">
  {_party_block("Van", seller)}
  {_party_block("Aan", invoice.buyer)}
</div>
<dl class="details">{details_html}</dl>
<table class="lines">
  <thead><tr>
    <th>Omschrijving</th><th class="num">Aantal</th><th>Eenheid</th>
    <th class="amount">Prijs per eenheid</th><th class="num">Btw</th><th class="amount">Bedrag</th>
  </tr></thead>
  <tbody>{line_rows}</tbody>
</table>
<table class="vat">
  <thead><tr><th>Btw-specificatie</th><th class="amount">Grondslag</th><th class="amount">Btw</th></tr></thead>
  <tbody>{"".join(vat_rows)}</tbody>
</table>
{exemption_html}
<table class="totals">
  <tr><td>Subtotaal (excl. btw)</td><td class="amount">{format_euro(totals.net_cents)}</td></tr>
  <tr><td>Btw</td><td class="amount">{format_euro(totals.vat_cents)}</td></tr>
  <tr class="grand"><td>{"Totaal creditnota" if credit else "Te betalen (incl. btw)"}</td>
    <td class="amount">{format_euro(totals.gross_cents)}</td></tr>
</table>
<div class="payment"><div class="label">Betaling</div>{escape(payment)}</div>
<footer>{escape(seller.name)} · {escape(seller.address.street)}, {escape(seller.address.postal_code)}
  {escape(seller.address.city)} · KvK {escape(seller.kvk_number or "")} · Btw {escape(seller.vat_id or "")}
  · IBAN {escape(_iban_grouped(invoice.seller_iban))} · {escape(seller.email)}</footer>
</div>
</body>
</html>
"""
