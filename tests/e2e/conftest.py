"""The whole stack as `bmw dev up` runs it (services and gateway as processes), on the session's
PostgreSQL and broker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bmw.devstack.stack import Stack


@pytest.fixture(scope="session")
def stack(infra: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    environ = dict(os.environ)
    environ["BMW_DATABASE_ADMIN_URL"] = infra.postgres_admin_url
    if infra.mode != "embedded":
        environ["KAFKA_BOOTSTRAP_SERVERS"] = infra.kafka_bootstrap_servers
    else:
        # Its own embedded broker: the stack's consumer groups start from the earliest offset, and the
        # session broker's topics are full of the other suites' events (and deliberately broken records).
        environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    data_dir: Path = tmp_path_factory.mktemp("stack") / ".bmw"
    with Stack(data_dir, base_port=0, demo=True, environ=environ, partitions=infra.partitions) as running:
        yield running
