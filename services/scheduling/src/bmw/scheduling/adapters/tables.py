"""Scheduling's own tables: social workers and their hours, absences, appointments, pending intakes.

No double booking, ever: an exclusion constraint over each worker's active appointment times makes two
overlapping bookings of one worker impossible, whatever the application does.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, UUID, ExcludeConstraint

from bmw.servicekit.db import new_metadata
from bmw.servicekit.idempotency import idempotency_table

METADATA = new_metadata()

#: Office hours a worker gets when none are given: Monday to Friday, 09:00-12:30 and 13:00-17:00.
STANDARD_HOURS = {
    day: [["09:00", "12:30"], ["13:00", "17:00"]] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}

WORKERS = Table(
    "workers",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True, comment="The worker's login subject"),
    Column("name", Text, nullable=False, comment="A staff member's working name, not a client's"),
    Column("specialisms", ARRAY(Text), nullable=False),
    Column("languages", ARRAY(Text), nullable=False),
    Column("tenant_ids", ARRAY(UUID(as_uuid=True)), nullable=False, comment="Client organisations served"),
    Column("weekly_hours", JSONB, nullable=False, server_default=text("'{}'::jsonb"), comment="Local working hours"),
    Column(
        "locations",
        ARRAY(Text),
        nullable=False,
        server_default=text("'{client_site,provider_office,video,phone}'::text[]"),
        comment="Where the worker meets clients (taxonomy Location)",
    ),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

ABSENCES = Table(
    "absences",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("worker_id", UUID(as_uuid=True), ForeignKey("workers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False, comment="leave, sickness, training, other (a code, no free text)"),
    CheckConstraint("starts_at < ends_at", name="ordered"),
)

APPOINTMENTS = Table(
    "appointments",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("worker_id", UUID(as_uuid=True), ForeignKey("workers.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("case_id", UUID(as_uuid=True), nullable=True, index=True),
    Column("client_ref", Text, nullable=True, comment="Pseudonym of the employee; dropped on erasure"),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("during", TSTZRANGE, Computed("tstzrange(starts_at, ends_at, '[)')", persisted=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("booked_by", Text, nullable=False),
    Column("cancelled_by", Text, nullable=True),
    Column("late_cancellation", Boolean, nullable=True),
    Column("location", Text, nullable=True, comment="taxonomy Location; none when not said"),
    Column(
        "employee_login",
        Text,
        nullable=True,
        index=True,
        comment="login_digest of the employee, so they can see and cancel it; dropped on erasure",
    ),
    Column("overage", Boolean, nullable=False, server_default=text("false"), comment="Beyond the contract's bundle"),
    Column("workshop_id", UUID(as_uuid=True), nullable=True, index=True, comment="A trainer's block for a workshop"),
    Column("walk_in", Boolean, nullable=False, server_default=text("false"), comment="Secondment: open consultation"),
    Column(
        "revision",
        Integer,
        nullable=False,
        server_default=text("0"),
        comment="Raised by every change after booking; the iCalendar SEQUENCE",
    ),
    Column("topic", Text, nullable=True, comment="Manager consultation: the theme asked about (taxonomy Category)"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("starts_at < ends_at", name="ordered"),
    CheckConstraint("status IN ('booked', 'cancelled', 'completed', 'no_show')", name="status"),
    CheckConstraint("topic IS NULL OR kind = 'manager_consultation'", name="topic_of_manager_consultation"),
    ExcludeConstraint(
        (Column("worker_id"), "="),
        (Column("during"), "&&"),
        where=text("status <> 'cancelled'"),
        using="gist",
        name="no_double_booking",
    ),
)

PENDING_INTAKES = Table(
    "pending_intakes",
    METADATA,
    Column("case_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("org_unit_id", UUID(as_uuid=True), nullable=False),
    Column("client_ref", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("urgency", Text, nullable=False),
    Column("sla_deadline", DateTime(timezone=True), nullable=False),
    Column("needed_specialism", Text, nullable=True),
    Column("language", Text, nullable=False),
    Column("employee_login", Text, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("outcome", Text, nullable=True, comment="booked, or the unschedulable reason"),
)

EXTRA_HOURS = Table(
    "extra_hours",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("worker_id", UUID(as_uuid=True), ForeignKey("workers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("starts_at < ends_at", name="ordered"),
    comment="One-off working time beyond the weekly hours (an evening session, a Saturday)",
)

IDEMPOTENCY_KEYS = idempotency_table(METADATA)

CONTRACTS = Table(
    "contracts",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("products", JSONB, nullable=False, comment="Products as billing published them"),
    Column("ended", Boolean, nullable=False, server_default=text("false")),
    comment="Local copy of billing's contracts: the entitlements booking checks",
)

WORKSHOPS = Table(
    "workshops",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("theme", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("location_detail", Text, nullable=True, comment="Room or address at the client, or a video link"),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("trainer_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("self_registration", Boolean, nullable=False, server_default=text("true")),
    Column("status", Text, nullable=False, server_default=text("'scheduled'")),
    Column("attended_count", Integer, nullable=True),
    Column("cancelled_by", Text, nullable=True),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("starts_at < ends_at", name="ordered"),
    CheckConstraint("capacity > 0", name="capacity"),
    CheckConstraint("status IN ('scheduled', 'cancelled', 'completed')", name="status"),
)

WORKSHOP_REGISTRATIONS = Table(
    "workshop_registrations",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("workshop_id", UUID(as_uuid=True), ForeignKey("workshops.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("participant", Text, nullable=False, comment="Login subject (self) or the client's own reference"),
    Column("display_name", Text, nullable=True, comment="Name on the attendance register; cleared by retention"),
    Column("status", Text, nullable=False),
    Column("attended", Boolean, nullable=True),
    Column("registered_by", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('registered', 'waitlisted', 'cancelled')", name="status"),
    Index(
        "uq_workshop_registrations_active",
        "workshop_id",
        "participant",
        unique=True,
        postgresql_where=text("status <> 'cancelled'"),
    ),
)

SECONDMENT_HOURS = Table(
    "secondment_hours",
    METADATA,
    Column("worker_id", UUID(as_uuid=True), ForeignKey("workers.id"), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("hours", Numeric(4, 2), nullable=False),
    Column("logged_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("hours > 0 AND hours <= 24", name="hours"),
)

CALENDAR_FEEDS = Table(
    "calendar_feeds",
    METADATA,
    Column("token_hash", Text, primary_key=True, comment="SHA-256 of the secret feed token; the token is not kept"),
    Column("scope", Text, nullable=False, comment="worker or tenant_workshops"),
    Column("owner_id", UUID(as_uuid=True), nullable=False, comment="The worker, or the client organisation"),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("scope", "owner_id", name="one_feed_per_owner"),
    CheckConstraint("scope IN ('worker', 'tenant_workshops')", name="scope"),
)
