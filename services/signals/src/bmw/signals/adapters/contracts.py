"""Signals' read copy of billing's contracts and usage: pricing of interventions, the account view and
commercial triggers need them; billing stays the system of record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.events.billing import ContractActivated, ContractEnded, ContractProduct, UsageRecorded
from bmw.signals.adapters.tables import CONTRACT_USAGE, CONTRACTS


async def store_contract(
    session: AsyncSession, tenant_id: uuid.UUID, data: ContractActivated | ContractEnded, *, status: str
) -> None:
    products = [product.model_dump(mode="json") for product in data.products]
    values = {
        "products": products,
        "period_start": data.period_start,
        "period_end": data.period_end,
        "status": status,
    }
    await session.execute(
        insert(CONTRACTS)
        .values(id=data.contract_id, tenant_id=tenant_id, **values)
        .on_conflict_do_update(index_elements=[CONTRACTS.c.id], set_=values)
    )


async def record_usage(session: AsyncSession, tenant_id: uuid.UUID, data: UsageRecorded) -> None:
    await session.execute(
        insert(CONTRACT_USAGE)
        .values(
            usage_id=data.usage_id,
            tenant_id=tenant_id,
            contract_id=data.contract_id,
            product_code=data.product_code,
            quantity=data.quantity,
            occurred_at=data.occurred_at,
        )
        .on_conflict_do_nothing()
    )


@dataclass(frozen=True)
class ContractCopy:
    id: uuid.UUID
    products: tuple[ContractProduct, ...]
    period_start: date
    period_end: date
    status: str

    def product(self, code: str) -> ContractProduct | None:
        return next((product for product in self.products if product.code == code), None)


async def contract(session: AsyncSession, contract_id: uuid.UUID) -> ContractCopy | None:
    row = (await session.execute(select(CONTRACTS).where(CONTRACTS.c.id == contract_id))).first()
    if row is None:
        return None
    return ContractCopy(
        id=row.id,
        products=tuple(ContractProduct.model_validate(product) for product in row.products),
        period_start=row.period_start,
        period_end=row.period_end,
        status=row.status,
    )
