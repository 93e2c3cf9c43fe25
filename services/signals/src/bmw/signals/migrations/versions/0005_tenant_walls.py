"""tenant walls: row-level security on every table that holds a client organisation's rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:15:00
"""

from collections.abc import Sequence

from alembic import op

from bmw.servicekit.walls import wall_migration

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column (all named tenant_id). The interventions catalogue is the provider's, unwalled.
OWN_WALLS = {
    table: 'tenant_id'
    for table in (
        'client_organisations',
        'org_units',
        'case_units',
        'detection_runs',
        'imported_weekly_counts',
        'history_imports',
        'referral_contributions',
        'secondment_days',
        'statistics_opt_outs',
        'weekly_referral_counts',
        'weekly_metrics',
        'contracts',
        'contract_usage',
        'signals',
        'management_actions',
        'opportunities',
        'secondment_observations',
    )
}
#: Tables whose rows belong to a parent row: (table, parent, key).
CHILD_WALLS = [('opportunity_notes', 'opportunities', 'opportunity_id')]

UPGRADE, DOWNGRADE = wall_migration(OWN_WALLS, CHILD_WALLS)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
