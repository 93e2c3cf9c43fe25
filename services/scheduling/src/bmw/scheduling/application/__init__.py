"""Scheduling use cases."""
