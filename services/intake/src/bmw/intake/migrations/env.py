"""Alembic environment of the intake service."""

from bmw.intake.adapters.tables import METADATA
from bmw.servicekit.migrations import run_env
from bmw.servicekit.tables import MESSAGING_METADATA
from bmw.servicekit.tenants import TENANT_METADATA

run_env([METADATA, MESSAGING_METADATA, TENANT_METADATA])
