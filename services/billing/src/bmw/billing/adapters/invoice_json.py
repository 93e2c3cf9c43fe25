"""An invoice as the JSON stored with it (``invoices.document``), and back: exact (amounts in cents,
quantities and rates as decimal strings), so that an issued invoice can be reproduced for a credit note."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bmw.billing.domain.invoices import (
    Address,
    DocumentKind,
    ElectronicAddress,
    Invoice,
    InvoiceLine,
    InvoicePeriod,
    InvoiceReference,
    Party,
    UnitCode,
    VatCategory,
    VatTreatment,
)


def _party(party: Party) -> dict[str, Any]:
    electronic = party.electronic_address
    return {
        "name": party.name,
        "email": party.email,
        "kvk_number": party.kvk_number,
        "vat_id": party.vat_id,
        "address": {
            "street": party.address.street,
            "postal_code": party.address.postal_code,
            "city": party.address.city,
            "country_code": party.address.country_code,
        },
        "electronic_address": None
        if electronic is None
        else {"identifier": electronic.identifier, "scheme": electronic.scheme},
    }


def _party_of(raw: dict[str, Any]) -> Party:
    electronic = raw.get("electronic_address")
    return Party(
        name=raw["name"],
        email=raw["email"],
        kvk_number=raw.get("kvk_number"),
        vat_id=raw.get("vat_id"),
        address=Address(**raw["address"]),
        electronic_address=ElectronicAddress(**electronic) if electronic else None,
    )


def _line(line: InvoiceLine) -> dict[str, Any]:
    return {
        "line_id": line.line_id,
        "product_code": line.product_code,
        "description": line.description,
        "quantity": str(line.quantity),
        "unit_code": line.unit_code.value,
        "unit_price_cents": line.unit_price_cents,
        "base_quantity": line.base_quantity,
        "vat": {
            "category": line.vat.category.value,
            "rate": str(line.vat.rate),
            "exemption_reason": line.vat.exemption_reason,
            "exemption_reason_code": line.vat.exemption_reason_code,
        },
    }


def _line_of(raw: dict[str, Any]) -> InvoiceLine:
    vat = raw["vat"]
    return InvoiceLine(
        line_id=raw["line_id"],
        product_code=raw["product_code"],
        description=raw["description"],
        quantity=Decimal(raw["quantity"]),
        unit_code=UnitCode(raw["unit_code"]),
        unit_price_cents=int(raw["unit_price_cents"]),
        base_quantity=int(raw.get("base_quantity", 1)),
        vat=VatTreatment(
            category=VatCategory(vat["category"]),
            rate=Decimal(vat["rate"]),
            exemption_reason=vat.get("exemption_reason"),
            exemption_reason_code=vat.get("exemption_reason_code"),
        ),
    )


def invoice_to_json(invoice: Invoice) -> dict[str, Any]:
    """The whole document, exact."""
    return {
        "kind": invoice.kind.value,
        "number": invoice.number,
        "issue_date": invoice.issue_date.isoformat(),
        "payment_terms_days": invoice.payment_terms_days,
        "period": {"start": invoice.period.start.isoformat(), "end": invoice.period.end.isoformat()},
        "seller": _party(invoice.seller),
        "buyer": _party(invoice.buyer),
        "seller_iban": invoice.seller_iban,
        "lines": [_line(line) for line in invoice.lines],
        "buyer_reference": invoice.buyer_reference,
        "order_reference": invoice.order_reference,
        "corrects": None
        if invoice.corrects is None
        else {"number": invoice.corrects.number, "issue_date": invoice.corrects.issue_date.isoformat()},
    }


def invoice_from_json(raw: dict[str, Any]) -> Invoice:
    """The document as it was stored."""
    corrects = raw.get("corrects")
    return Invoice(
        kind=DocumentKind(raw["kind"]),
        number=raw.get("number"),
        issue_date=dt.date.fromisoformat(raw["issue_date"]),
        payment_terms_days=int(raw["payment_terms_days"]),
        period=InvoicePeriod(
            dt.date.fromisoformat(raw["period"]["start"]), dt.date.fromisoformat(raw["period"]["end"])
        ),
        seller=_party_of(raw["seller"]),
        buyer=_party_of(raw["buyer"]),
        seller_iban=raw["seller_iban"],
        lines=tuple(_line_of(line) for line in raw["lines"]),
        buyer_reference=raw.get("buyer_reference"),
        order_reference=raw.get("order_reference"),
        corrects=None
        if corrects is None
        else InvoiceReference(corrects["number"], dt.date.fromisoformat(corrects["issue_date"])),
    )
