"""Usage statements: the usage behind an invoice, per product, under small-cell suppression.

A statement tells a client organisation how much of each product it used, and how many different employees
were behind it only where that number is at least the organisation's k (never fewer than 5). No line names,
counts or lists a single person; totals over people are not given, so no suppressed cell can be derived by
subtraction from the others.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from bmw.billing.adapters.tables import ORGANISATIONS, USAGE
from bmw.billing.application.invoicing import DESCRIPTIONS, InvoiceView
from bmw.contracts.taxonomy import ProductKind
from bmw.servicekit.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class StatementLine:
    product_code: str
    description: str
    quantity: Decimal
    people: int | None  # None: suppressed


@dataclass(frozen=True)
class Statement:
    k: int
    lines: list[StatementLine]


async def usage_statement(invoice: InvoiceView, *, uow: UnitOfWorkFactory) -> Statement:
    """The statement of an invoice's usage (the caller has checked that the invoice may be read)."""
    async with uow() as work:
        k = int(
            await work.session.scalar(
                select(ORGANISATIONS.c.k_anonymity).where(ORGANISATIONS.c.id == invoice.tenant_id)
            )
            or 5
        )
        target = invoice.corrects_invoice_id or invoice.id
        rows = await work.session.execute(
            select(USAGE.c.product_code, USAGE.c.kind, USAGE.c.overage, USAGE.c.quantity, USAGE.c.client_ref).where(
                USAGE.c.invoice_id == target
            )
        )
        quantities: dict[tuple[str, str, bool], Decimal] = defaultdict(Decimal)
        people: dict[tuple[str, str, bool], set[str]] = defaultdict(set)
        for row in rows:
            key = (row.product_code, row.kind, row.overage)
            quantities[key] += Decimal(row.quantity)
            if row.client_ref:
                people[key].add(row.client_ref)
    lines = []
    for key in sorted(quantities):
        code, kind, overage = key
        count = len(people[key])
        description = DESCRIPTIONS[ProductKind(kind)] + (" boven de bundel" if overage else "")
        lines.append(StatementLine(code, description, quantities[key], count if count >= max(k, 5) else None))
    return Statement(max(k, 5), lines)
