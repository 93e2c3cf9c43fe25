"""tenant walls: row-level security on every table that holds a client organisation's rows

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 05:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables with a tenant column, and that column.
OWN_WALLS = {
    'organisations': 'id',
    'organisation_units': 'tenant_id',
    'organisation_addresses': 'tenant_id',
    'organisation_contacts': 'tenant_id',
    'contracts': 'tenant_id',
    'billable_activity': 'tenant_id',
    'usage_records': 'tenant_id',
    'overage_bookings': 'tenant_id',
    'billing_runs': 'tenant_id',  # a run over every organisation (null) is the provider's own
    'invoices': 'tenant_id',
}
#: Tables whose rows belong to a parent row: (table, parent, key).
CHILD_WALLS = [
    ('contract_thresholds_reached', 'contracts', 'contract_id'),
    ('contract_expiry_notices', 'contracts', 'contract_id'),
    ('invoice_lines', 'invoices', 'invoice_id'),
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
    'ALTER TABLE organisations ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE organisations FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON organisations USING (bmw_may_see(id)) WITH CHECK (bmw_may_see(id))',
    'ALTER TABLE organisation_units ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE organisation_units FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON organisation_units USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE organisation_addresses ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE organisation_addresses FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON organisation_addresses USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE organisation_contacts ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE organisation_contacts FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON organisation_contacts USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE contracts ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE contracts FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON contracts USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE billable_activity ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE billable_activity FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON billable_activity USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE usage_records ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE usage_records FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON usage_records USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE overage_bookings ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE overage_bookings FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON overage_bookings USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE billing_runs ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE billing_runs FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON billing_runs USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE invoices ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE invoices FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON invoices USING (bmw_may_see(tenant_id)) WITH CHECK (bmw_may_see(tenant_id))',
    'ALTER TABLE contract_thresholds_reached ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE contract_thresholds_reached FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON contract_thresholds_reached USING (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM contracts p WHERE p.id = contract_thresholds_reached.contract_id)) WITH CHECK (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM contracts p WHERE p.id = contract_thresholds_reached.contract_id))',
    'ALTER TABLE contract_expiry_notices ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE contract_expiry_notices FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON contract_expiry_notices USING (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM contracts p WHERE p.id = contract_expiry_notices.contract_id)) WITH CHECK (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM contracts p WHERE p.id = contract_expiry_notices.contract_id))',
    'ALTER TABLE invoice_lines ENABLE ROW LEVEL SECURITY',
    'ALTER TABLE invoice_lines FORCE ROW LEVEL SECURITY',
    'CREATE POLICY tenant_wall ON invoice_lines USING (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM invoices p WHERE p.id = invoice_lines.invoice_id)) WITH CHECK (bmw_may_see(NULL) OR EXISTS (SELECT 1 FROM invoices p WHERE p.id = invoice_lines.invoice_id))',
]
DOWNGRADE = [
    'DROP POLICY IF EXISTS tenant_wall ON organisations',
    'ALTER TABLE organisations NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE organisations DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON organisation_units',
    'ALTER TABLE organisation_units NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE organisation_units DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON organisation_addresses',
    'ALTER TABLE organisation_addresses NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE organisation_addresses DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON organisation_contacts',
    'ALTER TABLE organisation_contacts NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE organisation_contacts DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON contracts',
    'ALTER TABLE contracts NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE contracts DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON billable_activity',
    'ALTER TABLE billable_activity NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE billable_activity DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON usage_records',
    'ALTER TABLE usage_records NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE usage_records DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON overage_bookings',
    'ALTER TABLE overage_bookings NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE overage_bookings DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON billing_runs',
    'ALTER TABLE billing_runs NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE billing_runs DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON invoices',
    'ALTER TABLE invoices NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE invoices DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON contract_thresholds_reached',
    'ALTER TABLE contract_thresholds_reached NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE contract_thresholds_reached DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON contract_expiry_notices',
    'ALTER TABLE contract_expiry_notices NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE contract_expiry_notices DISABLE ROW LEVEL SECURITY',
    'DROP POLICY IF EXISTS tenant_wall ON invoice_lines',
    'ALTER TABLE invoice_lines NO FORCE ROW LEVEL SECURITY',
    'ALTER TABLE invoice_lines DISABLE ROW LEVEL SECURITY',
    'DROP FUNCTION IF EXISTS bmw_may_see(uuid)',
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
