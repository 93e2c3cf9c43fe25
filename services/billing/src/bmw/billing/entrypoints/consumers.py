"""Events billing consumes: the billable activity it meters, bookings beyond an entitlement, and erasure."""

from __future__ import annotations

from bmw.billing.application.metering import forget_client, meter_event, remember_overage_booking
from bmw.contracts.events import intake, scheduling
from bmw.servicekit.messaging import ConsumerGroup

#: Events that may be billable under a client's contract (domain.metering decides what each meters to).
BILLABLE_EVENTS = (
    intake.CaseOpened,
    scheduling.AppointmentCompleted,
    scheduling.AppointmentCancelled,
    scheduling.AppointmentNoShow,
    scheduling.WorkshopCompleted,
    scheduling.WorkshopCancelled,
    scheduling.SecondmentHoursLogged,
)


def consumer_groups() -> list[ConsumerGroup]:
    group = ConsumerGroup(name="billing", topics=("bmw.intake.events", "bmw.scheduling.events"))
    for model in BILLABLE_EVENTS:
        group.on(model)(meter_event)
    group.on(scheduling.AppointmentBooked)(remember_overage_booking)
    group.on(intake.ClientErased)(forget_client)
    return [group]
