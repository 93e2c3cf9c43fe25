"""Intake's own tables. Personal data lives only here, sealed per person (adapters.crypto); the
database never holds a name, contact detail, date of birth or note in clear."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from bmw.servicekit.db import new_metadata
from bmw.servicekit.idempotency import idempotency_table

METADATA = new_metadata()

PERSONS = Table(
    "persons",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("client_ref", Text, nullable=False, unique=True, comment="Pseudonym used outside intake"),
    Column("subject_hash", Text, nullable=True, index=True, comment="HMAC of the employee's login subject"),
    Column("sealed", LargeBinary, nullable=True, comment="Name, contact details, birth date: AES-GCM, own key"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("erased_at", DateTime(timezone=True), nullable=True),
)

PERSON_KEYS = Table(
    "person_keys",
    METADATA,
    Column("person_id", UUID(as_uuid=True), ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False, comment="The person's data key, wrapped by the KEK"),
    Column("key_id", Text, nullable=False, comment="Which key-encryption key wrapped it"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

REFERRALS = Table(
    "referrals",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("person_id", UUID(as_uuid=True), ForeignKey("persons.id", ondelete="SET NULL"), nullable=True),
    Column("org_unit_id", UUID(as_uuid=True), nullable=False),
    Column("category", Text, nullable=False),
    Column("urgency", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("referred_by", Text, nullable=False, comment="Subject id of whoever submitted it"),
    Column("employee_consented", Boolean, nullable=False),
    Column("status", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("status IN ('awaiting_consent', 'case_opened', 'expired', 'historical')", name="status"),
    # History an integration brought from before the move to this product holds no person (data minimisation).
    CheckConstraint("status <> 'historical' OR person_id IS NULL", name="history_has_no_person"),
)

CASES = Table(
    "cases",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("referral_id", UUID(as_uuid=True), ForeignKey("referrals.id"), nullable=False, unique=True),
    Column("person_id", UUID(as_uuid=True), ForeignKey("persons.id", ondelete="SET NULL"), nullable=True),
    Column("client_ref", Text, nullable=False, index=True),
    Column("org_unit_id", UUID(as_uuid=True), nullable=False),
    Column("category", Text, nullable=False),
    Column("urgency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("sla_deadline", DateTime(timezone=True), nullable=False),
    Column("needed_specialism", Text, nullable=True),
    Column("language", Text, nullable=False),
    Column("worker_id", UUID(as_uuid=True), nullable=True, index=True),
    Column("outcome", Text, nullable=True),
    Column("escalation", Text, nullable=True, comment="Why the case needs a person to act (e.g. unschedulable)"),
    Column("reopened_count", Integer, nullable=False, server_default="0"),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("version", Integer, nullable=False, server_default="1", comment="Optimistic lock"),
    CheckConstraint("status IN ('registered', 'triaged', 'intake_scheduled', 'in_progress', 'closed')", name="status"),
    CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name="closed_has_time"),
)

CASE_TRANSITIONS = Table(
    "case_transitions",
    METADATA,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("status", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
)

CONSENTS = Table(
    "consents",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("person_id", UUID(as_uuid=True), ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("recipient", Text, nullable=False),
    Column("item", Text, nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=True),
    Column("recorded_by", Text, nullable=False),
    Column("method", Text, nullable=False, comment="portal, verbal or written"),
)

DOSSIER_ENTRIES = Table(
    "dossier_entries",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("case_id", UUID(as_uuid=True), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("person_id", UUID(as_uuid=True), ForeignKey("persons.id", ondelete="CASCADE"), nullable=False),
    Column("layer", Text, nullable=False, comment="formal (dossier) or working (werkaantekeningen)"),
    Column("kind", Text, nullable=False),
    Column("sealed", LargeBinary, nullable=False, comment="The text, sealed under the person's key"),
    Column("author", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("layer IN ('formal', 'working')", name="layer"),
)

ACCESS_LOG = Table(
    "access_log",
    METADATA,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False, comment="Subject id of the user"),
    Column("actor_roles", Text, nullable=False),
    Column("on_behalf_of", UUID(as_uuid=True), nullable=True, comment="Client organisation of the person"),
    Column("person_ref", Text, nullable=True, comment="client_ref; pseudonymised again on erasure"),
    Column("case_id", UUID(as_uuid=True), nullable=True),
    Column("action", Text, nullable=False, comment="read, create, update, export, erase"),
    Column("resource", Text, nullable=False),
    Column("break_glass", Boolean, nullable=False, server_default="false"),
    Column("reason", Text, nullable=True, comment="Stated reason of a break-glass read"),
    Column("request_id", Text, nullable=True),
)

IDEMPOTENCY_KEYS = idempotency_table(METADATA)

__all__ = [
    "ACCESS_LOG",
    "CASES",
    "CASE_TRANSITIONS",
    "CONSENTS",
    "DOSSIER_ENTRIES",
    "IDEMPOTENCY_KEYS",
    "METADATA",
    "PERSONS",
    "PERSON_KEYS",
    "REFERRALS",
]
