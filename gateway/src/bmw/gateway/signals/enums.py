"""The vocabularies of signals, opportunities and management actions as GraphQL enums.

Each member's value is the signals service's wire value, so the pydantic bodies in ``bodies.py`` parse its
JSON straight into these members, and a member goes back on the wire as its value; the GraphQL names are the
member names. The codes of ``bmw.contracts`` (signal kind, detection method, pipeline stage, product kind) are
registered here with a description per value, because GraphQL clients read the schema, not our Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

import strawberry
from strawberry.types.enum import has_enum_definition

from bmw.contracts.taxonomy import DetectionMethod, OpportunityStage, ProductKind, SignalKind

_Code = TypeVar("_Code", bound=Enum)


def _describe(code: type[_Code], description: str, values: Mapping[_Code, str]) -> type[_Code]:
    """Register a shared code list as a GraphQL enum with a description for every value.

    A member added to ``bmw.contracts`` without a description here fails at import, in every test run.
    """
    missing = [member.name for member in code if member not in values]
    if missing:
        raise TypeError(f"{code.__name__}: no description for {', '.join(missing)}")
    registered: object = strawberry.enum(code, description=description)
    if not has_enum_definition(registered):  # pragma: no cover - strawberry.enum always defines one
        raise TypeError(f"{code.__name__} is not a GraphQL enum")
    for value in registered.__strawberry_definition__.values:
        value.description = values[code(value.value)]
    return code


_describe(
    SignalKind,
    "What a detected signal is about.",
    {
        SignalKind.REORGANISATION_WAVE: "Rising referrals about reorganisation uncertainty, dismissal or workload.",
        SignalKind.STRESS_SURGE: "Referrals about workload and stress well above the unit's baseline.",
        SignalKind.BURNOUT_RISK_CLUSTER: "Several burnout-risk referrals concentrated in one unit.",
        SignalKind.LEADERSHIP_CONFLICT_CLUSTER: "Conflicts with a manager concentrated in one unit.",
        SignalKind.NEW_WAYS_OF_WORKING_STRAIN: "Isolation and home/work boundary problems after a move to flexible "
        "working.",
        SignalKind.CAPACITY_SHORTFALL: "Intakes that could not be scheduled in time: the provider lacks capacity.",
        SignalKind.BUNDLE_THRESHOLD: "An hour bundle (strippenkaart) reached 80 % or 100 % of its hours.",
        SignalKind.CONTRACT_ENDING: "A contract ends within 90 days.",
        SignalKind.REPEATED_MANAGER_CONSULTATIONS: "Managers repeatedly consulted a social worker on one theme.",
    },
)
_describe(
    DetectionMethod,
    "The explainable, count-based test that raised a signal.",
    {
        DetectionMethod.POISSON_TAIL: "Upper tail of a Poisson distribution around the baseline.",
        DetectionMethod.NEGATIVE_BINOMIAL_TAIL: "Upper tail of a negative binomial (over-dispersed) baseline.",
        DetectionMethod.EWMA: "Exponentially weighted moving average above its control limit.",
        DetectionMethod.CUSUM: "Cumulative sum of excess counts above its decision limit.",
        DetectionMethod.THRESHOLD: "A fixed threshold (contracts, bundles, capacity).",
    },
)
_describe(
    OpportunityStage,
    "Sales pipeline stage of an opportunity: NEW → CONTACTED → PROPOSED → WON | LOST (LOST also from NEW and "
    "CONTACTED); never back.",
    {
        OpportunityStage.NEW: "Opened from a signal; the client has not been approached yet.",
        OpportunityStage.CONTACTED: "The account manager has contacted the client.",
        OpportunityStage.PROPOSED: "An offer was made.",
        OpportunityStage.WON: "The client bought an intervention.",
        OpportunityStage.LOST: "Closed without a sale, with a reason.",
    },
)
_describe(
    ProductKind,
    "How a contract product is priced and metered.",
    {
        ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR: "Subscription per employee per year.",
        ProductKind.HOUR_BUNDLE: "Prepaid hours (strippenkaart) with an overage rate.",
        ProductKind.TRAJECTORY_FIXED_PRICE: "Fixed price per trajectory (per case).",
        ProductKind.WORKSHOP_PER_SESSION: "Workshop priced per session.",
        ProductKind.WORKSHOP_PER_PARTICIPANT: "Workshop priced per participant.",
        ProductKind.SECONDMENT_HOURLY: "Secondment (detachering) at an hourly rate.",
        ProductKind.LATE_CANCELLATION_FEE: "Fee for an appointment cancelled less than 24 hours ahead.",
        ProductKind.NO_SHOW_FEE: "Fee for an appointment the employee did not come to.",
    },
)


@strawberry.enum(description="Whether a signal is still open.")
class SignalStatus(Enum):
    OPEN = strawberry.enum_value("open", description="Still above the unit's baseline.")
    RESOLVED = strawberry.enum_value("resolved", description="Back within the baseline.")


@strawberry.enum(description="How sure the test behind a signal is, as a band (no counts).")
class SignalStrength(Enum):
    NOTABLE = strawberry.enum_value("notable", description="Notable: worth watching.")
    STRONG = strawberry.enum_value("strong", description="Strong: unlikely to be chance.")
    VERY_STRONG = strawberry.enum_value("very strong", description="Very strong: very unlikely to be chance.")


@strawberry.enum(
    description="Where a signal stands in human review. Signals about people's wellbeing are checked by a social "
    "worker first; commercial and capacity signals need no review."
)
class ReviewStatus(Enum):
    PENDING = strawberry.enum_value("pending", description="Awaiting a social worker's review (provider only).")
    CONFIRMED = strawberry.enum_value("confirmed", description="Confirmed by a social worker.")
    DISMISSED = strawberry.enum_value("dismissed", description="Dismissed as a false alarm (provider only).")
    NOT_REQUIRED = strawberry.enum_value("not_required", description="Needs no review (contracts, capacity).")


@strawberry.enum(description="A social worker's verdict on a pending signal.")
class ReviewDecision(Enum):
    CONFIRMED = strawberry.enum_value(
        "confirmed", description="It is real: it reaches the account manager and the client organisation."
    )
    DISMISSED = strawberry.enum_value(
        "dismissed", description="A false alarm: the detector becomes stricter for this organisation and kind."
    )


@strawberry.enum(
    description="Why a signal was confirmed (MATCHES_WHAT_WE_SEE, SUPPORTED_BY_OBSERVATIONS, OTHER) or dismissed "
    "(KNOWN_CAUSE_ALREADY_ADDRESSED, COINCIDENCE_UNRELATED_CASES, DATA_ARTEFACT, TOO_SMALL_TO_ACT_ON, OTHER)."
)
class ReviewReason(Enum):
    MATCHES_WHAT_WE_SEE = strawberry.enum_value(
        "matches_what_we_see", description="Confirm: matches what the social workers see in their cases."
    )
    SUPPORTED_BY_OBSERVATIONS = strawberry.enum_value(
        "supported_by_observations", description="Confirm: seconded workers observed the same on site."
    )
    KNOWN_CAUSE_ALREADY_ADDRESSED = strawberry.enum_value(
        "known_cause_already_addressed", description="Dismiss: the cause is known and already being addressed."
    )
    COINCIDENCE_UNRELATED_CASES = strawberry.enum_value(
        "coincidence_unrelated_cases", description="Dismiss: the cases behind it are unrelated."
    )
    DATA_ARTEFACT = strawberry.enum_value(
        "data_artefact", description="Dismiss: caused by the data (an import, a reorganised org tree)."
    )
    TOO_SMALL_TO_ACT_ON = strawberry.enum_value("too_small_to_act_on", description="Dismiss: too small to act on.")
    OTHER = strawberry.enum_value("other", description="Another reason (confirm or dismiss); say which in a note.")


@strawberry.enum(description="Why an opportunity was lost.")
class LossReason(Enum):
    NO_BUDGET = strawberry.enum_value("no_budget", description="The client has no budget for it.")
    HANDLED_INTERNALLY = strawberry.enum_value("handled_internally", description="The client handles it themselves.")
    CHOSE_COMPETITOR = strawberry.enum_value("chose_competitor", description="The client chose another provider.")
    BAD_TIMING = strawberry.enum_value("bad_timing", description="Not now; perhaps later.")
    PROBLEM_RESOLVED = strawberry.enum_value("problem_resolved", description="The problem went away.")
    NO_RESPONSE = strawberry.enum_value("no_response", description="The client did not respond.")
    OTHER = strawberry.enum_value("other", description="Another reason; say which in the note.")


@strawberry.enum(description="What management did in an org unit: a known change point for the detectors.")
class ManagementActionType(Enum):
    REORGANISATION_ANNOUNCED = strawberry.enum_value(
        "reorganisation_announced", description="A reorganisation was announced."
    )
    REDUNDANCIES_ANNOUNCED = strawberry.enum_value("redundancies_announced", description="Redundancies were announced.")
    INDIVIDUAL_TALKS_HELD = strawberry.enum_value(
        "individual_talks_held", description="Managers held individual talks with the employees concerned."
    )
    NEW_MANAGER_APPOINTED = strawberry.enum_value("new_manager_appointed", description="A new manager was appointed.")
    FLEXIBLE_WORKING_INTRODUCED = strawberry.enum_value(
        "flexible_working_introduced", description="Flexible working (het nieuwe werken) was introduced."
    )
    RETURN_TO_OFFICE_REQUIRED = strawberry.enum_value(
        "return_to_office_required", description="Employees are required back at the office."
    )
    WORKLOAD_MEASURES_TAKEN = strawberry.enum_value(
        "workload_measures_taken", description="Measures against the workload were taken."
    )
    TEAM_COACHING_STARTED = strawberry.enum_value("team_coaching_started", description="Team coaching started.")
    MANAGER_TRAINING_GIVEN = strawberry.enum_value("manager_training_given", description="Managers were trained.")
    RELOCATION_ANNOUNCED = strawberry.enum_value("relocation_announced", description="A relocation was announced.")


@strawberry.enum(description="A bottleneck a seconded social worker observed in an org unit: a code, never a person.")
class Bottleneck(Enum):
    UNCLEAR_COMMUNICATION_ABOUT_REORGANISATION = strawberry.enum_value(
        "unclear_communication_about_reorganisation", description="Unclear communication about a reorganisation."
    )
    MANAGERS_AVOID_INDIVIDUAL_TALKS = strawberry.enum_value(
        "managers_avoid_individual_talks", description="Managers avoid individual talks."
    )
    WORKLOAD_AFTER_STAFF_CUTS = strawberry.enum_value(
        "workload_after_staff_cuts", description="The workload after staff cuts is too high."
    )
    CONFLICT_BETWEEN_TEAMS = strawberry.enum_value("conflict_between_teams", description="Teams are in conflict.")
    LEADERSHIP_STYLE_TENSIONS = strawberry.enum_value(
        "leadership_style_tensions", description="Tensions about the leadership style."
    )
    ISOLATION_IN_HYBRID_WORK = strawberry.enum_value(
        "isolation_in_hybrid_work", description="Employees feel isolated in hybrid work."
    )
    BLURRED_WORK_LIFE_BOUNDARIES = strawberry.enum_value(
        "blurred_work_life_boundaries", description="The boundary between work and private life blurs."
    )
    HIGH_SICK_LEAVE = strawberry.enum_value("high_sick_leave", description="Sick leave is high.")
    LOW_TRUST_IN_MANAGEMENT = strawberry.enum_value(
        "low_trust_in_management", description="Trust in management is low."
    )


@strawberry.enum(description="What an action type does to referral rates, only when the interval says so.")
class EffectVerdict(Enum):
    HELPS = strawberry.enum_value("helps", description="Fewer referrals after it: the whole interval lies below 1.")
    HURTS = strawberry.enum_value("hurts", description="More referrals after it: the whole interval lies above 1.")
    UNCLEAR = strawberry.enum_value("unclear", description="The interval includes 1: no clear effect.")


__all__ = [
    "Bottleneck",
    "DetectionMethod",
    "EffectVerdict",
    "LossReason",
    "ManagementActionType",
    "OpportunityStage",
    "ProductKind",
    "ReviewDecision",
    "ReviewReason",
    "ReviewStatus",
    "SignalKind",
    "SignalStatus",
    "SignalStrength",
]
