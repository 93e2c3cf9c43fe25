"""Checks of GraphQL input the gateway makes before calling a service."""

from __future__ import annotations

import uuid

from bmw.servicekit.errors import FieldError


def parse_id(value: str, path: str, problems: list[FieldError]) -> uuid.UUID | None:
    """The UUID in an ``ID`` argument, or ``None`` with a problem recorded under ``path``."""
    try:
        return uuid.UUID(value)
    except ValueError:
        problems.append(FieldError(path=path, message="not a valid id"))
        return None
