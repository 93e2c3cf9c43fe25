"""Events scheduling consumes."""

from __future__ import annotations

from bmw.contracts.events.intake import CaseOpened
from bmw.scheduling.application.workers import record_case_opened
from bmw.servicekit.messaging import ConsumerGroup
from bmw.servicekit.tenants import register_tenant_directory


def consumer_groups() -> list[ConsumerGroup]:
    group = ConsumerGroup(name="scheduling", topics=("bmw.intake.events", "bmw.billing.events"))
    register_tenant_directory(group)
    group.on(CaseOpened)(record_case_opened)
    return [group]
