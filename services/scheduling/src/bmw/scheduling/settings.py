"""Scheduling settings (env prefix SCHEDULING_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bmw.servicekit.settings import ServiceSettings


class SchedulingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore", populate_by_name=True)

    service_name: str = "scheduling"
    retention_check_seconds: float = Field(
        default=3600, gt=0, description="How often old attendance registers and Idempotency-Keys are cleared."
    )


@lru_cache
def get_settings() -> SchedulingSettings:
    return SchedulingSettings()
