"""index of the inbox by age: the hourly housekeeping finds the applied events past their keep without a scan

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_inbox_processed_at', 'inbox', ['processed_at'])


def downgrade() -> None:
    op.drop_index('ix_inbox_processed_at', table_name='inbox')
