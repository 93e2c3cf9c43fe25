"""Scheduling entrypoints."""
