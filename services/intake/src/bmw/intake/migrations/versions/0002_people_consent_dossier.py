"""persons sealed per person, consent, case lifecycle, dossier, access log, idempotency

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 20:31:39.339020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The access log is append-only (NEN 7513 spirit): no delete, and the only update allowed is replacing a
#: person's pseudonym by its erased form when that person is erased.
APPEND_ONLY = """
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the access log is append-only';
    END IF;
    IF (to_jsonb(NEW) - 'person_ref') IS DISTINCT FROM (to_jsonb(OLD) - 'person_ref')
       OR NEW.person_ref IS NULL OR NEW.person_ref NOT LIKE 'erased-%' THEN
        RAISE EXCEPTION 'the access log is append-only; only erasure may pseudonymise person_ref';
    END IF;
    RETURN NEW;
END;
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
"""


def upgrade() -> None:
    # 0001's clients table held names in clear: nothing was deployed yet, so the first slice's three
    # tables are replaced rather than migrated (a deployed system would copy and seal instead).
    op.drop_table("cases")
    op.drop_table("referrals")
    op.drop_table("clients")
    op.create_table('access_log',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False, comment='Subject id of the user'),
    sa.Column('actor_roles', sa.Text(), nullable=False),
    sa.Column('on_behalf_of', sa.UUID(), nullable=True, comment='Client organisation of the person'),
    sa.Column('person_ref', sa.Text(), nullable=True, comment='client_ref; pseudonymised again on erasure'),
    sa.Column('case_id', sa.UUID(), nullable=True),
    sa.Column('action', sa.Text(), nullable=False, comment='read, create, update, export, erase'),
    sa.Column('resource', sa.Text(), nullable=False),
    sa.Column('break_glass', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('reason', sa.Text(), nullable=True, comment='Stated reason of a break-glass read'),
    sa.Column('request_id', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    op.create_table('idempotency_keys',
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('request_hash', sa.Text(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('subject', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_table('persons',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('client_ref', sa.Text(), nullable=False, comment='Pseudonym used outside intake'),
    sa.Column('subject_hash', sa.Text(), nullable=True, comment="HMAC of the employee's login subject"),
    sa.Column('sealed', sa.LargeBinary(), nullable=True, comment='Name, contact details, birth date: AES-GCM, own key'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons')),
    sa.UniqueConstraint('client_ref', name=op.f('uq_persons_client_ref'))
    )
    op.create_index(op.f('ix_persons_subject_hash'), 'persons', ['subject_hash'], unique=False)
    op.create_index(op.f('ix_persons_tenant_id'), 'persons', ['tenant_id'], unique=False)
    op.create_table('consents',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=False),
    sa.Column('item', sa.Text(), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False, comment='portal, verbal or written'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_consents_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    op.create_index(op.f('ix_consents_person_id'), 'consents', ['person_id'], unique=False)
    op.create_table('person_keys',
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False, comment="The person's data key, wrapped by the KEK"),
    sa.Column('key_id', sa.Text(), nullable=False, comment='Which key-encryption key wrapped it'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_person_keys_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_person_keys'))
    )
    op.create_table('referrals',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=True),
    sa.Column('org_unit_id', sa.UUID(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('urgency', sa.Text(), nullable=False),
    sa.Column('channel', sa.Text(), nullable=False),
    sa.Column('language', sa.Text(), nullable=False),
    sa.Column('referred_by', sa.Text(), nullable=False, comment='Subject id of whoever submitted it'),
    sa.Column('employee_consented', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('awaiting_consent', 'case_opened', 'expired')", name=op.f('ck_referrals_status')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_referrals_person_id_persons'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referrals'))
    )
    op.create_index(op.f('ix_referrals_tenant_id'), 'referrals', ['tenant_id'], unique=False)
    op.create_table('cases',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('referral_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=True),
    sa.Column('client_ref', sa.Text(), nullable=False),
    sa.Column('org_unit_id', sa.UUID(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('urgency', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('sla_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('needed_specialism', sa.Text(), nullable=True),
    sa.Column('language', sa.Text(), nullable=False),
    sa.Column('worker_id', sa.UUID(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('escalation', sa.Text(), nullable=True, comment='Why the case needs a person to act (e.g. unschedulable)'),
    sa.Column('reopened_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False, comment='Optimistic lock'),
    sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name=op.f('ck_cases_closed_has_time')),
    sa.CheckConstraint("status IN ('registered', 'triaged', 'intake_scheduled', 'in_progress', 'closed')", name=op.f('ck_cases_status')),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_cases_person_id_persons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_cases_referral_id_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('referral_id', name=op.f('uq_cases_referral_id'))
    )
    op.create_index(op.f('ix_cases_client_ref'), 'cases', ['client_ref'], unique=False)
    op.create_index(op.f('ix_cases_tenant_id'), 'cases', ['tenant_id'], unique=False)
    op.create_index(op.f('ix_cases_worker_id'), 'cases', ['worker_id'], unique=False)
    op.create_table('case_transitions',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_transitions_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_transitions'))
    )
    op.create_index(op.f('ix_case_transitions_case_id'), 'case_transitions', ['case_id'], unique=False)
    op.create_table('dossier_entries',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('layer', sa.Text(), nullable=False, comment='formal (dossier) or working (werkaantekeningen)'),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False, comment="The text, sealed under the person's key"),
    sa.Column('author', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("layer IN ('formal', 'working')", name=op.f('ck_dossier_entries_layer')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_dossier_entries_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_dossier_entries_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dossier_entries'))
    )
    op.create_index(op.f('ix_dossier_entries_case_id'), 'dossier_entries', ['case_id'], unique=False)
    # ### end Alembic commands ###
    op.execute(APPEND_ONLY)
    op.execute(APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER access_log_append_only ON access_log")
    op.execute("DROP FUNCTION access_log_append_only()")
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index(op.f('ix_dossier_entries_case_id'), table_name='dossier_entries')
    op.drop_table('dossier_entries')
    op.drop_index(op.f('ix_case_transitions_case_id'), table_name='case_transitions')
    op.drop_table('case_transitions')
    op.drop_index(op.f('ix_cases_worker_id'), table_name='cases')
    op.drop_index(op.f('ix_cases_tenant_id'), table_name='cases')
    op.drop_index(op.f('ix_cases_client_ref'), table_name='cases')
    op.drop_table('cases')
    op.drop_index(op.f('ix_referrals_tenant_id'), table_name='referrals')
    op.drop_table('referrals')
    op.drop_table('person_keys')
    op.drop_index(op.f('ix_consents_person_id'), table_name='consents')
    op.drop_table('consents')
    op.drop_index(op.f('ix_persons_tenant_id'), table_name='persons')
    op.drop_index(op.f('ix_persons_subject_hash'), table_name='persons')
    op.drop_table('persons')
    op.drop_table('idempotency_keys')
    op.drop_table('access_log')
    # ### end Alembic commands ###
