"""signals domain: where each referral was counted (for consent withdrawal and erasure), imported history,
activity metrics, the contracts copy, signals with their review, the interventions catalogue, opportunities,
management actions and secondment observations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 01:01:30.499463
"""

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The provider's default interventions catalogue (bmw.signals.adapters.catalogue.DEFAULT_INTERVENTIONS),
# inlined because a migration must not import application code; a unit test keeps the two equal.
INTERVENTIONS_SEED: list[dict[str, object]] = [
    {
        'code': 'dismissal_conversations_training',
        'title_nl': 'Training slechtnieuws- en ontslaggesprekken voeren',
        'title_en': 'Training: conducting dismissal conversations',
        'description': 'Two sessions for managers who must announce redundancies: preparing the conversation, delivering the message, handling emotion and what comes after, with a trained actor.',
        'product_kind': 'workshop_per_session',
        'quantity': Decimal('2'),
        'list_price_cents': 165000,
        'signal_kinds': ['reorganisation_wave'],
        'rank': 10,
    },
    {
        'code': 'reorganisation_secondment',
        'title_nl': 'Detachering op locatie tijdens de reorganisatie',
        'title_en': 'On-site secondment during the reorganisation',
        'description': 'A social worker works on site two days a week for two months: open consultation hours, quick help for worried employees and advice to managers while the reorganisation runs.',
        'product_kind': 'secondment_hourly',
        'quantity': Decimal('64'),
        'list_price_cents': 9800,
        'signal_kinds': ['reorganisation_wave'],
        'rank': 20,
    },
    {
        'code': 'manager_theme_session',
        'title_nl': 'Themabijeenkomst voor leidinggevenden',
        'title_en': 'Theme session for all managers',
        'description': 'One session on the theme managers keep asking advice about, so that all managers hear it once instead of one consultation at a time.',
        'product_kind': 'workshop_per_session',
        'quantity': Decimal('1'),
        'list_price_cents': 125000,
        'signal_kinds': ['repeated_manager_consultations'],
        'rank': 25,
    },
    {
        'code': 'reorganisation_manager_handbook',
        'title_nl': 'Handboek voor leidinggevenden bij reorganisatie',
        'title_en': 'Manager handbook: reorganisation',
        'description': 'A handbook tailored to the organisation: how to inform teams, hold individual talks, spot employees who struggle and when to refer them to the social worker.',
        'product_kind': 'trajectory_fixed_price',
        'quantity': Decimal('1'),
        'list_price_cents': 345000,
        'signal_kinds': ['reorganisation_wave', 'repeated_manager_consultations'],
        'rank': 30,
    },
    {
        'code': 'hybrid_working_workshop',
        'title_nl': 'Workshop werken in een hybride team',
        'title_en': 'Workshop: working in a hybrid team',
        'description': 'A workshop for a team after the move to flexible working: agreements on availability, boundaries between home and work, and keeping in touch with colleagues who are rarely seen.',
        'product_kind': 'workshop_per_session',
        'quantity': Decimal('1'),
        'list_price_cents': 125000,
        'signal_kinds': ['new_ways_of_working_strain'],
        'rank': 40,
    },
    {
        'code': 'team_coaching',
        'title_nl': 'Teamcoaching',
        'title_en': 'Team coaching',
        'description': 'Twelve hours of coaching of a team and its manager on cooperation, roles and how disagreements are handled.',
        'product_kind': 'hour_bundle',
        'quantity': Decimal('12'),
        'list_price_cents': 11500,
        'signal_kinds': ['leadership_conflict_cluster', 'new_ways_of_working_strain'],
        'rank': 50,
    },
    {
        'code': 'feedback_workshop',
        'title_nl': 'Workshop feedback geven en ontvangen',
        'title_en': 'Workshop: giving and receiving feedback',
        'description': 'A practical workshop for managers and their teams on giving and receiving feedback before irritation becomes conflict.',
        'product_kind': 'workshop_per_session',
        'quantity': Decimal('1'),
        'list_price_cents': 125000,
        'signal_kinds': ['leadership_conflict_cluster'],
        'rank': 60,
    },
    {
        'code': 'leading_through_change_training',
        'title_nl': 'Training leidinggeven aan verandering',
        'title_en': 'Training: leading through change',
        'description': 'Two sessions for managers on guiding a team through change: explaining why, giving room to uncertainty, and keeping the work going.',
        'product_kind': 'workshop_per_session',
        'quantity': Decimal('2'),
        'list_price_cents': 155000,
        'signal_kinds': ['reorganisation_wave', 'leadership_conflict_cluster', 'repeated_manager_consultations'],
        'rank': 70,
    },
    {
        'code': 'resilience_training',
        'title_nl': 'Training veerkracht en stressbestendigheid',
        'title_en': 'Resilience training',
        'description': 'A training for up to twelve employees on recognising stress early, setting limits and recovering, priced per participant.',
        'product_kind': 'workshop_per_participant',
        'quantity': Decimal('12'),
        'list_price_cents': 29500,
        'signal_kinds': ['stress_surge', 'burnout_risk_cluster'],
        'rank': 75,
    },
    {
        'code': 'burnout_prevention_trajectory',
        'title_nl': 'Preventietraject burn-out',
        'title_en': 'Burnout prevention trajectory',
        'description': 'Individual trajectories for employees at risk of burnout, each a fixed-price series of consults with a specialised social worker; offered for six employees.',
        'product_kind': 'trajectory_fixed_price',
        'quantity': Decimal('6'),
        'list_price_cents': 145000,
        'signal_kinds': ['burnout_risk_cluster', 'stress_surge'],
        'rank': 80,
    },
    {
        'code': 'extra_intake_capacity',
        'title_nl': 'Extra intakecapaciteit',
        'title_en': 'Extra intake capacity',
        'description': "Twenty extra hours of social worker time reserved for this client's intakes, so that urgent referrals are seen within their deadline.",
        'product_kind': 'hour_bundle',
        'quantity': Decimal('20'),
        'list_price_cents': 10500,
        'signal_kinds': ['capacity_shortfall'],
        'rank': 90,
    },
    {
        'code': 'bundle_top_up',
        'title_nl': 'Aanvulling strippenkaart',
        'title_en': 'Hour bundle top-up',
        'description': 'Forty extra prepaid hours when the current bundle (strippenkaart) runs out, so that help does not stop or fall into overage.',
        'product_kind': 'hour_bundle',
        'quantity': Decimal('40'),
        'list_price_cents': 10500,
        'signal_kinds': ['bundle_threshold', 'capacity_shortfall'],
        'rank': 100,
    },
    {
        'code': 'contract_renewal',
        'title_nl': 'Contractverlenging',
        'title_en': 'Contract renewal',
        'description': "Renewal of the contract for another year with a yearly hour bundle, discussed together with the year's usage and trends.",
        'product_kind': 'hour_bundle',
        'quantity': Decimal('80'),
        'list_price_cents': 10000,
        'signal_kinds': ['contract_ending', 'bundle_threshold'],
        'rank': 110,
    },
]


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('case_units',
    sa.Column('case_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('org_unit_id', sa.UUID(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_units')),
    comment='Which unit and category a case belongs to, so that appointments can be counted per unit (no person)'
    )
    op.create_table('contract_usage',
    sa.Column('usage_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('contract_id', sa.UUID(), nullable=False),
    sa.Column('product_code', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('usage_id', name=op.f('pk_contract_usage'))
    )
    op.create_index('ix_contract_usage_contract', 'contract_usage', ['contract_id', 'product_code'], unique=False)
    op.create_table('contracts',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('products', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False, comment='active or ended'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts'))
    )
    op.create_index(op.f('ix_contracts_tenant_id'), 'contracts', ['tenant_id'], unique=False)
    op.create_table('detection_runs',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('dirty', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('evaluated_week', sa.Date(), nullable=True, comment='Current week at the last evaluation'),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_detection_runs')),
    comment='Which client organisations need their detectors run: new counts arrived, or a new week began'
    )
    op.create_table('history_imports',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('content_sha256', sa.Text(), nullable=False),
    sa.Column('media_type', sa.Text(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('unit_weeks', sa.Integer(), nullable=False, comment='Unit × week combinations written'),
    sa.Column('first_week', sa.Date(), nullable=True),
    sa.Column('last_week', sa.Date(), nullable=True),
    sa.Column('imported_by', sa.Text(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_imports'))
    )
    op.create_index(op.f('ix_history_imports_tenant_id'), 'history_imports', ['tenant_id'], unique=False)
    op.create_table('imported_weekly_counts',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('org_unit_id', sa.UUID(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False, comment='Monday of the ISO week, Europe/Amsterdam'),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('referrals', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.UUID(), nullable=False, comment='The history import that last wrote the cell'),
    sa.CheckConstraint('referrals >= 0', name=op.f('ck_imported_weekly_counts_referrals_not_negative')),
    sa.PrimaryKeyConstraint('tenant_id', 'org_unit_id', 'week_start', 'category', name=op.f('pk_imported_weekly_counts')),
    comment="Anonymised history a client organisation brought from before it used this product; a re-import of a unit's week replaces all of that unit-week's categories."
    )
    op.create_table('interventions',
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('title_nl', sa.Text(), nullable=False),
    sa.Column('title_en', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('product_kind', sa.Text(), nullable=False, comment='The contract product kind it is sold as'),
    sa.Column('quantity', sa.Numeric(precision=10, scale=2), nullable=False, comment='Units of that product a typical offer holds'),
    sa.Column('list_price_cents', sa.Integer(), nullable=False, comment='Price per unit when the contract lacks the product'),
    sa.Column('signal_kinds', postgresql.ARRAY(sa.Text()), nullable=False, comment='Signal kinds it is recommended for'),
    sa.Column('rank', sa.Integer(), nullable=False, comment='Catalogue order: lower is recommended first'),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('list_price_cents >= 0', name=op.f('ck_interventions_list_price_not_negative')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_interventions_quantity_positive')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_interventions'))
    )
    op.create_table('management_actions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('org_unit_id', sa.UUID(), nullable=True, comment='None: the whole organisation'),
    sa.Column('action_type', sa.Text(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_management_actions'))
    )
    op.create_index(op.f('ix_management_actions_tenant_id'), 'management_actions', ['tenant_id'], unique=False)
    op.create_table('referral_contributions',
    sa.Column('referral_id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('org_unit_id', sa.UUID(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('client_ref', sa.Text(), nullable=True, comment='Pseudonym of the person once a case opened, so that a withdrawn statistics consent or an erasure can take the referral out of the aggregates; forgotten with the person'),
    sa.PrimaryKeyConstraint('referral_id', name=op.f('pk_referral_contributions'))
    )
    op.create_index('ix_referral_contributions_client_ref', 'referral_contributions', ['tenant_id', 'client_ref'], unique=False)
    op.create_table('secondment_days',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('worker_id', sa.UUID(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hours', sa.Numeric(precision=5, scale=2), nullable=False, comment='Latest logged figure (a correction replaces it)'),
    sa.PrimaryKeyConstraint('tenant_id', 'worker_id', 'day', name=op.f('pk_secondment_days'))
    )
    op.create_table('secondment_observations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('org_unit_id', sa.UUID(), nullable=False),
    sa.Column('bottleneck', sa.Text(), nullable=False),
    sa.Column('observed_on', sa.Date(), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False, comment='1 noticeable, 2 clear, 3 severe'),
    sa.Column('recorded_by', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('severity BETWEEN 1 AND 3', name=op.f('ck_secondment_observations_severity_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_secondment_observations'))
    )
    op.create_index(op.f('ix_secondment_observations_tenant_id'), 'secondment_observations', ['tenant_id'], unique=False)
    op.create_table('signals',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('org_unit_id', sa.UUID(), nullable=True, comment='None: the whole client organisation'),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('raised_week', sa.Date(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False, comment='open or resolved'),
    sa.Column('resolved_week', sa.Date(), nullable=True),
    sa.Column('review_status', sa.Text(), nullable=False, comment='pending, confirmed, dismissed or not_required'),
    sa.Column('reviewed_by', sa.Text(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True, comment='Provider-internal remark; never names a person'),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Float(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('suppressed', sa.Boolean(), nullable=False, comment="Observed count below the tenant's k"),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), nullable=False, comment='Counts, baseline, test, weeks, context and observations'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signals'))
    )
    op.create_index('ix_signals_tenant_status', 'signals', ['tenant_id', 'status'], unique=False)
    op.create_index('uq_signals_unit_kind_week', 'signals', ['tenant_id', sa.literal_column("coalesce(org_unit_id, '00000000-0000-0000-0000-000000000000'::uuid)"), 'kind', 'raised_week'], unique=True)
    op.create_table('statistics_opt_outs',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('client_ref', sa.Text(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'client_ref', name=op.f('pk_statistics_opt_outs')),
    comment='Persons who withdrew their consent to anonymised statistics: their referrals are not counted'
    )
    op.create_table('weekly_metrics',
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('metric', sa.Text(), nullable=False, comment='appointments_completed, no_shows, unschedulable_intakes, escalations, workshop_participants, manager_consultations'),
    sa.Column('dimension', sa.Text(), nullable=False, comment="Org unit id, workshop theme or consultation topic; '' for the whole organisation"),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'week_start', 'metric', 'dimension', name=op.f('pk_weekly_metrics'))
    )
    op.create_table('opportunities',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('tenant_id', sa.UUID(), nullable=False),
    sa.Column('signal_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('org_unit_id', sa.UUID(), nullable=True),
    sa.Column('stage', sa.Text(), nullable=False),
    sa.Column('recommended', postgresql.ARRAY(sa.Text()), nullable=False, comment='Intervention codes, best first'),
    sa.Column('estimated_value_cents', sa.Integer(), nullable=False),
    sa.Column('evidence_text', sa.Text(), nullable=False, comment='The evidence in plain language, without counts'),
    sa.Column('loss_reason', sa.Text(), nullable=True),
    sa.Column('won_intervention', sa.Text(), nullable=True, comment='What was sold, when won'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['signal_id'], ['signals.id'], name=op.f('fk_opportunities_signal_id_signals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunities'))
    )
    op.create_index(op.f('ix_opportunities_tenant_id'), 'opportunities', ['tenant_id'], unique=False)
    op.create_index('uq_opportunities_open_per_unit_kind', 'opportunities', ['tenant_id', sa.literal_column("coalesce(org_unit_id, '00000000-0000-0000-0000-000000000000'::uuid)"), 'kind'], unique=True, postgresql_where=sa.text("stage NOT IN ('won', 'lost')"))
    op.create_table('opportunity_notes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('opportunity_id', sa.UUID(), nullable=False),
    sa.Column('author', sa.Text(), nullable=False),
    sa.Column('from_stage', sa.Text(), nullable=True),
    sa.Column('to_stage', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True, comment="Account manager's remark; never names a person"),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_opportunity_notes_opportunity_id_opportunities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_notes'))
    )
    op.create_index(op.f('ix_opportunity_notes_opportunity_id'), 'opportunity_notes', ['opportunity_id'], unique=False)
    # ### end Alembic commands ###
    interventions = sa.table(
        'interventions',
        sa.column('code', sa.Text()),
        sa.column('title_nl', sa.Text()),
        sa.column('title_en', sa.Text()),
        sa.column('description', sa.Text()),
        sa.column('product_kind', sa.Text()),
        sa.column('quantity', sa.Numeric(10, 2)),
        sa.column('list_price_cents', sa.Integer()),
        sa.column('signal_kinds', postgresql.ARRAY(sa.Text())),
        sa.column('rank', sa.Integer()),
    )
    op.bulk_insert(interventions, INTERVENTIONS_SEED)


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index(op.f('ix_opportunity_notes_opportunity_id'), table_name='opportunity_notes')
    op.drop_table('opportunity_notes')
    op.drop_index('uq_opportunities_open_per_unit_kind', table_name='opportunities', postgresql_where=sa.text("stage NOT IN ('won', 'lost')"))
    op.drop_index(op.f('ix_opportunities_tenant_id'), table_name='opportunities')
    op.drop_table('opportunities')
    op.drop_table('weekly_metrics')
    op.drop_table('statistics_opt_outs')
    op.drop_index('uq_signals_unit_kind_week', table_name='signals')
    op.drop_index('ix_signals_tenant_status', table_name='signals')
    op.drop_table('signals')
    op.drop_index(op.f('ix_secondment_observations_tenant_id'), table_name='secondment_observations')
    op.drop_table('secondment_observations')
    op.drop_table('secondment_days')
    op.drop_index('ix_referral_contributions_client_ref', table_name='referral_contributions')
    op.drop_table('referral_contributions')
    op.drop_index(op.f('ix_management_actions_tenant_id'), table_name='management_actions')
    op.drop_table('management_actions')
    op.drop_table('interventions')
    op.drop_table('imported_weekly_counts')
    op.drop_index(op.f('ix_history_imports_tenant_id'), table_name='history_imports')
    op.drop_table('history_imports')
    op.drop_table('detection_runs')
    op.drop_index(op.f('ix_contracts_tenant_id'), table_name='contracts')
    op.drop_table('contracts')
    op.drop_index('ix_contract_usage_contract', table_name='contract_usage')
    op.drop_table('contract_usage')
    op.drop_table('case_units')
    # ### end Alembic commands ###
