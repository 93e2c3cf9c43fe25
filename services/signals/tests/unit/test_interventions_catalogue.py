"""The default interventions catalogue, the migration's inlined seed of it, and how recommendations are priced."""

from __future__ import annotations

import importlib
import re
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bmw.contracts.events.billing import ContractProduct
from bmw.contracts.taxonomy import ProductKind, SignalKind, VatRate
from bmw.signals.adapters.catalogue import DEFAULT_INTERVENTIONS, default_for
from bmw.signals.application.interventions import (
    NOT_SOLD_AS_INTERVENTION,
    Intervention,
    PricedIntervention,
    contract_products,
    price,
    rank_key,
    smoothed_win_rate,
)

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def test_the_migration_seeds_exactly_the_default_catalogue() -> None:
    migration = importlib.import_module("bmw.signals.migrations.versions.0003_signals_domain")
    seeded = migration.INTERVENTIONS_SEED
    assert seeded == [entry.as_row() for entry in DEFAULT_INTERVENTIONS]


def test_every_signal_kind_has_an_intervention_and_the_catalogue_is_well_formed() -> None:
    for kind in SignalKind:
        assert any(kind in entry.signal_kinds for entry in DEFAULT_INTERVENTIONS), kind
    codes = [entry.code for entry in DEFAULT_INTERVENTIONS]
    assert len(set(codes)) == len(codes)
    assert all(CODE.match(code) for code in codes)
    assert len({entry.rank for entry in DEFAULT_INTERVENTIONS}) == len(DEFAULT_INTERVENTIONS)
    for entry in DEFAULT_INTERVENTIONS:
        assert entry.quantity > 0 and entry.list_price_cents > 0
        assert entry.product_kind not in NOT_SOLD_AS_INTERVENTION
        assert len(set(entry.signal_kinds)) == len(entry.signal_kinds)


def test_the_default_for_a_reorganisation_wave_is_the_dismissal_conversations_training() -> None:
    assert default_for(SignalKind.REORGANISATION_WAVE).code == "dismissal_conversations_training"
    assert default_for(SignalKind.LEADERSHIP_CONFLICT_CLUSTER).code == "team_coaching"
    assert default_for(SignalKind.CONTRACT_ENDING).code == "contract_renewal"


def intervention(
    kind: ProductKind = ProductKind.HOUR_BUNDLE, quantity: str = "12", list_price: int = 11_500, rank: int = 50
) -> Intervention:
    return Intervention(
        code=f"i{rank}",
        title_nl="t",
        title_en="t",
        description="d",
        product_kind=kind,
        quantity=Decimal(quantity),
        list_price_cents=list_price,
        signal_kinds=(SignalKind.STRESS_SURGE,),
        rank=rank,
        active=True,
        updated_at=None,
    )


def product(kind: ProductKind, unit: int, code: str = "P", overage: int | None = None) -> ContractProduct:
    included = Decimal(40) if kind is ProductKind.HOUR_BUNDLE else None
    return ContractProduct(
        code=code,
        kind=kind,
        unit_price_cents=unit,
        vat_rate=VatRate.EXEMPT,
        included_quantity=included,
        overage_unit_price_cents=overage,
    )


def test_a_contract_product_of_the_same_kind_sets_the_price() -> None:
    assert price(intervention(), product(ProductKind.HOUR_BUNDLE, 9_000, "HOURS-40")) == (
        9_000,
        108_000,
        "contract:HOURS-40",
    )
    assert price(intervention(), None) == (11_500, 138_000, "list_price")


def test_a_prepaid_bundle_without_an_hourly_price_falls_back_to_its_overage_rate() -> None:
    assert price(intervention(), product(ProductKind.HOUR_BUNDLE, 0, overage=12_000))[:2] == (12_000, 144_000)
    assert price(intervention(), product(ProductKind.HOUR_BUNDLE, 9_500, overage=12_000))[0] == 9_500


def test_totals_round_half_up_to_whole_cents() -> None:
    assert price(intervention(quantity="1.5", list_price=101), None)[1] == 152  # 151.5
    assert price(intervention(quantity="0.25", list_price=10), None)[1] == 3  # 2.5


def test_the_contract_running_today_wins_over_a_later_and_an_earlier_one() -> None:
    today = date(2026, 6, 1)
    old = (date(2025, 1, 1), date(2025, 12, 31), [product(ProductKind.HOUR_BUNDLE, 8_000, "OLD")])
    current = (date(2026, 1, 1), date(2026, 12, 31), [product(ProductKind.HOUR_BUNDLE, 9_000, "NOW")])
    renewal = (
        date(2027, 1, 1),
        date(2027, 12, 31),
        [product(ProductKind.HOUR_BUNDLE, 9_500, "NEXT"), product(ProductKind.WORKSHOP_PER_SESSION, 1, "W")],
    )
    found = contract_products([old, renewal, current], today)
    assert found[ProductKind.HOUR_BUNDLE].code == "NOW"
    assert found[ProductKind.WORKSHOP_PER_SESSION].code == "W"  # only the renewal has it
    assert contract_products([old, renewal], today)[ProductKind.HOUR_BUNDLE].code == "NEXT"


def test_wins_outrank_catalogue_order_and_an_untried_intervention_keeps_an_even_chance() -> None:
    assert smoothed_win_rate(0, 0) == 0.5
    first, second = intervention(rank=10), intervention(rank=20)
    untried = PricedIntervention(first, 1, 1, "list_price", won=0, lost=0)
    sold_twice = PricedIntervention(second, 1, 1, "list_price", won=2, lost=0)
    assert sorted([untried, sold_twice], key=rank_key) == [sold_twice, untried]
    lost_once = PricedIntervention(first, 1, 1, "list_price", won=0, lost=1)
    never = PricedIntervention(second, 1, 1, "list_price", won=0, lost=0)
    assert sorted([lost_once, never], key=rank_key) == [never, lost_once]
    tie = PricedIntervention(second, 1, 1, "list_price", won=0, lost=0)
    assert sorted([tie, untried], key=rank_key) == [untried, tie]  # equal rates: catalogue rank


@given(won=st.integers(0, 1000), lost=st.integers(0, 1000))
def test_the_smoothed_rate_lies_strictly_between_zero_and_one(won: int, lost: int) -> None:
    rate = smoothed_win_rate(won, lost)
    assert 0 < rate < 1
    assert smoothed_win_rate(won + 1, lost) > rate > smoothed_win_rate(won, lost + 1)
