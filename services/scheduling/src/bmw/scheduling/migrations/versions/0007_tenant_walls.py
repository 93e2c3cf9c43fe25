"""tenant walls: row-level security on every table that holds a client organisation's rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 05:20:00
"""

from collections.abc import Sequence

from alembic import op

from bmw.servicekit.walls import wall_migration

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column (all named tenant_id). The social workers' directory, absences, extra hours and
#: calendar feeds are the provider's own and name no client organisation: they stay open.
OWN_WALLS = {
    table: 'tenant_id'
    for table in (
        'client_organisations',
        'org_units',
        'appointments',
        'contracts',
        'pending_intakes',
        'secondment_hours',
        'workshops',
        'workshop_registrations',
    )
}

UPGRADE, DOWNGRADE = wall_migration(OWN_WALLS, [])


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
