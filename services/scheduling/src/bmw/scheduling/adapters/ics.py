"""iCalendar (RFC 5545) rendering of agendas and workshops.

What a calendar entry may say is decided here, once: a title from the kind of appointment (or the workshop's
theme and title), a place from the taxonomy, the times, a status. Never a ``client_ref``, a case id, an
employee's login digest or anybody's name: calendars are synced to phones, shared with colleagues and
forwarded, and an entry "Consult" must not tell anyone who the client is. The worker's own feed may name the
client organisation (an organisation, not a person).

Times are written as local Europe/Amsterdam times with ``TZID=Europe/Amsterdam`` and the calendar carries a
VTIMEZONE for that zone, built from the zoneinfo database. The one exception is the second occurrence of a
local time in the night the clocks go back: RFC 5545 §3.3.5 reads an ambiguous local time as its *first*
occurrence, so that instant is written in UTC instead (a calendar app shows it correctly either way).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vDuration

from bmw.contracts.taxonomy import AppointmentKind, Location, WorkshopTheme
from bmw.scheduling.domain.availability import AMSTERDAM

E = TypeVar("E", bound=StrEnum)

PRODID = "-//BMW//scheduling//NL"
TZID = "Europe/Amsterdam"
UID_DOMAIN = "bmw-scheduling"
#: How often a subscribed calendar app should fetch the feed again (RFC 7986 and the de-facto Outlook name).
REFRESH_INTERVAL = timedelta(hours=1)

KIND_TITLES: dict[AppointmentKind, str] = {
    AppointmentKind.INTAKE: "Intakegesprek",
    AppointmentKind.CONSULT: "Consult",
    AppointmentKind.MANAGER_CONSULTATION: "Adviesgesprek leidinggevende",
    AppointmentKind.WORKSHOP: "Workshop",
    AppointmentKind.SECONDMENT_BLOCK: "Detachering",
}
#: A secondment block that is an open consultation hour at the client.
WALK_IN_TITLE = "Spreekuur"

LOCATION_LABELS: dict[Location, str] = {
    Location.CLIENT_SITE: "Op locatie bij de klant",
    Location.PROVIDER_OFFICE: "Kantoor",
    Location.VIDEO: "Video",
    Location.PHONE: "Telefoon",
}

THEME_TITLES: dict[WorkshopTheme, str] = {
    WorkshopTheme.GIVING_AND_RECEIVING_FEEDBACK: "Feedback geven en ontvangen",
    WorkshopTheme.CONDUCTING_DISMISSAL_CONVERSATIONS: "Slechtnieuwsgesprekken voeren",
    WorkshopTheme.SELF_MANAGEMENT: "Zelfsturing",
    WorkshopTheme.WORKING_IN_A_HYBRID_TEAM: "Werken in een hybride team",
    WorkshopTheme.STRESS_AND_RESILIENCE: "Stress en veerkracht",
    WorkshopTheme.DEALING_WITH_CONFLICT: "Omgaan met conflicten",
    WorkshopTheme.LEADING_THROUGH_CHANGE: "Leidinggeven aan verandering",
}


class EntryStatus(StrEnum):
    """The VEVENT STATUS values we use; a cancelled entry stays in a feed so calendar apps remove it."""

    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class CalendarEntry:
    """One VEVENT, already stripped down to what a calendar may show."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    status: EntryStatus
    location: str | None = None
    description: str | None = None
    sequence: int = 0
    #: PRIVATE asks calendar apps to hide the entry's details from people the calendar is shared with.
    private: bool = True


class AppointmentFacts(Protocol):
    """The columns of an appointment row the rendering reads (and nothing that identifies a client)."""

    id: Any
    kind: str
    status: str
    starts_at: datetime
    ends_at: datetime
    location: str | None
    walk_in: bool


class WorkshopFacts(Protocol):
    """The columns of a workshop row the rendering reads (never its participants)."""

    id: Any
    theme: str
    title: str
    location: str
    location_detail: str | None
    starts_at: datetime
    ends_at: datetime
    status: str


