"""Events produced by the billing service, the system of record for client organisations."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from bmw.contracts.events.base import EventData, event


class OrgUnit(BaseModel):
    """A department or location of a client organisation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    parent_id: uuid.UUID | None = Field(default=None, description="Parent unit in the org tree.")


@event("billing.client.registered.v1")
class ClientRegistered(EventData):
    """A client organisation (tenant) was onboarded; other services keep a local read copy."""

    tenant_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    kvk_number: str | None = Field(default=None, description="Dutch Chamber of Commerce number.")
    org_units: list[OrgUnit] = Field(default_factory=list)
    account_manager_id: str | None = Field(default=None, description="Subject id of the account manager.")
    k_anonymity: int = Field(default=5, ge=5, description="Small-cell threshold; configurable upward only.")


@event("billing.client.updated.v1")
class ClientUpdated(EventData):
    """A client organisation's profile or org units changed; carries the full new profile."""

    tenant_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    kvk_number: str | None = None
    org_units: list[OrgUnit] = Field(default_factory=list)
    account_manager_id: str | None = None
    k_anonymity: int = Field(default=5, ge=5)
