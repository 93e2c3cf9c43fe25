"""Alembic environment of the signals service."""

from bmw.servicekit.migrations import run_env
from bmw.servicekit.tables import MESSAGING_METADATA
from bmw.servicekit.tenants import TENANT_METADATA
from bmw.signals.adapters.tables import METADATA

run_env([METADATA, MESSAGING_METADATA, TENANT_METADATA])
