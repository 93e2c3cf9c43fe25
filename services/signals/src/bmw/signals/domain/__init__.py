"""Signals domain: anonymised aggregates and disclosure control. Pure Python."""
