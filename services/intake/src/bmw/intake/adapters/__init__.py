"""Intake adapters: tables and repositories."""
