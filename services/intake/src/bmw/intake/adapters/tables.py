"""Intake's own tables. Person data lives only here (and will be encrypted per person, issue 3)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Table, Text, func
from sqlalchemy.dialects.postgresql import UUID

from bmw.servicekit.db import new_metadata

METADATA = new_metadata()

CLIENTS = Table(
    "clients",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("client_ref", Text, nullable=False, unique=True, comment="Pseudonym used outside intake"),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=True),
    Column("phone", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

REFERRALS = Table(
    "referrals",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("client_id", UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False),
    Column("org_unit_id", UUID(as_uuid=True), nullable=False),
    Column("category", Text, nullable=False),
    Column("urgency", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("referred_by", Text, nullable=False, comment="Subject id of whoever submitted it"),
    Column("employee_consented", Boolean, nullable=False),
    Column("status", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

CASES = Table(
    "cases",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("referral_id", UUID(as_uuid=True), ForeignKey("referrals.id"), nullable=False, unique=True),
    Column("client_ref", Text, nullable=False, index=True),
    Column("status", Text, nullable=False),
    Column("sla_deadline", DateTime(timezone=True), nullable=False),
    Column("needed_specialism", Text, nullable=True),
    Column("language", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
)
