"""Billing settings (env prefix BILLING_)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bmw.servicekit.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", populate_by_name=True)

    service_name: str = "billing"

    # The seller on every invoice: the provider of corporate social work.
    seller_name: str = Field(default="BMW Bedrijfsmaatschappelijk Werk B.V.", description="Legal name on invoices.")
    seller_kvk_number: str = Field(default="90000001", pattern=r"^[0-9]{8}$", description="KvK number.")
    seller_vat_id: str = Field(default="NL004495445B01", description="VAT id (btw-id) on invoices.")
    seller_street: str = Field(default="Catharijnesingel 30", description="Street and number.")
    seller_postal_code: str = Field(default="3511 GB", description="Postal code.")
    seller_city: str = Field(default="Utrecht", description="City.")
    seller_country: str = Field(default="NL", description="ISO 3166-1 alpha-2 country code.")
    seller_email: str = Field(default="facturen@bmw-example.nl", description="Contact email on invoices.")
    seller_iban: str = Field(default="NL91ABNA0417164300", description="IBAN for credit transfers.")
    auto_issue_after_hours: float = Field(
        default=72,
        ge=0,
        description="Draft invoices are issued automatically this long after their billing run (0: never).",
    )
    auto_issue_check_seconds: float = Field(default=900, gt=0, description="How often drafts are checked.")
    # Contract calendar (issue 5, contracts): expiry notices and automatic renewals.
    contract_check_seconds: float = Field(
        default=86400, gt=0, description="How often contracts are checked for expiry and renewal (daily)."
    )
    contract_expiry_notice_days: int = Field(
        default=90, ge=1, le=366, description="billing.contract.expiring.v1 this many days before a contract ends."
    )
    contract_auto_renew_lead_days: int = Field(
        default=30, ge=0, le=366, description="A self-renewing contract gets its next period this many days early."
    )
    client_link_retention_days: int = Field(
        default=730,
        ge=92,
        description="Usage and kept activity keep the pseudonym of the person behind them this long after it "
        "happened (two years by default: an invoice's usage statement and questions about it); then `python -m "
        "bmw.billing retention` drops it and keeps the amounts. Invoices themselves name no person and are kept "
        "for the fiscal seven years. At least a quarter, the longest invoicing period.",
    )


@lru_cache
def get_settings() -> BillingSettings:
    return BillingSettings()


def settings_of(runtime: Any) -> BillingSettings:
    """The billing settings a running service was built with (its runtime carries the base type)."""
    settings = runtime.settings
    if not isinstance(settings, BillingSettings):  # pragma: no cover - the composition root guarantees it
        raise TypeError("billing needs BillingSettings")
    return settings
