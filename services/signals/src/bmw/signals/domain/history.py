"""History import (issue 6): a client organisation that moves to this product brings its past.

A provider admin uploads anonymised weekly counts per org unit × category (CSV or JSON) so that the
detectors have a baseline from the first week instead of after months. This module only *reads* such a
file: it turns bytes into :class:`HistoryRow` values and, for everything it cannot use, a
:class:`RowError` that tells a person which line, which column, what is wrong and what to write instead.
Storing the rows (idempotently per week and unit) is the application layer's job.

The people who make these files use Excel, often a Dutch one: it writes ``;`` as the delimiter and
may add a byte order mark, empty trailing rows (``;;;;``) and empty trailing columns. Those are accepted.
A file that is not UTF-8 (Excel's plain "CSV" is Windows-1252) is refused with a hint, because guessing an
encoding would silently turn ``Zorg & Welzijn`` into something else.

Every error is collected, not just the first, so that one round trip fixes a whole file; the list is
capped at :data:`MAX_ERRORS` because a file with the wrong columns errs on every one of 100 000 lines.

``RowError.line`` is the line a person sees: in CSV the file's line (the header is line 1), in JSON the
row's position in the list (1 for the first row). Errors about the file as a whole carry the CSV line
where it was found, or 0 when there is no such line (the media type, a JSON syntax error — its position
is in the message — or the final "… and N more").

Pure Python (``csv``, ``json``, ``io``, ``difflib``), no I/O.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

from bmw.contracts.taxonomy import Category

#: Columns (CSV) or keys (JSON) every row must have, in the order the template writes them.
REQUIRED_COLUMNS: tuple[str, ...] = ("week", "org_unit", "category", "count")
#: The unit's headcount that week; optional, because many organisations only know it roughly.
OPTIONAL_COLUMNS: tuple[str, ...] = ("employees",)
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: A unit with more than this many new help requests in one category in one week is a typo, not history.
MAX_COUNT = 10_000
MAX_EMPLOYEES = 1_000_000
#: The error list is cut here, its last entry saying how many more there were.
MAX_ERRORS = 200

CSV_MEDIA_TYPES: frozenset[str] = frozenset({"text/csv", "application/csv"})
JSON_MEDIA_TYPE = "application/json"

_COLUMN_LIST = "week, org_unit, category, count and optionally employees"
_WEEK_EXAMPLE = "an ISO week like 2025-W14 or its Monday like 2025-03-31"
_UNIT_EXPECTED = "one of the organisation's unit names or ids"
_CATEGORIES: dict[str, Category] = {category.value: category for category in Category}
_CATEGORY_EXPECTED = f"one of {', '.join(_CATEGORIES)}"
_ISO_WEEK = re.compile(r"(?P<year>[0-9]{4})-?[Ww](?P<week>[0-9]{1,2})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: Day first, as Dutch Excel shows (and then saves) dates: recognised only to say how to write it.
_DAY_FIRST_DATE = re.compile(r"(?P<day>[0-9]{1,2})[-/.](?P<month>[0-9]{1,2})[-/.](?P<year>[0-9]{4})")
_WORD = re.compile(r"\w")
_WHOLE_NUMBER = re.compile(r"[0-9]+")
_DECIMAL_NUMBER = re.compile(r"-?[0-9]*[.,][0-9]+|-?[0-9]+[.,][0-9]*")
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: How much of a person's value an error message repeats: a 100 kB cell should not come back whole.
_SHOWN_CHARACTERS = 60

_T = TypeVar("_T")


@dataclass(frozen=True)
class HistoryRow:
    """One imported weekly count: ``count`` new help requests in ``category`` in one org unit that week."""

    line: int
    week: date
    org_unit_id: uuid.UUID
    category: Category
    count: int
    employees: int | None


@dataclass(frozen=True)
class RowError:
    """Why (part of) a line cannot be imported; ``field`` is the column, or "" for the row or the file."""

    line: int
    field: str
    message: str


@dataclass(frozen=True)
class ParsedHistory:
    """The usable rows of a file and every error found; a file is imported only when it has no errors."""

    rows: tuple[HistoryRow, ...]
    errors: tuple[RowError, ...]

    @property
    def ok(self) -> bool:
        """True when the whole file can be imported."""
        return not self.errors


def parse_history(
    content: bytes,
    *,
    media_type: str,
    units: Mapping[str, uuid.UUID],
    today: date,
    max_years: int = 3,
    max_rows: int = 100_000,
) -> ParsedHistory:
    """Read and check a history file row by row; never raises on the file's content.

    ``units`` maps each of the organisation's unit ids (``str(uuid)``) and lower-cased unit names to
    the unit's id. ``today`` is the Amsterdam calendar date: its week is not complete, so not history.
    """
    if max_years < 1 or max_rows < 1:
        raise ValueError("max_years and max_rows must be at least 1")
    kind = media_type.split(";", 1)[0].strip().lower()
    if kind not in CSV_MEDIA_TYPES and kind != JSON_MEDIA_TYPE:
        return _refused(
            RowError(
                0,
                "",
                f"unsupported media type {_shown(media_type)}: expected text/csv, application/csv or application/json",
            )
        )
    is_csv = kind in CSV_MEDIA_TYPES
    text = _decode(content, is_csv=is_csv)
    if isinstance(text, RowError):
        return _refused(text)
    read = _read_csv(text, max_rows=max_rows) if is_csv else _read_json(text, max_rows=max_rows)
    if read.refused:
        return ParsedHistory(rows=(), errors=_capped(read.errors))
    checker = _RowChecker(units=units, today=today, max_years=max_years)
    for record in read.records:
        checker.check(record)
    # Reading errors (a malformed line, extra cells) and value errors of the same line belong together.
    errors = sorted([*read.errors, *checker.errors], key=lambda error: error.line)
    return ParsedHistory(rows=tuple(checker.rows), errors=_capped(errors))


def template_csv() -> str:
    """An example history file, for the API documentation and the download next to the upload form."""
    return (
        "week,org_unit,category,count,employees\n"
        "2025-W14,Finance,workload_stress,3,120\n"
        "2025-W14,Finance,reorganisation_uncertainty,5,120\n"
        "2025-03-31,Logistics North,conflict_manager,2,\n"
    )


# --------------------------------------------------------------------------------------------------
# Reading: bytes → text → records of raw values
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    """One data row before its values are checked: CSV cells are text, JSON values any JSON type.

    ``flawed`` says that reading already found an error on the row (a stray cell, an unknown key): its
    values are still checked, so that the person sees all errors, but it does not become a row.
    """

    line: int
    values: Mapping[str, object]
    flawed: bool = False


@dataclass
class _Read:
    """What reading a file produced; ``refused`` means its rows must not be checked at all."""

    records: list[_Record] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    refused: bool = False


def _decode(content: bytes, *, is_csv: bool) -> str | RowError:
    """UTF-8 text without its byte order mark, or the file-level error that says where it is not UTF-8."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return RowError(0, "", f"the file is UTF-16: save it as UTF-8{_excel_hint(is_csv)}")
    body = content.removeprefix(codecs.BOM_UTF8)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        before = body[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        byte = body[error.start : error.start + 1].hex().upper()
        return RowError(
            line if is_csv else 0,
            "",
            f"the file is not valid UTF-8 (byte 0x{byte} on line {line}, column {column}): "
            f"save it as UTF-8{_excel_hint(is_csv)}",
        )


def _excel_hint(is_csv: bool) -> str:
    return " (in Excel: 'CSV UTF-8')" if is_csv else ""


def _read_csv(text: str, *, max_rows: int) -> _Read:
    """Split CSV text into records under a checked header; a broken file stops reading where it breaks."""
    read = _Read()
    non_blank_lines = (line for line in io.StringIO(text, newline=None) if line.strip())
    first_line = next(non_blank_lines, None)
    if first_line is None:
        read.errors.append(RowError(0, "", f"the file is empty: expected a header line with {_COLUMN_LIST}"))
        read.refused = True
        return read
    # Dutch (and other comma-decimal) Excel writes ';'; the header has no decimals to confuse the count.
    # Lines of delimiters only (Excel's empty rows) say nothing, the header is the first line with a word.
    header_line = first_line
    if not _WORD.search(first_line):
        header_line = next((line for line in non_blank_lines if _WORD.search(line)), first_line)
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns: tuple[str, ...] | None = None
    rows_seen = 0
    next_line = 1
    try:
        for cells in reader:
            # A quoted cell may span lines: the record starts on the line after where the last one ended.
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns = _check_header(cells, line, read.errors)
                if columns is None:
                    read.refused = True
                    return read
                continue
            rows_seen += 1
            if rows_seen > max_rows:
                read.errors.append(_too_many_rows(line, max_rows))
                read.refused = True
                return read
            errors_before = len(read.errors)
            values = _csv_values(cells, columns, line, read.errors)
            read.records.append(_Record(line, values, flawed=len(read.errors) > errors_before))
    except csv.Error as error:
        read.errors.append(
            RowError(reader.line_num, "", f"malformed CSV on line {reader.line_num}: {error}; reading stopped here")
        )
        return read
    if columns is not None and rows_seen == 0:
        read.errors.append(RowError(0, "", "the file has a header but no rows"))
    return read


def _check_header(cells: list[str], line: int, errors: list[RowError]) -> tuple[str, ...] | None:
    """The normalised column names ("" for an unnamed column), or None when the rows cannot be read."""
    columns = tuple(cell.strip().lower() for cell in cells)
    named = [column for column in columns if column]
    if not any(column in COLUMNS for column in named):
        found = ", ".join(_shown(cell) for cell in cells if cell.strip())
        errors.append(RowError(line, "", f"the first line must be a header naming {_COLUMN_LIST}; found {found}"))
        return None
    twice = sorted({column for column in named if named.count(column) > 1})
    if twice:
        errors.append(RowError(line, "", f"columns appear more than once: {', '.join(twice)}; each may appear once"))
        return None
    unknown = [cell.strip() for cell, column in zip(cells, columns, strict=True) if column and column not in COLUMNS]
    if unknown:
        names = ", ".join(_shown(name) for name in unknown)
        errors.append(RowError(line, "", f"unknown columns {names}: expected {_COLUMN_LIST}"))
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        errors.append(RowError(line, "", f"missing columns {', '.join(missing)}: expected {_COLUMN_LIST}"))
        return None
    return columns


def _csv_values(cells: list[str], columns: tuple[str, ...], line: int, errors: list[RowError]) -> dict[str, object]:
    """The row's cells by column; a value outside the named columns is an error, an empty one is not."""
    values: dict[str, object] = {}
    stray: list[str] = []
    for position, cell in enumerate(cells):
        column = columns[position] if position < len(columns) else ""
        if column in COLUMNS:
            values[column] = cell
        elif column == "" and cell.strip():
            stray.append(cell.strip())
        # a value under an unknown column was already reported once, at the header
    if stray:
        shown = ", ".join(_shown(value) for value in stray)
        errors.append(RowError(line, "", f"extra values {shown} beyond the header's columns: expected {_COLUMN_LIST}"))
    return values


def _read_json(text: str, *, max_rows: int) -> _Read:
    """Accept a list of row objects or ``{"rows": [...]}``; keys are read like CSV column names."""
    read = _Read(refused=True)
    shape = 'the JSON must be a list of rows or an object {"rows": [...]}'
    try:
        document: object = json.loads(text)
    except json.JSONDecodeError as error:
        message = f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        read.errors.append(RowError(0, "", message))
        return read
    except (ValueError, RecursionError) as error:
        # json raises these, not JSONDecodeError, for a 5000-digit number or arrays nested 1000 deep.
        read.errors.append(RowError(0, "", f"malformed JSON: {_shown(str(error))}"))
        return read
    if isinstance(document, dict):
        extra = [key for key in document if key != "rows"]
        if extra:
            names = ", ".join(_shown(key) for key in extra)
            read.errors.append(RowError(0, "", f"unknown top-level keys {names}: {shape}"))
            return read
        document = document.get("rows")
    if not isinstance(document, list):
        read.errors.append(RowError(0, "", f"{shape}, not {_json_type(document)}"))
        return read
    if len(document) > max_rows:
        read.errors.append(_too_many_rows(0, max_rows))
        return read
    if not document:
        read.errors.append(RowError(0, "", "the file has no rows"))
        return read
    read.refused = False
    for index, item in enumerate(document):
        line = index + 1
        if not isinstance(item, dict):
            message = f"a row must be an object with the keys {_COLUMN_LIST}, not {_json_type(item)}"
            read.errors.append(RowError(line, "", message))
            continue
        errors_before = len(read.errors)
        values: dict[str, object] = {}
        unknown: list[str] = []
        for key, value in item.items():
            name = key.strip().lower()
            if name not in COLUMNS:
                unknown.append(key)
            elif name in values:
                read.errors.append(RowError(line, name, f"the key {name} appears more than once (ignoring case)"))
            else:
                values[name] = value
        if unknown:
            names = ", ".join(_shown(key) for key in unknown)
            read.errors.append(RowError(line, "", f"unknown keys {names}: expected {_COLUMN_LIST}"))
        read.records.append(_Record(line, values, flawed=len(read.errors) > errors_before))
    return read


# --------------------------------------------------------------------------------------------------
# Checking: raw values → HistoryRow, and the rules across rows
# --------------------------------------------------------------------------------------------------


class _InvalidValue(Exception):
    """A value cannot be used; the message says what is wrong and what to write instead."""


class _RowChecker:
    """Checks records one by one and remembers what the rules across rows need (earlier keys, headcounts)."""

    def __init__(self, *, units: Mapping[str, uuid.UUID], today: date, max_years: int) -> None:
        self._units = units
        self._unit_names: list[str] | None = None
        self._unit_lookups: dict[str, uuid.UUID | str] = {}
        self._week_lookups: dict[str, date | str] = {}
        self._current_monday = today - timedelta(days=today.weekday())
        self._max_years = max_years
        cutoff = today - timedelta(days=max_years * 365 + 1)
        self._oldest_monday = cutoff + timedelta(days=-cutoff.weekday() % 7)
        self._first_line_of: dict[tuple[date, uuid.UUID, Category], int] = {}
        self._employees_of: dict[tuple[uuid.UUID, date], tuple[int, int]] = {}
        self.rows: list[HistoryRow] = []
        self.errors: list[RowError] = []

    def check(self, record: _Record) -> None:
        """Add the record as a row, or its errors (all of them) to the error list."""
        errors_before = len(self.errors)
        week = self._field(record, "week", self._week)
        org_unit_id = self._field(record, "org_unit", self._org_unit)
        category = self._field(record, "category", _category)
        count = self._field(record, "count", _count)
        employees = self._field(record, "employees", _employees)
        if week is not None and org_unit_id is not None and category is not None:
            self._check_unique(record.line, week, org_unit_id, category)
        if week is not None and org_unit_id is not None and employees is not None:
            self._check_headcount(record.line, week, org_unit_id, employees)
        if (
            record.flawed
            or len(self.errors) > errors_before
            or week is None
            or org_unit_id is None
            or category is None
            or count is None
        ):
            return
        self.rows.append(HistoryRow(record.line, week, org_unit_id, category, count, employees))

    def _field(self, record: _Record, name: str, parse: Callable[[object], _T]) -> _T | None:
        try:
            return parse(record.values.get(name))
        except _InvalidValue as error:
            self.errors.append(RowError(record.line, name, str(error)))
            return None

    def _check_unique(self, line: int, week: date, org_unit_id: uuid.UUID, category: Category) -> None:
        """One count per week, unit and category: a second one would silently overwrite or add up."""
        first = self._first_line_of.setdefault((week, org_unit_id, category), line)
        if first != line:
            self.errors.append(
                RowError(
                    line,
                    "",
                    f"duplicate of line {first}: week {_iso_week(week)}, this org unit and category {category} "
                    "appear more than once; each combination may appear only once",
                )
            )

    def _check_headcount(self, line: int, week: date, org_unit_id: uuid.UUID, employees: int) -> None:
        """A unit has one headcount per week; a row that leaves it empty does not contradict one given."""
        first_line, first_employees = self._employees_of.setdefault((org_unit_id, week), (line, employees))
        if first_employees != employees:
            self.errors.append(
                RowError(
                    line,
                    "employees",
                    f"employees {employees} differs from {first_employees} on line {first_line} for the same org "
                    "unit and week: a unit has one headcount per week",
                )
            )

    def _week(self, value: object) -> date:
        return _cached(self._week_lookups, _text(value, "week", _WEEK_EXAMPLE), self._completed_week)

    def _completed_week(self, text: str) -> date:
        """The Monday a week value names, if that week is complete and not too old."""
        monday = _monday(text)
        shown = f"week {_iso_week(monday)} (Monday {monday.isoformat()})"
        last_complete = self._current_monday - timedelta(days=7)
        completed = f"history covers completed weeks only, the last being {_iso_week(last_complete)}"
        if monday > self._current_monday:
            raise _InvalidValue(f"{shown} is in the future: {completed}")
        if monday == self._current_monday:
            raise _InvalidValue(f"{shown} is the current week, which is not complete yet: {completed}")
        if monday < self._oldest_monday:
            raise _InvalidValue(
                f"{shown} is more than {self._max_years} years ago: the oldest week accepted is "
                f"{_iso_week(self._oldest_monday)} (Monday {self._oldest_monday.isoformat()})"
            )
        return monday

    def _org_unit(self, value: object) -> uuid.UUID:
        return _cached(self._unit_lookups, _text(value, "org_unit", _UNIT_EXPECTED), self._look_up_unit)

    def _look_up_unit(self, text: str) -> uuid.UUID:
        """The unit's id by name or id; for an unknown one, a close name as a suggestion."""
        key = text.lower()
        if key in self._units:
            return self._units[key]
        try:
            # An id written in another form (upper case, braces, no hyphens) is still that id.
            as_id = str(uuid.UUID(key))
        except ValueError:
            pass
        else:
            if as_id in self._units:
                return self._units[as_id]
        if self._unit_names is None:
            self._unit_names = [name for name in self._units if not _is_uuid(name)]
        raise _InvalidValue(
            f"unknown org unit {_shown(text)}: expected {_UNIT_EXPECTED}{_suggestion(key, self._unit_names)}"
        )


def _cached(cache: dict[str, _T | str], text: str, look_up: Callable[[str], _T]) -> _T:
    """``look_up(text)`` or its error, worked out once per distinct value: 100 000 rows have few weeks and units."""
    found = cache.get(text)
    if found is None:
        try:
            found = look_up(text)
        except _InvalidValue as error:
            found = str(error)
        cache[text] = found
    if isinstance(found, str):
        raise _InvalidValue(found)
    return found


def _category(value: object) -> Category:
    text = _text(value, "category", _CATEGORY_EXPECTED)
    category = _CATEGORIES.get(text.lower())
    if category is None:
        suggestion = _suggestion(text.lower(), list(_CATEGORIES))
        raise _InvalidValue(f"unknown category {_shown(text)}{suggestion}: expected {_CATEGORY_EXPECTED}")
    return category


def _count(value: object) -> int:
    number = _whole_number(value, "count", f"a whole number from 0 to {MAX_COUNT}")
    if number is None:
        raise _InvalidValue(f"missing count: expected a whole number from 0 to {MAX_COUNT}")
    if number > MAX_COUNT:
        raise _InvalidValue(f"count {number} is more than {MAX_COUNT}: expected a whole number from 0 to {MAX_COUNT}")
    return number


def _employees(value: object) -> int | None:
    expected = f"a whole number from 1 to {MAX_EMPLOYEES}, or empty when unknown"
    number = _whole_number(value, "employees", expected)
    if number is not None and not 1 <= number <= MAX_EMPLOYEES:
        raise _InvalidValue(f"employees {number} is out of range: expected {expected}")
    return number


def _whole_number(value: object, name: str, expected: str) -> int | None:
    """A non-negative integer, or None when empty; decimals and negatives are refused with their reason."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _InvalidValue(f"{name} must be {expected}, not {_json_type(value)}")
    if isinstance(value, float):
        # JSON 3.0 is a float too: a history of counts has no fractions, so a decimal point is a mistake.
        raise _InvalidValue(f"{name} {value!r} must be a whole number without decimals: expected {expected}")
    if isinstance(value, int):
        if value < 0:
            raise _InvalidValue(f"{name} {value} must not be negative: expected {expected}")
        return value
    text = value.strip()
    if not text:
        return None
    if _WHOLE_NUMBER.fullmatch(text):
        if len(text) > 7:
            # Out of range for every field; and int() of a 5000-digit string raises, so do not try.
            raise _InvalidValue(f"{name} {_shown(text)} is far too large: expected {expected}")
        return int(text)
    if _NEGATIVE_NUMBER.fullmatch(text):
        raise _InvalidValue(f"{name} {text} must not be negative: expected {expected}")
    if _DECIMAL_NUMBER.fullmatch(text):
        raise _InvalidValue(f"{name} {_shown(text)} must be a whole number without decimals: expected {expected}")
    raise _InvalidValue(f"{name} {_shown(text)} is not a number: expected {expected}")


def _text(value: object, name: str, expected: str) -> str:
    """A trimmed, non-empty text value; a missing or empty one names what is expected."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _InvalidValue(f"missing {name}: expected {expected}")
    if not isinstance(value, str):
        raise _InvalidValue(f"{name} must be text, {expected}, not {_json_type(value)}")
    return value.strip()


def _monday(text: str) -> date:
    """The Monday a week value names, ``2025-W14`` or ``2025-03-31``, or why it names none."""
    iso_week = _ISO_WEEK.fullmatch(text)
    if iso_week:
        year, week = int(iso_week["year"]), int(iso_week["week"])
        if year < 1:
            raise _InvalidValue(f"{_shown(text)} is not a week: expected {_WEEK_EXAMPLE}")
        weeks_in_year = date(year, 12, 28).isocalendar().week  # 28 December is always in the year's last week
        if not 1 <= week <= weeks_in_year:
            raise _InvalidValue(f"week {_shown(text)} does not exist: {year} has weeks 1 to {weeks_in_year}")
        return date.fromisocalendar(year, week, 1)
    if _ISO_DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _InvalidValue(f"{_shown(text)} is not a valid date: expected {_WEEK_EXAMPLE}") from None
        if day.weekday() != 0:
            monday = day - timedelta(days=day.weekday())
            raise _InvalidValue(
                f"{text} is a {_WEEKDAYS[day.weekday()]}, not a Monday: that week starts on Monday "
                f"{monday.isoformat()} (or write {_iso_week(monday)})"
            )
        return day
    day_first = _DAY_FIRST_DATE.fullmatch(text)
    if day_first:
        try:
            day = date(int(day_first["year"]), int(day_first["month"]), int(day_first["day"]))
        except ValueError:
            pass
        else:
            monday = day - timedelta(days=day.weekday())
            raise _InvalidValue(
                f"{_shown(text)} is not a week: write the Monday year first, as {monday.isoformat()}, "
                f"or the ISO week, as {_iso_week(monday)}"
            )
    raise _InvalidValue(f"{_shown(text)} is not a week: expected {_WEEK_EXAMPLE}")


def _iso_week(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _suggestion(value: str, candidates: list[str]) -> str:
    """ ", did you mean 'x'?" when one candidate is close: most unknown values are typos."""
    close = difflib.get_close_matches(value, candidates, n=1, cutoff=0.8)
    return f" (did you mean {_shown(close[0])}?)" if close else ""


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _shown(value: str) -> str:
    """A person's value quoted for a message, shortened, with control characters escaped."""
    if len(value) > _SHOWN_CHARACTERS:
        value = value[: _SHOWN_CHARACTERS - 1] + "…"
    return repr(value)


def _json_type(value: object) -> str:
    names: dict[type, str] = {bool: "true/false", int: "a number", float: "a number", str: "text"}
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return names.get(type(value), type(value).__name__)


def _too_many_rows(line: int, max_rows: int) -> RowError:
    return RowError(line, "", f"the file has more than {max_rows} rows: split it into imports of at most {max_rows}")


def _refused(error: RowError) -> ParsedHistory:
    return ParsedHistory(rows=(), errors=(error,))


def _capped(errors: list[RowError]) -> tuple[RowError, ...]:
    """At most MAX_ERRORS errors, the last one counting those left out."""
    if len(errors) <= MAX_ERRORS:
        return tuple(errors)
    kept = errors[: MAX_ERRORS - 1]
    return (*kept, RowError(0, "", f"… and {len(errors) - len(kept)} more errors"))
