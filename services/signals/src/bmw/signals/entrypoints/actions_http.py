"""Management actions, their effects, and secondment observations over HTTP (issue 6).

Every count in an answer obeys small-cell suppression over the organisation's unit tree (secondary suppression
included): hidden, it is null and flagged. A client organisation (client contact, integration) sees a ratio, its
interval and p-value only when the counts behind it are shown, and only once the comparison windows are final;
provider staff see ratios regardless. The report across client organisations
is for provider staff only and names none of them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from bmw.contracts.taxonomy import Category
from bmw.servicekit.deps import CurrentPrincipal, RuntimeDep, UowFactoryDep
from bmw.servicekit.errors import NotFound, error_responses
from bmw.servicekit.idempotency import Idempotency, IdempotencyKeyHeader
from bmw.signals.application.actions import (
    ActionEffects,
    ActionTypeReport,
    DiDView,
    RateView,
    RecordAction,
    RecordedAction,
    action_effects,
    action_type_effects,
    list_actions,
    record_action,
)
from bmw.signals.application.observations import (
    Observation,
    RecordObservation,
    list_observations,
    record_observation,
)
from bmw.signals.domain.codes import Bottleneck, ManagementActionType
from bmw.signals.domain.effects import Verdict

#: Actions per batch read of effects: a page of a portal's list.
MAX_EFFECTS_BATCH = 50

actions_router = APIRouter()

ACTIONS = "management actions"
OBSERVATIONS = "secondment observations"


# -- management actions --------------------------------------------------------------------------------------------


class ManagementActionCreate(BaseModel):
    """What management did in an org unit, and on which day."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID = Field(description="The client organisation.")
    org_unit_id: uuid.UUID | None = Field(
        default=None, description="The org unit (with everything below it); omitted or null: the whole organisation."
    )
    action_type: ManagementActionType = Field(description="What management did, as a code.")
    occurred_on: dt.date = Field(
        description="The day it happened or is announced for: at most three years back and 90 days ahead."
    )


