"""Scheduling's own tables: social workers, and the intakes waiting to be booked."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Table, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from bmw.servicekit.db import new_metadata

METADATA = new_metadata()

WORKERS = Table(
    "workers",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False, comment="A staff member's working name, not a client's"),
    Column("specialisms", ARRAY(Text), nullable=False),
    Column("languages", ARRAY(Text), nullable=False),
    Column("tenant_ids", ARRAY(UUID(as_uuid=True)), nullable=False, comment="Client organisations served"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
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
)
