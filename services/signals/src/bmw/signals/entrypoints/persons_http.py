"""The rights of the person over HTTP: what signals holds under a pseudonym (right of access)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from bmw.contracts.pseudonyms import ClientRef
from bmw.contracts.taxonomy import Category
from bmw.servicekit.deps import CurrentPrincipal, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.signals.application import persons as use

router = APIRouter(tags=["rights of the person"])


class CountedReferralRead(BaseModel):
    """One referral of the person as signals counts it in the anonymised weekly aggregates."""

    referral_id: uuid.UUID = Field(description="The referral in intake.")
    tenant_id: uuid.UUID = Field(description="The client organisation whose numbers it is counted in.")
    org_unit_id: uuid.UUID = Field(description="The org unit it is counted in.")
    org_unit_name: str | None = Field(description="That unit's name, from the client organisation's profile.")
    category: Category = Field(description="The help-request category it is counted in.")
    week_start: date = Field(description="Monday of the ISO week (Europe/Amsterdam) it is counted in.")

    @classmethod
    def of(cls, found: use.PersonContribution) -> CountedReferralRead:
        return cls.model_validate(found, from_attributes=True)


class StatisticsOptOutRead(BaseModel):
    """The person withdrew their consent to anonymised statistics: their referrals are not counted."""

    tenant_id: uuid.UUID = Field(description="The client organisation.")
    withdrawn_at: datetime = Field(description="When signals learned of the withdrawal (UTC).")

    @classmethod
    def of(cls, found: use.PersonOptOut) -> StatisticsOptOutRead:
        return cls.model_validate(found, from_attributes=True)


class PersonDataRead(BaseModel):
    """Everything signals holds that is linked to one pseudonym; empty lists when it holds nothing (never known,
    erased, opted out, or past retention: signals keeps no register of persons to tell these apart)."""

    client_ref: str = Field(description="The pseudonym asked about.")
    exported_at: datetime = Field(description="When this export was made (UTC).")
    counted_referrals: list[CountedReferralRead] = Field(
        description="Where each of the person's referrals is counted, oldest week first."
    )
    opted_out_of_statistics: bool = Field(description="True when the person withdrew consent to anonymised statistics.")
    statistics_opt_outs: list[StatisticsOptOutRead] = Field(description="The withdrawals, oldest first.")
    not_included: str = Field(
        default="the weekly counts, signals and their evidence, which are numbers about groups and name nobody",
        description="What signals holds that is not the person's, and so is not here.",
    )

    @classmethod
    def of(cls, found: use.PersonData) -> PersonDataRead:
        return cls(
            client_ref=found.client_ref,
            exported_at=found.exported_at,
            counted_referrals=[CountedReferralRead.of(row) for row in found.counted_referrals],
            opted_out_of_statistics=bool(found.statistics_opt_outs),
            statistics_opt_outs=[StatisticsOptOutRead.of(row) for row in found.statistics_opt_outs],
        )


@router.get("/persons/{client_ref}/export", response_model=PersonDataRead, responses=error_responses(401, 403, 422))
async def export_person(client_ref: ClientRef, principal: CurrentPrincipal, uow: UowFactoryDep) -> PersonDataRead:
    """Right of access (provider admins): everything signals holds under the pseudonym; empty when nothing."""
    return PersonDataRead.of(await use.export_person(client_ref, principal=principal, uow=uow))
