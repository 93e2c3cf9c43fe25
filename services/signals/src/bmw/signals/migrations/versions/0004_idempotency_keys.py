"""idempotency keys: the Idempotency-Key of signals' POST endpoints (bmw.servicekit.idempotency)

A client that lost the answer to a management action, an observation, a note, a stage move or a review may
send it again with the same key and gets the first answer back instead of a second row (or, for a review, a
409). Keys are per caller subject, hold no person and are forgotten after 7 days by the housekeeping job.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:43:35.798320
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No tenant column: a key belongs to the caller (subject), and a stage move or a review claims its key
    # before the service has loaded the opportunity or signal that says which tenant it concerns.
    op.create_table(
        'idempotency_keys',
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('request_hash', sa.Text(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('subject', 'key', name=op.f('pk_idempotency_keys')),
    )


def downgrade() -> None:
    op.drop_table('idempotency_keys')
