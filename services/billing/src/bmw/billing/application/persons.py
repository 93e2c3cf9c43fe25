"""The rights of the person in billing: access (what is held under a pseudonym) and retention.

Billing meets a person only as intake's pseudonym ``client_ref`` on an opened case (a trajectory may be billed
at a fixed price): on the usage row of that case and on the kept activity (the event's facts). The case's
appointments reach billing without the pseudonym, carrying the case id only; through that case id they are
linked to the person too, so the export includes them. Once the pseudonym is gone (erasure, retention) nothing
in billing leads from the person to a row any more, and the money stays as it was (DESIGN §2: invoices are kept
for the fiscal seven years, with no person in them).

Billing keeps no register of persons, so "never heard of" and "forgotten" both answer an empty export, the
truthful answer to a right-of-access request. Only provider admins may ask, and they are refused before anything
is looked up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update

from bmw.billing.adapters.invoice_tables import INVOICES
from bmw.billing.adapters.tables import BILLABLE_ACTIVITY, USAGE
from bmw.billing.domain.metering import Activity, Unit, UsageStatus
from bmw.contracts.taxonomy import Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.uow import UnitOfWorkFactory

#: The key of the pseudonym in a kept event's facts.
CLIENT_REF = "client_ref"


@dataclass(frozen=True)
class PersonUsage:
    """A usage row linked to the person: what was metered, when, under which contract, and where it was billed."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    activity: Activity
    occurred_at: datetime
    quantity: Decimal
    unit: Unit
    status: UsageStatus
    contract_id: uuid.UUID | None
    product_code: str | None
    unit_price_cents: int | None
    overage: bool
    case_id: uuid.UUID | None
    invoice_id: uuid.UUID | None
    invoice_number: str | None
    source_event_id: uuid.UUID


@dataclass(frozen=True)
class PersonActivity:
    """A kept event linked to the person: its type, time and facts (ids, kinds, durations; never a name)."""

    source_event_id: uuid.UUID
    tenant_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    received_at: datetime
    facts: dict[str, Any]


@dataclass(frozen=True)
class PersonData:
    """Everything billing holds that is linked to one pseudonym."""

    client_ref: str
    exported_at: datetime
    usage: list[PersonUsage]
    activity: list[PersonActivity]


async def export_person(client_ref: str, *, principal: Principal, uow: UnitOfWorkFactory) -> PersonData:
    """Right of access (provider admins): the person's usage rows and kept activity, and those of their cases."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with uow() as work:
        session = work.session
        named = (
            await session.execute(
                select(BILLABLE_ACTIVITY).where(BILLABLE_ACTIVITY.c.data[CLIENT_REF].astext == client_ref)
            )
        ).all()
        tenants = {row.tenant_id for row in named}
        cases = sorted({str(row.data["case_id"]) for row in named if row.data.get("case_id")})
        # The case's appointments carry its id, not the pseudonym: found through the cases the pseudonym opened.
        of_cases = (
            (
                await session.execute(
                    select(BILLABLE_ACTIVITY).where(
                        BILLABLE_ACTIVITY.c.tenant_id.in_(tenants),
                        BILLABLE_ACTIVITY.c.data["case_id"].astext.in_(cases),
                    )
                )
            ).all()
            if cases
            else []
        )
        activity = {row.source_event_id: row for row in (*named, *of_cases)}
        usage = (
            await session.execute(
                select(USAGE, INVOICES.c.number.label("invoice_number"))
                .join(INVOICES, INVOICES.c.id == USAGE.c.invoice_id, isouter=True)
                .where(or_(USAGE.c.client_ref == client_ref, USAGE.c.source_event_id.in_(list(activity))))
                .order_by(USAGE.c.occurred_at, USAGE.c.id)
            )
        ).all()
    return PersonData(
        client_ref=client_ref,
        exported_at=datetime.now(UTC),
        usage=[
            PersonUsage(
                id=row.id,
                tenant_id=row.tenant_id,
                activity=Activity(row.activity),
                occurred_at=row.occurred_at,
                quantity=row.quantity,
                unit=Unit(row.unit),
                status=UsageStatus(row.status),
                contract_id=row.contract_id,
                product_code=row.product_code,
                unit_price_cents=row.unit_price_cents,
                overage=row.overage,
                case_id=row.case_id,
                invoice_id=row.invoice_id,
                invoice_number=row.invoice_number,
                source_event_id=row.source_event_id,
            )
            for row in usage
        ],
        activity=[
            PersonActivity(
                source_event_id=row.source_event_id,
                tenant_id=row.tenant_id,
                event_type=row.event_type,
                occurred_at=row.occurred_at,
                received_at=row.received_at,
                facts=dict(row.data),
            )
            for row in sorted(activity.values(), key=lambda row: (row.occurred_at, str(row.source_event_id)))
        ],
    )


# -- retention ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionReport:
    """What the retention job took the pseudonym out of (or, in a dry run, would): rows, not people."""

    cutoff: datetime
    usage: int
    activity: int
    dry_run: bool


def _usage_due(cutoff: datetime) -> ColumnElement[bool]:
    return (USAGE.c.occurred_at < cutoff) & USAGE.c.client_ref.is_not(None)


def _activity_due(cutoff: datetime) -> ColumnElement[bool]:
    has_pseudonym: ColumnElement[bool] = BILLABLE_ACTIVITY.c.data.has_key(CLIENT_REF)
    return (BILLABLE_ACTIVITY.c.occurred_at < cutoff) & has_pseudonym


async def apply_retention(
    *, uow: UnitOfWorkFactory, retention_days: int, now: datetime | None = None, dry_run: bool = False
) -> RetentionReport:
    """Drop the person's pseudonym from usage and kept activity older than the retention period.

    Exactly what erasure does (``metering.forget_client``), by age instead of by request: quantities, prices,
    contracts, invoices and case ids (a trajectory's pseudonymous reference on the invoice) stay, so every
    amount can still be explained. What goes is the count of different people behind an old invoice's usage
    statement: it is suppressed from then on, as any count under k is.
    """
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    async with uow() as work:
        session = work.session
        usage = int(await session.scalar(select(func.count()).where(_usage_due(cutoff))) or 0)
        activity = int(await session.scalar(select(func.count()).where(_activity_due(cutoff))) or 0)
        if not dry_run:
            await session.execute(
                update(USAGE).where(_usage_due(cutoff)).values(client_ref=None, updated_at=func.now())
            )
            await session.execute(
                update(BILLABLE_ACTIVITY)
                .where(_activity_due(cutoff))
                .values(data=BILLABLE_ACTIVITY.c.data.op("-")(CLIENT_REF))
            )
            await work.commit()
    return RetentionReport(cutoff=cutoff, usage=usage, activity=activity, dry_run=dry_run)
