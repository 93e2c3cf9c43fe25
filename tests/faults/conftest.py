"""A whole stack of its own for the fault tests: its own embedded PostgreSQL and broker, so that they can be stopped,
killed and restarted without touching the other suites."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bmw.devstack.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in ("BMW_DATABASE_ADMIN_URL", "KAFKA_BOOTSTRAP_SERVERS") and not key.endswith("_DATABASE_URL")
    }
    # Short retry pauses: an outage of a few seconds is noticed and recovered from within the test's time.
    environ.update({"BMW_OUTBOX_POLL_SECONDS": "0.2", "BMW_CONSUMER_BACKOFF_MAX_SECONDS": "2"})
    with Stack(tmp_path_factory.mktemp("faults") / ".bmw", base_port=0, demo=True, environ=environ, partitions=3) as s:
        yield s
