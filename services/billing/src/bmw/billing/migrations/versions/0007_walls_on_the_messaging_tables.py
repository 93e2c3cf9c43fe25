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

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column.
OWN_WALLS = {'outbox': 'tenant_id', 'inbox': 'tenant_id'}

#: The statements as written for this revision: frozen here, so that a later change to bmw.servicekit.walls
#: cannot change what an old migration does.
UPGRADE = [
    """
CREATE OR REPLACE FUNCTION bmw_may_see(tenant uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(current_setting('app.all_tenants', true), '') = 'on'
      OR tenant = ANY (coalesce(nullif(current_setting('app.tenant_ids', true), ''), '{}')::uuid[])
$$
""",
    'ALTER TABLE outbox ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE outbox FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON outbox USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE inbox ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE inbox FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON inbox USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
]
DOWNGRADE = [
    'DROP POLICY IF EXISTS tenant_wall ON outbox',
    'ALTER TABLE outbox NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE outbox DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON inbox',
    'ALTER TABLE inbox NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE inbox DISABLE ROW LEVEL SECURITY',
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
