"""Alembic environment of the billing service."""

from bmw.billing.adapters.tables import METADATA
from bmw.servicekit.migrations import run_env
from bmw.servicekit.tables import MESSAGING_METADATA

run_env([METADATA, MESSAGING_METADATA])
