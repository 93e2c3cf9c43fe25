"""The case lifecycle ``registered → triaged → intake_scheduled → in_progress → closed``, outcomes that
fit the state a case closes from, reopening within 90 days (DESIGN §3 intake), and a stateful property
test that drives a case with every command, valid or not."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bmw.contracts.taxonomy import Category, Urgency
from bmw.intake.domain.cases import (
    OUTCOMES_FROM,
    REOPEN_WINDOW,
    Case,
    CaseStatus,
    IllegalTransition,
    Outcome,
)

S = CaseStatus
OPENED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SLA = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
WORKER = uuid.UUID("00000000-0000-4000-8000-00000000a001")
OTHER_WORKER = uuid.UUID("00000000-0000-4000-8000-00000000a002")
TICK = timedelta(microseconds=1)


def new_case(opened_at: datetime = OPENED) -> Case:
    return Case(
        id=uuid.uuid4(),
        tenant_id=uuid.UUID("6f1c2a48-0000-4000-8000-000000000001"),
        referral_id=uuid.uuid4(),
        client_ref="c_test",
        org_unit_id=uuid.UUID("00000000-0000-4000-8000-0000000000bb"),
        category=Category.WORKLOAD_STRESS,
        urgency=Urgency.NORMAL,
        sla_deadline=SLA,
        needed_specialism=None,
        language="nl",
        opened_at=opened_at,
    )


def hours(n: float) -> datetime:
    return OPENED + timedelta(hours=n)


def triage(case: Case, at: datetime) -> None:
    case.triage(category=Category.BURNOUT_RISK, urgency=Urgency.URGENT, specialism="burnout", language="en", at=at)


def case_in(status: CaseStatus, *, worker: bool = True) -> Case:
    """A case brought to ``status`` along the ordinary path (closed: from in_progress, or registered)."""
    case = new_case()
    if status is S.REGISTERED:
        return case
    if status is S.CLOSED:
        if worker:
            case.schedule_intake(WORKER, hours(1))
            case.start(hours(2))
            case.close(Outcome.RESOLVED, hours(3))
        else:
            case.close(Outcome.DROPPED_OUT, hours(3))
        return case
    triage(case, hours(1))
    if status is S.TRIAGED:
        return case
    case.schedule_intake(WORKER, hours(2))
    if status is S.INTAKE_SCHEDULED:
        return case
    case.start(hours(3))
    assert status is S.IN_PROGRESS
    return case


#: Outcomes that fit the state a case closes from (DESIGN: a case whose intake never took place cannot
#: be "resolved"; a no-show needs an appointment to miss).
FITTING_OUTCOMES: dict[CaseStatus, set[Outcome]] = {
    S.REGISTERED: {Outcome.REFERRED_ELSEWHERE, Outcome.DROPPED_OUT},
    S.TRIAGED: {Outcome.REFERRED_ELSEWHERE, Outcome.DROPPED_OUT},
    S.INTAKE_SCHEDULED: {Outcome.REFERRED_ELSEWHERE, Outcome.DROPPED_OUT, Outcome.NO_SHOW},
    S.IN_PROGRESS: set(Outcome),
    S.CLOSED: set(),
}

#: The states each command may start from.
LEGAL_FROM: dict[str, set[CaseStatus]] = {
    "triage": {S.REGISTERED, S.TRIAGED},
    "schedule_intake": {S.REGISTERED, S.TRIAGED, S.INTAKE_SCHEDULED},
    "escalate": {S.REGISTERED, S.TRIAGED, S.INTAKE_SCHEDULED, S.IN_PROGRESS},
    "start": {S.INTAKE_SCHEDULED},
    "close": {S.REGISTERED, S.TRIAGED, S.INTAKE_SCHEDULED, S.IN_PROGRESS},
    "reopen": {S.CLOSED},
}


def test_a_new_case_is_registered_without_worker_outcome_or_history() -> None:
    case = new_case()

    assert case.status is S.REGISTERED
    assert case.worker_id is None
    assert case.outcome is None
    assert case.closed_at is None
    assert case.escalation is None
    assert case.reopened_count == 0
    assert case.history == []
    assert case.duration_days == 0


# -- triage --------------------------------------------------------------------------------------


def test_triage_confirms_the_help_request_and_moves_to_triaged() -> None:
    case = new_case()

    triage(case, hours(1))

    assert case.status is S.TRIAGED
    assert (case.category, case.urgency, case.needed_specialism, case.language) == (
        Category.BURNOUT_RISK,
        Urgency.URGENT,
        "burnout",
        "en",
    )
    assert case.history == [(S.TRIAGED, hours(1))]


def test_triage_again_corrects_the_request_without_a_new_step() -> None:
    case = case_in(S.TRIAGED)

    case.triage(category=Category.GRIEF, urgency=Urgency.CRISIS, specialism="grief", language="nl", at=hours(5))

    assert case.status is S.TRIAGED
    assert case.category is Category.GRIEF
    assert case.history == [(S.TRIAGED, hours(1))]


def test_triage_to_a_higher_urgency_does_not_move_the_sla_already_promised() -> None:
    case = new_case()

    case.triage(category=Category.GRIEF, urgency=Urgency.CRISIS, specialism="grief", language="nl", at=hours(1))

    assert case.sla_deadline == SLA


# -- scheduling the intake ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.REGISTERED, S.TRIAGED])
def test_scheduling_the_intake_assigns_the_worker(status: CaseStatus) -> None:
    case = case_in(status)

    changed = case.schedule_intake(WORKER, hours(4))

    assert changed is True
    assert case.status is S.INTAKE_SCHEDULED
    assert case.worker_id == WORKER
    assert case.history[-1] == (S.INTAKE_SCHEDULED, hours(4))


def test_rescheduling_with_the_same_worker_reports_no_change_and_adds_no_step() -> None:
    case = case_in(S.INTAKE_SCHEDULED)
    before = list(case.history)

    assert case.schedule_intake(WORKER, hours(5)) is False
    assert case.status is S.INTAKE_SCHEDULED
    assert case.history == before


def test_rescheduling_with_another_worker_reports_the_change() -> None:
    case = case_in(S.INTAKE_SCHEDULED)

    assert case.schedule_intake(OTHER_WORKER, hours(5)) is True
    assert case.worker_id == OTHER_WORKER
    assert case.status is S.INTAKE_SCHEDULED


# -- escalation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.REGISTERED, S.TRIAGED, S.INTAKE_SCHEDULED, S.IN_PROGRESS])
def test_an_open_case_can_be_escalated_without_changing_its_state(status: CaseStatus) -> None:
    case = case_in(status)

    case.escalate("no slot within the SLA")

    assert case.escalation == "no slot within the SLA"
    assert case.status is status


def test_scheduling_the_intake_clears_an_escalation() -> None:
    case = new_case()
    case.escalate("no slot within the SLA")

    case.schedule_intake(WORKER, hours(1))

    assert case.escalation is None


# -- start ---------------------------------------------------------------------------------------


def test_the_intake_taking_place_starts_the_trajectory() -> None:
    case = case_in(S.INTAKE_SCHEDULED)

    case.start(hours(10))

    assert case.status is S.IN_PROGRESS
    assert case.worker_id == WORKER
    assert case.history[-1] == (S.IN_PROGRESS, hours(10))


# -- close ---------------------------------------------------------------------------------------


def test_the_fitting_outcomes_are_those_of_the_design() -> None:
    assert {status: set(outcomes) for status, outcomes in OUTCOMES_FROM.items()} == {
        status: outcomes for status, outcomes in FITTING_OUTCOMES.items() if status is not S.CLOSED
    }


@pytest.mark.parametrize("status", [S.REGISTERED, S.TRIAGED, S.INTAKE_SCHEDULED, S.IN_PROGRESS])
@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_case_closes_only_with_an_outcome_that_fits_its_state(status: CaseStatus, outcome: Outcome) -> None:
    case = case_in(status)

    if outcome in FITTING_OUTCOMES[status]:
        case.close(outcome, hours(24 * 10))
        assert case.status is S.CLOSED
        assert case.outcome is outcome
        assert case.closed_at == hours(24 * 10)
        assert case.history[-1] == (S.CLOSED, hours(24 * 10))
        assert case.duration_days == 10
    else:
        before = copy.deepcopy(case)
        with pytest.raises(IllegalTransition, match=f"outcome {outcome.value} does not fit") as raised:
            case.close(outcome, hours(24 * 10))
        assert raised.value.status is status
        assert case == before


def test_resolved_only_from_in_progress() -> None:
    assert {status for status, fits in OUTCOMES_FROM.items() if Outcome.RESOLVED in fits} == {S.IN_PROGRESS}


def test_no_show_needs_an_intake_appointment() -> None:
    assert {status for status, fits in OUTCOMES_FROM.items() if Outcome.NO_SHOW in fits} == {
        S.INTAKE_SCHEDULED,
        S.IN_PROGRESS,
    }


# -- reopen --------------------------------------------------------------------------------------


@pytest.mark.parametrize("after", [timedelta(0), timedelta(days=45), timedelta(days=90)])
def test_a_case_reopens_within_90_days_in_progress_with_its_worker(after: timedelta) -> None:
    case = case_in(S.CLOSED, worker=True)
    closed_at = case.closed_at
    assert closed_at is not None

    case.reopen(closed_at + after)

    assert timedelta(days=90) == REOPEN_WINDOW
    assert case.status is S.IN_PROGRESS
    assert case.worker_id == WORKER
    assert case.outcome is None
    assert case.closed_at is None
    assert case.reopened_count == 1
    assert case.history[-1] == (S.IN_PROGRESS, closed_at + after)


def test_a_case_closed_before_any_worker_reopens_registered() -> None:
    case = case_in(S.CLOSED, worker=False)
    assert case.closed_at is not None

    case.reopen(case.closed_at + timedelta(days=1))

    assert case.status is S.REGISTERED
    assert case.worker_id is None
    assert case.outcome is None


@pytest.mark.parametrize("after", [timedelta(days=90) + TICK, timedelta(days=91), timedelta(days=400)])
def test_a_case_does_not_reopen_after_90_days(after: timedelta) -> None:
    case = case_in(S.CLOSED)
    assert case.closed_at is not None
    before = copy.deepcopy(case)

    with pytest.raises(IllegalTransition, match="90 days") as raised:
        case.reopen(case.closed_at + after)

    assert raised.value.status is S.CLOSED
    assert case == before


def test_a_case_can_be_closed_and_reopened_repeatedly() -> None:
    case = case_in(S.IN_PROGRESS)

    for n in range(1, 4):
        case.close(Outcome.RESOLVED, hours(100 * n))
        case.reopen(hours(100 * n + 1))
        assert case.reopened_count == n
    assert case.status is S.IN_PROGRESS


# -- illegal transitions -------------------------------------------------------------------------


def _command(action: str) -> Callable[[Case], object]:
    at = hours(24 * 30)
    return {
        "triage": lambda case: triage(case, at),
        "schedule_intake": lambda case: case.schedule_intake(OTHER_WORKER, at),
        "escalate": lambda case: case.escalate("no slot"),
        "start": lambda case: case.start(at),
        "close": lambda case: case.close(Outcome.DROPPED_OUT, at),
        "reopen": lambda case: case.reopen(at),
    }[action]


ILLEGAL = [(action, status) for action, legal in LEGAL_FROM.items() for status in CaseStatus if status not in legal]


@pytest.mark.parametrize(("action", "status"), ILLEGAL, ids=[f"{a}-from-{s.value}" for a, s in ILLEGAL])
def test_an_illegal_transition_names_the_current_state_and_changes_nothing(action: str, status: CaseStatus) -> None:
    case = case_in(status)
    before = copy.deepcopy(case)

    with pytest.raises(IllegalTransition) as raised:
        _command(action)(case)

    assert raised.value.status is status
    assert raised.value.action == action
    assert status.value in str(raised.value)
    assert case == before


def test_an_illegal_transition_is_a_value_error() -> None:
    assert issubclass(IllegalTransition, ValueError)


def test_duration_counts_whole_days_from_opening_to_closing() -> None:
    case = case_in(S.IN_PROGRESS)

    assert case.duration_days == 0
    case.close(Outcome.RESOLVED, OPENED + timedelta(days=6, hours=23))
    assert case.duration_days == 6


# -- stateful: any sequence of commands ----------------------------------------------------------

WORKERS = [WORKER, OTHER_WORKER, uuid.UUID("00000000-0000-4000-8000-00000000a003")]
#: Steps forward in time: random, plus zero (two commands at one instant) and the reopen boundaries.
STEPS = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    st.sampled_from([timedelta(0), timedelta(days=1), REOPEN_WINDOW, REOPEN_WINDOW + TICK, timedelta(days=365)]),
)


class CaseMachine(RuleBasedStateMachine):
    """Drives one case with every command; each command is either legal (and does its job) or raises
    IllegalTransition naming the current state and leaves the case exactly as it was."""

    def __init__(self) -> None:
        super().__init__()
        self.now = OPENED
        self.case = new_case(OPENED)
        self.closed_from: CaseStatus | None = None
        self.reopens = 0

    def _run(self, action: str, step: timedelta, expected_legal: bool, command: Callable[[], object]) -> object:
        self.now += step
        before = copy.deepcopy(self.case)
        refused: IllegalTransition | None = None
        result: object = None
        try:
            result = command()
        except IllegalTransition as error:
            refused = error
        if refused is not None:
            assert not expected_legal, f"{action} from {before.status} should have been allowed: {refused}"
            assert refused.status is before.status
            assert refused.action == action
            assert self.case == before, f"an illegal {action} changed the case"
            return None
        assert expected_legal, f"{action} from {before.status} should have raised"
        assert self.case.id == before.id and self.case.opened_at == before.opened_at
        return result

    @rule(
        step=STEPS,
        category=st.sampled_from(Category),
        urgency=st.sampled_from(Urgency),
        specialism=st.one_of(st.none(), st.sampled_from(["burnout", "grief"])),
        language=st.sampled_from(["nl", "en"]),
    )
    def triage(
        self, step: timedelta, category: Category, urgency: Urgency, specialism: str | None, language: str
    ) -> None:
        start = self.case.status
        self._run(
            "triage",
            step,
            start in LEGAL_FROM["triage"],
            lambda: self.case.triage(
                category=category, urgency=urgency, specialism=specialism, language=language, at=self.now
            ),
        )
        if start in LEGAL_FROM["triage"]:
            assert self.case.status is S.TRIAGED
            assert (self.case.category, self.case.urgency) == (category, urgency)

    @rule(step=STEPS, worker=st.sampled_from(WORKERS))
    def schedule_intake(self, step: timedelta, worker: uuid.UUID) -> None:
        start, previous = self.case.status, self.case.worker_id
        changed = self._run(
            "schedule_intake",
            step,
            start in LEGAL_FROM["schedule_intake"],
            lambda: self.case.schedule_intake(worker, self.now),
        )
        if start in LEGAL_FROM["schedule_intake"]:
            assert changed is (previous != worker)
            assert self.case.status is S.INTAKE_SCHEDULED
            assert self.case.worker_id == worker
            assert self.case.escalation is None

    @rule(reason=st.sampled_from(["no slot within the SLA", "no worker speaks the language"]))
    def escalate(self, reason: str) -> None:
        start = self.case.status
        self._run("escalate", timedelta(0), start in LEGAL_FROM["escalate"], lambda: self.case.escalate(reason))
        if start in LEGAL_FROM["escalate"]:
            assert self.case.escalation == reason
            assert self.case.status is start

    @rule(step=STEPS)
    def start(self, step: timedelta) -> None:
        start = self.case.status
        self._run("start", step, start in LEGAL_FROM["start"], lambda: self.case.start(self.now))
        if start in LEGAL_FROM["start"]:
            assert self.case.status is S.IN_PROGRESS

    @rule(step=STEPS, outcome=st.sampled_from(Outcome))
    def close(self, step: timedelta, outcome: Outcome) -> None:
        start = self.case.status
        legal = outcome in FITTING_OUTCOMES[start]
        self._run("close", step, legal, lambda: self.case.close(outcome, self.now))
        if legal:
            self.closed_from = start
            assert self.case.outcome is outcome
            assert self.case.closed_at == self.now

    @rule(
        step=STEPS,
        since_close=st.one_of(
            st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=120)),
            st.sampled_from([REOPEN_WINDOW - TICK, REOPEN_WINDOW, REOPEN_WINDOW + TICK, timedelta(days=91)]),
        ),
    )
    def reopen(self, step: timedelta, since_close: timedelta) -> None:
        start, closed_at = self.case.status, self.case.closed_at
        if closed_at is not None and closed_at + since_close >= self.now:
            step = closed_at + since_close - self.now  # aim at the window's edge, still forward in time
        legal = start is S.CLOSED and closed_at is not None and self.now + step - closed_at <= REOPEN_WINDOW
        self._run("reopen", step, legal, lambda: self.case.reopen(self.now))
        if legal:
            self.reopens += 1
            self.closed_from = None
            expected = S.IN_PROGRESS if self.case.worker_id is not None else S.REGISTERED
            assert self.case.status is expected

    @invariant()
    def status_is_a_case_status(self) -> None:
        assert isinstance(self.case.status, CaseStatus)

    @invariant()
    def closed_iff_closed_at_iff_outcome(self) -> None:
        closed = self.case.status is S.CLOSED
        assert closed == (self.case.closed_at is not None) == (self.case.outcome is not None)

    @invariant()
    def a_scheduled_or_running_case_has_a_worker(self) -> None:
        if self.case.status in (S.INTAKE_SCHEDULED, S.IN_PROGRESS):
            assert self.case.worker_id is not None

    @invariant()
    def the_outcome_fits_the_state_it_closed_from(self) -> None:
        if self.case.status is S.CLOSED:
            assert self.closed_from is not None
            assert self.case.outcome in OUTCOMES_FROM[self.closed_from]

    @invariant()
    def duration_is_never_negative(self) -> None:
        assert self.case.duration_days >= 0

    @invariant()
    def history_never_goes_back_in_time_and_ends_in_the_current_state(self) -> None:
        moments = [at for _, at in self.case.history]
        assert moments == sorted(moments)
        assert all(at >= self.case.opened_at for at in moments)
        last = self.case.history[-1][0] if self.case.history else S.REGISTERED
        assert last is self.case.status

    @invariant()
    def the_sla_and_reopen_count_hold(self) -> None:
        assert self.case.sla_deadline == SLA
        assert self.case.reopened_count == self.reopens


CaseMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCaseMachine = CaseMachine.TestCase
