"""Conversions shared by the signals types: ids, money, small cells."""

from __future__ import annotations

import logging
from decimal import Decimal

import strawberry

logger = logging.getLogger(__name__)


def graph_id(value: object) -> strawberry.ID:
    """A service's id (a UUID) as a GraphQL ``ID``."""
    return strawberry.ID(str(value))


def euros(cents: int) -> str:
    """Cents as an exact decimal string of euros: ``123456`` → ``"1234.56"`` (never a float)."""
    return f"{Decimal(cents).scaleb(-2):.2f}"


def below_k(count: int | None, k: int, what: str) -> bool:
    """True when ``count`` describes 1 to k-1 people: a cell signals should have suppressed itself.

    The gateway does not rely on signals alone for small-cell suppression (DESIGN §2 rule 2); a leak is logged
    (without the number) and hidden by the caller.
    """
    small = count is not None and 0 < count < k
    if small:
        logger.warning("signals sent an unsuppressed %s below k=%d; suppressed it", what, k)
    return small
