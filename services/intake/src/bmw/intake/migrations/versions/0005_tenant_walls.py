"""tenant walls: row-level security on every table that holds a client organisation's rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column, and that column.
OWN_WALLS = {
    'client_organisations': 'tenant_id',
    'org_units': 'tenant_id',
    'persons': 'tenant_id',
    'referrals': 'tenant_id',
    'cases': 'tenant_id',
    # on whose behalf an access happened; an entry about no organisation (null) is the provider's own
    'access_log': 'on_behalf_of',
}
#: Tables whose rows belong to a parent row: (table, parent, key).
CHILD_WALLS = [
    ('person_keys', 'persons', 'person_id'),
    ('consents', 'persons', 'person_id'),
    ('case_transitions', 'cases', 'case_id'),
    ('dossier_entries', 'cases', 'case_id'),
]

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
    'ALTER TABLE persons ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE persons FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON persons USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE referrals ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE referrals FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON referrals USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE cases ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE cases FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON cases USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE access_log ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE access_log FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON access_log USING (bmw_may_see(on_behalf_of)) WITH CHECK (bmw_may_see(on_behalf_of))',
    'ALTER TABLE person_keys ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE person_keys FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON person_keys USING (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM persons p WHERE p.id = person_keys.person_id)) WITH CHECK (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM persons p WHERE p.id = person_keys.person_id))',
    'ALTER TABLE consents ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE consents FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON consents USING (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM persons p WHERE p.id = consents.person_id)) WITH CHECK (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM persons p WHERE p.id = consents.person_id))',
    'ALTER TABLE case_transitions ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE case_transitions FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON case_transitions USING (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM cases p WHERE p.id = case_transitions.case_id)) WITH CHECK (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM cases p WHERE p.id = case_transitions.case_id))',
    'ALTER TABLE dossier_entries ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE dossier_entries FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON dossier_entries USING (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM cases p WHERE p.id = dossier_entries.case_id)) WITH CHECK (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM cases p WHERE p.id = dossier_entries.case_id))',
]
DOWNGRADE = [
    'DROP POLICY IF EXISTS tenant_wall ON client_organisations',
    'ALTER TABLE client_organisations NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE client_organisations DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON org_units',
    'ALTER TABLE org_units NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE org_units DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON persons',
    'ALTER TABLE persons NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE persons DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON referrals',
    'ALTER TABLE referrals NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE referrals DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON cases',
    'ALTER TABLE cases NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE cases DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON access_log',
    'ALTER TABLE access_log NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE access_log DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON person_keys',
    'ALTER TABLE person_keys NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE person_keys DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON consents',
    'ALTER TABLE consents NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE consents DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON case_transitions',
    'ALTER TABLE case_transitions NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE case_transitions DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON dossier_entries',
    'ALTER TABLE dossier_entries NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE dossier_entries DISABLE ROW LEVEL SECURITY',
    'DROP FUNCTION IF EXISTS bmw_may_see(uuid)',
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
