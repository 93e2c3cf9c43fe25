"""Workshops and trainings: the provider's theme catalogue, and the rules of seats and the waitlist.

Pure domain logic. A workshop has a fixed number of seats; a registration beyond them joins the waitlist,
which moves up first come, first served (by the moment of registration, then by id) as soon as a seat
frees up. Registrations close once the session has started or when it is no longer scheduled.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from bmw.contracts.taxonomy import WorkshopTheme

__all__ = [
    "CATALOGUE",
    "Audience",
    "CatalogueEntry",
    "RegistrationStatus",
    "Seat",
    "WorkshopStatus",
    "is_late",
    "placement",
    "registration_closed_because",
    "seats_to_promote",
    "waitlist_positions",
]


class WorkshopStatus(StrEnum):
    """Lifecycle of a workshop session: scheduled → completed | cancelled."""

    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RegistrationStatus(StrEnum):
    """A participant's place: a seat, a place on the waitlist, or given up."""

    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Audience(StrEnum):
    """Who a theme is written for."""

    MANAGERS = "managers"
    EMPLOYEES = "employees"
    TEAMS = "teams"


@dataclass(frozen=True)
class CatalogueEntry:
    """One theme of the provider's workshop catalogue, with its usual length and group size."""

    theme: WorkshopTheme
    title_nl: str
    title_en: str
    description: str
    audience: Audience
    default_duration_minutes: int
    suggested_capacity: int


_ENTRIES = (
    CatalogueEntry(
        WorkshopTheme.GIVING_AND_RECEIVING_FEEDBACK,
        "Feedback geven en ontvangen",
        "Giving and receiving feedback",
        "Practise giving feedback that lands and receiving it without getting defensive.",
        Audience.TEAMS,
        180,
        12,
    ),
    CatalogueEntry(
        WorkshopTheme.CONDUCTING_DISMISSAL_CONVERSATIONS,
        "Slecht-nieuwsgesprekken en ontslaggesprekken voeren",
        "Conducting dismissal conversations",
        "For managers: deliver bad news clearly and humanely, with role play on real situations.",
        Audience.MANAGERS,
        240,
        8,
    ),
    CatalogueEntry(
        WorkshopTheme.SELF_MANAGEMENT,
        "Zelfmanagement en veerkracht",
        "Self-management and resilience",
        "Set priorities and boundaries, recover energy, and keep control of your own work.",
        Audience.EMPLOYEES,
        180,
        12,
    ),
    CatalogueEntry(
        WorkshopTheme.WORKING_IN_A_HYBRID_TEAM,
        "Werken in een hybride team",
        "Working in a hybrid team",
        "Agreements on availability, meetings and contact when the team works partly at home.",
        Audience.TEAMS,
        180,
        15,
    ),
    CatalogueEntry(
        WorkshopTheme.STRESS_AND_RESILIENCE,
        "Stress herkennen en veerkracht vergroten",
        "Recognising stress and building resilience",
        "Recognise early signs of stress and overload in yourself and others, and what helps.",
        Audience.EMPLOYEES,
        150,
        15,
    ),
    CatalogueEntry(
        WorkshopTheme.DEALING_WITH_CONFLICT,
        "Omgaan met conflicten",
        "Dealing with conflict",
        "Understand how conflicts escalate and practise conversations that de-escalate them.",
        Audience.TEAMS,
        180,
        12,
    ),
    CatalogueEntry(
        WorkshopTheme.LEADING_THROUGH_CHANGE,
        "Leidinggeven aan verandering",
        "Leading through change",
        "For managers: guide a team through a reorganisation, from announcement to a new routine.",
        Audience.MANAGERS,
        240,
        10,
    ),
)

#: The catalogue, one entry per theme (a test checks that every theme has one).
CATALOGUE: Mapping[WorkshopTheme, CatalogueEntry] = MappingProxyType({entry.theme: entry for entry in _ENTRIES})


@dataclass(frozen=True)
class Seat:
    """A registration as far as the waitlist is concerned."""

    id: uuid.UUID
    status: RegistrationStatus
    registered_at: datetime


def _queue_key(seat: Seat) -> tuple[datetime, str]:
    return seat.registered_at, str(seat.id)


def placement(*, capacity: int, registered: int) -> RegistrationStatus:
    """Where a new registration goes: a seat while there is one, else the waitlist."""
    if capacity < 1:
        raise ValueError(f"capacity must be positive, got {capacity}")
    if registered < 0:
        raise ValueError(f"registered must not be negative, got {registered}")
    return RegistrationStatus.REGISTERED if registered < capacity else RegistrationStatus.WAITLISTED


def seats_to_promote(*, capacity: int, seats: Iterable[Seat]) -> list[Seat]:
    """The waitlisted registrations that move up now: as many as there are free seats, first come first."""
    everyone = list(seats)
    registered = sum(1 for seat in everyone if seat.status is RegistrationStatus.REGISTERED)
    free = max(capacity - registered, 0)
    waiting = sorted((seat for seat in everyone if seat.status is RegistrationStatus.WAITLISTED), key=_queue_key)
    return waiting[:free]


def waitlist_positions(seats: Iterable[Seat]) -> dict[uuid.UUID, int]:
    """Position (1 = next in line) of every waitlisted registration."""
    waiting = sorted((seat for seat in seats if seat.status is RegistrationStatus.WAITLISTED), key=_queue_key)
    return {seat.id: position for position, seat in enumerate(waiting, start=1)}


def registration_closed_because(*, status: WorkshopStatus, start: datetime, now: datetime) -> str | None:
    """Why registrations (and cancellations of them) are closed, or None while they are open."""
    if status is not WorkshopStatus.SCHEDULED:
        return status.value
    if now >= start:
        return "started"
    return None


def is_late(*, start: datetime, now: datetime, notice: timedelta) -> bool:
    """A cancellation less than ``notice`` before the start is late (and billable under most contracts)."""
    return start - now < notice
