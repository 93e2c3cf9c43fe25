"""The case lifecycle: ``registered → triaged → intake_scheduled → in_progress → closed``.

Every transition is a method; anything else raises :class:`IllegalTransition` naming the current state,
so the caller can answer 409 with it. A closed case may be reopened within 90 days of closing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bmw.contracts.taxonomy import Category, Urgency

REOPEN_WINDOW = timedelta(days=90)


class CaseStatus(StrEnum):
    REGISTERED = "registered"
    TRIAGED = "triaged"
    INTAKE_SCHEDULED = "intake_scheduled"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Outcome(StrEnum):
    RESOLVED = "resolved"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    DROPPED_OUT = "dropped_out"
    NO_SHOW = "no_show"


class IllegalTransition(ValueError):
    """A command that the case's current state does not allow."""

    def __init__(self, action: str, status: CaseStatus, detail: str = "") -> None:
        super().__init__(f"cannot {action} a case that is {status.value}{': ' + detail if detail else ''}")
        self.action = action
        self.status = status


#: Which states each command may start from.
ALLOWED_FROM: dict[str, frozenset[CaseStatus]] = {
    "triage": frozenset({CaseStatus.REGISTERED, CaseStatus.TRIAGED}),
    "schedule_intake": frozenset({CaseStatus.REGISTERED, CaseStatus.TRIAGED, CaseStatus.INTAKE_SCHEDULED}),
    # The intake usually follows a booking, but may happen at once (a walk-in hour, a crisis call).
    "start": frozenset({CaseStatus.REGISTERED, CaseStatus.TRIAGED, CaseStatus.INTAKE_SCHEDULED}),
    "close": frozenset(
        {CaseStatus.REGISTERED, CaseStatus.TRIAGED, CaseStatus.INTAKE_SCHEDULED, CaseStatus.IN_PROGRESS}
    ),
    "reopen": frozenset({CaseStatus.CLOSED}),
}

#: Outcomes that fit the state a case closes from: a case whose intake never took place cannot be "resolved".
OUTCOMES_FROM: dict[CaseStatus, frozenset[Outcome]] = {
    CaseStatus.REGISTERED: frozenset({Outcome.REFERRED_ELSEWHERE, Outcome.DROPPED_OUT}),
    CaseStatus.TRIAGED: frozenset({Outcome.REFERRED_ELSEWHERE, Outcome.DROPPED_OUT}),
    CaseStatus.INTAKE_SCHEDULED: frozenset({Outcome.REFERRED_ELSEWHERE, Outcome.DROPPED_OUT, Outcome.NO_SHOW}),
    CaseStatus.IN_PROGRESS: frozenset(Outcome),
}


@dataclass
class Case:
    """A case of one employee (known here only by client_ref) with one social worker."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    referral_id: uuid.UUID
    client_ref: str
    org_unit_id: uuid.UUID
    category: Category
    urgency: Urgency
    sla_deadline: datetime
    needed_specialism: str | None
    language: str
    opened_at: datetime
    status: CaseStatus = CaseStatus.REGISTERED
    worker_id: uuid.UUID | None = None
    outcome: Outcome | None = None
    closed_at: datetime | None = None
    escalation: str | None = None
    reopened_count: int = 0
    history: list[tuple[CaseStatus, datetime]] = field(default_factory=list)

    def _require(self, action: str) -> None:
        if self.status not in ALLOWED_FROM[action]:
            raise IllegalTransition(action, self.status)

    def _move(self, status: CaseStatus, at: datetime) -> None:
        self.status = status
        self.history.append((status, at))

    def triage(
        self, *, category: Category, urgency: Urgency, specialism: str | None, language: str, at: datetime
    ) -> None:
        """Confirm what the help request is about; urgency changes do not move the SLA already promised."""
        self._require("triage")
        self.category = category
        self.urgency = urgency
        self.needed_specialism = specialism
        self.language = language
        if self.status is CaseStatus.REGISTERED:
            self._move(CaseStatus.TRIAGED, at)

    def schedule_intake(self, worker_id: uuid.UUID, at: datetime) -> bool:
        """The intake appointment was booked with a worker; returns whether the worker changed."""
        self._require("schedule_intake")
        changed = self.worker_id != worker_id
        self.worker_id = worker_id
        self.escalation = None
        if self.status is not CaseStatus.INTAKE_SCHEDULED:
            self._move(CaseStatus.INTAKE_SCHEDULED, at)
        return changed

    def escalate(self, reason: str) -> None:
        """No intake could be scheduled within the SLA: flag the case for a person to act."""
        if self.status is CaseStatus.CLOSED:
            raise IllegalTransition("escalate", self.status)
        self.escalation = reason

    def start(self, at: datetime) -> None:
        """The intake took place (with the assigned worker): the trajectory is under way."""
        self._require("start")
        if self.worker_id is None:
            raise IllegalTransition("start", self.status, "no social worker is assigned")
        self._move(CaseStatus.IN_PROGRESS, at)

    def close(self, outcome: Outcome, at: datetime) -> None:
        self._require("close")
        if outcome not in OUTCOMES_FROM[self.status]:
            raise IllegalTransition("close", self.status, f"outcome {outcome.value} does not fit")
        self.outcome = outcome
        self.closed_at = at
        self.escalation = None  # a closed case needs nobody to act on it
        self._move(CaseStatus.CLOSED, at)

    def reopen(self, at: datetime) -> None:
        """Reopen within 90 days of closing; the case resumes in progress with its worker."""
        self._require("reopen")
        if self.closed_at is None or at - self.closed_at > REOPEN_WINDOW:
            raise IllegalTransition("reopen", self.status, "more than 90 days after closing")
        self.outcome = None
        self.closed_at = None
        self.reopened_count += 1
        self._move(CaseStatus.IN_PROGRESS if self.worker_id else CaseStatus.REGISTERED, at)

    @property
    def duration_days(self) -> int:
        end = self.closed_at or self.opened_at
        return max(0, (end - self.opened_at).days)
