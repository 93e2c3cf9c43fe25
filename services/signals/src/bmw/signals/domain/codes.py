"""The code lists of the signals service: what people record, always as codes, never free text about people.

A code is what a statistic can count and what a translation can label; free text invites names. Where a
person may add a remark (a review note, an opportunity note), it is provider-internal and documented as
"never name a person".
"""

from __future__ import annotations

from enum import StrEnum

from bmw.contracts.taxonomy import SignalKind


class ManagementActionType(StrEnum):
    """What management did in an org unit (DESIGN §3 signals: known change points and what they do)."""

    REORGANISATION_ANNOUNCED = "reorganisation_announced"
    REDUNDANCIES_ANNOUNCED = "redundancies_announced"
    INDIVIDUAL_TALKS_HELD = "individual_talks_held"
    NEW_MANAGER_APPOINTED = "new_manager_appointed"
    FLEXIBLE_WORKING_INTRODUCED = "flexible_working_introduced"
    RETURN_TO_OFFICE_REQUIRED = "return_to_office_required"
    WORKLOAD_MEASURES_TAKEN = "workload_measures_taken"
    TEAM_COACHING_STARTED = "team_coaching_started"
    MANAGER_TRAINING_GIVEN = "manager_training_given"
    RELOCATION_ANNOUNCED = "relocation_announced"


#: The signal kinds an action makes expected: a reorganisation announcement explains a following wave.
ACTION_EXPLAINS: dict[ManagementActionType, frozenset[SignalKind]] = {
    ManagementActionType.REORGANISATION_ANNOUNCED: frozenset(
        {SignalKind.REORGANISATION_WAVE, SignalKind.STRESS_SURGE, SignalKind.BURNOUT_RISK_CLUSTER}
    ),
    ManagementActionType.REDUNDANCIES_ANNOUNCED: frozenset({SignalKind.REORGANISATION_WAVE, SignalKind.STRESS_SURGE}),
    ManagementActionType.RELOCATION_ANNOUNCED: frozenset({SignalKind.REORGANISATION_WAVE}),
    ManagementActionType.NEW_MANAGER_APPOINTED: frozenset({SignalKind.LEADERSHIP_CONFLICT_CLUSTER}),
    ManagementActionType.FLEXIBLE_WORKING_INTRODUCED: frozenset({SignalKind.NEW_WAYS_OF_WORKING_STRAIN}),
    ManagementActionType.RETURN_TO_OFFICE_REQUIRED: frozenset({SignalKind.NEW_WAYS_OF_WORKING_STRAIN}),
    # Measures taken against a problem are change points for the problem they address.
    ManagementActionType.INDIVIDUAL_TALKS_HELD: frozenset({SignalKind.REORGANISATION_WAVE}),
    ManagementActionType.WORKLOAD_MEASURES_TAKEN: frozenset({SignalKind.STRESS_SURGE, SignalKind.BURNOUT_RISK_CLUSTER}),
    ManagementActionType.TEAM_COACHING_STARTED: frozenset({SignalKind.LEADERSHIP_CONFLICT_CLUSTER}),
    ManagementActionType.MANAGER_TRAINING_GIVEN: frozenset(
        {SignalKind.LEADERSHIP_CONFLICT_CLUSTER, SignalKind.REORGANISATION_WAVE}
    ),
}
"""Every action type names the kinds it explains (an empty set would mean "any kind" to the detectors)."""


class Bottleneck(StrEnum):
    """A structured, non-personal observation a seconded social worker records about an org unit."""

    UNCLEAR_COMMUNICATION_ABOUT_REORGANISATION = "unclear_communication_about_reorganisation"
    MANAGERS_AVOID_INDIVIDUAL_TALKS = "managers_avoid_individual_talks"
    WORKLOAD_AFTER_STAFF_CUTS = "workload_after_staff_cuts"
    CONFLICT_BETWEEN_TEAMS = "conflict_between_teams"
    LEADERSHIP_STYLE_TENSIONS = "leadership_style_tensions"
    ISOLATION_IN_HYBRID_WORK = "isolation_in_hybrid_work"
    BLURRED_WORK_LIFE_BOUNDARIES = "blurred_work_life_boundaries"
    HIGH_SICK_LEAVE = "high_sick_leave"
    LOW_TRUST_IN_MANAGEMENT = "low_trust_in_management"


