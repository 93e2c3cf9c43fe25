"""Events billing consumes: what it will meter."""

from __future__ import annotations

from bmw.billing.application.metering import record_activity
from bmw.contracts.events import intake, scheduling
from bmw.servicekit.messaging import ConsumerGroup

BILLABLE_EVENTS = (
    intake.CaseOpened,
    scheduling.AppointmentCompleted,
    scheduling.AppointmentCancelled,
    scheduling.AppointmentNoShow,
    scheduling.WorkshopCompleted,
    scheduling.SecondmentHoursLogged,
)


def consumer_groups() -> list[ConsumerGroup]:
    group = ConsumerGroup(name="billing", topics=("bmw.intake.events", "bmw.scheduling.events"))
    for model in BILLABLE_EVENTS:
        group.on(model)(record_activity)
    return [group]
