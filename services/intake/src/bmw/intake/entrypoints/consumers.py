"""Events intake consumes: the client organisations (from billing) for validating org units."""

from __future__ import annotations

from bmw.servicekit.messaging import ConsumerGroup
from bmw.servicekit.tenants import register_tenant_directory


def consumer_groups() -> list[ConsumerGroup]:
    group = ConsumerGroup(name="intake", topics=("bmw.billing.events",))
    register_tenant_directory(group)
    return [group]
