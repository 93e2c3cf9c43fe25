"""org unit employees: the local copy of org units keeps billing's optional headcount per unit
(bmw.servicekit.tenants.ORG_UNITS)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: units copied before billing sent headcounts have none until the next profile event.
    op.add_column(
        'org_units',
        sa.Column('employees', sa.Integer(), nullable=True, comment='Headcount of the unit itself, if billing has it'),
    )


def downgrade() -> None:
    op.drop_column('org_units', 'employees')
