"""What a social worker's review teaches the detectors: dismissals make a tenant's threshold stricter.

A signal about people's wellbeing reaches an account manager or a client portal only after a social worker
who serves the client organisation confirmed it. A dismissal ("coincidence, unrelated cases") is a false
alarm the detector should not repeat: each *net* dismissal of a kind for a tenant over the last twelve months
(dismissals minus confirmations) halves the significance level ``alpha`` that kind's test must reach, down to
a sixteenth. Confirmations only cancel dismissals: a tenant's threshold is never made looser than the base,
because a confirmed signal says the detector was right, not that it should have fired earlier.
"""

from __future__ import annotations

#: At most this many halvings: alpha never drops below base / 16, so a run of dismissals cannot silence a
#: kind for a tenant altogether.
MAX_HALVINGS = 4

#: The months of review history that count (the caller selects the reviews; this documents the rule).
REVIEW_MEMORY_DAYS = 365


def threshold_factor(dismissed: int, confirmed: int) -> float:
    """The factor (1, 1/2, ... 1/16) applied to alpha after ``dismissed`` and ``confirmed`` reviews."""
    if dismissed < 0 or confirmed < 0:
        raise ValueError("review counts cannot be negative")
    halvings = min(MAX_HALVINGS, max(0, dismissed - confirmed))
    return 0.5**halvings


def tuned_alpha(base_alpha: float, dismissed: int, confirmed: int) -> float:
    """The significance level for a tenant × kind: ``base_alpha`` halved per net dismissal, at most /16."""
    if not 0 < base_alpha < 1:
        raise ValueError("base_alpha must lie in (0, 1)")
    return base_alpha * threshold_factor(dismissed, confirmed)
