"""walls on the messaging tables: the outbox and the inbox behind the tenant wall

The outbox holds each event's tenant and payload until the relay has sent it; the inbox, which events a consumer
applied, per tenant. Requests append to the outbox within their own scope; the relay and the consumers work with the
whole service's.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:30:00
"""

from collections.abc import Sequence

from alembic import op

from bmw.servicekit.walls import wall_migration

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column.
OWN_WALLS = {'outbox': 'tenant_id', 'inbox': 'tenant_id'}

UPGRADE, DOWNGRADE = wall_migration(OWN_WALLS, first=False)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
