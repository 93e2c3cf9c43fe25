"""Per-request DataLoaders of billing data, so that a list costs a bounded number of billing calls.

They live on the request's context, created on first use: a loader's cache holds what one caller
may see and dies with the request (never shared across requests or tenants). Where billing has a
list route (organisations, contracts), a batch of keys costs one call; where it has only a route
per item (usage, documents), the loader asks for each distinct key once, concurrently.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from bmw.gateway.billing.client import (
    BillingApi,
    ClientOrganisationBody,
    ContractBody,
    ContractUsageBody,
    UsageStatementBody,
)
from bmw.gateway.context import GatewayInfo
from bmw.gateway.loading import each_concurrently
from bmw.servicekit.errors import NotFound


@dataclass(frozen=True)
class BillingLoaders:
    """The billing loaders of one GraphQL request."""

    api: BillingApi
    #: Client organisations by tenant id.
    organisations: DataLoader[uuid.UUID, ClientOrganisationBody]
    #: Every contract of a client organisation, by tenant id.
    contracts: DataLoader[uuid.UUID, list[ContractBody]]
    #: A contract's usage over its whole period, by contract id.
    contract_usage: DataLoader[uuid.UUID, ContractUsageBody]
    #: An issued invoice's UBL XML, by invoice id.
    ubl_xml: DataLoader[uuid.UUID, str]
    #: An invoice's HTML rendering, by invoice id.
    html: DataLoader[uuid.UUID, str]
    #: The usage statement behind an invoice, by invoice id.
    usage_statements: DataLoader[uuid.UUID, UsageStatementBody]

    @classmethod
    def of(cls, api: BillingApi) -> BillingLoaders:
        """Fresh loaders over ``api``."""

        async def organisations(keys: list[uuid.UUID]) -> Sequence[ClientOrganisationBody | BaseException]:
            if len(keys) == 1:
                found = await api.client_organisation(keys[0])
                return [found if found.id == keys[0] else NotFound("client organisation not found")]
            # One call for the lot: billing lists exactly those the caller may see.
            visible = {organisation.id: organisation for organisation in await api.client_organisations()}
            return [visible.get(key) or NotFound("client organisation not found") for key in keys]

        async def contracts(keys: list[uuid.UUID]) -> Sequence[list[ContractBody]]:
            if len(keys) == 1:
                # Billing filters by tenant; the gateway does not rely on it alone.
                return [[contract for contract in await api.contracts(keys[0]) if contract.tenant_id == keys[0]]]
            by_tenant: dict[uuid.UUID, list[ContractBody]] = defaultdict(list)
            for contract in await api.contracts():
                by_tenant[contract.tenant_id].append(contract)
            return [by_tenant.get(key, []) for key in keys]

        return cls(
            api=api,
            organisations=DataLoader(load_fn=organisations),
            contracts=DataLoader(load_fn=contracts),
            contract_usage=DataLoader(load_fn=each_concurrently(api.contract_usage)),
            ubl_xml=DataLoader(load_fn=each_concurrently(api.ubl_xml)),
            html=DataLoader(load_fn=each_concurrently(api.html)),
            usage_statements=DataLoader(load_fn=each_concurrently(api.usage_statement)),
        )


def billing_loaders(info: GatewayInfo) -> BillingLoaders:
    """The loaders of this request, made on first use."""
    return info.context.per_request(BillingLoaders, lambda request: BillingLoaders.of(BillingApi(request.billing)))
