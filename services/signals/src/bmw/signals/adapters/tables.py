"""Signals' own tables: anonymised weekly counts and what is drawn from them; nothing names a person.

The one pseudonym kept (``referral_contributions.client_ref``) exists to honour a withdrawn consent and an
erasure: it is how a person's referrals are found again to be taken out of the counts.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from bmw.servicekit.db import new_metadata
from bmw.servicekit.idempotency import idempotency_table

METADATA = new_metadata()

WEEKLY_COUNTS = Table(
    "weekly_referral_counts",
    METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("org_unit_id", UUID(as_uuid=True), primary_key=True),
    Column("category", Text, primary_key=True),
    Column("week_start", Date, primary_key=True, comment="Monday of the ISO week, Europe/Amsterdam"),
    Column("referrals", Integer, nullable=False),
)

# -- aggregates -----------------------------------------------------------------------------------

IMPORTED_COUNTS = Table(
    "imported_weekly_counts",
    METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("org_unit_id", UUID(as_uuid=True), primary_key=True),
    Column("week_start", Date, primary_key=True, comment="Monday of the ISO week, Europe/Amsterdam"),
    Column("category", Text, primary_key=True),
    Column("referrals", Integer, nullable=False),
    Column("import_id", UUID(as_uuid=True), nullable=False, comment="The history import that last wrote the cell"),
    CheckConstraint("referrals >= 0", name="referrals_not_negative"),
    comment="Anonymised history a client organisation brought from before it used this product; a re-import of "
    "a unit's week replaces all of that unit-week's categories.",
)

HISTORY_IMPORTS = Table(
    "history_imports",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("content_sha256", Text, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("unit_weeks", Integer, nullable=False, comment="Unit × week combinations written"),
    Column("first_week", Date, nullable=True),
    Column("last_week", Date, nullable=True),
    Column("imported_by", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

REFERRAL_CONTRIBUTIONS = Table(
    "referral_contributions",
    METADATA,
    Column("referral_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("org_unit_id", UUID(as_uuid=True), nullable=False),
    Column("category", Text, nullable=False),
    Column("week_start", Date, nullable=False),
    Column(
        "client_ref",
        Text,
        nullable=True,
        comment="Pseudonym of the person once a case opened, so that a withdrawn statistics consent or an erasure "
        "can take the referral out of the aggregates; forgotten with the person",
    ),
    Index("ix_referral_contributions_client_ref", "tenant_id", "client_ref"),
)

STATISTICS_OPT_OUTS = Table(
    "statistics_opt_outs",
    METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("client_ref", Text, primary_key=True),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    comment="Persons who withdrew their consent to anonymised statistics: their referrals are not counted",
)

CASE_UNITS = Table(
    "case_units",
    METADATA,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("org_unit_id", UUID(as_uuid=True), nullable=False),
    Column("category", Text, nullable=False),
    comment="Which unit and category a case belongs to, so that appointments can be counted per unit (no person)",
)

WEEKLY_METRICS = Table(
    "weekly_metrics",
    METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("week_start", Date, primary_key=True),
    Column(
        "metric",
        Text,
        primary_key=True,
        comment="appointments_completed, no_shows, unschedulable_intakes, escalations, workshop_participants, "
        "manager_consultations",
    ),
    Column(
        "dimension",
        Text,
        primary_key=True,
        comment="Org unit id, workshop theme or consultation topic; '' for the whole organisation",
    ),
    Column("value", Integer, nullable=False),
)

SECONDMENT_DAYS = Table(
    "secondment_days",
    METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("worker_id", UUID(as_uuid=True), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("hours", Numeric(5, 2), nullable=False, comment="Latest logged figure (a correction replaces it)"),
)

# -- contracts and usage (read copy from billing) ---------------------------------------------------

CONTRACTS = Table(
    "contracts",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("products", JSONB, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("status", Text, nullable=False, comment="active or ended"),
)

CONTRACT_USAGE = Table(
    "contract_usage",
    METADATA,
    Column("usage_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("contract_id", UUID(as_uuid=True), nullable=False),
    Column("product_code", Text, nullable=False),
    Column("quantity", Numeric(12, 2), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_contract_usage_contract", "contract_id", "product_code"),
)

# -- signals and their review -------------------------------------------------------------------------

SIGNALS = Table(
    "signals",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("org_unit_id", UUID(as_uuid=True), nullable=True, comment="None: the whole client organisation"),
    Column("kind", Text, nullable=False),
    Column("raised_week", Date, nullable=False),
    Column("status", Text, nullable=False, comment="open or resolved"),
    Column("resolved_week", Date, nullable=True),
    Column("review_status", Text, nullable=False, comment="pending, confirmed, dismissed or not_required"),
    Column("reviewed_by", Text, nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("review_reason", Text, nullable=True),
    Column("review_note", Text, nullable=True, comment="Provider-internal remark; never names a person"),
    Column("method", Text, nullable=False),
    Column("observed", Integer, nullable=False),
    Column("expected", Float, nullable=False),
    Column("p_value", Float, nullable=True),
    Column("score", Float, nullable=False),
    Column("suppressed", Boolean, nullable=False, comment="Observed count below the tenant's k"),
    Column("evidence", JSONB, nullable=False, comment="Counts, baseline, test, weeks, context and observations"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(
        "uq_signals_unit_kind_week",
        "tenant_id",
        text("coalesce(org_unit_id, '00000000-0000-0000-0000-000000000000'::uuid)"),
        "kind",
        "raised_week",
        unique=True,
    ),
    Index("ix_signals_tenant_status", "tenant_id", "status"),
)

DETECTION_RUNS = Table(
    "detection_runs",
    METADATA,
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("dirty", Boolean, nullable=False, server_default=text("true")),
    Column("evaluated_at", DateTime(timezone=True), nullable=True),
    Column("evaluated_week", Date, nullable=True, comment="Current week at the last evaluation"),
    comment="Which client organisations need their detectors run: new counts arrived, or a new week began",
)

# -- interventions and opportunities --------------------------------------------------------------------

INTERVENTIONS = Table(
    "interventions",
    METADATA,
    Column("code", Text, primary_key=True),
    Column("title_nl", Text, nullable=False),
    Column("title_en", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("product_kind", Text, nullable=False, comment="The contract product kind it is sold as"),
    Column("quantity", Numeric(10, 2), nullable=False, comment="Units of that product a typical offer holds"),
    Column("list_price_cents", Integer, nullable=False, comment="Price per unit when the contract lacks the product"),
    Column("signal_kinds", ARRAY(Text), nullable=False, comment="Signal kinds it is recommended for"),
    Column("rank", Integer, nullable=False, comment="Catalogue order: lower is recommended first"),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("list_price_cents >= 0", name="list_price_not_negative"),
)

OPPORTUNITIES = Table(
    "opportunities",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("signal_id", UUID(as_uuid=True), ForeignKey("signals.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("org_unit_id", UUID(as_uuid=True), nullable=True),
    Column("stage", Text, nullable=False),
    Column("recommended", ARRAY(Text), nullable=False, comment="Intervention codes, best first"),
    Column("estimated_value_cents", Integer, nullable=False),
    Column("evidence_text", Text, nullable=False, comment="The evidence in plain language, without counts"),
    Column("loss_reason", Text, nullable=True),
    Column("won_intervention", Text, nullable=True, comment="What was sold, when won"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(
        "uq_opportunities_open_per_unit_kind",
        "tenant_id",
        text("coalesce(org_unit_id, '00000000-0000-0000-0000-000000000000'::uuid)"),
        "kind",
        unique=True,
        postgresql_where=text("stage NOT IN ('won', 'lost')"),
    ),
)

OPPORTUNITY_NOTES = Table(
    "opportunity_notes",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("opportunity_id", UUID(as_uuid=True), ForeignKey("opportunities.id"), nullable=False, index=True),
    Column("author", Text, nullable=False),
    Column("from_stage", Text, nullable=True),
    Column("to_stage", Text, nullable=True),
    Column("note", Text, nullable=True, comment="Account manager's remark; never names a person"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# -- what management did, and what seconded workers see -----------------------------------------------

MANAGEMENT_ACTIONS = Table(
    "management_actions",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("org_unit_id", UUID(as_uuid=True), nullable=True, comment="None: the whole organisation"),
    Column("action_type", Text, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

SECONDMENT_OBSERVATIONS = Table(
    "secondment_observations",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("org_unit_id", UUID(as_uuid=True), nullable=False),
    Column("bottleneck", Text, nullable=False),
    Column("observed_on", Date, nullable=False),
    Column("severity", Integer, nullable=False, comment="1 noticeable, 2 clear, 3 severe"),
    Column("recorded_by", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("severity BETWEEN 1 AND 3", name="severity_range"),
)

# -- requests already answered ------------------------------------------------------------------------------

#: ``Idempotency-Key`` of the POST endpoints: a retried request gets the first answer instead of acting twice.
IDEMPOTENCY_KEYS = idempotency_table(METADATA)
