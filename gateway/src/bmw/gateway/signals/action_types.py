"""GraphQL types of management actions, their before/after comparisons, and secondment observations.

Small-cell suppression (DESIGN §2 rule 2) holds for every count shown, for every caller; a ratio with one of its
counts reveals the other, so a client organisation sees a ratio only when every count behind it is shown, and
an action's comparison only once both windows are final. Signals applies all of that; the gateway applies it
again to what it passes on, so that a mistake in one place does not publish a small number.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import strawberry

from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import graphql_error
from bmw.gateway.signals.bodies import (
    ActionEffectsBody,
    ActionTypeEffectsBody,
    CategoryEffectBody,
    DifferenceInDifferencesBody,
    ManagementActionBody,
    PooledCategoryBody,
    PooledEffectBody,
    RateComparisonBody,
    SecondmentObservationBody,
)
from bmw.gateway.signals.convert import below_k, graph_id
from bmw.gateway.signals.enums import Bottleneck, EffectVerdict, ManagementActionType
from bmw.gateway.signals.loaders import signals_loaders
from bmw.gateway.signals.permissions import is_tenant_facing
from bmw.gateway.taxonomy import Category
from bmw.servicekit.errors import DomainError

logger = logging.getLogger(__name__)


@strawberry.type(
    description="Referrals per week before and after a management action, and their rate ratio (after / before) "
    "with its exact 95 % interval. Counts under k are null; the ratio, interval and p-value are null when withheld."
)
class RateComparison:
    before_weeks: int = strawberry.field(description="Completed weeks before the action's week (at most 12).")
    after_weeks: int = strawberry.field(description="Completed weeks from the action's week on (at most 12).")
    before_count: int | None = strawberry.field(description="Referrals in the weeks before; null when suppressed.")
    after_count: int | None = strawberry.field(description="Referrals in the weeks after; null when suppressed.")
    before_suppressed: bool = strawberry.field(description="True when the count before is under k and hidden.")
    after_suppressed: bool = strawberry.field(description="True when the count after is under k and hidden.")
    rate_before: float | None = strawberry.field(description="Referrals per week before; null with its count.")
    rate_after: float | None = strawberry.field(description="Referrals per week after; null with its count.")
    rate_ratio: float | None = strawberry.field(
        description="Rate after / rate before; null when withheld or when there were no referrals before."
    )
    ci_low: float | None = strawberry.field(description="Lower end of the ratio's 95 % interval (Clopper-Pearson).")
    ci_high: float | None = strawberry.field(description="Upper end; null when withheld or unbounded.")
    p_value: float | None = strawberry.field(description="Exact two-sided p-value for 'the rate did not change'.")
    ratio_withheld: bool = strawberry.field(
        description="True when the ratio, interval and p-value are hidden because a count behind them is suppressed."
    )
    counts_hidden: strawberry.Private[bool]

    @classmethod
    def of(cls, body: RateComparisonBody, *, k: int, tenant_facing: bool) -> RateComparison:
        before_hidden = body.before_suppressed or below_k(body.before_count, k, "count before an action")
        after_hidden = body.after_suppressed or below_k(body.after_count, k, "count after an action")
        hidden = before_hidden or after_hidden
        withheld = body.ratio_withheld or (tenant_facing and hidden)
        return cls(
            before_weeks=body.before_weeks,
            after_weeks=body.after_weeks,
            before_count=None if before_hidden else body.before_count,
            after_count=None if after_hidden else body.after_count,
            before_suppressed=before_hidden,
            after_suppressed=after_hidden,
            rate_before=None if before_hidden else body.rate_before,
            rate_after=None if after_hidden else body.rate_after,
            rate_ratio=None if withheld else body.rate_ratio,
            ci_low=None if withheld else body.ci_low,
            ci_high=None if withheld else body.ci_high,
            p_value=None if withheld else body.p_value,
            ratio_withheld=withheld,
            counts_hidden=hidden,
        )


@strawberry.type(
    description="The unit's rate ratio divided by the comparison unit's over the same weeks: what changed in the "
    "unit beyond what changed everywhere (Wald interval on the log scale)."
)
class DifferenceInDifferences:
    ratio: float | None = strawberry.field(description="Ratio of the rate ratios; null when withheld or undefined.")
    ci_low: float | None = strawberry.field(description="Lower end of its 95 % interval.")
    ci_high: float | None = strawberry.field(description="Upper end; null when withheld or unbounded.")
    p_value: float | None = strawberry.field(description="Two-sided p-value for 'no difference from the comparison'.")
    continuity_corrected: bool = strawberry.field(description="True when 0.5 was added to each count (one was 0).")
    ratio_withheld: bool = strawberry.field(description="True when hidden because a count behind it is suppressed.")

    @classmethod
    def of(cls, body: DifferenceInDifferencesBody, *, withhold: bool) -> DifferenceInDifferences:
        withheld = body.ratio_withheld or withhold
        return cls(
            ratio=None if withheld else body.ratio,
            ci_low=None if withheld else body.ci_low,
            ci_high=None if withheld else body.ci_high,
            p_value=None if withheld else body.p_value,
            continuity_corrected=body.continuity_corrected,
            ratio_withheld=withheld,
        )


@strawberry.type(description="One help-request category around a management action.")
class CategoryEffect:
    category: Category = strawberry.field(description="Help request category.")
    unit: RateComparison = strawberry.field(description="In the action's unit and every unit below it.")
    comparison: RateComparison | None = strawberry.field(
        description="In the rest of the organisation over the same weeks; null when there is none."
    )
    difference_in_differences: DifferenceInDifferences | None = strawberry.field(
        description="The unit relative to the comparison; null without one."
    )
    explanation: str = strawberry.field(description="The comparison in plain language, without a suppressed count.")

    @classmethod
    def of(cls, body: CategoryEffectBody, *, k: int, tenant_facing: bool) -> CategoryEffect:
        unit = RateComparison.of(body.unit, k=k, tenant_facing=tenant_facing)
        comparison = RateComparison.of(body.comparison, k=k, tenant_facing=tenant_facing) if body.comparison else None
        hidden = unit.counts_hidden or (comparison is not None and comparison.counts_hidden)
        did = body.difference_in_differences
        return cls(
            category=body.category,
            unit=unit,
            comparison=comparison,
            difference_in_differences=(
                DifferenceInDifferences.of(did, withhold=tenant_facing and hidden) if did is not None else None
            ),
            explanation=body.explanation,
        )


@strawberry.type(
    description="Referral rates per category in the 12 completed weeks before and after a management action, in "
    "its unit and the rest of the organisation. A before/after comparison shows that a rate changed, not why."
)
class ManagementActionEffects:
    k: int = strawberry.field(description="Small-cell threshold in force: counts from 1 to k-1 are suppressed.")
    first_week: dt.date | None = strawberry.field(description="Monday of the first week compared.")
    last_week: dt.date | None = strawberry.field(description="Monday of the last (completed) week compared.")
    weeks_before: int = strawberry.field(description="Completed weeks before the action's week.")
    weeks_after: int = strawberry.field(description="Completed weeks from the action's week on.")
    too_early: bool = strawberry.field(description="True when fewer than 4 completed weeks after the action exist.")
    final: bool = strawberry.field(
        description="Provider staff: true once 12 weeks before and 12 completed weeks after exist. A client "
        "organisation gets whole calendar months (3 before the action's month against it and the 2 after), shown "
        "only once they have ended; until then it sees no categories."
    )
    comparison_unit: str | None = strawberry.field(description="What the comparison unit is; null when none.")
    note: str | None = strawberry.field(description="Why there is nothing to compare, if so.")
    categories: list[CategoryEffect] = strawberry.field(
        description="Categories with referrals in the unit's weeks; for a client organisation only when final."
    )

    @classmethod
    def of(cls, body: ActionEffectsBody, *, tenant_facing: bool) -> ManagementActionEffects:
        categories = body.categories
        if tenant_facing and not body.final and categories:
            # Two looks at a growing window, subtracted, reveal one week's referrals.
            logger.warning("signals sent a client organisation the categories of a comparison not final; dropped")
            categories = []
        return cls(
            k=body.k,
            first_week=body.first_week,
            last_week=body.last_week,
            weeks_before=body.weeks_before,
            weeks_after=body.weeks_after,
            too_early=body.too_early,
            final=body.final,
            comparison_unit=body.comparison_unit,
            note=body.note,
            categories=[CategoryEffect.of(c, k=body.k, tenant_facing=tenant_facing) for c in categories],
        )


async def _effects(root: ManagementAction, info: GatewayInfo) -> ManagementActionEffects | None:
    try:
        body = await signals_loaders(info.context).action_effects.load(root.action_id)
    except DomainError as error:
        raise graphql_error(error) from error
    return ManagementActionEffects.of(body, tenant_facing=is_tenant_facing(info.context.caller))


@strawberry.type(
    description="What management did in an org unit, and when: a known change point for the detectors and the "
    "start of a before/after comparison."
)
class ManagementAction:
    id: strawberry.ID = strawberry.field(description="Id of the action.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    org_unit_id: strawberry.ID | None = strawberry.field(description="The org unit; null: the whole organisation.")
    org_unit_name: str | None = strawberry.field(description="Its name, from the client organisation's profile.")
    action_type: ManagementActionType = strawberry.field(description="What management did.")
    occurred_on: dt.date = strawberry.field(description="The day it happened (or is announced for).")
    week: dt.date = strawberry.field(description="Monday of its ISO week: the change point of the comparisons.")
    recorded_by: str = strawberry.field(description="Subject of whoever recorded it.")
    recorded_at: dt.datetime = strawberry.field(description="When it was recorded (UTC).")
    effects: ManagementActionEffects | None = strawberry.field(
        resolver=_effects,
        description="Referral rates per category before and after the action. Fetched only when selected: one "
        "call per action; null (with an error) when signals cannot answer.",
    )
    action_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, body: ManagementActionBody) -> ManagementAction:
        return cls(
            id=graph_id(body.id),
            tenant_id=graph_id(body.tenant_id),
            org_unit_id=graph_id(body.org_unit_id) if body.org_unit_id else None,
            org_unit_name=body.org_unit_name,
            action_type=body.action_type,
            occurred_on=body.occurred_on,
            week=body.week,
            recorded_by=body.recorded_by,
            recorded_at=body.recorded_at,
            action_id=body.id,
        )


@strawberry.type(
    description="An action type's pooled rate ratio (DerSimonian-Laird random effects) across actions and client "
    "organisations."
)
class PooledEffect:
    ratio: float = strawberry.field(description="Pooled rate ratio after / before (relative to the comparison unit).")
    ci_low: float = strawberry.field(description="Lower end of its 95 % interval.")
    ci_high: float = strawberry.field(description="Upper end of its 95 % interval.")
    p_value: float = strawberry.field(description="Two-sided p-value for 'no effect'.")
    tau_squared: float = strawberry.field(description="Between-action variance of the true log ratios.")
    i_squared: float = strawberry.field(description="Share (0-1) of the spread between actions that is not chance.")
    actions: int = strawberry.field(description="Actions pooled.")
    organisations: int = strawberry.field(description="Distinct client organisations they come from (at least 3).")
    verdict: EffectVerdict = strawberry.field(description="Helps, hurts or unclear, by the interval.")

    @classmethod
    def of(cls, body: PooledEffectBody) -> PooledEffect:
        return cls(
            ratio=body.ratio,
            ci_low=body.ci_low,
            ci_high=body.ci_high,
            p_value=body.p_value,
            tau_squared=body.tau_squared,
            i_squared=body.i_squared,
            actions=body.actions,
            organisations=body.organisations,
            verdict=body.verdict,
        )


@strawberry.type(description="One help-request category of the pooled report.")
class PooledCategoryEffect:
    category: Category = strawberry.field(description="Help request category.")
    effect: PooledEffect | None = strawberry.field(description="Null when fewer than 3 organisations contribute.")
    explanation: str = strawberry.field(description="The pooled effect in plain language.")

    @classmethod
    def of(cls, body: PooledCategoryBody) -> PooledCategoryEffect:
        return cls(
            category=body.category,
            effect=PooledEffect.of(body.effect) if body.effect else None,
            explanation=body.explanation,
        )


@strawberry.type(
    description="What a type of management action did to referral rates, pooled across client organisations: "
    "which actions help and which hurt. Names no organisation; reported from a minimum number of them on."
)
class ManagementActionTypeEffects:
    action_type: ManagementActionType = strawberry.field(description="The action type.")
    min_organisations: int = strawberry.field(description="Client organisations needed before anything is reported.")
    enough_organisations: bool = strawberry.field(description="False: not enough organisations yet, no categories.")
    note: str | None = strawberry.field(description="Why there is no report yet, if so.")
    categories: list[PooledCategoryEffect] = strawberry.field(description="Per category with any usable action.")

    @classmethod
    def of(cls, body: ActionTypeEffectsBody) -> ManagementActionTypeEffects:
        return cls(
            action_type=body.action_type,
            min_organisations=body.min_organisations,
            enough_organisations=body.enough_organisations,
            note=body.note,
            categories=[PooledCategoryEffect.of(c) for c in body.categories],
        )


@strawberry.type(description="A bottleneck a seconded social worker observed in an org unit: a code, never a person.")
class SecondmentObservation:
    id: strawberry.ID = strawberry.field(description="Id of the observation.")
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    org_unit_id: strawberry.ID = strawberry.field(description="The org unit observed.")
    org_unit_name: str | None = strawberry.field(description="Its name, from the client organisation's profile.")
    bottleneck: Bottleneck = strawberry.field(description="What was observed.")
    observed_on: dt.date = strawberry.field(description="The day observed.")
    severity: int = strawberry.field(description="1 noticeable, 2 clear, 3 severe.")
    recorded_by: str | None = strawberry.field(
        description="The recording social worker; null for the client organisation."
    )
    recorded_at: dt.datetime = strawberry.field(description="When it was recorded (UTC).")

    @classmethod
    def of(cls, body: SecondmentObservationBody, *, tenant_facing: bool) -> SecondmentObservation:
        """An observation from signals' answer; who recorded it only for provider staff (as signals shows it)."""
        return cls(
            id=graph_id(body.id),
            tenant_id=graph_id(body.tenant_id),
            org_unit_id=graph_id(body.org_unit_id),
            org_unit_name=body.org_unit_name,
            bottleneck=body.bottleneck,
            observed_on=body.observed_on,
            severity=body.severity,
            recorded_by=None if tenant_facing else body.recorded_by,
            recorded_at=body.recorded_at,
        )
