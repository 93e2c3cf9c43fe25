"""invoices, lines, gapless numbers, billing runs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: An issued invoice never changes; only the link to the credit note that corrects it may be set, once.
FREEZE_ISSUED = """
CREATE FUNCTION invoices_issued_are_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'issued' AND (
        (to_jsonb(NEW) - 'credited_by_id') IS DISTINCT FROM (to_jsonb(OLD) - 'credited_by_id')
        OR (OLD.credited_by_id IS NOT NULL AND NEW.credited_by_id IS DISTINCT FROM OLD.credited_by_id)
    ) THEN
        RAISE EXCEPTION 'issued invoice % is final; correct it with a credit note', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' AND OLD.status = 'issued' THEN
        RAISE EXCEPTION 'issued invoice % cannot be deleted', OLD.number
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$
"""
FREEZE_TRIGGER = """
CREATE TRIGGER invoices_issued_are_final BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_issued_are_final()
"""


def upgrade() -> None:
    op.create_table('billing_runs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False, comment='Inclusive'),
    sa.Column('tenant_id', sa.UUID(), nullable=True, comment='One client organisation, or all'),
    sa.Column('started_by', sa.Text(), nullable=False),
    sa.Column('drafts_created', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_runs'))
    )
    op.create_table('invoice_numbers',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_invoice_numbers')),
    comment='Gapless counter per year: taken under a row lock in the issuing transaction'
    )
    op.create_table('invoices',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False, comment='invoice or credit_note'),
    sa.Column('status', sa.Text(), nullable=False, comment='draft, issued'),
    sa.Column('number', sa.Text(), nullable=True, comment='Gapless per year, given at issue: 2026-000123'),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('buyer_reference', sa.Text(), nullable=True),
    sa.Column('purchase_order', sa.Text(), nullable=True),
    sa.Column('corrects_invoice_id', sa.UUID(), nullable=True),
    sa.Column('credited_by_id', sa.UUID(), nullable=True, comment='The credit note that corrects it'),
    sa.Column('net_cents', sa.BigInteger(), nullable=False),
    sa.Column('vat_cents', sa.BigInteger(), nullable=False),
    sa.Column('gross_cents', sa.BigInteger(), nullable=False),
    sa.Column('document', postgresql.JSONB(astext_type=sa.Text()), nullable=False, comment='The computed invoice: parties, lines, VAT breakdown'),
    sa.Column('ubl_xml', sa.Text(), nullable=True, comment='Frozen at issue'),
    sa.Column('html', sa.Text(), nullable=True, comment='Frozen at issue'),
    sa.Column('run_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_by', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name=op.f('ck_invoices_kind')),
    sa.CheckConstraint("status IN ('draft', 'issued')", name=op.f('ck_invoices_status')),
    sa.CheckConstraint('gross_cents = net_cents + vat_cents', name=op.f('ck_invoices_totals')),
    sa.CheckConstraint("status = 'draft' OR number IS NOT NULL", name=op.f('ck_invoices_issued_numbered')),
    sa.ForeignKeyConstraint(['corrects_invoice_id'], ['invoices.id'], name=op.f('fk_invoices_corrects_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['run_id'], ['billing_runs.id'], name=op.f('fk_invoices_run_id_billing_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number'))
    )
    op.create_index(op.f('ix_invoices_tenant_id'), 'invoices', ['tenant_id'], unique=False)
    op.create_index('uq_invoices_one_per_period', 'invoices', ['tenant_id', 'period_start', 'period_end'], unique=True, postgresql_where=sa.text("kind = 'invoice'"))
    op.create_table('invoice_lines',
    sa.Column('invoice_id', sa.UUID(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('product_code', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False, comment='Never a person'),
    sa.Column('quantity', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('unit_code', sa.Text(), nullable=False),
    sa.Column('unit_price_cents', sa.BigInteger(), nullable=False),
    sa.Column('net_cents', sa.BigInteger(), nullable=False),
    sa.Column('vat_rate', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('invoice_id', 'line_no', name=op.f('pk_invoice_lines'))
    )
    op.execute(FREEZE_ISSUED)  # asyncpg runs one statement per call
    op.execute(FREEZE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS invoices_issued_are_final ON invoices")
    op.execute("DROP FUNCTION IF EXISTS invoices_issued_are_final()")
    op.drop_table('invoice_lines')
    op.drop_index('uq_invoices_one_per_period', table_name='invoices', postgresql_where=sa.text("kind = 'invoice'"))
    op.drop_index(op.f('ix_invoices_tenant_id'), table_name='invoices')
    op.drop_table('invoices')
    op.drop_table('invoice_numbers')
    op.drop_table('billing_runs')
