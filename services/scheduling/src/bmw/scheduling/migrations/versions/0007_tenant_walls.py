"""tenant walls: row-level security on every table that holds a client organisation's rows

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 05:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column (all named tenant_id). The social workers' directory, absences, extra hours and
#: calendar feeds are the provider's own and name no client organisation: they stay open.
OWN_WALLS = {
    table: 'tenant_id'
    for table in (
        'client_organisations',
        'org_units',
        'appointments',
        'contracts',
        'pending_intakes',
        'secondment_hours',
        'workshops',
        'workshop_registrations',
    )
}

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
    'ALTER TABLE client_organisations ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE client_organisations FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON client_organisations USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE org_units ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE org_units FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON org_units USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE appointments ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE appointments FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON appointments USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE contracts ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE contracts FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON contracts USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE pending_intakes ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE pending_intakes FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON pending_intakes USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE secondment_hours ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE secondment_hours FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON secondment_hours USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE workshops ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE workshops FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON workshops USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE workshop_registrations ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE workshop_registrations FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON workshop_registrations USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
]
DOWNGRADE = [
    'DROP POLICY IF EXISTS tenant_wall ON client_organisations',
    'ALTER TABLE client_organisations NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE client_organisations DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON org_units',
    'ALTER TABLE org_units NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE org_units DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON appointments',
    'ALTER TABLE appointments NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE appointments DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON contracts',
    'ALTER TABLE contracts NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE contracts DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON pending_intakes',
    'ALTER TABLE pending_intakes NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE pending_intakes DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON secondment_hours',
    'ALTER TABLE secondment_hours NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE secondment_hours DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON workshops',
    'ALTER TABLE workshops NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE workshops DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON workshop_registrations',
    'ALTER TABLE workshop_registrations NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE workshop_registrations DISABLE ROW LEVEL SECURITY',
    'DROP FUNCTION IF EXISTS bmw_may_see(uuid)',
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
