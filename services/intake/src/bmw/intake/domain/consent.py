"""Consent per recipient and per item, with expiry, history and withdrawal.

"My manager may know that I attended, nothing more" is one grant: recipient ``manager``, item
``attendance``. Every disclosure asks the ledger what is in force at that moment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Recipient(StrEnum):
    """Who may receive something about the employee."""

    MANAGER = "manager"
    HR = "hr"
    COMPANY_DOCTOR = "company_doctor"
    PROVIDER = "provider"


class ConsentItem(StrEnum):
    """What may be shared or done."""

    REFERRAL = "referral"  # the referral itself: a case may open
    ATTENDANCE = "attendance"  # whether the employee attended
    CLOSING_REPORT = "closing_report"
    ANONYMISED_STATISTICS = "anonymised_statistics"


#: Items that only make sense for one recipient.
PROVIDER_ITEMS = frozenset({ConsentItem.REFERRAL, ConsentItem.ANONYMISED_STATISTICS})


class ConsentNotApplicable(ValueError):
    """A combination of recipient and item that means nothing (e.g. the manager's statistics)."""


@dataclass(frozen=True)
class ConsentRecord:
    """One entry of the history: a grant or a withdrawal, as recorded at ``recorded_at``."""

    id: uuid.UUID
    recipient: Recipient
    item: ConsentItem
    granted: bool
    recorded_at: datetime
    valid_until: datetime | None
    recorded_by: str
    method: str

    def in_force_at(self, moment: datetime) -> bool:
        return self.granted and self.recorded_at <= moment and (self.valid_until is None or moment < self.valid_until)


def check_applicable(recipient: Recipient, item: ConsentItem) -> None:
    if (item in PROVIDER_ITEMS) != (recipient is Recipient.PROVIDER):
        raise ConsentNotApplicable(f"consent for {item.value} cannot be given to {recipient.value}")


class ConsentLedger:
    """The full history of one person's consents; the newest record per (recipient, item) decides."""

    def __init__(self, records: list[ConsentRecord]) -> None:
        # Oldest first; at the same moment a withdrawal counts as the later record, so it wins.
        self.records = sorted(records, key=lambda r: (r.recorded_at, not r.granted))

    def latest(self, recipient: Recipient, item: ConsentItem, moment: datetime) -> ConsentRecord | None:
        candidates = [
            r for r in self.records if r.recipient is recipient and r.item is item and r.recorded_at <= moment
        ]
        return candidates[-1] if candidates else None

    def allows(self, recipient: Recipient, item: ConsentItem, moment: datetime) -> bool:
        """Whether the consent in force at ``moment`` allows it (withdrawn and expired do not)."""
        latest = self.latest(recipient, item, moment)
        return latest is not None and latest.in_force_at(moment)

    def in_force(self, moment: datetime) -> list[ConsentRecord]:
        """The grants in force at ``moment``."""
        keys = {(r.recipient, r.item) for r in self.records}
        current = [self.latest(recipient, item, moment) for recipient, item in keys]
        return sorted(
            (r for r in current if r is not None and r.in_force_at(moment)),
            key=lambda r: (r.recipient.value, r.item.value),
        )
