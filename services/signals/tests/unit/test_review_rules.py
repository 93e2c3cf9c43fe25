"""What reviews teach the detectors, who sees how much of a signal, and the opportunity pipeline's rules."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bmw.contracts.taxonomy import DetectionMethod, OpportunityStage, Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, InvalidInput
from bmw.signals.application.opportunities import (
    ALLOWED_MOVES,
    MoveOpportunity,
    check_move,
    check_move_fields,
    check_note,
)
from bmw.signals.application.review import ReviewSignal, check_review
from bmw.signals.application.signal_views import Audience, audience_for, strength_band, visible
from bmw.signals.domain.codes import LossReason, ReviewDecision, ReviewReason
from bmw.signals.domain.review import threshold_factor, tuned_alpha

# -- tuned thresholds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dismissed", "confirmed", "expected"),
    [
        (0, 0, 0.002),
        (1, 0, 0.001),
        (2, 0, 0.0005),
        (3, 1, 0.0005),  # net two
        (4, 0, 0.000125),
        (9, 0, 0.000125),  # at most /16
        (1, 3, 0.002),  # confirmations never loosen it
    ],
)
def test_each_net_dismissal_halves_alpha_down_to_a_sixteenth(dismissed: int, confirmed: int, expected: float) -> None:
    assert tuned_alpha(0.002, dismissed, confirmed) == pytest.approx(expected)


@given(base=st.floats(1e-6, 0.5), dismissed=st.integers(0, 100), confirmed=st.integers(0, 100))
def test_the_tuned_alpha_stays_between_a_sixteenth_of_the_base_and_the_base(
    base: float, dismissed: int, confirmed: int
) -> None:
    alpha = tuned_alpha(base, dismissed, confirmed)
    assert base / 16 <= alpha <= base
    assert tuned_alpha(base, dismissed + 1, confirmed) <= alpha  # one more dismissal never loosens it


def test_bad_inputs_to_the_tuning_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        threshold_factor(-1, 0)
    with pytest.raises(ValueError, match="base_alpha"):
        tuned_alpha(0.0, 1, 0)


# -- review input -------------------------------------------------------------------------------------------


def review(decision: ReviewDecision, reason: ReviewReason, note: str | None = None) -> ReviewSignal:
    return ReviewSignal(signal_id=uuid.uuid4(), decision=decision, reason=reason, note=note)


def test_a_reason_must_fit_the_decision() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_review(review(ReviewDecision.CONFIRMED, ReviewReason.DATA_ARTEFACT))
    assert [field.path for field in refused.value.fields] == ["body.reason"]
    with pytest.raises(InvalidInput):
        check_review(review(ReviewDecision.DISMISSED, ReviewReason.MATCHES_WHAT_WE_SEE))
    assert check_review(review(ReviewDecision.DISMISSED, ReviewReason.OTHER, "  seen before  ")) == "seen before"
    assert check_review(review(ReviewDecision.CONFIRMED, ReviewReason.OTHER, "   ")) is None


def test_a_review_note_is_short() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_review(review(ReviewDecision.CONFIRMED, ReviewReason.MATCHES_WHAT_WE_SEE, "x" * 501))
    assert refused.value.fields[0].path == "body.note"


# -- audiences ----------------------------------------------------------------------------------------------

TENANT, OTHER = uuid.uuid4(), uuid.uuid4()


def principal(
    role: Role, *, tenant_id: uuid.UUID | None = None, portfolio: frozenset[uuid.UUID] = frozenset()
) -> Principal:
    return Principal(subject="s", roles=frozenset({role}), tenant_id=tenant_id, portfolio=portfolio)


def test_each_role_sees_its_own_audience_and_nothing_of_other_tenants() -> None:
    assert audience_for(principal(Role.PROVIDER_ADMIN), TENANT) is Audience.PROVIDER
    assert audience_for(principal(Role.SOCIAL_WORKER), TENANT) is Audience.PROVIDER
    manager = principal(Role.ACCOUNT_MANAGER, portfolio=frozenset({TENANT}))
    assert audience_for(manager, TENANT) is Audience.ACCOUNT_MANAGER
    assert audience_for(manager, OTHER) is None
    for role in (Role.CLIENT_CONTACT, Role.INTEGRATION):
        assert audience_for(principal(role, tenant_id=TENANT), TENANT) is Audience.CLIENT
        assert audience_for(principal(role, tenant_id=TENANT), OTHER) is None
    assert audience_for(principal(Role.EMPLOYEE, tenant_id=TENANT), TENANT) is None


@pytest.mark.parametrize(
    ("audience", "review_status", "suppressed", "shown"),
    [
        (Audience.PROVIDER, "pending", True, True),
        (Audience.PROVIDER, "dismissed", False, True),
        (Audience.ACCOUNT_MANAGER, "pending", False, False),
        (Audience.ACCOUNT_MANAGER, "dismissed", False, False),
        (Audience.ACCOUNT_MANAGER, "confirmed", True, True),
        (Audience.ACCOUNT_MANAGER, "not_required", False, True),
        (Audience.CLIENT, "confirmed", False, True),
        (Audience.CLIENT, "confirmed", True, False),
        (Audience.CLIENT, "pending", False, False),
        (Audience.CLIENT, "not_required", False, True),
    ],
)
def test_only_released_signals_leave_the_provider_and_clients_never_see_suppressed_ones(
    audience: Audience, review_status: str, suppressed: bool, shown: bool
) -> None:
    assert visible(audience, review_status=review_status, suppressed=suppressed) is shown


def test_strength_bands_follow_the_p_value() -> None:
    assert strength_band(0.005, 2.3, DetectionMethod.NEGATIVE_BINOMIAL_TAIL) == "notable"
    assert strength_band(0.0005, 3.3, DetectionMethod.NEGATIVE_BINOMIAL_TAIL) == "strong"
    assert strength_band(0.00005, 4.3, DetectionMethod.POISSON_TAIL) == "very strong"
    assert strength_band(None, 3.0, DetectionMethod.THRESHOLD) == "notable"


# -- the pipeline -------------------------------------------------------------------------------------------

S = OpportunityStage


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.NEW, S.CONTACTED),
        (S.CONTACTED, S.PROPOSED),
        (S.PROPOSED, S.WON),
        (S.NEW, S.LOST),
        (S.CONTACTED, S.LOST),
        (S.PROPOSED, S.LOST),
    ],
)
def test_the_pipeline_moves_forward(current: OpportunityStage, target: OpportunityStage) -> None:
    assert target in ALLOWED_MOVES[current]
    check_move(current, target)  # raises Conflict if refused


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.CONTACTED, S.NEW),
        (S.NEW, S.PROPOSED),
        (S.NEW, S.WON),
        (S.CONTACTED, S.WON),
        (S.PROPOSED, S.CONTACTED),
        (S.WON, S.LOST),
        (S.LOST, S.NEW),
        (S.NEW, S.NEW),
    ],
)
def test_the_pipeline_neither_skips_nor_goes_back(current: OpportunityStage, target: OpportunityStage) -> None:
    with pytest.raises(Conflict) as refused:
        check_move(current, target)
    assert refused.value.details == {"stage": current.value}
    assert current.value in refused.value.message


def move(stage: OpportunityStage, **fields: object) -> MoveOpportunity:
    return MoveOpportunity(opportunity_id=uuid.uuid4(), stage=stage, **fields)  # type: ignore[arg-type]


def test_a_loss_needs_its_reason_and_a_win_its_intervention() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_move_fields(move(S.LOST))
    assert [f.path for f in refused.value.fields] == ["body.loss_reason"]
    with pytest.raises(InvalidInput) as refused:
        check_move_fields(move(S.WON))
    assert [f.path for f in refused.value.fields] == ["body.won_intervention"]
    with pytest.raises(InvalidInput) as refused:
        check_move_fields(move(S.CONTACTED, loss_reason=LossReason.NO_BUDGET, won_intervention="team_coaching"))
    assert sorted(f.path for f in refused.value.fields) == ["body.loss_reason", "body.won_intervention"]
    assert check_move_fields(move(S.LOST, loss_reason=LossReason.NO_BUDGET, note=" next year ")) == "next year"
    assert check_move_fields(move(S.WON, won_intervention="team_coaching")) is None


def test_a_note_on_its_own_is_not_blank_and_not_long() -> None:
    with pytest.raises(InvalidInput):
        check_note("   ", required=True)
    with pytest.raises(InvalidInput):
        check_note("x" * 1001, required=False)
    assert check_note(" called HR ", required=True) == "called HR"
