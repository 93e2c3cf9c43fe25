"""Signals entrypoints."""
