"""Signals settings (env prefix SIGNALS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from bmw.servicekit.settings import ServiceSettings


class SignalsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNALS_", extra="ignore", populate_by_name=True)

    service_name: str = "signals"


@lru_cache
def get_settings() -> SignalsSettings:
    return SignalsSettings()
