"""Small-cell suppression (DESIGN §2 rule 2): an aggregate about fewer than k people is not shown
to a client organisation. ``1 person in Finance has a conflict with their manager`` names them."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_K = 5


@dataclass(frozen=True)
class Cell:
    """One published number: None and suppressed=True when it describes fewer than k people."""

    count: int | None
    suppressed: bool


def disclose(count: int, k: int) -> Cell:
    """Show a count only when it is zero or at least k."""
    if k < DEFAULT_K:
        raise ValueError(f"k must be at least {DEFAULT_K} (configurable upward only)")
    if count < 0:
        raise ValueError("a count cannot be negative")
    if 0 < count < k:
        return Cell(count=None, suppressed=True)
    return Cell(count=count, suppressed=False)
