"""Secondment observations: what a seconded social worker sees of an org unit (DESIGN §3 signals, issue 6).

A social worker on site at a client organisation (*gedetacheerd*) records bottlenecks as codes
("unclear communication about the reorganisation", "managers avoid individual talks"), per org unit, with a
severity: structured and non-personal, so that nothing recorded here can name someone. They count as evidence
beside the referral aggregates: the detectors attach recent ones that support a signal's kind
(:func:`recent_observations`), and recording one re-runs the organisation's detectors.

The client organisation's contacts see the observations about their organisation, without who recorded them
(the worker's own judgement is the provider's, and a name invites a conversation about a person).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.taxonomy import Role, SignalKind
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import FieldError, InvalidInput
from bmw.servicekit.idempotency import Idempotency, claim, remember
from bmw.servicekit.tenants import org_unit_exists, org_unit_names
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.adapters.aggregates import mark_dirty
from bmw.signals.adapters.tables import IDEMPOTENCY_KEYS, SECONDMENT_OBSERVATIONS
from bmw.signals.application.actions import monday, today_in_amsterdam
from bmw.signals.domain.codes import BOTTLENECK_SUPPORTS, Bottleneck

#: How far back an observation may be recorded: it is evidence about the present, not a history import.
MAX_DAYS_BACK = 366
SEVERITIES = range(1, 4)

READERS = (Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.CLIENT_CONTACT)
#: Who sees which worker recorded an observation.
RECORDER_VISIBLE_TO = (Role.SOCIAL_WORKER, Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER)


@dataclass(frozen=True)
class RecordObservation:
    """Record a bottleneck a seconded social worker observed in an org unit on a day, severity 1 to 3."""

    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    bottleneck: Bottleneck
    observed_on: date
    severity: int


@dataclass(frozen=True)
class Observation:
    """A recorded observation; ``recorded_by`` is None for a caller who may not see it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    org_unit_id: uuid.UUID
    org_unit_name: str | None
    bottleneck: Bottleneck
    observed_on: date
    severity: int
    recorded_by: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class ObservationRow:
    """An observation as the detectors use it: the unit, the code, the week (Monday) and the severity."""

    org_unit_id: uuid.UUID
    bottleneck: Bottleneck
    week: date
    severity: int

    @property
    def supports(self) -> frozenset[SignalKind]:
        """The signal kinds this observation is evidence for."""
        return BOTTLENECK_SUPPORTS.get(self.bottleneck, frozenset())


def _problems(command: RecordObservation, today: date) -> list[FieldError]:
    problems = []
    if command.observed_on > today:
        problems.append(FieldError(path="body.observed_on", message="must not lie in the future"))
    elif command.observed_on < today - timedelta(days=MAX_DAYS_BACK):
        problems.append(
            FieldError(path="body.observed_on", message=f"must not lie more than {MAX_DAYS_BACK} days back")
        )
    if command.severity not in SEVERITIES:
        problems.append(FieldError(path="body.severity", message="must be 1 (noticeable), 2 (clear) or 3 (severe)"))
    return problems


def _observation(row: Row[Any], names: dict[uuid.UUID, str], *, with_recorder: bool) -> Observation:
    return Observation(
        id=row.id,
        tenant_id=row.tenant_id,
        org_unit_id=row.org_unit_id,
        org_unit_name=names.get(row.org_unit_id),
        bottleneck=Bottleneck(row.bottleneck),
        observed_on=row.observed_on,
        severity=row.severity,
        recorded_by=row.recorded_by if with_recorder else None,
        recorded_at=row.recorded_at,
    )


async def record_observation(
    command: RecordObservation,
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    idempotency: Idempotency | None = None,
    render: Callable[[Observation], dict[str, Any]],
    today: date | None = None,
) -> dict[str, Any]:
    """Store the observation (social workers only) and have the organisation's detectors re-run.

    With an ``Idempotency-Key`` a repeat of the same request returns the first answer and records nothing.
    """
    principal.require_role(Role.SOCIAL_WORKER)
    principal.require_tenant(command.tenant_id)
    problems = _problems(command, today or today_in_amsterdam())
    async with uow(tenant_id=command.tenant_id) as work:
        session = work.session
        if idempotency is not None:
            # First, so that a repeat gets the first answer even once the day lies too far back.
            answered = await claim(session, IDEMPOTENCY_KEYS, idempotency)
            if answered is not None:
                return answered
        if not await org_unit_exists(session, command.tenant_id, command.org_unit_id):
            problems.append(FieldError(path="body.org_unit_id", message="no org unit with this id in the organisation"))
        if problems:
            raise InvalidInput(f"invalid input: {', '.join(p.path for p in problems)}", fields=problems)
        stored = await session.execute(
            insert(SECONDMENT_OBSERVATIONS)
            .values(
                id=uuid.uuid4(),
                tenant_id=command.tenant_id,
                org_unit_id=command.org_unit_id,
                bottleneck=command.bottleneck.value,
                observed_on=command.observed_on,
                severity=command.severity,
                recorded_by=principal.subject,
            )
            .returning(*SECONDMENT_OBSERVATIONS.c)
        )
        row = stored.one()
        await mark_dirty(session, command.tenant_id)
        names = await org_unit_names(session, command.tenant_id)
        response = render(_observation(row, names, with_recorder=True))
        if idempotency is not None:
            await remember(session, IDEMPOTENCY_KEYS, idempotency, 201, response)
        await work.commit()
    return response


async def list_observations(
    *, tenant_id: uuid.UUID, principal: Principal, uow: UnitOfWorkFactory, since: date | None = None
) -> list[Observation]:
    """The organisation's observations, latest first; the recorder only for provider staff."""
    principal.require_role(*READERS)
    principal.require_tenant(tenant_id)
    # a token that also holds a tenant-bound role gets the client's view
    with_recorder = principal.has_role(*RECORDER_VISIBLE_TO) and not principal.has_role(
        Role.CLIENT_CONTACT, Role.INTEGRATION, Role.EMPLOYEE
    )
    query = select(SECONDMENT_OBSERVATIONS).where(SECONDMENT_OBSERVATIONS.c.tenant_id == tenant_id)
    if since is not None:
        query = query.where(SECONDMENT_OBSERVATIONS.c.observed_on >= since)
    async with uow(tenant_id=tenant_id) as work:
        names = await org_unit_names(work.session, tenant_id)
        rows = await work.session.execute(
            query.order_by(SECONDMENT_OBSERVATIONS.c.observed_on.desc(), SECONDMENT_OBSERVATIONS.c.recorded_at.desc())
        )
        return [_observation(row, names, with_recorder=with_recorder) for row in rows]


async def recent_observations(session: AsyncSession, tenant_id: uuid.UUID, since: date) -> list[ObservationRow]:
    """Observations on or after ``since`` for the detectors, oldest first."""
    rows = await session.execute(
        select(
            SECONDMENT_OBSERVATIONS.c.org_unit_id,
            SECONDMENT_OBSERVATIONS.c.bottleneck,
            SECONDMENT_OBSERVATIONS.c.observed_on,
            SECONDMENT_OBSERVATIONS.c.severity,
        )
        .where(SECONDMENT_OBSERVATIONS.c.tenant_id == tenant_id, SECONDMENT_OBSERVATIONS.c.observed_on >= since)
        .order_by(SECONDMENT_OBSERVATIONS.c.observed_on, SECONDMENT_OBSERVATIONS.c.id)
    )
    return [
        ObservationRow(org_unit_id=unit, bottleneck=Bottleneck(code), week=monday(day), severity=severity)
        for unit, code, day, severity in rows
    ]
