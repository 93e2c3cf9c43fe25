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
    client_link_retention_days: int = Field(
        default=730,
        ge=366,
        description="An appointment keeps the pseudonym and login digest of its person this long after it ended "
        "(two years by default: the employee's own history and questions about it); then `python -m "
        "bmw.scheduling retention` forgets them and keeps the time slot. At least a year, since a contract's "
        "consults per employee are counted per calendar year.",
    )


@lru_cache
def get_settings() -> SchedulingSettings:
    return SchedulingSettings()
