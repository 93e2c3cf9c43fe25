"""tenant walls: row-level security on every table that holds a client organisation's rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:20:00
"""

from collections.abc import Sequence

from alembic import op

from bmw.servicekit.walls import wall_migration

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column, and that column.
OWN_WALLS = {
    'client_organisations': 'tenant_id',
    'org_units': 'tenant_id',
    'persons': 'tenant_id',
    'referrals': 'tenant_id',
    'cases': 'tenant_id',
    # on whose behalf an access happened; an entry about no organisation (null) is the provider's own
    'access_log': 'on_behalf_of',
}
#: Tables whose rows belong to a parent row: (table, parent, key).
CHILD_WALLS = [
    ('person_keys', 'persons', 'person_id'),
    ('consents', 'persons', 'person_id'),
    ('case_transitions', 'cases', 'case_id'),
    ('dossier_entries', 'cases', 'case_id'),
]

UPGRADE, DOWNGRADE = wall_migration(OWN_WALLS, CHILD_WALLS)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
