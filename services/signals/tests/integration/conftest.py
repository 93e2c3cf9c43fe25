"""One signals service for every integration test of the service, on the session's PostgreSQL and broker.

Its periodic detector is slowed to once an hour so that tests decide when detection runs
(``POST /detection-runs``); one instance also keeps the consumer group from splitting partitions between
test modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bmw.devstack.testing import ServiceUnderTest, service_under_test


@pytest.fixture(scope="session")
async def signals(infra: Any, dev_keys: Any) -> AsyncIterator[ServiceUnderTest]:
    async with service_under_test("signals", infra, dev_keys, detection_check_seconds=3600) as service:
        yield service
