"""Intake entrypoints: HTTP routes and event consumers."""
