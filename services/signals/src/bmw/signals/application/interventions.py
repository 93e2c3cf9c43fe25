"""The interventions catalogue, and the priced, ranked recommendations drawn from it for a signal.

Provider admins edit the catalogue; everyone else who works with signals reads it (employees do not). A
recommendation is priced from the tenant's *active* contract where it has a product of the intervention's
kind (``unit_price_cents × quantity``), from the catalogue's list price otherwise, and says which
(``priced_from``). Within a signal kind the interventions are ordered by what sold: the Laplace-smoothed win
rate ``(won + 1) / (won + lost + 2)`` of the opportunities of that kind that were won with the intervention
(or lost while it was recommended first), over all client organisations, then catalogue rank. The smoothing
keeps an intervention that was never offered at an even chance instead of zero, so that it is still tried.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Row, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.contracts.events.billing import ContractProduct
from bmw.contracts.taxonomy import OpportunityStage, ProductKind, Role, SignalKind
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, InvalidInput
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import whole_service_view
from bmw.signals.adapters.catalogue import CatalogueEntry, default_for
from bmw.signals.adapters.tables import CONTRACTS, INTERVENTIONS, OPPORTUNITIES
from bmw.signals.domain.weeks import AMSTERDAM

#: Every role that works with signals reads the catalogue; an employee has no business with it.
READER_ROLES = (Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER, Role.SOCIAL_WORKER, Role.CLIENT_CONTACT, Role.INTEGRATION)

#: Fees are what a client pays for a missed appointment, not something an account manager offers.
NOT_SOLD_AS_INTERVENTION = frozenset({ProductKind.LATE_CANCELLATION_FEE, ProductKind.NO_SHOW_FEE})

LIST_PRICE = "list_price"

#: A kind a newer version stored that this one does not know is skipped rather than failing the read.
_KNOWN_KINDS = frozenset(kind.value for kind in SignalKind)


@dataclass(frozen=True)
class Intervention(CatalogueEntry):
    """One intervention of the catalogue as stored. ``updated_at`` is None only for the built-in default."""

    active: bool
    updated_at: datetime | None


@dataclass(frozen=True)
class PricedIntervention:
    """An intervention at the tenant's price, with the track record that ranks it."""

    intervention: Intervention
    unit_price_cents: int
    price_cents: int
    priced_from: str
    """``contract:<product code>`` or ``list_price``."""
    won: int
    lost: int

    @property
    def code(self) -> str:
        return self.intervention.code

    @property
    def win_rate(self) -> float:
        """Laplace-smoothed: (won + 1) / (won + lost + 2)."""
        return smoothed_win_rate(self.won, self.lost)


@dataclass(frozen=True)
class PutIntervention:
    """Create or replace one intervention of the catalogue."""

    code: str
    title_nl: str
    title_en: str
    description: str
    product_kind: ProductKind
    quantity: Decimal
    list_price_cents: int
    signal_kinds: tuple[SignalKind, ...]
    rank: int
    active: bool = True


# -- pure rules ---------------------------------------------------------------------------------------------


def smoothed_win_rate(won: int, lost: int) -> float:
    """Laplace's rule of succession: an untried intervention starts at 1/2, not at 0 or 1."""
    return (won + 1) / (won + lost + 2)


