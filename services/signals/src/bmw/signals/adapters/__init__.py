"""Signals adapters."""
