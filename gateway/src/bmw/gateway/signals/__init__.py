"""Anonymised trends and signals, resolved through the signals service."""
