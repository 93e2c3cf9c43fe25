"""historical referrals: history an integration brings from before the move, without a person

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f('ck_referrals_status'), 'referrals', type_='check')
    op.create_check_constraint(
        op.f('ck_referrals_status'),
        'referrals',
        "status IN ('awaiting_consent', 'case_opened', 'expired', 'historical')",
    )
    op.create_check_constraint(
        op.f('ck_referrals_history_has_no_person'), 'referrals', "status <> 'historical' OR person_id IS NULL"
    )


def downgrade() -> None:
    # History has no person and opens no case: going back means forgetting it (its events stay published).
    op.execute("DELETE FROM referrals WHERE status = 'historical'")
    op.drop_constraint(op.f('ck_referrals_history_has_no_person'), 'referrals', type_='check')
    op.drop_constraint(op.f('ck_referrals_status'), 'referrals', type_='check')
    op.create_check_constraint(
        op.f('ck_referrals_status'), 'referrals', "status IN ('awaiting_consent', 'case_opened', 'expired')"
    )
