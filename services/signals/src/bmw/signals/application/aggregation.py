"""Turning other services' events into anonymised weekly aggregates (DESIGN §3 signals).

Every handler runs in the consumer's transaction together with its inbox row, so an event changes the
counts exactly once however often it is delivered. Nothing stored here names a person: a referral is a
unit, a category and a week. The one pseudonym kept, the ``client_ref`` of a case's referral, exists so
that a withdrawn "anonymised statistics" consent or an erasure can take that person's referrals out of
the counts again; it is forgotten with them.
"""

from __future__ import annotations

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import UsageRecorded
from bmw.contracts.events.intake import CaseEscalated, CaseOpened, ClientErased, ConsentChanged, ReferralReceived
from bmw.contracts.events.scheduling import (
    AppointmentBooked,
    AppointmentCompleted,
    AppointmentNoShow,
    IntakeUnschedulable,
    SecondmentHoursLogged,
    WorkshopCompleted,
    WorkshopScheduled,
)
from bmw.contracts.taxonomy import AppointmentKind
from bmw.servicekit.uow import UnitOfWork
from bmw.signals.adapters import aggregates
from bmw.signals.adapters.contracts import record_usage
from bmw.signals.domain.weeks import week_start

STATISTICS_PURPOSE = "anonymised_statistics"


async def on_referral(uow: UnitOfWork, event: CloudEvent, data: ReferralReceived) -> None:
    """Count a referral in the week it was made (an integration's history keeps its original date); a new count
    marks the tenant for detection."""
    await aggregates.count_referral(
        uow.session,
        tenant_id=event.tenantid,
        referral_id=data.referral_id,
        org_unit_id=data.org_unit_id,
        category=data.category.value,
        week=week_start(data.received_at),
    )


async def on_case_opened(uow: UnitOfWork, event: CloudEvent, data: CaseOpened) -> None:
    """Link the referral to its person's pseudonym; a person who opted out is not counted."""
    await aggregates.remember_case(
        uow.session,
        tenant_id=event.tenantid,
        case_id=data.case_id,
        org_unit_id=data.org_unit_id,
        category=data.category.value,
    )
    await aggregates.link_person(
        uow.session, tenant_id=event.tenantid, referral_id=data.referral_id, client_ref=data.client_ref
    )
    opted_out = await aggregates.has_opted_out(uow.session, tenant_id=event.tenantid, client_ref=data.client_ref)
    if opted_out and await aggregates.uncount_person(uow.session, tenant_id=event.tenantid, client_ref=data.client_ref):
        await aggregates.mark_dirty(uow.session, event.tenantid)


async def on_consent_changed(uow: UnitOfWork, event: CloudEvent, data: ConsentChanged) -> None:
    """A withdrawn consent to anonymised statistics takes the person's referrals out of every aggregate
    from now on (signals already raised keep their evidence: numbers, not people); a new grant counts
    the person's future referrals again."""
    if data.purpose != STATISTICS_PURPOSE:
        return
    session, tenant = uow.session, event.tenantid
    await aggregates.set_opt_out(session, tenant_id=tenant, client_ref=data.client_ref, opted_out=not data.granted)
    if not data.granted and await aggregates.uncount_person(session, tenant_id=tenant, client_ref=data.client_ref):
        await aggregates.mark_dirty(session, tenant)


async def on_client_erased(uow: UnitOfWork, event: CloudEvent, data: ClientErased) -> None:
    """Forget the person: their referrals leave the counts and their pseudonym leaves this database."""
    session, tenant = uow.session, event.tenantid
    removed = await aggregates.uncount_person(session, tenant_id=tenant, client_ref=data.client_ref)
    await aggregates.set_opt_out(session, tenant_id=tenant, client_ref=data.client_ref, opted_out=False)
    if removed:
        await aggregates.mark_dirty(session, tenant)


async def on_appointment_booked(uow: UnitOfWork, event: CloudEvent, data: AppointmentBooked) -> None:
    """Manager consultations are counted per topic when booked: repeated demand is a commercial trigger."""
    if data.kind is not AppointmentKind.MANAGER_CONSULTATION:
        return
    topic = data.topic.value if data.topic is not None else ""
    await aggregates.add_metric(
        uow.session,
        tenant_id=event.tenantid,
        week=week_start(data.start),
        metric="manager_consultations",
        dimension=topic,
    )
    await aggregates.mark_dirty(uow.session, event.tenantid)


async def _appointment_metric(
    uow: UnitOfWork, event: CloudEvent, data: AppointmentCompleted | AppointmentNoShow, metric: str
) -> None:
    unit = await aggregates.case_unit(uow.session, data.case_id)
    await aggregates.add_metric(
        uow.session,
        tenant_id=event.tenantid,
        week=week_start(data.start),
        metric=metric,
        dimension=str(unit) if unit is not None else "",
    )


async def on_appointment_completed(uow: UnitOfWork, event: CloudEvent, data: AppointmentCompleted) -> None:
    await _appointment_metric(uow, event, data, "appointments_completed")


async def on_no_show(uow: UnitOfWork, event: CloudEvent, data: AppointmentNoShow) -> None:
    await _appointment_metric(uow, event, data, "no_shows")


async def on_unschedulable(uow: UnitOfWork, event: CloudEvent, data: IntakeUnschedulable) -> None:
    """An intake no worker could take within the SLA: the raw material of a capacity-shortfall signal."""
    unit = await aggregates.case_unit(uow.session, data.case_id)
    await aggregates.add_metric(
        uow.session,
        tenant_id=event.tenantid,
        week=week_start(event.time),
        metric="unschedulable_intakes",
        dimension=str(unit) if unit is not None else "",
    )
    await aggregates.mark_dirty(uow.session, event.tenantid)


async def on_escalated(uow: UnitOfWork, event: CloudEvent, data: CaseEscalated) -> None:
    unit = await aggregates.case_unit(uow.session, data.case_id)
    await aggregates.add_metric(
        uow.session,
        tenant_id=event.tenantid,
        week=week_start(event.time),
        metric="escalations",
        dimension=str(unit) if unit is not None else "",
    )
    await aggregates.mark_dirty(uow.session, event.tenantid)


async def on_workshop_scheduled(uow: UnitOfWork, event: CloudEvent, data: WorkshopScheduled) -> None:
    """Workshop demand by theme: sessions planned and the registrations they had when planned."""
    week = week_start(data.start)
    await aggregates.add_metric(
        uow.session, tenant_id=event.tenantid, week=week, metric="workshops_scheduled", dimension=data.theme.value
    )


async def on_workshop_completed(uow: UnitOfWork, event: CloudEvent, data: WorkshopCompleted) -> None:
    week = week_start(data.start)
    session, tenant = uow.session, event.tenantid
    await aggregates.add_metric(
        session, tenant_id=tenant, week=week, metric="workshops_delivered", dimension=data.theme.value
    )
    await aggregates.add_metric(
        session,
        tenant_id=tenant,
        week=week,
        metric="workshop_participants",
        dimension=data.theme.value,
        delta=data.participants_count,
    )


async def on_secondment_hours(uow: UnitOfWork, event: CloudEvent, data: SecondmentHoursLogged) -> None:
    await aggregates.log_secondment_day(
        uow.session, tenant_id=event.tenantid, worker_id=data.worker_id, day=data.date, hours=data.hours
    )


async def on_usage(uow: UnitOfWork, event: CloudEvent, data: UsageRecorded) -> None:
    await record_usage(uow.session, event.tenantid, data)
