"""Fixtures of the gateway's tests: a signing key, fake services, the app and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from bmw.gateway.settings import GatewaySettings
from bmw.gateway.testing import FakeServices, SigningKey, make_settings, serve


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
def settings(signing_key: SigningKey) -> GatewaySettings:
    return make_settings(signing_key)


@pytest_asyncio.fixture
async def gateway(settings: GatewaySettings, services: FakeServices) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway app (lifespan running) whose service calls reach ``services``."""
    async with serve(settings, services) as client:
        yield client
