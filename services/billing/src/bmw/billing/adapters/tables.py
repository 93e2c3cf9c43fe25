"""Billing's own tables: the system of record of client organisations, contracts, and the
billable activity received from other services (metered into usage in issue 5)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
)
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
    Column("vat_id", Text, nullable=True, comment="VAT id (btw-id) with its country prefix, normalised"),
    Column("payment_terms_days", Integer, nullable=False, server_default="30"),
    Column("invoice_email", Text, nullable=True, comment="The organisation's mailbox for invoices"),
    Column("electronic_address_scheme", Text, nullable=True, comment="EAS code of the Peppol endpoint, e.g. 0106"),
    Column("electronic_address", Text, nullable=True, comment="Peppol endpoint id within its scheme"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("k_anonymity >= 5", name="k_anonymity_at_least_5"),
    CheckConstraint("payment_terms_days BETWEEN 7 AND 90", name="payment_terms_days_range"),
    CheckConstraint(
        "(electronic_address_scheme IS NULL) = (electronic_address IS NULL)", name="electronic_address_complete"
    ),
)

ORGANISATION_UNITS = Table(
    "organisation_units",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("parent_id", UUID(as_uuid=True), nullable=True),
    Column("kind", Text, nullable=False, server_default="department", comment="department or location"),
    Column("employees", Integer, nullable=True, comment="Headcount of the unit itself (not its sub-units), if given"),
    # A parent is a unit of the same organisation: the pair (tenant_id, parent_id) must exist.
    UniqueConstraint("tenant_id", "id"),
    ForeignKeyConstraint(["tenant_id", "parent_id"], ["organisation_units.tenant_id", "organisation_units.id"]),
    CheckConstraint("kind IN ('department', 'location')", name="kind"),
    CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    CheckConstraint("employees IS NULL OR employees > 0", name="employees_positive"),
)

ORGANISATION_ADDRESSES = Table(
    "organisation_addresses",
    METADATA,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("organisations.id"), primary_key=True),
    Column("kind", Text, primary_key=True, comment="visiting, postal or invoice"),
    Column("street", Text, nullable=False),
    Column("house_number", Text, nullable=False, comment="With its addition, e.g. 12A or 12-3"),
    Column("postal_code", Text, nullable=False, comment="Normalised, e.g. 1234 AB"),
    Column("city", Text, nullable=False),
    Column("country", Text, nullable=False, comment="ISO 3166-1 alpha-2"),
    CheckConstraint("kind IN ('visiting', 'postal', 'invoice')", name="kind"),
)

ORGANISATION_CONTACTS = Table(
    "organisation_contacts",
    METADATA,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("organisations.id"), primary_key=True),
    Column("position", Integer, primary_key=True, comment="Order of the contact in the profile"),
    Column("role", Text, nullable=False, comment="hr, finance, management or other"),
    Column("name", Text, nullable=False, comment="Personal data of the client's staff: never in an event or a log"),
    Column("email", Text, nullable=False),
    Column("phone", Text, nullable=True),
    CheckConstraint("role IN ('hr', 'finance', 'management', 'other')", name="role"),
)

CONTRACTS = Table(
    "contracts",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("organisations.id"), nullable=False, index=True),
    Column("products", JSONB, nullable=False, comment="Priced products, as domain.contracts.Product.to_json"),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False, comment="Last day, inclusive; the actual last day once ended"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status", Text, nullable=False, server_default="active", comment="active or ended"),
    Column("buyer_reference", Text, nullable=True, comment="The client's reference for its invoices (BT-10)"),
    Column("purchase_order", Text, nullable=True, comment="The client's purchase order number (BT-13)"),
    Column("employees", Integer, nullable=True, comment="Employees a subscription per employee is billed for"),
    Column("invoicing_period", Text, nullable=False, server_default="month", comment="month or quarter"),
    Column("auto_renew", Boolean, nullable=False, server_default="false"),
    Column("renewal_months", Integer, nullable=False, server_default="12"),
    Column("indexation_percent", Numeric(5, 2), nullable=False, server_default="0", comment="Applied at renewal"),
    Column("renewed_from_id", UUID(as_uuid=True), ForeignKey("contracts.id"), nullable=True, unique=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("created_by", Text, nullable=True, comment="Subject id of the provider admin"),
    CheckConstraint("period_end >= period_start", name="period_in_order"),
    CheckConstraint("status IN ('active', 'ended')", name="status"),
    CheckConstraint("invoicing_period IN ('month', 'quarter')", name="invoicing_period"),
    CheckConstraint("employees IS NULL OR employees > 0", name="employees_positive"),
    CheckConstraint("renewal_months BETWEEN 1 AND 120", name="renewal_months_range"),
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

#: Metered usage, one row per source event (two when an appointment straddles a bundle's limit: the included
#: part and the overage part), or held while no contract is in force on its day. See domain.metering.
USAGE = Table(
    "usage_records",
    METADATA,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("contract_id", UUID(as_uuid=True), ForeignKey("contracts.id"), nullable=True, index=True),
    Column("product_code", Text, nullable=True, comment="None while held"),
    Column("kind", Text, nullable=True, comment="ProductKind of the product; none while held"),
    Column("activity", Text, nullable=False, comment="What happened: domain.metering.Activity"),
    Column("unit", Text, nullable=False, comment="hour, session, participant, case or occurrence"),
    Column("quantity", Numeric(12, 2), nullable=False, comment="Exact; negative only to correct invoiced hours"),
    Column("unit_price_cents", BigInteger, nullable=True, comment="Price per unit at the time, excl. VAT"),
    Column("overage", Boolean, nullable=False, server_default="false", comment="Beyond what the contract includes"),
    Column("occurred_at", DateTime(timezone=True), nullable=False, comment="Decides the contract and the period"),
    Column("source_event_id", UUID(as_uuid=True), nullable=False),
    Column("portion", Text, nullable=False, server_default="base", comment="base or overage"),
    Column("source_time", DateTime(timezone=True), nullable=False, comment="Time of the source event"),
    Column("case_id", UUID(as_uuid=True), nullable=True, comment="Pseudonymous reference of a trajectory"),
    Column("client_ref", Text, nullable=True, comment="Pseudonym of the employee; cleared on erasure"),
    Column("correction_key", Text, nullable=True, comment="Worker x day of secondment hours"),
    Column("corrects_usage_id", UUID(as_uuid=True), ForeignKey("usage_records.id"), nullable=True),
    Column("status", Text, nullable=False, comment="open, held or invoiced"),
    Column("invoice_id", UUID(as_uuid=True), nullable=True, comment="Set when the billing run invoices it"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("source_event_id", "portion"),
    CheckConstraint("status IN ('open', 'held', 'invoiced')", name="status"),
    CheckConstraint("portion IN ('base', 'overage')", name="portion"),
    CheckConstraint("(status = 'held') = (contract_id IS NULL)", name="held_without_contract"),
    CheckConstraint(
        "status = 'held' OR (product_code IS NOT NULL AND kind IS NOT NULL AND unit_price_cents IS NOT NULL)",
        name="priced",
    ),
    CheckConstraint("(status = 'invoiced') = (invoice_id IS NOT NULL)", name="invoiced_on_invoice"),
    CheckConstraint("status = 'held' OR quantity <> 0", name="quantity_not_zero"),
)
Index("ix_usage_records_tenant_occurred", USAGE.c.tenant_id, USAGE.c.occurred_at)
Index("ix_usage_records_invoice_id", USAGE.c.invoice_id, postgresql_where=USAGE.c.invoice_id.isnot(None))
Index(
    "ix_usage_records_correction_key",
    USAGE.c.tenant_id,
    USAGE.c.correction_key,
    postgresql_where=USAGE.c.correction_key.isnot(None),
)
Index(
    "ix_usage_records_client_ref",
    USAGE.c.tenant_id,
    USAGE.c.client_ref,
    postgresql_where=USAGE.c.client_ref.isnot(None),
)
Index("ix_usage_records_held", USAGE.c.tenant_id, USAGE.c.occurred_at, postgresql_where=USAGE.c.status == "held")

#: Bundle thresholds already announced: billing.contract.threshold_reached.v1 fires once per row.
CONTRACT_THRESHOLDS = Table(
    "contract_thresholds_reached",
    METADATA,
    Column("contract_id", UUID(as_uuid=True), ForeignKey("contracts.id"), primary_key=True),
    Column("product_code", Text, primary_key=True),
    Column("percent", Integer, primary_key=True),
    Column("reached_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("percent IN (80, 100)", name="percent"),
)

#: Contracts announced as expiring: billing.contract.expiring.v1 fires once per contract.
CONTRACT_EXPIRY_NOTICES = Table(
    "contract_expiry_notices",
    METADATA,
    Column("contract_id", UUID(as_uuid=True), ForeignKey("contracts.id"), primary_key=True),
    Column("end_date", Date, nullable=False),
    Column("notified_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Appointments scheduling booked as overage (scheduling.appointment.booked.v1 with overage): a consult beyond a
#: subscription's sessions per employee is billed at its overage price when it is completed.
OVERAGE_BOOKINGS = Table(
    "overage_bookings",
    METADATA,
    Column("appointment_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("booked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
