"""Events signals consumes into its anonymised aggregates."""

from __future__ import annotations

from bmw.contracts.events.intake import ReferralReceived
from bmw.servicekit.messaging import ConsumerGroup
from bmw.servicekit.tenants import register_tenant_directory
from bmw.signals.application.trends import record_referral


def consumer_groups() -> list[ConsumerGroup]:
    group = ConsumerGroup(name="signals", topics=("bmw.intake.events", "bmw.billing.events"))
    register_tenant_directory(group)
    group.on(ReferralReceived)(record_referral)
    return [group]