def _member(enum: type[E], value: str | None) -> E | None:
    """The enum member with this value; None for none, or a value this service does not know."""
    try:
        return enum(value) if value is not None else None
    except ValueError:
        return None


def theme_title(theme: str | None) -> str | None:
    """The Dutch title of a catalogue theme; None for no theme or one this service does not know."""
    member = _member(WorkshopTheme, theme)
    return THEME_TITLES[member] if member else None


def location_label(location: str | None, detail: str | None = None) -> str | None:
    """The place as people say it, with the room, address or link when there is one."""
    place = _member(Location, location)
    label = LOCATION_LABELS[place] if place else None
    if detail and label:
        return f"{label}, {detail}"
    return detail or label


def appointment_summary(kind: str, *, walk_in: bool = False, workshop_theme: str | None = None) -> str:
    """The title of an appointment: its kind only, never who it is with."""
    appointment_kind = _member(AppointmentKind, kind)
    if appointment_kind is AppointmentKind.SECONDMENT_BLOCK and walk_in:
        return WALK_IN_TITLE
    if appointment_kind is AppointmentKind.WORKSHOP and (title := theme_title(workshop_theme)):
        return f"Workshop: {title}"
    return KIND_TITLES[appointment_kind] if appointment_kind else "Afspraak"


def appointment_entry(
    row: AppointmentFacts | Any,
    *,
    organisation: str | None = None,
    workshop_theme: str | None = None,
    workshop_location: tuple[str, str | None] | None = None,
) -> CalendarEntry:
    """An appointment as a calendar entry. Only the fields named in :class:`AppointmentFacts` are read.

    ``organisation`` (the client organisation's name) is for the worker's own feed only.
    """
    summary = appointment_summary(row.kind, walk_in=bool(row.walk_in), workshop_theme=workshop_theme)
    if organisation:
        summary = f"{summary} – {organisation}"
    place = location_label(*workshop_location) if workshop_location else location_label(row.location)
    cancelled = row.status == "cancelled"
    return CalendarEntry(
        uid=f"{row.id}@{UID_DOMAIN}",
        start=row.starts_at,
        end=row.ends_at,
        summary=summary,
        status=EntryStatus.CANCELLED if cancelled else EntryStatus.CONFIRMED,
        location=place,
        # Every change after booking (a move, a cancellation) raises the revision: apps replace their copy.
        sequence=int(getattr(row, "revision", 1 if cancelled else 0)),
        private=row.kind != AppointmentKind.WORKSHOP.value,
    )


def workshop_entry(row: WorkshopFacts | Any) -> CalendarEntry:
    """A workshop as a calendar entry for its client organisation: title, theme, place and time."""
    theme = theme_title(row.theme)
    cancelled = row.status == "cancelled"
    return CalendarEntry(
        uid=f"workshop-{row.id}@{UID_DOMAIN}",
        start=row.starts_at,
        end=row.ends_at,
        summary=f"Workshop: {row.title}",
        status=EntryStatus.CANCELLED if cancelled else EntryStatus.CONFIRMED,
        location=location_label(row.location, row.location_detail),
        description=f"Thema: {theme}" if theme else None,
        sequence=1 if cancelled else 0,
        private=False,
    )


def _ical_moment(moment: datetime) -> datetime:
    """Local Amsterdam time, or UTC for the second pass through an hour that happens twice (RFC 5545 §3.3.5)."""
    local = moment.astimezone(AMSTERDAM)
    return moment.astimezone(UTC) if local.fold else local


def _offset_at(instant: int) -> timedelta:
    offset = datetime.fromtimestamp(instant, UTC).astimezone(AMSTERDAM).utcoffset()
    return offset if offset is not None else timedelta()


