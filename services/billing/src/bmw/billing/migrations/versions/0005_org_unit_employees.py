"""org unit employees: an optional headcount per org unit, so signals can judge a unit's referral rate against
its size

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: existing units have no known headcount, and none is not zero.
    op.add_column(
        'organisation_units',
        sa.Column(
            'employees',
            sa.Integer(),
            nullable=True,
            comment='Headcount of the unit itself (not its sub-units), if given',
        ),
    )
    op.create_check_constraint(
        op.f('ck_organisation_units_employees_positive'), 'organisation_units', 'employees IS NULL OR employees > 0'
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_organisation_units_employees_positive'), 'organisation_units', type_='check')
    op.drop_column('organisation_units', 'employees')
