"""What billing records of its own work for ``GET /metrics`` (besides what every service exposes)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

#: Billing's own metrics; exposed beside the service kit's (``ServiceSpec.metric_registries``).
BILLING_METRICS = CollectorRegistry()

BILLING_RUN_DURATION = Histogram(
    "bmw_billing_run_duration_seconds",
    "How long a billing run took, from its start to its last draft invoice; scope: every organisation or one.",
    ["scope"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
    registry=BILLING_METRICS,
)
