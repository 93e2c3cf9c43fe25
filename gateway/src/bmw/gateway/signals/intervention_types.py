"""GraphQL type of the provider's interventions catalogue: what an account manager can offer for a signal."""

from __future__ import annotations

import datetime as dt

import strawberry

from bmw.gateway.signals.bodies import InterventionBody
from bmw.gateway.signals.convert import euros
from bmw.gateway.signals.enums import ProductKind, SignalKind


@strawberry.type(
    description="An intervention of the provider's catalogue (a workshop series, team coaching, extra consultation "
    "hours, ...): what it is, which signal kinds it answers, and its list price."
)
class Intervention:
    code: str = strawberry.field(description="Stable code, used in opportunities (`recommended`, `wonIntervention`).")
    title_nl: str = strawberry.field(description="Title in Dutch.")
    title_en: str = strawberry.field(description="Title in English.")
    description: str = strawberry.field(description="What the client gets.")
    product_kind: ProductKind = strawberry.field(
        description="The contract product kind it is sold as; a client's contract price for that kind prices it."
    )
    quantity: str = strawberry.field(description="Units a typical offer holds (sessions, hours), a decimal string.")
    list_price_cents: int = strawberry.field(
        description="Price per unit in euro cents excluding VAT when the client's contract lacks the product kind."
    )
    list_price_euros: str = strawberry.field(description="The same list price in euros, a decimal string.")
    signal_kinds: list[SignalKind] = strawberry.field(description="The signal kinds it is recommended for.")
    rank: int = strawberry.field(description="Catalogue order: lower is recommended first among equally successful.")
    active: bool = strawberry.field(
        description="Only active interventions are recommended (provider admins also see inactive ones)."
    )
    updated_at: dt.datetime | None = strawberry.field(description="Last change (UTC).")

    @classmethod
    def of(cls, body: InterventionBody) -> Intervention:
        return cls(
            code=body.code,
            title_nl=body.title_nl,
            title_en=body.title_en,
            description=body.description,
            product_kind=body.product_kind,
            quantity=body.quantity,
            list_price_cents=body.list_price_cents,
            list_price_euros=euros(body.list_price_cents),
            signal_kinds=list(body.signal_kinds),
            rank=body.rank,
            active=body.active,
            updated_at=body.updated_at,
        )
