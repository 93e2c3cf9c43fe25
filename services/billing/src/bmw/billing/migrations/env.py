"""Alembic environment of the billing service."""

import bmw.billing.adapters.invoice_tables  # noqa: F401  (registers the invoice tables on METADATA)
from bmw.billing.adapters.tables import METADATA
from bmw.servicekit.migrations import run_env
from bmw.servicekit.tables import MESSAGING_METADATA

run_env([METADATA, MESSAGING_METADATA])
