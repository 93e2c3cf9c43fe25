"""Events scheduling consumes."""

from __future__ import annotations

from bmw.contracts.events.billing import ContractActivated, ContractEnded
from bmw.contracts.events.intake import CaseOpened, ClientErased
from bmw.scheduling.application.appointments import auto_schedule
from bmw.scheduling.application.entitlements import end_contract, remember_contract
from bmw.scheduling.application.persons import forget_person
from bmw.servicekit.messaging import ConsumerGroup
from bmw.servicekit.tenants import register_tenant_directory


def consumer_groups() -> list[ConsumerGroup]:
    group = ConsumerGroup(name="scheduling", topics=("bmw.intake.events", "bmw.billing.events"))
    register_tenant_directory(group)
    group.on(CaseOpened)(auto_schedule)
    group.on(ClientErased)(forget_person)
    group.on(ContractActivated)(remember_contract)
    group.on(ContractEnded)(end_contract)
    return [group]
