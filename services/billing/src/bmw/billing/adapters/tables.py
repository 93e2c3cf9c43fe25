"""Billing's own tables: the system of record of client organisations, contracts, and the
billable activity received from other services (metered into usage in issue 5)."""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from bmw.servicekit.db import new_metadata

METADATA = new_metadata()

ORGANISATIONS = Table(
    "organisations",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True, comment="The tenant id"),
    Column("name", Text, nullable=False),
    Column("kvk_number", Text, nullable=True, unique=True),
    Column("account_manager_id", Text, nullable=True),
    Column("k_anonymity", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

ORGANISATION_UNITS = Table(
    "organisation_units",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("parent_id", UUID(as_uuid=True), nullable=True),
)

CONTRACTS = Table(
    "contracts",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("products", JSONB, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

BILLABLE_ACTIVITY = Table(
    "billable_activity",
    METADATA,
    Column("source_event_id", UUID(as_uuid=True), primary_key=True, comment="One record per source event"),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("event_type", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("data", JSONB, nullable=False, comment="The event data: ids, kinds, durations; never a person"),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