class ManagementActionRead(BaseModel):
    """A recorded management action."""

    id: uuid.UUID = Field(description="Id of the action.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    org_unit_id: uuid.UUID | None = Field(description="The org unit; null: the whole organisation.")
    org_unit_name: str | None = Field(description="Its name, from the client organisation's profile.")
    action_type: ManagementActionType = Field(description="What management did.")
    occurred_on: dt.date = Field(description="The day it happened.")
    week: dt.date = Field(description="Monday of the ISO week it happened in: the change point of the comparisons.")
    recorded_by: str = Field(description="Subject of whoever recorded it.")
    recorded_at: dt.datetime = Field(description="When it was recorded (UTC).")

    @classmethod
    def of(cls, action: RecordedAction) -> ManagementActionRead:
        return cls(
            id=action.id,
            tenant_id=action.tenant_id,
            org_unit_id=action.org_unit_id,
            org_unit_name=action.org_unit_name,
            action_type=action.action_type,
            occurred_on=action.occurred_on,
            week=action.week,
            recorded_by=action.recorded_by,
            recorded_at=action.recorded_at,
        )


class RateComparisonRead(BaseModel):
    """Referrals per week before and after the action, and their rate ratio (after / before) with its exact
    interval. Counts under k are null; the ratio, interval and p-value are null when withheld."""

    before_weeks: int = Field(
        description="Completed weeks before the action's week (at most 12; for a client organisation the weeks of "
        "the 3 whole months before the action's month)."
    )
    after_weeks: int = Field(
        description="Completed weeks from the action's week on (at most 12; for a client organisation the weeks of "
        "the action's month and the 2 after)."
    )
    before_count: int | None = Field(description="Referrals in the weeks before; null when suppressed.")
    after_count: int | None = Field(description="Referrals in the weeks after; null when suppressed.")
    before_suppressed: bool = Field(description="True when the count before is under k and hidden.")
    after_suppressed: bool = Field(description="True when the count after is under k and hidden.")
    rate_before: float | None = Field(description="Referrals per week before; null with its count.")
    rate_after: float | None = Field(description="Referrals per week after; null with its count.")
    rate_ratio: float | None = Field(
        description="Rate after / rate before; null when withheld or when there were no referrals before."
    )
    ci_low: float | None = Field(description="Lower end of the 95 % interval of the ratio (exact, Clopper-Pearson).")
    ci_high: float | None = Field(description="Upper end; null when withheld or unbounded (no referrals before).")
    p_value: float | None = Field(description="Exact two-sided p-value for 'the rate did not change'.")
    ratio_withheld: bool = Field(
        description="True when the ratio, interval and p-value are hidden because a count behind them is suppressed "
        "(a ratio and one count reveal the other)."
    )

    @classmethod
    def of(cls, view: RateView) -> RateComparisonRead:
        return cls(
            before_weeks=view.before_weeks,
            after_weeks=view.after_weeks,
            before_count=view.before_count,
            after_count=view.after_count,
            before_suppressed=view.before_suppressed,
            after_suppressed=view.after_suppressed,
            rate_before=view.rate_before,
            rate_after=view.rate_after,
            rate_ratio=view.rate_ratio,
            ci_low=view.ci_low,
            ci_high=view.ci_high,
            p_value=view.p_value,
            ratio_withheld=view.ratio_withheld,
        )


class DifferenceInDifferencesRead(BaseModel):
    """The unit's rate ratio divided by the comparison unit's over the same weeks: what changed in the unit
    beyond what changed everywhere. Wald interval on the log scale."""

    ratio: float | None = Field(description="Ratio of the rate ratios; null when withheld or undefined.")
    ci_low: float | None = Field(description="Lower end of its 95 % interval.")
    ci_high: float | None = Field(description="Upper end; null when withheld or unbounded.")
    p_value: float | None = Field(description="Two-sided p-value for 'no difference from the comparison unit'.")
    continuity_corrected: bool = Field(description="True when 0.5 was added to each count because one is zero.")
    ratio_withheld: bool = Field(description="True when hidden because a count behind it is suppressed.")

    @classmethod
    def of(cls, view: DiDView) -> DifferenceInDifferencesRead:
        return cls(
            ratio=view.ratio,
            ci_low=view.ci_low,
            ci_high=view.ci_high,
            p_value=view.p_value,
            continuity_corrected=view.continuity_corrected,
            ratio_withheld=view.ratio_withheld,
        )


class CategoryEffectRead(BaseModel):
    """One help-request category around the action."""

    category: Category = Field(description="Help request category.")
    unit: RateComparisonRead = Field(description="In the action's unit and every unit below it.")
    comparison: RateComparisonRead | None = Field(
        description="In the rest of the organisation over the same weeks; null when there is none."
    )
    difference_in_differences: DifferenceInDifferencesRead | None = Field(
        description="The unit relative to the comparison unit; null without one."
    )
    explanation: str = Field(description="The comparison in plain language, without any suppressed count.")


class ActionEffectsRead(BaseModel):
    """Referral rates per category before and after a management action (a before/after comparison shows that
    a rate changed, not why)."""

    action: ManagementActionRead = Field(description="The action.")
    k: int = Field(description="Small-cell threshold in force: counts from 1 to k-1 are suppressed.")
    first_week: dt.date | None = Field(description="Monday of the first week compared.")
    last_week: dt.date | None = Field(description="Monday of the last (completed) week compared.")
    weeks_before: int = Field(description="Completed weeks before the action's week.")
    weeks_after: int = Field(description="Completed weeks from the action's week on.")
    too_early: bool = Field(description="True when fewer than 4 completed weeks after the action exist.")
    final: bool = Field(
        description="Provider staff: true once 12 weeks before and 12 completed weeks after exist. A client "
        "organisation gets whole calendar months (the 3 before the action's month against that month and the 2 "
        "after), built from the trends' published month cells, and true only once those months have ended; until "
        "then it sees no categories (subtracting two looks would reveal a week)."
    )
    comparison_unit: str | None = Field(description="What the comparison unit is; null when there is none.")
    note: str | None = Field(description="Why there is nothing to compare, if so.")
    categories: list[CategoryEffectRead] = Field(
        description="Categories with referrals in the unit's weeks; for the client organisation only when final."
    )

    @classmethod
    def of(cls, effects: ActionEffects) -> ActionEffectsRead:
        return cls(
            action=ManagementActionRead.of(effects.action),
            k=effects.k,
            first_week=effects.first_week,
            last_week=effects.last_week,
            weeks_before=effects.weeks_before,
            weeks_after=effects.weeks_after,
            too_early=effects.too_early,
            final=effects.final,
            comparison_unit=effects.comparison_unit,
            note=effects.note,
            categories=[
                CategoryEffectRead(
                    category=c.category,
                    unit=RateComparisonRead.of(c.unit),
                    comparison=RateComparisonRead.of(c.comparison) if c.comparison else None,
                    difference_in_differences=(
                        DifferenceInDifferencesRead.of(c.difference_in_differences)
                        if c.difference_in_differences
                        else None
                    ),
                    explanation=c.explanation,
                )
                for c in effects.categories
            ],
        )


class PooledEffectRead(BaseModel):
    """An action type's pooled rate ratio (DerSimonian-Laird random effects) across actions and organisations."""

    ratio: float = Field(description="Pooled rate ratio after / before (relative to the comparison unit where any).")
    ci_low: float = Field(description="Lower end of its 95 % interval.")
    ci_high: float = Field(description="Upper end of its 95 % interval.")
    p_value: float = Field(description="Two-sided p-value for 'no effect'.")
    tau_squared: float = Field(description="Between-action variance of the true log ratios.")
    i_squared: float = Field(description="Share (0-1) of the spread between actions that is not chance.")
    actions: int = Field(description="Actions pooled.")
    organisations: int = Field(description="Distinct client organisations they come from (at least 3).")
    verdict: Verdict = Field(description="helps (fewer referrals), hurts (more) or unclear, by the interval.")


class PooledCategoryRead(BaseModel):
    """One category of the pooled report."""

    category: Category = Field(description="Help request category.")
    effect: PooledEffectRead | None = Field(description="Null when fewer than 3 organisations contribute.")
    explanation: str = Field(description="The pooled effect in plain language.")


class ActionTypeEffectsRead(BaseModel):
    """What an action type did to referral rates, pooled across client organisations; names none of them."""

    action_type: ManagementActionType = Field(description="The action type.")
    min_organisations: int = Field(description="Client organisations needed before anything is reported.")
    enough_organisations: bool = Field(description="False: not enough organisations yet, and no categories.")
    note: str | None = Field(description="Why there is no report yet, if so.")
    categories: list[PooledCategoryRead] = Field(description="Per category with any usable action.")

    @classmethod
    def of(cls, report: ActionTypeReport) -> ActionTypeEffectsRead:
        return cls(
            action_type=report.action_type,
            min_organisations=report.min_organisations,
            enough_organisations=report.enough_organisations,
            note=report.note,
            categories=[
                PooledCategoryRead(
                    category=c.category,
                    effect=(
                        PooledEffectRead(
                            ratio=c.effect.ratio,
                            ci_low=c.effect.ci_low,
                            ci_high=c.effect.ci_high,
                            p_value=c.effect.p_value,
                            tau_squared=c.effect.tau_squared,
                            i_squared=c.effect.i_squared,
                            actions=c.effect.actions,
                            organisations=c.effect.tenants,
                            verdict=c.effect.verdict,
                        )
                        if c.effect is not None
                        else None
                    ),
                    explanation=c.explanation,
                )
                for c in report.categories
            ],
        )


@actions_router.post(
    "/management-actions",
    tags=[ACTIONS],
    status_code=status.HTTP_201_CREATED,
    response_model=ManagementActionRead,
    responses=error_responses(401, 403, 422),
)
async def create_management_action(
    body: ManagementActionCreate,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Record what management did (client contacts, the account manager, admins); the detectors take it as a
    known change point."""
    return await record_action(
        RecordAction(
            tenant_id=body.tenant_id,
            org_unit_id=body.org_unit_id,
            action_type=body.action_type,
            occurred_on=body.occurred_on,
        ),
        principal=principal,
        uow=uow,
        idempotency=Idempotency.optional(principal.subject, idempotency_key, body.model_dump(mode="json")),
        render=lambda action: ManagementActionRead.of(action).model_dump(mode="json"),
    )


@actions_router.get(
    "/management-actions",
    tags=[ACTIONS],
    response_model=list[ManagementActionRead],
    responses=error_responses(401, 403, 422),
)
async def read_management_actions(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID, Query(description="The client organisation.")],
) -> list[ManagementActionRead]:
    """The organisation's recorded management actions, latest first."""
    actions = await list_actions(tenant_id=tenant_id, principal=principal, uow=uow)
    return [ManagementActionRead.of(a) for a in actions]


@actions_router.get(
    "/management-actions/effects",
    tags=[ACTIONS],
    response_model=list[ActionEffectsRead],
    responses=error_responses(401, 403, 422, 503),
)
async def read_many_management_action_effects(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    runtime: RuntimeDep,
    action_ids: Annotated[
        list[uuid.UUID],
        Query(
            alias="action_id",
            min_length=1,
            max_length=MAX_EFFECTS_BATCH,
            description=f"Ids of the management actions (repeat the parameter; at most {MAX_EFFECTS_BATCH}).",
        ),
    ],
) -> list[ActionEffectsRead]:
    """The before/after comparisons of several actions in one call (a page of actions in a portal costs one
    call, not one per action). An action that does not exist or that the caller may not see is left out, as
    a single read would answer 404 for it."""
    found = []
    for action_id in dict.fromkeys(action_ids):
        try:
            effects = await action_effects(
                action_id=action_id, principal=principal, uow=uow, default_k=runtime.settings.small_cell_k
            )
        except NotFound:
            continue
        found.append(ActionEffectsRead.of(effects))
    return found


@actions_router.get(
    "/management-actions/{action_id}/effects",
    tags=[ACTIONS],
    response_model=ActionEffectsRead,
    responses=error_responses(401, 403, 404, 422),
)
async def read_management_action_effects(
    action_id: Annotated[uuid.UUID, Path(description="Id of the management action.")],
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    runtime: RuntimeDep,
) -> ActionEffectsRead:
    """Referral rates per category in the 12 completed weeks before and after the action (a client organisation:
    the 3 whole months before the action's month and that month with the 2 after), in its unit and the rest of the
    organisation, with exact intervals; small counts suppressed."""
    effects = await action_effects(
        action_id=action_id, principal=principal, uow=uow, default_k=runtime.settings.small_cell_k
    )
    return ActionEffectsRead.of(effects)


@actions_router.get(
    "/management-action-effects",
    tags=[ACTIONS],
    response_model=ActionTypeEffectsRead,
    responses=error_responses(401, 403, 422),
)
async def read_management_action_type_effects(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    action_type: Annotated[ManagementActionType, Query(description="The action type to report on.")],
) -> ActionTypeEffectsRead:
    """Which management actions help and which hurt: every action of the type with 4 completed weeks after it,
    pooled per category across client organisations (provider staff; from 3 organisations on; names none)."""
    report = await action_type_effects(action_type=action_type, principal=principal, uow=uow)
    return ActionTypeEffectsRead.of(report)


# -- secondment observations ---------------------------------------------------------------------------------------


class SecondmentObservationCreate(BaseModel):
    """A bottleneck a seconded social worker observed in an org unit: a code, never a person."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: uuid.UUID = Field(description="The client organisation.")
    org_unit_id: uuid.UUID = Field(description="The org unit observed.")
    bottleneck: Bottleneck = Field(description="What was observed, as a code.")
    observed_on: dt.date = Field(description="The day observed: not in the future, at most 366 days back.")
    severity: int = Field(ge=1, le=3, description="1 noticeable, 2 clear, 3 severe.")


class SecondmentObservationRead(BaseModel):
    """A recorded observation."""

    id: uuid.UUID = Field(description="Id of the observation.")
    tenant_id: uuid.UUID = Field(description="The client organisation.")
    org_unit_id: uuid.UUID = Field(description="The org unit observed.")
    org_unit_name: str | None = Field(description="Its name, from the client organisation's profile.")
    bottleneck: Bottleneck = Field(description="What was observed.")
    observed_on: dt.date = Field(description="The day observed.")
    severity: int = Field(description="1 noticeable, 2 clear, 3 severe.")
    recorded_by: str | None = Field(description="The recording social worker; null for the client organisation.")
    recorded_at: dt.datetime = Field(description="When it was recorded (UTC).")

    @classmethod
    def of(cls, observation: Observation) -> SecondmentObservationRead:
        return cls(
            id=observation.id,
            tenant_id=observation.tenant_id,
            org_unit_id=observation.org_unit_id,
            org_unit_name=observation.org_unit_name,
            bottleneck=observation.bottleneck,
            observed_on=observation.observed_on,
            severity=observation.severity,
            recorded_by=observation.recorded_by,
            recorded_at=observation.recorded_at,
        )


@actions_router.post(
    "/secondment-observations",
    tags=[OBSERVATIONS],
    status_code=status.HTTP_201_CREATED,
    response_model=SecondmentObservationRead,
    responses=error_responses(401, 403, 422),
)
async def create_secondment_observation(
    body: SecondmentObservationCreate,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> dict[str, Any]:
    """Record a bottleneck observed on site (social workers only); it is evidence beside the referral counts."""
    return await record_observation(
        RecordObservation(
            tenant_id=body.tenant_id,
            org_unit_id=body.org_unit_id,
            bottleneck=body.bottleneck,
            observed_on=body.observed_on,
            severity=body.severity,
        ),
        principal=principal,
        uow=uow,
        idempotency=Idempotency.optional(principal.subject, idempotency_key, body.model_dump(mode="json")),
        render=lambda observation: SecondmentObservationRead.of(observation).model_dump(mode="json"),
    )


@actions_router.get(
    "/secondment-observations",
    tags=[OBSERVATIONS],
    response_model=list[SecondmentObservationRead],
    responses=error_responses(401, 403, 422),
)
async def read_secondment_observations(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID, Query(description="The client organisation.")],
    since: Annotated[dt.date | None, Query(description="Only observations on or after this day.")] = None,
) -> list[SecondmentObservationRead]:
    """The organisation's observations, latest first (provider staff; its client contacts without the recorder)."""
    observations = await list_observations(tenant_id=tenant_id, principal=principal, uow=uow, since=since)
    return [SecondmentObservationRead.of(o) for o in observations]
