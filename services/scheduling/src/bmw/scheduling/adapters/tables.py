"""Scheduling's own tables: social workers and their hours, absences, appointments, pending intakes.

No double booking, ever: an exclusion constraint over each worker's active appointment times makes two
overlapping bookings of one worker impossible, whatever the application does.
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, Computed, DateTime, ForeignKey, Table, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSTZRANGE, UUID, ExcludeConstraint

from bmw.servicekit.db import new_metadata

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
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("starts_at < ends_at", name="ordered"),
    CheckConstraint("status IN ('booked', 'cancelled', 'completed', 'no_show')", name="status"),
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
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("outcome", Text, nullable=True, comment="booked, or the unschedulable reason"),
)
