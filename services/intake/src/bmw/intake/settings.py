"""Intake settings (env prefix INTAKE_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from bmw.servicekit.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()
