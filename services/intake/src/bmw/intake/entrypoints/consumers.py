"""Events intake consumes: client organisations (to validate org units) and what scheduling did."""

from __future__ import annotations

from bmw.contracts.events.scheduling import AppointmentBooked, AppointmentCompleted, IntakeUnschedulable
from bmw.intake.application.cases import on_appointment_booked, on_appointment_completed, on_intake_unschedulable
from bmw.servicekit.messaging import ConsumerGroup
from bmw.servicekit.tenants import register_tenant_directory


def consumer_groups() -> list[ConsumerGroup]:
    group = ConsumerGroup(name="intake", topics=("bmw.billing.events", "bmw.scheduling.events"))
    register_tenant_directory(group)
    group.on(AppointmentBooked)(on_appointment_booked)
    group.on(IntakeUnschedulable)(on_intake_unschedulable)
    group.on(AppointmentCompleted)(on_appointment_completed)
    return [group]
