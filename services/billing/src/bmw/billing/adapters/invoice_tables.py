"""Billing's invoice tables: drafts and issued invoices and credit notes, their lines, the gapless number
counters, and the billing runs that made them.

An issued invoice never changes: its UBL XML and HTML rendering are frozen at issue, and a database trigger
refuses any later update of an issued row except the one that records a credit note against it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from bmw.billing.adapters.tables import METADATA

BILLING_RUNS = Table(
    "billing_runs",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False, comment="Inclusive"),
    Column("tenant_id", UUID(as_uuid=True), nullable=True, comment="One client organisation, or all"),
    Column("started_by", Text, nullable=False),
    Column("drafts_created", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

INVOICES = Table(
    "invoices",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("kind", Text, nullable=False, comment="invoice or credit_note"),
    Column("status", Text, nullable=False, comment="draft, issued"),
    Column("number", Text, nullable=True, unique=True, comment="Gapless per year, given at issue: 2026-000123"),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("issue_date", Date, nullable=True),
    Column("due_date", Date, nullable=True),
    Column("buyer_reference", Text, nullable=True),
    Column("purchase_order", Text, nullable=True),
    Column("corrects_invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), nullable=True),
    Column("credited_by_id", UUID(as_uuid=True), nullable=True, comment="The credit note that corrects it"),
    Column("net_cents", BigInteger, nullable=False),
    Column("vat_cents", BigInteger, nullable=False),
    Column("gross_cents", BigInteger, nullable=False),
    Column("document", JSONB, nullable=False, comment="The computed invoice: parties, lines, VAT breakdown"),
    Column("ubl_xml", Text, nullable=True, comment="Frozen at issue"),
    Column("html", Text, nullable=True, comment="Frozen at issue"),
    Column("run_id", UUID(as_uuid=True), ForeignKey("billing_runs.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("issued_at", DateTime(timezone=True), nullable=True),
    Column("issued_by", Text, nullable=True),
    CheckConstraint("kind IN ('invoice', 'credit_note')", name="kind"),
    CheckConstraint("status IN ('draft', 'issued')", name="status"),
    CheckConstraint("gross_cents = net_cents + vat_cents", name="totals"),
    CheckConstraint("status = 'draft' OR number IS NOT NULL", name="issued_numbered"),
)

#: One invoice per client organisation and period: running a period twice creates nothing new.
Index(
    "uq_invoices_one_per_period",
    INVOICES.c.tenant_id,
    INVOICES.c.period_start,
    INVOICES.c.period_end,
    unique=True,
    postgresql_where=INVOICES.c.kind == "invoice",
)

INVOICE_LINES = Table(
    "invoice_lines",
    METADATA,
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("product_code", Text, nullable=False),
    Column("description", Text, nullable=False, comment="Never a person"),
    Column("quantity", Numeric(14, 2), nullable=False),
    Column("unit_code", Text, nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
    Column("net_cents", BigInteger, nullable=False),
    Column("vat_rate", Text, nullable=False),
)

INVOICE_NUMBERS = Table(
    "invoice_numbers",
    METADATA,
    Column("year", Integer, primary_key=True),
    Column("last_number", Integer, nullable=False),
    comment="Gapless counter per year: taken under a row lock in the issuing transaction",
)
