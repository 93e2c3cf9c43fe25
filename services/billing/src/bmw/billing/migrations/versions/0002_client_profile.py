"""client profile: VAT id, payment terms, invoice and electronic address, addresses, contacts, org unit tree

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('organisations', sa.Column('vat_id', sa.Text(), nullable=True, comment='VAT id (btw-id) with its country prefix, normalised'))
    op.add_column('organisations', sa.Column('payment_terms_days', sa.Integer(), server_default='30', nullable=False))
    op.add_column('organisations', sa.Column('invoice_email', sa.Text(), nullable=True, comment="The organisation's mailbox for invoices"))
    op.add_column('organisations', sa.Column('electronic_address_scheme', sa.Text(), nullable=True, comment='EAS code of the Peppol endpoint, e.g. 0106'))
    op.add_column('organisations', sa.Column('electronic_address', sa.Text(), nullable=True, comment='Peppol endpoint id within its scheme'))
    op.add_column('organisations', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.create_check_constraint(op.f('ck_organisations_k_anonymity_at_least_5'), 'organisations', 'k_anonymity >= 5')
    op.create_check_constraint(
        op.f('ck_organisations_payment_terms_days_range'), 'organisations', 'payment_terms_days BETWEEN 7 AND 90'
    )
    op.create_check_constraint(
        op.f('ck_organisations_electronic_address_complete'),
        'organisations',
        '(electronic_address_scheme IS NULL) = (electronic_address IS NULL)',
    )

    op.add_column('organisation_units', sa.Column('kind', sa.Text(), server_default='department', nullable=False, comment='department or location'))
    op.create_unique_constraint(op.f('uq_organisation_units_tenant_id'), 'organisation_units', ['tenant_id', 'id'])
    op.create_foreign_key(
        op.f('fk_organisation_units_tenant_id_organisation_units'),
        'organisation_units',
        'organisation_units',
        ['tenant_id', 'parent_id'],
        ['tenant_id', 'id'],
    )
    op.create_check_constraint(op.f('ck_organisation_units_kind'), 'organisation_units', "kind IN ('department', 'location')")
    op.create_check_constraint(
        op.f('ck_organisation_units_not_own_parent'), 'organisation_units', 'parent_id IS NULL OR parent_id <> id'
    )

    op.create_table('organisation_addresses',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False, comment='visiting, postal or invoice'),
    sa.Column('street', sa.Text(), nullable=False),
    sa.Column('house_number', sa.Text(), nullable=False, comment='With its addition, e.g. 12A or 12-3'),
    sa.Column('postal_code', sa.Text(), nullable=False, comment='Normalised, e.g. 1234 AB'),
    sa.Column('city', sa.Text(), nullable=False),
    sa.Column('country', sa.Text(), nullable=False, comment='ISO 3166-1 alpha-2'),
    sa.CheckConstraint("kind IN ('visiting', 'postal', 'invoice')", name=op.f('ck_organisation_addresses_kind')),
    sa.ForeignKeyConstraint(['tenant_id'], ['organisations.id'], name=op.f('fk_organisation_addresses_tenant_id_organisations')),
    sa.PrimaryKeyConstraint('tenant_id', 'kind', name=op.f('pk_organisation_addresses'))
    )
    op.create_table('organisation_contacts',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False, comment='Order of the contact in the profile'),
    sa.Column('role', sa.Text(), nullable=False, comment='hr, finance, management or other'),
    sa.Column('name', sa.Text(), nullable=False, comment="Personal data of the client's staff: never in an event or a log"),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.CheckConstraint("role IN ('hr', 'finance', 'management', 'other')", name=op.f('ck_organisation_contacts_role')),
    sa.ForeignKeyConstraint(['tenant_id'], ['organisations.id'], name=op.f('fk_organisation_contacts_tenant_id_organisations')),
    sa.PrimaryKeyConstraint('tenant_id', 'position', name=op.f('pk_organisation_contacts'))
    )


def downgrade() -> None:
    op.drop_table('organisation_contacts')
    op.drop_table('organisation_addresses')
    op.drop_constraint(op.f('ck_organisation_units_not_own_parent'), 'organisation_units', type_='check')
    op.drop_constraint(op.f('ck_organisation_units_kind'), 'organisation_units', type_='check')
    op.drop_constraint(op.f('fk_organisation_units_tenant_id_organisation_units'), 'organisation_units', type_='foreignkey')
    op.drop_constraint(op.f('uq_organisation_units_tenant_id'), 'organisation_units', type_='unique')
    op.drop_column('organisation_units', 'kind')
    op.drop_constraint(op.f('ck_organisations_electronic_address_complete'), 'organisations', type_='check')
    op.drop_constraint(op.f('ck_organisations_payment_terms_days_range'), 'organisations', type_='check')
    op.drop_constraint(op.f('ck_organisations_k_anonymity_at_least_5'), 'organisations', type_='check')
    op.drop_column('organisations', 'updated_at')
    op.drop_column('organisations', 'electronic_address')
    op.drop_column('organisations', 'electronic_address_scheme')
    op.drop_column('organisations', 'invoice_email')
    op.drop_column('organisations', 'payment_terms_days')
    op.drop_column('organisations', 'vat_id')
