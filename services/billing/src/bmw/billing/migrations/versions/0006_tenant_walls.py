"""tenant walls: row-level security on every table that holds a client organisation's rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 05:10:00
"""

from collections.abc import Sequence

from alembic import op

from bmw.servicekit.walls import wall_migration

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column, and that column.
OWN_WALLS = {
    'organisations': 'id',
    'organisation_units': 'tenant_id',
    'organisation_addresses': 'tenant_id',
    'organisation_contacts': 'tenant_id',
    'contracts': 'tenant_id',
    'billable_activity': 'tenant_id',
    'usage_records': 'tenant_id',
    'overage_bookings': 'tenant_id',
    'billing_runs': 'tenant_id',  # a run over every organisation (null) is the provider's own
    'invoices': 'tenant_id',
}
#: Tables whose rows belong to a parent row: (table, parent, key).
CHILD_WALLS = [
    ('contract_thresholds_reached', 'contracts', 'contract_id'),
    ('contract_expiry_notices', 'contracts', 'contract_id'),
    ('invoice_lines', 'invoices', 'invoice_id'),
]


UPGRADE, DOWNGRADE = wall_migration(OWN_WALLS, CHILD_WALLS)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
