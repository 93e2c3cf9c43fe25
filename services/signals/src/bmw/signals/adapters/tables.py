"""Signals' own tables: anonymised weekly counts, nothing that identifies a person."""

from __future__ import annotations

from sqlalchemy import Column, Date, Integer, Table, Text
from sqlalchemy.dialects.postgresql import UUID

from bmw.servicekit.db import new_metadata

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
