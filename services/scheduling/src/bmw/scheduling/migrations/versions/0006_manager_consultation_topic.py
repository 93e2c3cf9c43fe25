"""manager consultation topic: the theme a manager asked advice on

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'appointments',
        sa.Column(
            'topic',
            sa.Text(),
            nullable=True,
            comment='Manager consultation: the theme asked about (taxonomy Category)',
        ),
    )
    op.create_check_constraint(
        op.f('ck_appointments_topic_of_manager_consultation'),
        'appointments',
        "topic IS NULL OR kind = 'manager_consultation'",
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_appointments_topic_of_manager_consultation'), 'appointments', type_='check')
    op.drop_column('appointments', 'topic')
