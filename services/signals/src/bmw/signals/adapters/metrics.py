"""What signals adds to ``GET /metrics``: the signals raised so far, per kind (read from its tables when scraped)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, Metric
from sqlalchemy import func, select

from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.tables import SIGNALS


async def signals_raised(uow: UnitOfWorkFactory) -> Iterable[Metric]:
    """``bmw_signals_raised_total{kind}``: every signal the detectors ever raised (none is deleted), per kind."""
    raised = CounterMetricFamily(
        "bmw_signals_raised", "Signals raised by the detectors so far, per kind (no organisation).", labels=["kind"]
    )
    async with uow() as work:  # the service's own view: counted over every organisation, named by kind only
        rows = await work.session.execute(select(SIGNALS.c.kind, func.count()).group_by(SIGNALS.c.kind))
        for kind, count in sorted(rows.all()):
            raised.add_metric([str(kind)], int(count))
    return [raised]
