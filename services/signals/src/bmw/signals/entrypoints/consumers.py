"""Events signals consumes into its anonymised aggregates, its contracts copy and its commercial triggers."""

from __future__ import annotations

from bmw.contracts.events.billing import (
    ContractActivated,
    ContractEnded,
    ContractExpiring,
    ContractThresholdReached,
    UsageRecorded,
)
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
from bmw.servicekit.messaging import ConsumerGroup
from bmw.servicekit.tenants import register_tenant_directory
from bmw.signals.application import aggregation, commercial


def consumer_groups() -> list[ConsumerGroup]:
    group = ConsumerGroup(name="signals", topics=("bmw.intake.events", "bmw.scheduling.events", "bmw.billing.events"))
    register_tenant_directory(group)
    group.on(ReferralReceived)(aggregation.on_referral)
    group.on(CaseOpened)(aggregation.on_case_opened)
    group.on(ConsentChanged)(aggregation.on_consent_changed)
    group.on(ClientErased)(aggregation.on_client_erased)
    group.on(CaseEscalated)(aggregation.on_escalated)
    group.on(AppointmentBooked)(aggregation.on_appointment_booked)
    group.on(AppointmentCompleted)(aggregation.on_appointment_completed)
    group.on(AppointmentNoShow)(aggregation.on_no_show)
    group.on(IntakeUnschedulable)(aggregation.on_unschedulable)
    group.on(WorkshopScheduled)(aggregation.on_workshop_scheduled)
    group.on(WorkshopCompleted)(aggregation.on_workshop_completed)
    group.on(SecondmentHoursLogged)(aggregation.on_secondment_hours)
    group.on(UsageRecorded)(aggregation.on_usage)
    group.on(ContractActivated)(commercial.on_contract_activated)
    group.on(ContractEnded)(commercial.on_contract_ended)
    group.on(ContractThresholdReached)(commercial.on_threshold_reached)
    group.on(ContractExpiring)(commercial.on_expiring)
    return [group]
