"""The rights of the person in signals: access (what is held under a pseudonym) and retention.

Signals counts people, it does not keep them: a referral is a unit, a category and a week. The one link to a
person is the contribution row of each referral (``referral_contributions``), which carries intake's pseudonym
once the referral's case opened, so that a withdrawn consent to anonymised statistics or an erasure can take
the referral out of the counts again; and, for someone who withdrew that consent, the opt-out itself
(``statistics_opt_outs``), so that their later referrals are not counted either.

Signals keeps no register of persons, so "never heard of" and "forgotten" both answer an empty export, the
truthful answer to a right-of-access request. Only provider admins may ask, and they are refused before anything
is looked up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select

from bmw.contracts.taxonomy import Category, Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.tenants import ORG_UNITS
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.tables import REFERRAL_CONTRIBUTIONS, STATISTICS_OPT_OUTS
from bmw.signals.domain.weeks import week_start


@dataclass(frozen=True)
class PersonContribution:
    """One referral of the person as signals counts it: in which unit, category and week."""

    referral_id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    org_unit_name: str | None
    category: Category
    week_start: date


@dataclass(frozen=True)
class PersonOptOut:
    """The person withdrew their consent to anonymised statistics in this client organisation."""

    tenant_id: uuid.UUID
    withdrawn_at: datetime


@dataclass(frozen=True)
class PersonData:
    """Everything signals holds that is linked to one pseudonym."""

    client_ref: str
    exported_at: datetime
    counted_referrals: list[PersonContribution]
    statistics_opt_outs: list[PersonOptOut]


async def export_person(client_ref: str, *, principal: Principal, uow: UnitOfWorkFactory) -> PersonData:
    """Right of access (provider admins): where the person's referrals are counted, and whether they opted out."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with uow() as work:
        session = work.session
        counted = (
            await session.execute(
                select(REFERRAL_CONTRIBUTIONS, ORG_UNITS.c.name.label("org_unit_name"))
                .join(ORG_UNITS, ORG_UNITS.c.id == REFERRAL_CONTRIBUTIONS.c.org_unit_id, isouter=True)
                .where(REFERRAL_CONTRIBUTIONS.c.client_ref == client_ref)
                .order_by(REFERRAL_CONTRIBUTIONS.c.week_start, REFERRAL_CONTRIBUTIONS.c.referral_id)
            )
        ).all()
        opt_outs = (
            await session.execute(
                select(STATISTICS_OPT_OUTS)
                .where(STATISTICS_OPT_OUTS.c.client_ref == client_ref)
                .order_by(STATISTICS_OPT_OUTS.c.withdrawn_at)
            )
        ).all()
    return PersonData(
        client_ref=client_ref,
        exported_at=datetime.now(UTC),
        counted_referrals=[
            PersonContribution(
                referral_id=row.referral_id,
                tenant_id=row.tenant_id,
                org_unit_id=row.org_unit_id,
                org_unit_name=row.org_unit_name,
                category=Category(row.category),
                week_start=row.week_start,
            )
            for row in counted
        ],
        statistics_opt_outs=[PersonOptOut(tenant_id=row.tenant_id, withdrawn_at=row.withdrawn_at) for row in opt_outs],
    )


# -- retention ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionReport:
    """What the retention job dropped (or, in a dry run, would): contribution rows, some of them with a
    pseudonym; the weekly counts they were added to are not touched."""

    first_kept_week: date
    contributions: int
    with_pseudonym: int
    dry_run: bool


def _due(first_kept_week: date) -> ColumnElement[bool]:
    return REFERRAL_CONTRIBUTIONS.c.week_start < first_kept_week


async def apply_retention(
    *, uow: UnitOfWorkFactory, retention_days: int, now: datetime | None = None, dry_run: bool = False
) -> RetentionReport:
    """Drop the contribution rows of weeks that ended longer ago than the retention period.

    The weekly counts stay as they are: they name nobody. What goes is the only way back from a count to the
    referral and its person, so from then on a withdrawal or an erasure no longer changes that old week (its
    number has become anonymous history). A whole week goes at once, so no week is left half-traceable.

    Opt-outs are kept: they are the person's own standing wish for their future referrals and leave with them,
    on erasure (intake erases a person after its own retention period, and signals follows the event).
    """
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    # The Monday of the week the cutoff falls in: weeks before it ended before the cutoff.
    first_kept = week_start(cutoff)
    async with uow() as work:
        session = work.session
        rows = (
            await session.execute(
                select(func.count(), func.count(REFERRAL_CONTRIBUTIONS.c.client_ref)).where(_due(first_kept))
            )
        ).one()
        if not dry_run:
            await session.execute(delete(REFERRAL_CONTRIBUTIONS).where(_due(first_kept)))
            await work.commit()
    return RetentionReport(
        first_kept_week=first_kept, contributions=int(rows[0]), with_pseudonym=int(rows[1]), dry_run=dry_run
    )
