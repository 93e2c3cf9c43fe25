"""appointment revision, the iCalendar SEQUENCE

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'appointments',
        sa.Column(
            'revision',
            sa.Integer(),
            server_default=sa.text('0'),
            nullable=False,
            comment='Raised by every change after booking; the iCalendar SEQUENCE',
        ),
    )


def downgrade() -> None:
    op.drop_column('appointments', 'revision')
