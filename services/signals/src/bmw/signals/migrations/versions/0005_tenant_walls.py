"""tenant walls: row-level security on every table that holds a client organisation's rows

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 05:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column (all named tenant_id). The interventions catalogue is the provider's, unwalled.
OWN_WALLS = {
    table: 'tenant_id'
    for table in (
        'client_organisations',
        'org_units',
        'case_units',
        'detection_runs',
        'imported_weekly_counts',
        'history_imports',
        'referral_contributions',
        'secondment_days',
        'statistics_opt_outs',
        'weekly_referral_counts',
        'weekly_metrics',
        'contracts',
        'contract_usage',
        'signals',
        'management_actions',
        'opportunities',
        'secondment_observations',
    )
}
#: Tables whose rows belong to a parent row: (table, parent, key).
CHILD_WALLS = [('opportunity_notes', 'opportunities', 'opportunity_id')]

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
    'ALTER TABLE case_units ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE case_units FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON case_units USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE detection_runs ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE detection_runs FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON detection_runs USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE imported_weekly_counts ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE imported_weekly_counts FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON imported_weekly_counts USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE history_imports ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE history_imports FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON history_imports USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE referral_contributions ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE referral_contributions FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON referral_contributions USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE secondment_days ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE secondment_days FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON secondment_days USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE statistics_opt_outs ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE statistics_opt_outs FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON statistics_opt_outs USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE weekly_referral_counts ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE weekly_referral_counts FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON weekly_referral_counts USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE weekly_metrics ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE weekly_metrics FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON weekly_metrics USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE contracts ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE contracts FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON contracts USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE contract_usage ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE contract_usage FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON contract_usage USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE signals ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE signals FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON signals USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE management_actions ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE management_actions FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON management_actions USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE opportunities ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE opportunities FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON opportunities USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE secondment_observations ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE secondment_observations FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON secondment_observations USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE opportunity_notes ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE opportunity_notes FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON opportunity_notes USING (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM opportunities p WHERE p.id = opportunity_notes.opportunity_id)) WITH CHECK (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM opportunities p WHERE p.id = opportunity_notes.opportunity_id))',
]
DOWNGRADE = [
    'DROP POLICY IF EXISTS tenant_wall ON client_organisations',
    'ALTER TABLE client_organisations NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE client_organisations DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON org_units',
    'ALTER TABLE org_units NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE org_units DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON case_units',
    'ALTER TABLE case_units NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE case_units DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON detection_runs',
    'ALTER TABLE detection_runs NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE detection_runs DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON imported_weekly_counts',
    'ALTER TABLE imported_weekly_counts NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE imported_weekly_counts DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON history_imports',
    'ALTER TABLE history_imports NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE history_imports DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON referral_contributions',
    'ALTER TABLE referral_contributions NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE referral_contributions DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON secondment_days',
    'ALTER TABLE secondment_days NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE secondment_days DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON statistics_opt_outs',
    'ALTER TABLE statistics_opt_outs NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE statistics_opt_outs DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON weekly_referral_counts',
    'ALTER TABLE weekly_referral_counts NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE weekly_referral_counts DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON weekly_metrics',
    'ALTER TABLE weekly_metrics NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE weekly_metrics DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON contracts',
    'ALTER TABLE contracts NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE contracts DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON contract_usage',
    'ALTER TABLE contract_usage NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE contract_usage DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON signals',
    'ALTER TABLE signals NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE signals DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON management_actions',
    'ALTER TABLE management_actions NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE management_actions DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON opportunities',
    'ALTER TABLE opportunities NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE opportunities DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON secondment_observations',
    'ALTER TABLE secondment_observations NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE secondment_observations DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON opportunity_notes',
    'ALTER TABLE opportunity_notes NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE opportunity_notes DISABLE ROW LEVEL SECURITY',
    'DROP FUNCTION IF EXISTS bmw_may_see(uuid)',
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
