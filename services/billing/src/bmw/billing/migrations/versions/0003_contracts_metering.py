"""contracts metering: contract terms (references, subscription employees, invoicing period, renewal,
indexation, status), usage records, bundle thresholds reached, expiry notices, overage bookings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column(
        'contracts', 'products', existing_type=postgresql.JSONB(astext_type=sa.Text()), existing_nullable=False,
        comment='Priced products, as domain.contracts.Product.to_json',
    )
    op.alter_column(
        'contracts', 'period_end', existing_type=sa.Date(), existing_nullable=False,
        comment='Last day, inclusive; the actual last day once ended',
    )
    op.add_column('contracts', sa.Column('status', sa.Text(), server_default='active', nullable=False, comment='active or ended'))
    op.add_column('contracts', sa.Column('buyer_reference', sa.Text(), nullable=True, comment="The client's reference for its invoices (BT-10)"))
    op.add_column('contracts', sa.Column('purchase_order', sa.Text(), nullable=True, comment="The client's purchase order number (BT-13)"))
    op.add_column('contracts', sa.Column('employees', sa.Integer(), nullable=True, comment='Employees a subscription per employee is billed for'))
    op.add_column('contracts', sa.Column('invoicing_period', sa.Text(), server_default='month', nullable=False, comment='month or quarter'))
    op.add_column('contracts', sa.Column('auto_renew', sa.Boolean(), server_default='false', nullable=False))
    op.add_column('contracts', sa.Column('renewal_months', sa.Integer(), server_default='12', nullable=False))
    op.add_column('contracts', sa.Column('indexation_percent', sa.Numeric(5, 2), server_default='0', nullable=False, comment='Applied at renewal'))
    op.add_column('contracts', sa.Column('renewed_from_id', sa.UUID(), nullable=True))
    op.add_column('contracts', sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('contracts', sa.Column('created_by', sa.Text(), nullable=True, comment='Subject id of the provider admin'))
    op.create_foreign_key(op.f('fk_contracts_renewed_from_id_contracts'), 'contracts', 'contracts', ['renewed_from_id'], ['id'])
    op.create_unique_constraint(op.f('uq_contracts_renewed_from_id'), 'contracts', ['renewed_from_id'])
    op.create_check_constraint(op.f('ck_contracts_period_in_order'), 'contracts', 'period_end >= period_start')
    op.create_check_constraint(op.f('ck_contracts_status'), 'contracts', "status IN ('active', 'ended')")
    op.create_check_constraint(op.f('ck_contracts_invoicing_period'), 'contracts', "invoicing_period IN ('month', 'quarter')")
    op.create_check_constraint(op.f('ck_contracts_employees_positive'), 'contracts', 'employees IS NULL OR employees > 0')
    op.create_check_constraint(op.f('ck_contracts_renewal_months_range'), 'contracts', 'renewal_months BETWEEN 1 AND 120')

    op.create_table('usage_records',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('contract_id', sa.UUID(), nullable=True),
    sa.Column('product_code', sa.Text(), nullable=True, comment='None while held'),
    sa.Column('kind', sa.Text(), nullable=True, comment='ProductKind of the product; none while held'),
    sa.Column('activity', sa.Text(), nullable=False, comment='What happened: domain.metering.Activity'),
    sa.Column('unit', sa.Text(), nullable=False, comment='hour, session, participant, case or occurrence'),
    sa.Column('quantity', sa.Numeric(12, 2), nullable=False, comment='Exact; negative only to correct invoiced hours'),
    sa.Column('unit_price_cents', sa.BigInteger(), nullable=True, comment='Price per unit at the time, excl. VAT'),
    sa.Column('overage', sa.Boolean(), server_default='false', nullable=False, comment='Beyond what the contract includes'),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False, comment='Decides the contract and the period'),
    sa.Column('source_event_id', sa.UUID(), nullable=False),
    sa.Column('portion', sa.Text(), server_default='base', nullable=False, comment='base or overage'),
    sa.Column('source_time', sa.DateTime(timezone=True), nullable=False, comment='Time of the source event'),
    sa.Column('case_id', sa.UUID(), nullable=True, comment='Pseudonymous reference of a trajectory'),
    sa.Column('client_ref', sa.Text(), nullable=True, comment='Pseudonym of the employee; cleared on erasure'),
    sa.Column('correction_key', sa.Text(), nullable=True, comment='Worker x day of secondment hours'),
    sa.Column('corrects_usage_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False, comment='open, held or invoiced'),
    sa.Column('invoice_id', sa.UUID(), nullable=True, comment='Set when the billing run invoices it'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('open', 'held', 'invoiced')", name=op.f('ck_usage_records_status')),
    sa.CheckConstraint("portion IN ('base', 'overage')", name=op.f('ck_usage_records_portion')),
    sa.CheckConstraint("(status = 'held') = (contract_id IS NULL)", name=op.f('ck_usage_records_held_without_contract')),
    sa.CheckConstraint(
        "status = 'held' OR (product_code IS NOT NULL AND kind IS NOT NULL AND unit_price_cents IS NOT NULL)",
        name=op.f('ck_usage_records_priced'),
    ),
    sa.CheckConstraint("(status = 'invoiced') = (invoice_id IS NOT NULL)", name=op.f('ck_usage_records_invoiced_on_invoice')),
    sa.CheckConstraint("status = 'held' OR quantity <> 0", name=op.f('ck_usage_records_quantity_not_zero')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_usage_records_contract_id_contracts')),
    sa.ForeignKeyConstraint(['corrects_usage_id'], ['usage_records.id'], name=op.f('fk_usage_records_corrects_usage_id_usage_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_records')),
    sa.UniqueConstraint('source_event_id', 'portion', name=op.f('uq_usage_records_source_event_id')),
    )
    op.create_index(op.f('ix_usage_records_contract_id'), 'usage_records', ['contract_id'], unique=False)
    op.create_index('ix_usage_records_tenant_occurred', 'usage_records', ['tenant_id', 'occurred_at'], unique=False)
    op.create_index(
        'ix_usage_records_invoice_id', 'usage_records', ['invoice_id'], unique=False,
        postgresql_where=sa.text('invoice_id IS NOT NULL'),
    )
    op.create_index(
        'ix_usage_records_correction_key', 'usage_records', ['tenant_id', 'correction_key'], unique=False,
        postgresql_where=sa.text('correction_key IS NOT NULL'),
    )
    op.create_index(
        'ix_usage_records_client_ref', 'usage_records', ['tenant_id', 'client_ref'], unique=False,
        postgresql_where=sa.text('client_ref IS NOT NULL'),
    )
    op.create_index(
        'ix_usage_records_held', 'usage_records', ['tenant_id', 'occurred_at'], unique=False,
        postgresql_where=sa.text("status = 'held'"),
    )

    op.create_table('contract_thresholds_reached',
    sa.Column('contract_id', sa.UUID(), nullable=False),
    sa.Column('product_code', sa.Text(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('reached_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('percent IN (80, 100)', name=op.f('ck_contract_thresholds_reached_percent')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_contract_thresholds_reached_contract_id_contracts')),
    sa.PrimaryKeyConstraint('contract_id', 'product_code', 'percent', name=op.f('pk_contract_thresholds_reached')),
    )
    op.create_table('contract_expiry_notices',
    sa.Column('contract_id', sa.UUID(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_contract_expiry_notices_contract_id_contracts')),
    sa.PrimaryKeyConstraint('contract_id', name=op.f('pk_contract_expiry_notices')),
    )
    op.create_table('overage_bookings',
    sa.Column('appointment_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('booked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('appointment_id', name=op.f('pk_overage_bookings')),
    )


def downgrade() -> None:
    op.drop_table('overage_bookings')
    op.drop_table('contract_expiry_notices')
    op.drop_table('contract_thresholds_reached')
    op.drop_index('ix_usage_records_held', table_name='usage_records', postgresql_where=sa.text("status = 'held'"))
    op.drop_index('ix_usage_records_client_ref', table_name='usage_records', postgresql_where=sa.text('client_ref IS NOT NULL'))
    op.drop_index('ix_usage_records_correction_key', table_name='usage_records', postgresql_where=sa.text('correction_key IS NOT NULL'))
    op.drop_index('ix_usage_records_invoice_id', table_name='usage_records', postgresql_where=sa.text('invoice_id IS NOT NULL'))
    op.drop_index('ix_usage_records_tenant_occurred', table_name='usage_records')
    op.drop_index(op.f('ix_usage_records_contract_id'), table_name='usage_records')
    op.drop_table('usage_records')
    op.drop_constraint(op.f('ck_contracts_renewal_months_range'), 'contracts', type_='check')
    op.drop_constraint(op.f('ck_contracts_employees_positive'), 'contracts', type_='check')
    op.drop_constraint(op.f('ck_contracts_invoicing_period'), 'contracts', type_='check')
    op.drop_constraint(op.f('ck_contracts_status'), 'contracts', type_='check')
    op.drop_constraint(op.f('ck_contracts_period_in_order'), 'contracts', type_='check')
    op.drop_constraint(op.f('uq_contracts_renewed_from_id'), 'contracts', type_='unique')
    op.drop_constraint(op.f('fk_contracts_renewed_from_id_contracts'), 'contracts', type_='foreignkey')
    for column in (
        'created_by', 'ended_at', 'renewed_from_id', 'indexation_percent', 'renewal_months', 'auto_renew',
        'invoicing_period', 'employees', 'purchase_order', 'buyer_reference', 'status',
    ):
        op.drop_column('contracts', column)
    op.alter_column('contracts', 'period_end', existing_type=sa.Date(), existing_nullable=False, comment=None)
    op.alter_column('contracts', 'products', existing_type=postgresql.JSONB(astext_type=sa.Text()), existing_nullable=False, comment=None)
