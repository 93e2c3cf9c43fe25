"""Signals use cases."""