#: The signal kinds an observation supports as evidence.
BOTTLENECK_SUPPORTS: dict[Bottleneck, frozenset[SignalKind]] = {
    Bottleneck.UNCLEAR_COMMUNICATION_ABOUT_REORGANISATION: frozenset({SignalKind.REORGANISATION_WAVE}),
    Bottleneck.MANAGERS_AVOID_INDIVIDUAL_TALKS: frozenset(
        {SignalKind.REORGANISATION_WAVE, SignalKind.LEADERSHIP_CONFLICT_CLUSTER}
    ),
    Bottleneck.WORKLOAD_AFTER_STAFF_CUTS: frozenset({SignalKind.STRESS_SURGE, SignalKind.BURNOUT_RISK_CLUSTER}),
    Bottleneck.CONFLICT_BETWEEN_TEAMS: frozenset({SignalKind.LEADERSHIP_CONFLICT_CLUSTER}),
    Bottleneck.LEADERSHIP_STYLE_TENSIONS: frozenset({SignalKind.LEADERSHIP_CONFLICT_CLUSTER}),
    Bottleneck.ISOLATION_IN_HYBRID_WORK: frozenset({SignalKind.NEW_WAYS_OF_WORKING_STRAIN}),
    Bottleneck.BLURRED_WORK_LIFE_BOUNDARIES: frozenset(
        {SignalKind.NEW_WAYS_OF_WORKING_STRAIN, SignalKind.STRESS_SURGE}
    ),
    Bottleneck.HIGH_SICK_LEAVE: frozenset({SignalKind.BURNOUT_RISK_CLUSTER, SignalKind.STRESS_SURGE}),
    Bottleneck.LOW_TRUST_IN_MANAGEMENT: frozenset(
        {SignalKind.REORGANISATION_WAVE, SignalKind.LEADERSHIP_CONFLICT_CLUSTER}
    ),
}


class ReviewDecision(StrEnum):
    """A social worker's verdict on a raised signal."""

    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class ReviewReason(StrEnum):
    """Why a signal was confirmed or dismissed; dismissals teach the thresholds."""

    MATCHES_WHAT_WE_SEE = "matches_what_we_see"
    SUPPORTED_BY_OBSERVATIONS = "supported_by_observations"
    KNOWN_CAUSE_ALREADY_ADDRESSED = "known_cause_already_addressed"
    COINCIDENCE_UNRELATED_CASES = "coincidence_unrelated_cases"
    DATA_ARTEFACT = "data_artefact"
    TOO_SMALL_TO_ACT_ON = "too_small_to_act_on"
    OTHER = "other"


CONFIRM_REASONS = frozenset(
    {ReviewReason.MATCHES_WHAT_WE_SEE, ReviewReason.SUPPORTED_BY_OBSERVATIONS, ReviewReason.OTHER}
)
DISMISS_REASONS = frozenset(
    {
        ReviewReason.KNOWN_CAUSE_ALREADY_ADDRESSED,
        ReviewReason.COINCIDENCE_UNRELATED_CASES,
        ReviewReason.DATA_ARTEFACT,
        ReviewReason.TOO_SMALL_TO_ACT_ON,
        ReviewReason.OTHER,
    }
)


class ReviewStatus(StrEnum):
    """Where a signal stands in human review; commercial and capacity signals need none."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    NOT_REQUIRED = "not_required"


#: Signals about people's wellbeing go through a social worker first; the others are about contracts
#: and the provider's own capacity.
REVIEWED_KINDS = frozenset(
    {
        SignalKind.REORGANISATION_WAVE,
        SignalKind.STRESS_SURGE,
        SignalKind.BURNOUT_RISK_CLUSTER,
        SignalKind.LEADERSHIP_CONFLICT_CLUSTER,
        SignalKind.NEW_WAYS_OF_WORKING_STRAIN,
    }
)


class LossReason(StrEnum):
    """Why an opportunity was lost."""

    NO_BUDGET = "no_budget"
    HANDLED_INTERNALLY = "handled_internally"
    CHOSE_COMPETITOR = "chose_competitor"
    BAD_TIMING = "bad_timing"
    PROBLEM_RESOLVED = "problem_resolved"
    NO_RESPONSE = "no_response"
    OTHER = "other"
