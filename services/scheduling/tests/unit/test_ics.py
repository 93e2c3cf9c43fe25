"""Unit tests for ``bmw.scheduling.adapters.ics``: RFC 5545 output parsed back with a real iCalendar parser."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar, Timezone

from bmw.contracts.pseudonyms import login_digest
from bmw.scheduling.adapters.ics import (
    PRODID,
    CalendarEntry,
    EntryStatus,
    amsterdam_timezone,
    appointment_entry,
    render_calendar,
    workshop_entry,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SPRING_FORWARD = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST
FALL_BACK = datetime(2026, 10, 25, 1, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET


def appointment(**overrides: Any) -> SimpleNamespace:
    """A row with every column of APPOINTMENTS, including the ones that identify a client."""
    start = overrides.pop("starts_at", datetime(2026, 5, 4, 8, tzinfo=UTC))
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "worker_id": uuid.uuid4(),
        "kind": "consult",
        "case_id": uuid.uuid4(),
        "client_ref": "cr-8f2d41c9",
        "starts_at": start,
        "ends_at": start + timedelta(minutes=45),
        "status": "booked",
        "booked_by": str(uuid.uuid4()),
        "cancelled_by": None,
        "late_cancellation": None,
        "location": "client_site",
        "employee_login": login_digest("jan.de.vries@example.nl"),
        "overage": False,
        "workshop_id": None,
        "walk_in": False,
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def events_by_uid(calendar: Calendar) -> dict[str, Any]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def observance_onsets(observance: Any) -> list[datetime]:
    """DTSTART and every RDATE of a STANDARD or DAYLIGHT observance (local times)."""
    rdates = observance.get("RDATE", [])
    rdates = rdates if isinstance(rdates, list) else [rdates]
    return [observance.decoded("DTSTART"), *(period.dt for rdate in rdates for period in rdate.dts)]


def transition_moments() -> list[datetime]:
    """Every quarter of an hour from three hours before to three hours after each change of 2026."""
    return [change + timedelta(minutes=15 * step) for change in (SPRING_FORWARD, FALL_BACK) for step in range(-12, 13)]


def test_times_round_trip_around_both_dst_changes_of_2026() -> None:
    rows = [appointment(starts_at=moment) for moment in transition_moments()]
    parsed = events_by_uid(parse(render_calendar([appointment_entry(r) for r in rows], name="t", now=NOW)))
    assert len(parsed) == len(rows)
    for row in rows:
        event = parsed[f"{row.id}@bmw-scheduling"]
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert start.tzinfo is not None and end.tzinfo is not None
        # In UTC: Python never calls a time in the repeated hour equal to one in another zone (PEP 495).
        assert (start.astimezone(UTC), end.astimezone(UTC)) == (row.starts_at, row.ends_at), row.starts_at
        repeated_hour = row.starts_at.astimezone(AMSTERDAM).fold == 1
        assert str(start.tzinfo) == ("UTC" if repeated_hour else "Europe/Amsterdam")


def test_times_are_local_amsterdam_times_except_the_repeated_hour() -> None:
    summer = appointment(starts_at=SPRING_FORWARD + timedelta(minutes=30))  # 03:30 CEST
    first_pass = appointment(starts_at=FALL_BACK - timedelta(minutes=30))  # 02:30 CEST
    second_pass = appointment(starts_at=FALL_BACK + timedelta(minutes=30))  # 02:30 CET, the same wall time
    winter = appointment(starts_at=datetime(2026, 12, 1, 8, tzinfo=UTC))  # 09:00 CET
    text = render_calendar(
        [appointment_entry(r) for r in (summer, first_pass, second_pass, winter)], name="t", now=NOW
    ).decode()
    assert "DTSTART;TZID=Europe/Amsterdam:20260329T033000\r\n" in text
    assert "DTSTART;TZID=Europe/Amsterdam:20261025T023000\r\n" in text
    # RFC 5545 §3.3.5 reads a repeated local time as its first occurrence: the second is written in UTC.
    assert "DTSTART:20261025T013000Z\r\n" in text
    assert "DTSTART;TZID=Europe/Amsterdam:20261201T090000\r\n" in text
    assert "DTEND;TZID=Europe/Amsterdam:20261201T094500\r\n" in text


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)))
def test_any_instant_round_trips(moment: datetime) -> None:
    row = appointment(starts_at=moment, ends_at=moment + timedelta(minutes=60))
    event = parse(render_calendar([appointment_entry(row)], name="t", now=NOW)).walk("VEVENT")[0]
    # iCalendar has whole seconds
    assert event.decoded("DTSTART").astimezone(UTC) == moment.replace(microsecond=0)
    assert event.decoded("DTEND").astimezone(UTC) == (moment + timedelta(minutes=60)).replace(microsecond=0)


def test_the_calendar_carries_a_vtimezone_for_amsterdam_with_standard_and_daylight_rules() -> None:
    calendar = parse(render_calendar([appointment_entry(appointment())], name="Agenda", now=NOW))
    assert str(calendar["PRODID"]) == PRODID == "-//BMW//scheduling//NL"
    assert (str(calendar["VERSION"]), str(calendar["CALSCALE"]), str(calendar["METHOD"])) == (
        "2.0",
        "GREGORIAN",
        "PUBLISH",
    )
    assert str(calendar["X-WR-CALNAME"]) == "Agenda"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Amsterdam"
    timezones = calendar.walk("VTIMEZONE")
    assert [str(tz["TZID"]) for tz in timezones] == ["Europe/Amsterdam"]
    daylight = timezones[0].walk("DAYLIGHT")
    standard = timezones[0].walk("STANDARD")
    assert daylight and standard
    onsets = {
        (sub.name, str(sub["TZNAME"]), sub.decoded("TZOFFSETFROM"), sub.decoded("TZOFFSETTO")): observance_onsets(sub)
        for sub in (*daylight, *standard)
    }
    spring = onsets[("DAYLIGHT", "CEST", timedelta(hours=1), timedelta(hours=2))]
    autumn = onsets[("STANDARD", "CET", timedelta(hours=2), timedelta(hours=1))]
    # The onset is the local time before the change, in TZOFFSETFROM (RFC 5545 §3.6.5).
    assert datetime(2026, 3, 29, 2, 0) in spring
    assert datetime(2026, 10, 25, 3, 0) in autumn


def test_the_vtimezone_alone_gives_the_offsets_of_the_zoneinfo_database() -> None:
    """An app that reads our VTIMEZONE (not its own copy of the zone) gets every offset right."""
    component = amsterdam_timezone(date(2025, 1, 1), date(2028, 1, 1))
    text = component.to_ical().replace(b"TZID:Europe/Amsterdam", b"TZID:Test/Our-VTIMEZONE")
    parsed = Timezone.from_ical(text)
    assert isinstance(parsed, Timezone)
    ours = parsed.to_tz(lookup_tzid=False)
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    checked = 0
    while moment < datetime(2027, 12, 31, tzinfo=UTC):
        assert moment.astimezone(ours).utcoffset() == moment.astimezone(AMSTERDAM).utcoffset(), moment
        moment += timedelta(minutes=15) if moment.month in (3, 10) else timedelta(hours=1)
        checked += 1
    assert checked > 20_000


def test_long_lines_are_folded_at_75_octets_and_unfold_to_the_original() -> None:
    detail = "Hoofdgebouw, vergaderzaal ‘De Brug’ — tweede verdieping, Stationsplein 1, 3511 ED Utrecht; " * 3
    workshop = SimpleNamespace(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        theme="giving_and_receiving_feedback",
        title="Feedback geven en ontvangen voor leidinggevenden van de afdeling Logistiek en Planning",
        location="client_site",
        location_detail=detail,
        starts_at=datetime(2026, 6, 2, 12, tzinfo=UTC),
        ends_at=datetime(2026, 6, 2, 15, tzinfo=UTC),
        status="scheduled",
    )
    body = render_calendar([workshop_entry(workshop)], name="Workshops", now=NOW)
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert all(len(line) <= 75 for line in lines), max(lines, key=len)
    assert any(line.startswith(b" ") for line in lines), "the long LOCATION was folded"
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    for line in lines:
        line.decode("utf-8")  # folding never splits a multi-byte character
    event = parse(body).walk("VEVENT")[0]
    assert str(event["LOCATION"]) == f"Op locatie bij de klant, {detail}"
    assert str(event["SUMMARY"]) == f"Workshop: {workshop.title}"
    assert str(event["DESCRIPTION"]) == "Thema: Feedback geven en ontvangen"
    assert str(event["UID"]) == f"workshop-{workshop.id}@bmw-scheduling"


def test_no_client_identifier_appears_anywhere_in_the_output() -> None:
    rows = [
        appointment(kind=kind, location=location)
        for kind, location in (
            ("intake", "client_site"),
            ("consult", "video"),
            ("manager_consultation", "phone"),
            ("consult", None),
        )
    ]
    secrets_of = [
        secret
        for row in rows
        for secret in (row.client_ref, str(row.case_id), row.case_id.hex, row.employee_login, row.booked_by)
    ]
    secrets_of += ["jan.de.vries", "Jan", "de Vries"]
    for organisation in (None, "Acme Logistiek BV"):
        body = render_calendar([appointment_entry(r, organisation=organisation) for r in rows], name="t", now=NOW)
        unfolded = body.replace(b"\r\n ", b"").decode()
        for secret in secrets_of:
            assert secret.lower() not in unfolded.lower(), secret
        assert ("Acme Logistiek BV" in unfolded) is (organisation is not None)


class OnlyWhatMayBeShown(SimpleNamespace):
    """A row that fails the test if the rendering so much as reads a client identifier."""

    def __getattribute__(self, name: str) -> Any:
        if name in {"client_ref", "case_id", "employee_login", "booked_by", "tenant_id"}:
            raise AssertionError(f"the calendar rendering read {name}")
        return super().__getattribute__(name)


def test_the_rendering_does_not_even_read_client_identifiers() -> None:
    row = OnlyWhatMayBeShown(**vars(appointment()))
    body = render_calendar([appointment_entry(row)], name="t", now=NOW)
    assert b"BEGIN:VEVENT" in body


def test_summaries_and_locations_come_from_the_kind_and_the_taxonomy() -> None:
    rows = {
        "Intakegesprek": appointment(kind="intake", location="provider_office"),
        "Consult": appointment(kind="consult", location="video"),
        "Adviesgesprek leidinggevende": appointment(kind="manager_consultation", location="phone"),
        "Detachering": appointment(kind="secondment_block", location="client_site"),
        "Spreekuur": appointment(kind="secondment_block", location="client_site", walk_in=True),
    }
    entries = {title: appointment_entry(row) for title, row in rows.items()}
    entries["Workshop: Werken in een hybride team"] = appointment_entry(
        appointment(kind="workshop", location=None),
        workshop_theme="working_in_a_hybrid_team",
        workshop_location=("video", "https://meet.example.nl/abc"),
    )
    parsed = events_by_uid(parse(render_calendar(entries.values(), name="t", now=NOW)))
    by_summary = {str(e["SUMMARY"]): e for e in parsed.values()}
    assert set(by_summary) == set(entries)
    assert str(by_summary["Intakegesprek"]["LOCATION"]) == "Kantoor"
    assert str(by_summary["Consult"]["LOCATION"]) == "Video"
    assert str(by_summary["Adviesgesprek leidinggevende"]["LOCATION"]) == "Telefoon"
    assert str(by_summary["Spreekuur"]["LOCATION"]) == "Op locatie bij de klant"
    assert str(by_summary["Workshop: Werken in een hybride team"]["LOCATION"]) == "Video, https://meet.example.nl/abc"
    assert str(by_summary["Consult"]["CLASS"]) == "PRIVATE"
    assert str(by_summary["Workshop: Werken in een hybride team"]["CLASS"]) == "PUBLIC"
    for event in parsed.values():
        assert isinstance(event.decoded("DTSTAMP"), datetime) and event.decoded("DTSTAMP") == NOW
        assert int(event["SEQUENCE"]) == 0 and str(event["STATUS"]) == "CONFIRMED"


def test_the_worker_feed_names_the_organisation_after_the_kind() -> None:
    entry = appointment_entry(appointment(kind="intake"), organisation="Gemeente Utrecht")
    event = parse(render_calendar([entry], name="t", now=NOW)).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Intakegesprek – Gemeente Utrecht"


def test_a_cancelled_appointment_says_status_cancelled() -> None:
    cancelled = appointment(status="cancelled", cancelled_by="employee", late_cancellation=True)
    booked = appointment(status="booked")
    body = render_calendar([appointment_entry(cancelled), appointment_entry(booked)], name="t", now=NOW)
    parsed = events_by_uid(parse(body))
    gone, kept = parsed[f"{cancelled.id}@bmw-scheduling"], parsed[f"{booked.id}@bmw-scheduling"]
    assert (str(gone["STATUS"]), int(gone["SEQUENCE"]), str(gone["TRANSP"])) == ("CANCELLED", 1, "TRANSPARENT")
    assert (str(kept["STATUS"]), int(kept["SEQUENCE"]), str(kept["TRANSP"])) == ("CONFIRMED", 0, "OPAQUE")
    assert b"STATUS:CANCELLED\r\n" in body
    assert b"employee" not in body.lower(), "who cancelled is not the calendar's business"


@pytest.mark.parametrize("status", ["cancelled", "completed", "scheduled"])
def test_a_cancelled_workshop_says_so(status: str) -> None:
    workshop = SimpleNamespace(
        id=uuid.uuid4(),
        theme="not_a_known_theme",
        title="Teamdag",
        location="provider_office",
        location_detail=None,
        starts_at=datetime(2026, 6, 2, 12, tzinfo=UTC),
        ends_at=datetime(2026, 6, 2, 15, tzinfo=UTC),
        status=status,
    )
    event = parse(render_calendar([workshop_entry(workshop)], name="t", now=NOW)).walk("VEVENT")[0]
    assert str(event["STATUS"]) == ("CANCELLED" if status == "cancelled" else "CONFIRMED")
    assert str(event["LOCATION"]) == "Kantoor"
    assert "DESCRIPTION" not in event, "an unknown theme gets no made-up description"


def test_an_empty_calendar_is_still_valid_and_has_its_timezone() -> None:
    calendar = parse(render_calendar([], name="Leeg", now=NOW))
    assert calendar.walk("VEVENT") == []
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Amsterdam"]


def test_entries_are_sorted_and_the_timezone_covers_all_of_them() -> None:
    late = CalendarEntry(
        uid="b@x",
        start=datetime(2031, 7, 1, 8, tzinfo=UTC),
        end=datetime(2031, 7, 1, 9, tzinfo=UTC),
        summary="Consult",
        status=EntryStatus.CONFIRMED,
    )
    early = CalendarEntry(
        uid="a@x",
        start=datetime(2019, 1, 1, 8, tzinfo=UTC),
        end=datetime(2019, 1, 1, 9, tzinfo=UTC),
        summary="Consult",
        status=EntryStatus.CONFIRMED,
    )
    body = render_calendar([late, early], name="t", now=NOW)
    calendar = parse(body)
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == ["a@x", "b@x"]
    text = body.replace(b"\r\n ", b"").decode()
    assert "20310330T020000" in text and "20190331T020000" in text, "spring changes of both years are in it"
