"""Billing entrypoints."""
