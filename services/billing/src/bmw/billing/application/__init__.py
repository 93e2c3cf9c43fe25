"""Billing use cases."""
