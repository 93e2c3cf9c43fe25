"""Signals settings (env prefix SIGNALS_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bmw.servicekit.settings import ServiceSettings


class SignalsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNALS_", extra="ignore", populate_by_name=True)

    service_name: str = "signals"
    detection_check_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the detectors look for client organisations with new counts (and, once a "
        "week, at every organisation, since a new week can resolve a signal).",
    )
    housekeeping_check_seconds: float = Field(
        default=3600, gt=0, description="How often Idempotency-Keys older than 7 days are cleared."
    )
    client_link_retention_days: int = Field(
        default=730,
        ge=1,
        description="A referral's contribution row, the link from a weekly count back to the referral and the "
        "pseudonym of its person, is kept this long after its week (two years by default), so that a withdrawn "
        "consent or an erasure can still take the referral out of the counts; then `python -m bmw.signals "
        "retention` drops it and the counts stay as anonymous history.",
    )


@lru_cache
def get_settings() -> SignalsSettings:
    return SignalsSettings()
