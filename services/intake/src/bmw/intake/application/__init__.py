"""Intake use cases; the only place that commits."""
