"""Infrastructure tables every service has in its own database: outbox and inbox."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, MetaData, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from bmw.servicekit.db import new_metadata


def outbox_table(metadata: MetaData) -> Table:
    """Events written in the same transaction as the state change they report (DESIGN §5)."""
    table = Table(
        "outbox",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True, comment="CloudEvent id"),
        Column("seq", BigInteger, Identity(always=True), nullable=False, comment="Publish order within a relay"),
        Column("topic", Text, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("tenant_id", UUID(as_uuid=True), nullable=False),
        Column("envelope", JSONB, nullable=False, comment="The whole CloudEvent"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Column("publish_attempts", BigInteger, nullable=False, server_default=text("0")),
    )
    Index("ix_outbox_unsent", table.c.seq, postgresql_where=table.c.sent_at.is_(None))
    Index("ix_outbox_created_at", table.c.created_at)
    return table


def inbox_table(metadata: MetaData) -> Table:
    """Events a consumer group has applied; the primary key makes effects happen once."""
    table = Table(
        "inbox",
        metadata,
        Column("consumer_group", Text, primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("tenant_id", UUID(as_uuid=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    # Housekeeping deletes what is past its keep (bmw.servicekit.inbox.prune_applied).
    Index("ix_inbox_processed_at", table.c.processed_at)
    return table


#: Metadata of the messaging tables; every service includes it in its migrations' target metadata.
MESSAGING_METADATA = new_metadata()
OUTBOX = outbox_table(MESSAGING_METADATA)
INBOX = inbox_table(MESSAGING_METADATA)