def price(intervention: Intervention, product: ContractProduct | None) -> tuple[int, int, str]:
    """(unit price, total, priced_from) of an intervention at a contract product's price or its list price.

    An hour bundle is priced at the bundle's own hourly price; only a bundle without one (prepaid at zero) falls
    back to its overage rate. Totals are rounded half up to whole cents.
    """
    if product is None:
        unit, source = intervention.list_price_cents, LIST_PRICE
    else:
        unit, source = product.unit_price_cents, f"contract:{product.code}"
        if product.kind is ProductKind.HOUR_BUNDLE and unit == 0 and product.overage_unit_price_cents:
            unit = product.overage_unit_price_cents
    total = (Decimal(unit) * intervention.quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return unit, int(total), source


def contract_products(
    contracts: Iterable[tuple[date, date, Sequence[ContractProduct]]], today: date
) -> dict[ProductKind, ContractProduct]:
    """The product per kind the tenant buys now: a contract running today wins over one that starts later,
    a later start over an earlier one (a renewal already agreed)."""
    ordered = sorted(contracts, key=lambda c: (not (c[0] <= today <= c[1]), -c[0].toordinal()))
    found: dict[ProductKind, ContractProduct] = {}
    for _start, _end, products in ordered:
        for product in products:
            found.setdefault(product.kind, product)
    return found


def rank_key(priced: PricedIntervention) -> tuple[float, int, str]:
    """Best first: higher smoothed win rate, then catalogue rank, then code (a stable order)."""
    return (-priced.win_rate, priced.intervention.rank, priced.code)


# -- reading ------------------------------------------------------------------------------------------------


def _intervention(row: Row[Any]) -> Intervention:
    return Intervention(
        code=row.code,
        title_nl=row.title_nl,
        title_en=row.title_en,
        description=row.description,
        product_kind=ProductKind(row.product_kind),
        quantity=Decimal(row.quantity),
        list_price_cents=row.list_price_cents,
        signal_kinds=tuple(SignalKind(kind) for kind in row.signal_kinds if kind in _KNOWN_KINDS),
        rank=row.rank,
        active=row.active,
        updated_at=row.updated_at,
    )


async def tenant_products(session: AsyncSession, tenant_id: uuid.UUID) -> dict[ProductKind, ContractProduct]:
    """The products of the tenant's active contracts (signals' read copy of billing's), one per kind."""
    rows = await session.execute(
        select(CONTRACTS.c.period_start, CONTRACTS.c.period_end, CONTRACTS.c.products).where(
            CONTRACTS.c.tenant_id == tenant_id, CONTRACTS.c.status == "active"
        )
    )
    contracts = [
        (row.period_start, row.period_end, [ContractProduct.model_validate(p) for p in row.products]) for row in rows
    ]
    return contract_products(contracts, datetime.now(AMSTERDAM).date())


async def track_record(session: AsyncSession, kind: SignalKind) -> dict[str, tuple[int, int]]:
    """(won, lost) per intervention code among the closed opportunities of a signal kind, all tenants.

    Counted across every client organisation whoever asks (an account manager's walls reach only their portfolio):
    the result is counts per intervention code, naming no organisation.
    """
    # PostgreSQL arrays count from 1: recommended[1] is what was offered first.
    first = OPPORTUNITIES.c.recommended[1]
    async with whole_service_view(session):
        won = (
            await session.execute(
                select(OPPORTUNITIES.c.won_intervention, func.count())
                .where(OPPORTUNITIES.c.kind == kind.value, OPPORTUNITIES.c.stage == OpportunityStage.WON.value)
                .group_by(OPPORTUNITIES.c.won_intervention)
            )
        ).all()
        lost = (
            await session.execute(
                select(first, func.count())
                .where(OPPORTUNITIES.c.kind == kind.value, OPPORTUNITIES.c.stage == OpportunityStage.LOST.value)
                .group_by(first)
            )
        ).all()
    record: dict[str, tuple[int, int]] = {}
    for code, count in won:
        if code is not None:
            record[code] = (count, 0)
    for code, count in lost:
        if code is not None:
            record[code] = (record.get(code, (0, 0))[0], count)
    return record


def _priced(
    intervention: Intervention, products: Mapping[ProductKind, ContractProduct], record: Mapping[str, tuple[int, int]]
) -> PricedIntervention:
    unit, total, source = price(intervention, products.get(intervention.product_kind))
    won, lost = record.get(intervention.code, (0, 0))
    return PricedIntervention(intervention, unit, total, source, won, lost)


async def priced_recommendations(
    session: AsyncSession, tenant_id: uuid.UUID, kind: SignalKind
) -> list[PricedIntervention]:
    """The active interventions for a signal kind at the tenant's prices, best first (see the module docs)."""
    rows = await session.execute(
        select(INTERVENTIONS).where(INTERVENTIONS.c.active.is_(True), INTERVENTIONS.c.signal_kinds.any_() == kind.value)
    )
    interventions = [_intervention(row) for row in rows]
    if not interventions:
        return []
    products = await tenant_products(session, tenant_id)
    record = await track_record(session, kind)
    return sorted((_priced(i, products, record) for i in interventions), key=rank_key)


async def recommendations_for(
    session: AsyncSession, tenant_id: uuid.UUID, kind: SignalKind
) -> list[PricedIntervention]:
    """Like :func:`priced_recommendations`, never empty: without an active intervention for the kind, the
    catalogue's first for it (even if inactive), else the built-in default's."""
    priced = await priced_recommendations(session, tenant_id, kind)
    if priced:
        return priced
    row = (
        await session.execute(
            select(INTERVENTIONS)
            .where(INTERVENTIONS.c.signal_kinds.any_() == kind.value)
            .order_by(INTERVENTIONS.c.rank, INTERVENTIONS.c.code)
            .limit(1)
        )
    ).first()
    if row is not None:
        intervention = _intervention(row)
    else:
        entry = default_for(kind)
        intervention = Intervention(
            code=entry.code,
            title_nl=entry.title_nl,
            title_en=entry.title_en,
            description=entry.description,
            product_kind=entry.product_kind,
            quantity=entry.quantity,
            list_price_cents=entry.list_price_cents,
            signal_kinds=entry.signal_kinds,
            rank=entry.rank,
            active=True,
            updated_at=None,
        )
    products = await tenant_products(session, tenant_id)
    return [_priced(intervention, products, await track_record(session, kind))]


async def priced_codes(
    session: AsyncSession, tenant_id: uuid.UUID, kind: SignalKind, codes: Sequence[str]
) -> list[PricedIntervention]:
    """The given interventions (an opportunity's recommendations) at the tenant's current prices, in that order."""
    rows = await session.execute(select(INTERVENTIONS).where(INTERVENTIONS.c.code.in_(list(codes))))
    by_code = {row.code: _intervention(row) for row in rows}
    products = await tenant_products(session, tenant_id)
    record = await track_record(session, kind)
    return [_priced(by_code[code], products, record) for code in codes if code in by_code]


async def list_interventions(
    *, principal: Principal, uow: UnitOfWorkFactory, signal_kind: SignalKind | None = None
) -> list[Intervention]:
    """The catalogue in rank order; inactive interventions only for provider admins."""
    principal.require_role(*READER_ROLES)
    query = select(INTERVENTIONS).order_by(INTERVENTIONS.c.rank, INTERVENTIONS.c.code)
    if not principal.has_role(Role.PROVIDER_ADMIN):
        query = query.where(INTERVENTIONS.c.active.is_(True))
    if signal_kind is not None:
        query = query.where(INTERVENTIONS.c.signal_kinds.any_() == signal_kind.value)
    async with uow() as work:
        rows = await work.session.execute(query)
        return [_intervention(row) for row in rows]


# -- editing ------------------------------------------------------------------------------------------------


def _problems(command: PutIntervention) -> list[FieldError]:
    problems = []
    if command.product_kind in NOT_SOLD_AS_INTERVENTION:
        problems.append(
            FieldError(path="body.product_kind", message="a fee is not sold as an intervention; choose a product kind")
        )
    if not command.signal_kinds:
        problems.append(FieldError(path="body.signal_kinds", message="name at least one signal kind"))
    elif len(set(command.signal_kinds)) != len(command.signal_kinds):
        problems.append(FieldError(path="body.signal_kinds", message="names a signal kind twice"))
    if command.quantity <= 0:
        problems.append(FieldError(path="body.quantity", message="must be greater than zero"))
    if command.list_price_cents < 0:
        problems.append(FieldError(path="body.list_price_cents", message="cannot be negative"))
    return problems


async def _covered_kinds(session: AsyncSession) -> set[str]:
    rows = await session.execute(
        select(func.unnest(INTERVENTIONS.c.signal_kinds)).where(INTERVENTIONS.c.active.is_(True)).distinct()
    )
    return {kind for (kind,) in rows}


async def put_intervention(
    command: PutIntervention, *, principal: Principal, uow: UnitOfWorkFactory
) -> tuple[Intervention, bool]:
    """Create or replace an intervention (provider admins); True when it was created.

    Refused (409) when the change would leave a signal kind without any active intervention: an opportunity
    must always have something to recommend.
    """
    principal.require_role(Role.PROVIDER_ADMIN)
    problems = _problems(command)
    if problems:
        raise InvalidInput("the intervention is not valid: " + "; ".join(p.message for p in problems), fields=problems)
    values = {
        "title_nl": command.title_nl,
        "title_en": command.title_en,
        "description": command.description,
        "product_kind": command.product_kind.value,
        "quantity": command.quantity,
        "list_price_cents": command.list_price_cents,
        "signal_kinds": [kind.value for kind in command.signal_kinds],
        "rank": command.rank,
        "active": command.active,
    }
    async with uow() as work:
        session = work.session
        # Catalogue edits are rare: serialising them keeps the coverage check below true under concurrency.
        await session.execute(text("LOCK TABLE interventions IN SHARE ROW EXCLUSIVE MODE"))
        before = await _covered_kinds(session)
        result = await session.execute(
            insert(INTERVENTIONS)
            .values(code=command.code, **values)
            .on_conflict_do_update(index_elements=[INTERVENTIONS.c.code], set_={**values, "updated_at": func.now()})
            .returning(*INTERVENTIONS.c, literal_column("(xmax = 0)").label("created"))
        )
        row = result.one()
        uncovered = sorted(before - await _covered_kinds(session))
        if uncovered:
            raise Conflict(
                "no active intervention would be left for: " + ", ".join(uncovered),
                signal_kinds=uncovered,
            )
        await work.commit()
    return _intervention(row), bool(row.created)
