"""Intake settings (env prefix INTAKE_)."""

from __future__ import annotations

from functools import lru_cache
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from bmw.servicekit.settings import Environment, ServiceSettings

#: Development-only keys: refused in production, where they must come from a secret store.
DEV_KEY_ENCRYPTION_KEY = "ZGV2LW9ubHkta2V5LWVuY3J5cHRpb24ta2V5LTAwMDA="
DEV_SUBJECT_PEPPER = "dev-only-subject-pepper"


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"
    key_encryption_key: SecretStr = Field(
        default=SecretStr(DEV_KEY_ENCRYPTION_KEY),
        description="Base64 of 32 bytes: wraps each person's data key (INTAKE_KEY_ENCRYPTION_KEY).",
    )
    subject_pepper: SecretStr = Field(
        default=SecretStr(DEV_SUBJECT_PEPPER),
        description="Secret for the HMAC that links an employee's login to their person record.",
    )
    retention_years: int = Field(default=5, ge=1, description="Closed cases are erased this long after closing.")
    working_notes_retention_days: int = Field(
        default=365, ge=1, description="Working notes (werkaantekeningen) are deleted this long after closing."
    )
    expiry_check_seconds: float = Field(default=3600.0, gt=0, description="How often expired referrals are swept.")

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Self:
        if self.environment is Environment.PRODUCTION and (
            self.key_encryption_key.get_secret_value() == DEV_KEY_ENCRYPTION_KEY
            or self.subject_pepper.get_secret_value() == DEV_SUBJECT_PEPPER
        ):
            raise ValueError("INTAKE_KEY_ENCRYPTION_KEY and INTAKE_SUBJECT_PEPPER must be set in production")
        return self


@lru_cache
def get_settings() -> IntakeSettings:
    return IntakeSettings()