def amsterdam_timezone(first: date, last: date) -> Timezone:
    """A VTIMEZONE for Europe/Amsterdam, right from ``first`` to ``last``, from the zoneinfo transitions.

    Each observance's onsets (DTSTART, RDATE) are the local time *before* the change, expressed in its
    TZOFFSETFROM, as RFC 5545 §3.6.5 wants: the clocks go forward at 02:00 CET and back at 03:00 CEST.
    (``icalendar.Timezone.from_tzid`` writes 03:00 for the spring change, which moves it an hour later
    for any app that reads the VTIMEZONE rather than its own copy of the zone.)
    """
    start = int(datetime.combine(first, time(), AMSTERDAM).timestamp())
    stop = int(datetime.combine(last, time(), AMSTERDAM).timestamp())
    day = 86_400
    offset = _offset_at(start)
    initial = datetime.fromtimestamp(start, UTC).astimezone(AMSTERDAM)
    # (from, to, name, daylight) -> local onsets; the first one is the observance in force at ``first``.
    observances: dict[tuple[timedelta, timedelta, str, bool], list[datetime]] = {
        (offset, offset, initial.tzname() or TZID, bool(initial.dst())): [initial.replace(tzinfo=None)]
    }
    cursor = start
    while cursor < stop:
        step = min(cursor + day, stop)
        if _offset_at(step) != offset:  # Amsterdam changes at most once a day
            low, high = cursor, step
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if _offset_at(middle) == offset else (low, middle)
            after = datetime.fromtimestamp(high, UTC).astimezone(AMSTERDAM)
            new_offset = _offset_at(high)
            key = (offset, new_offset, after.tzname() or TZID, bool(after.dst()))
            onset = (datetime.fromtimestamp(high, UTC) + offset).replace(tzinfo=None)
            observances.setdefault(key, []).append(onset)
            offset = new_offset
        cursor = step
    timezone = Timezone()
    timezone.add("TZID", TZID)
    for (offset_from, offset_to, name, daylight), onsets in observances.items():
        observance = TimezoneDaylight() if daylight else TimezoneStandard()
        observance.add("DTSTART", onsets[0])
        if onsets[1:]:
            observance.add("RDATE", onsets[1:])
        observance.add("TZNAME", name)
        observance.add("TZOFFSETFROM", offset_from)
        observance.add("TZOFFSETTO", offset_to)
        timezone.add_component(observance)
    return timezone


def _years_covered(entries: Sequence[CalendarEntry], now: datetime) -> tuple[date, date]:
    moments = [now, *(e.start for e in entries), *(e.end for e in entries)]
    local = [m.astimezone(AMSTERDAM) for m in moments]
    return date(min(local).year - 1, 1, 1), date(max(local).year + 2, 1, 1)


def render_calendar(entries: Iterable[CalendarEntry], *, name: str, now: datetime) -> bytes:
    """A VCALENDAR (METHOD:PUBLISH) of the entries, earliest first; UTF-8, CRLF, lines folded at 75 octets."""
    ordered = sorted(entries, key=lambda e: (e.start, e.uid))
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", name)
    calendar.add("X-WR-TIMEZONE", TZID)
    calendar.add("REFRESH-INTERVAL", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH_INTERVAL))
    calendar.add_component(amsterdam_timezone(*_years_covered(ordered, now)))
    stamp = now.astimezone(UTC)
    for entry in ordered:
        event = Event()
        event.add("UID", entry.uid)
        event.add("DTSTAMP", stamp)
        event.add("DTSTART", _ical_moment(entry.start))
        event.add("DTEND", _ical_moment(entry.end))
        event.add("SEQUENCE", entry.sequence)
        event.add("STATUS", entry.status.value)
        event.add("SUMMARY", entry.summary)
        if entry.location:
            event.add("LOCATION", entry.location)
        if entry.description:
            event.add("DESCRIPTION", entry.description)
        event.add("CLASS", "PRIVATE" if entry.private else "PUBLIC")
        event.add("TRANSP", "TRANSPARENT" if entry.status is EntryStatus.CANCELLED else "OPAQUE")
        calendar.add_component(event)
    return bytes(calendar.to_ical())
