"""History import (issue 6): a CSV or JSON file of weekly counts is read row by row, every error named."""

from __future__ import annotations

import codecs
import csv
import io
import json
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmw.contracts.taxonomy import Category
from bmw.signals.domain.history import (
    MAX_ERRORS,
    HistoryRow,
    ParsedHistory,
    RowError,
    parse_history,
    template_csv,
)

#: A Wednesday: the current (incomplete) week starts on Monday 2025-05-05, the last complete one is 2025-W18.
TODAY = date(2025, 5, 7)
CURRENT_MONDAY = date(2025, 5, 5)
#: TODAY - (3·365 + 1) days is Saturday 2022-05-07; the first Monday on or after it is the oldest week accepted.
OLDEST_MONDAY = date(2022, 5, 9)

FINANCE = uuid.UUID("6a1b0c4e-1f0a-4a57-9d7e-3c1d2b9a0f01")
LOGISTICS = uuid.UUID("6a1b0c4e-1f0a-4a57-9d7e-3c1d2b9a0f02")
RESEARCH = uuid.UUID("6a1b0c4e-1f0a-4a57-9d7e-3c1d2b9a0f03")
#: The names as a person writes them (the caller passes them lower-cased, beside the ids).
UNIT_NAMES: dict[str, uuid.UUID] = {
    "Finance": FINANCE,
    "Logistiek; Noord": LOGISTICS,
    'R&D, "Lab"': RESEARCH,
}
UNITS: dict[str, uuid.UUID] = {
    **{name.lower(): unit_id for name, unit_id in UNIT_NAMES.items()},
    **{str(unit_id): unit_id for unit_id in UNIT_NAMES.values()},
}
HEADER = "week,org_unit,category,count,employees"


def parse(
    content: bytes, media_type: str, *, today: date = TODAY, max_years: int = 3, max_rows: int = 100_000
) -> ParsedHistory:
    """Parse with the test organisation's units and TODAY unless the test says otherwise."""
    return parse_history(
        content, media_type=media_type, units=UNITS, today=today, max_years=max_years, max_rows=max_rows
    )


def parse_csv(text: str, *, today: date = TODAY, max_years: int = 3, max_rows: int = 100_000) -> ParsedHistory:
    return parse(text.encode(), "text/csv", today=today, max_years=max_years, max_rows=max_rows)


def parse_json(document: object, *, max_rows: int = 100_000) -> ParsedHistory:
    return parse(json.dumps(document).encode(), "application/json", max_rows=max_rows)


def csv_file(*lines: str, header: str = HEADER) -> str:
    return "\n".join((header, *lines)) + "\n"


def row(
    line: int,
    week: date = date(2025, 3, 31),
    org_unit_id: uuid.UUID = FINANCE,
    category: Category = Category.WORKLOAD_STRESS,
    count: int = 3,
    employees: int | None = None,
) -> HistoryRow:
    return HistoryRow(line, week, org_unit_id, category, count, employees)


def only_error(parsed: ParsedHistory) -> RowError:
    assert not parsed.ok
    assert len(parsed.errors) == 1, parsed.errors
    return parsed.errors[0]


# -- valid files --------------------------------------------------------------------------------


def test_the_template_is_a_valid_file() -> None:
    units = {"finance": FINANCE, "logistics north": LOGISTICS}

    parsed = parse_history(template_csv().encode(), media_type="text/csv", units=units, today=TODAY)

    assert parsed.ok
    assert parsed.errors == ()
    assert parsed.rows == (
        row(2, count=3, employees=120),
        row(3, category=Category.REORGANISATION_UNCERTAINTY, count=5, employees=120),
        row(4, org_unit_id=LOGISTICS, category=Category.CONFLICT_MANAGER, count=2),
    )


def test_a_comma_separated_file_is_read() -> None:
    parsed = parse_csv(
        csv_file("2025-W14,Finance,workload_stress,3,120", "2025-04-07,finance,burnout_risk,0,"),
    )

    assert parsed.errors == ()
    assert parsed.rows == (
        row(2, count=3, employees=120),
        row(3, week=date(2025, 4, 7), category=Category.BURNOUT_RISK, count=0),
    )


def test_a_semicolon_separated_file_from_dutch_excel_is_read() -> None:
    # Excel with a Dutch locale: ';', CRLF, a byte order mark, empty trailing rows of delimiters only.
    text = "week;org_unit;category;count;employees\r\n2025-W14;Finance;workload_stress;3;120\r\n;;;;\r\n;;;;\r\n"

    parsed = parse_history(codecs.BOM_UTF8 + text.encode(), media_type="text/csv", units=UNITS, today=TODAY)

    assert parsed.errors == ()
    assert parsed.rows == (row(2, count=3, employees=120),)


def test_a_unit_name_containing_the_other_delimiter_is_one_value() -> None:
    parsed = parse_csv(csv_file('2025-W14;"R&D, ""Lab""";other;1;', header="week;org_unit;category;count;employees"))

    assert parsed.errors == ()
    assert parsed.rows == (row(2, org_unit_id=RESEARCH, category=Category.OTHER, count=1),)


def test_column_names_ignore_case_and_surrounding_spaces_and_employees_is_optional() -> None:
    parsed = parse_csv(csv_file("4,2025-W14,Finance,Other", header=" COUNT , Week,Org_Unit ,category"))

    assert parsed.errors == ()
    assert parsed.rows == (row(2, category=Category.OTHER, count=4),)


def test_empty_lines_are_skipped_and_line_numbers_stay_those_of_the_file() -> None:
    parsed = parse_csv(f"\n{HEADER}\n\n2025-W14,Finance,other,1,\n   \n2025-W15,Finance,other,2,\n")

    assert parsed.errors == ()
    assert [r.line for r in parsed.rows] == [4, 6]


def test_a_quoted_value_over_two_lines_moves_the_line_numbers_of_later_rows() -> None:
    parsed = parse_csv(csv_file('2025-W14,"Logistiek\nNoord",other,1,', "2025-W14,Finance,bogus,1,"))

    # The first row starts on line 2 and ends on line 3; the second starts on line 4.
    assert [(error.line, error.field) for error in parsed.errors] == [(2, "org_unit"), (4, "category")]


def test_units_are_found_by_name_or_by_id_in_any_spelling() -> None:
    spellings = ["  FINANCE ", str(FINANCE), str(FINANCE).upper(), "{" + str(FINANCE) + "}", FINANCE.hex]
    lines = [f"2025-W{14 + index},{spelling},other,1," for index, spelling in enumerate(spellings)]

    parsed = parse_csv(csv_file(*lines))

    assert parsed.errors == ()
    assert [r.org_unit_id for r in parsed.rows] == [FINANCE] * len(spellings)


def test_category_codes_ignore_case_and_spaces() -> None:
    parsed = parse_csv(csv_file("2025-W14,Finance, Burnout_Risk ,1,"))

    assert parsed.rows == (row(2, category=Category.BURNOUT_RISK, count=1),)


@pytest.mark.parametrize("media_type", ["text/csv", "application/csv", "text/csv; charset=utf-8", "Text/CSV"])
def test_the_csv_media_types(media_type: str) -> None:
    parsed = parse_history(
        csv_file("2025-W14,Finance,other,1,").encode(), media_type=media_type, units=UNITS, today=TODAY
    )

    assert parsed.ok
    assert len(parsed.rows) == 1


JSON_ROWS = [
    {"week": "2025-W14", "org_unit": "Finance", "category": "workload_stress", "count": 3, "employees": 120},
    {"Week": "2025-04-07", " ORG_UNIT": str(LOGISTICS), "category": "dismissal", "count": "2"},
    {"week": "2025-W15", "org_unit": "finance", "category": "other", "count": 0, "employees": None},
]
JSON_EXPECTED = (
    row(1, count=3, employees=120),
    row(2, week=date(2025, 4, 7), org_unit_id=LOGISTICS, category=Category.DISMISSAL, count=2),
    row(3, week=date(2025, 4, 7), category=Category.OTHER, count=0),
)


def test_a_json_list_of_rows_is_read_and_numbered_from_one() -> None:
    parsed = parse_json(JSON_ROWS)

    assert parsed.errors == ()
    assert parsed.rows == JSON_EXPECTED


def test_a_json_object_with_rows_is_read() -> None:
    parsed = parse(json.dumps({"rows": JSON_ROWS}).encode(), "application/json; charset=utf-8")

    assert parsed.errors == ()
    assert parsed.rows == JSON_EXPECTED


# -- the file as a whole ------------------------------------------------------------------------


def test_an_unsupported_media_type_is_one_file_level_error() -> None:
    error = only_error(parse(b"week,org_unit,category,count\n", "application/vnd.ms-excel"))

    assert (error.line, error.field) == (0, "")
    assert "'application/vnd.ms-excel'" in error.message
    assert "text/csv" in error.message
    assert "application/json" in error.message


def test_unknown_columns_are_named_and_the_rows_still_checked() -> None:
    parsed = parse_csv(
        csv_file("2025-W14,Finance,other,1,,x,y", "2025-W14,Nowhere,other,1,,,", header=HEADER + ",Team,notes")
    )

    assert parsed.errors[0].line == 1
    assert parsed.errors[0].field == ""
    assert "unknown columns 'Team', 'notes'" in parsed.errors[0].message
    assert [(error.line, error.field) for error in parsed.errors[1:]] == [(3, "org_unit")]
    assert parsed.rows == (row(2, category=Category.OTHER, count=1),)


def test_missing_columns_are_named_and_no_row_is_read() -> None:
    error = only_error(parse_csv(csv_file("2025-W14,Finance", header="week,org_unit")))

    assert (error.line, error.field) == (1, "")
    assert "missing columns category, count" in error.message


def test_a_file_without_a_header_says_that_the_first_line_must_be_one() -> None:
    error = only_error(parse_csv("2025-W14,Finance,other,1\n2025-W15,Finance,other,1\n"))

    assert error.line == 1
    assert "must be a header naming week, org_unit, category, count" in error.message
    assert "'2025-W14'" in error.message


def test_a_column_named_twice_is_refused() -> None:
    error = only_error(parse_csv(csv_file("2025-W14,Finance,other,1,2", header="week,org_unit,category,count,COUNT")))

    assert error.line == 1
    assert "more than once: count" in error.message


@pytest.mark.parametrize("text", ["", "\n\n", "   \r\n"])
def test_an_empty_file_is_refused(text: str) -> None:
    error = only_error(parse_csv(text))

    assert "empty" in error.message


def test_a_header_without_rows_is_refused() -> None:
    assert "no rows" in only_error(parse_csv(csv_file())).message


def test_values_beyond_the_header_are_an_error_but_empty_ones_are_not() -> None:
    parsed = parse_csv(csv_file("2025-W14,Finance,other,1,,,", "2025-W15,Finance,other,1,,surprise"))

    assert parsed.rows == (row(2, category=Category.OTHER, count=1),)
    error = only_error(ParsedHistory(rows=(), errors=parsed.errors))
    assert (error.line, error.field) == (3, "")
    assert "'surprise'" in error.message


def test_a_short_row_reports_its_missing_values() -> None:
    parsed = parse_csv(csv_file("2025-W14,Finance"))

    assert [(error.line, error.field) for error in parsed.errors] == [(2, "category"), (2, "count")]
    assert parsed.errors[0].message.startswith("missing category")
    assert parsed.rows == ()


# -- one value at a time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("week", "expected"),
    [
        ("", "missing week: expected an ISO week like 2025-W14 or its Monday like 2025-03-31"),
        ("2025-04-02", "2025-04-02 is a Wednesday, not a Monday: that week starts on Monday 2025-03-31"),
        ("2025-04-06", "is a Sunday, not a Monday: that week starts on Monday 2025-03-31 (or write 2025-W14)"),
        ("2025-02-30", "'2025-02-30' is not a valid date"),
        ("2024-W53", "week '2024-W53' does not exist: 2024 has weeks 1 to 52"),
        ("2025-W00", "does not exist"),
        ("31-03-2025", "write the Monday year first, as 2025-03-31, or the ISO week, as 2025-W14"),
        ("week 14", "'week 14' is not a week: expected an ISO week like 2025-W14"),
        ("2025-W19", "week 2025-W19 (Monday 2025-05-05) is the current week, which is not complete yet"),
        ("2025-05-12", "week 2025-W20 (Monday 2025-05-12) is in the future"),
        ("2031-W01", "is in the future: history covers completed weeks only, the last being 2025-W18"),
        ("2022-05-02", "is more than 3 years ago: the oldest week accepted is 2022-W19 (Monday 2022-05-09)"),
        ("1999-W01", "more than 3 years ago"),
    ],
)
def test_a_wrong_week_names_the_problem(week: str, expected: str) -> None:
    error = only_error(parse_csv(csv_file(f"{week},Finance,other,1,")))

    assert (error.line, error.field) == (2, "week")
    assert expected in error.message


def test_the_last_complete_week_and_the_oldest_week_are_accepted() -> None:
    parsed = parse_csv(
        csv_file(f"{CURRENT_MONDAY - timedelta(days=7)},Finance,other,1,", f"{OLDEST_MONDAY},Finance,other,1,")
    )

    assert parsed.errors == ()
    assert [r.week for r in parsed.rows] == [date(2025, 4, 28), OLDEST_MONDAY]


def test_the_week_of_today_is_current_on_its_sunday_too() -> None:
    error = only_error(parse_csv(csv_file("2025-W19,Finance,other,1,"), today=date(2025, 5, 11)))

    assert "current week" in error.message


def test_an_existing_week_53_is_accepted_and_max_years_reaches_further_back() -> None:
    parsed = parse_csv(csv_file("2020-W53,Finance,other,1,"), max_years=5)

    assert parsed.rows == (row(2, week=date(2020, 12, 28), category=Category.OTHER, count=1),)


def test_an_unknown_org_unit_says_what_is_expected_and_suggests_a_close_name() -> None:
    parsed = parse_csv(csv_file("2025-W14,Logistiek Noord,other,1,", "2025-W14,Marketing,other,1,"))

    assert [(error.line, error.field) for error in parsed.errors] == [(2, "org_unit"), (3, "org_unit")]
    assert parsed.errors[0].message == (
        "unknown org unit 'Logistiek Noord': expected one of the organisation's unit names or ids"
        " (did you mean 'logistiek; noord'?)"
    )
    assert parsed.errors[1].message == (
        "unknown org unit 'Marketing': expected one of the organisation's unit names or ids"
    )


def test_an_unknown_unit_id_is_an_unknown_org_unit() -> None:
    error = only_error(parse_csv(csv_file(f"2025-W14,{uuid.UUID(int=7)},other,1,")))

    assert error.field == "org_unit"
    assert error.message.startswith("unknown org unit")


def test_an_unknown_category_lists_every_valid_code() -> None:
    error = only_error(parse_csv(csv_file("2025-W14,Finance,stress,1,")))

    assert (error.line, error.field) == (2, "category")
    assert error.message.startswith("unknown category 'stress'")
    for category in Category:
        assert category.value in error.message


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        ("", "missing count"),
        ("3.5", "count '3.5' must be a whole number without decimals"),
        ("3,0", "must be a whole number without decimals"),
        ("-1", "count -1 must not be negative"),
        ("10001", "count 10001 is more than 10000"),
        ("9" * 5000, "far too large"),
        ("drie", "count 'drie' is not a number: expected a whole number from 0 to 10000"),
    ],
)
def test_a_wrong_count_names_the_problem(count: str, expected: str) -> None:
    error = only_error(parse_csv(csv_file(f'2025-W14,Finance,other,"{count}",')))

    assert (error.line, error.field) == (2, "count")
    assert expected in error.message


def test_the_count_bounds_are_accepted() -> None:
    parsed = parse_csv(csv_file("2025-W14,Finance,other,0,", "2025-W15,Finance,other,10000,"))

    assert [r.count for r in parsed.rows] == [0, 10000]


@pytest.mark.parametrize(
    ("employees", "expected"),
    [
        ("0", "employees 0 is out of range: expected a whole number from 1 to 1000000, or empty when unknown"),
        ("1000001", "employees 1000001 is out of range"),
        ("12.5", "must be a whole number without decimals"),
        ("-3", "must not be negative"),
        ("veel", "is not a number"),
    ],
)
def test_a_wrong_employees_value_names_the_problem(employees: str, expected: str) -> None:
    error = only_error(parse_csv(csv_file(f"2025-W14,Finance,other,1,{employees}")))

    assert (error.line, error.field) == (2, "employees")
    assert expected in error.message


def test_every_error_of_a_row_is_reported_not_only_the_first() -> None:
    parsed = parse_csv(csv_file("2025-04-02,Nowhere,stress,-1,0"))

    assert [(error.line, error.field) for error in parsed.errors] == [
        (2, "week"),
        (2, "org_unit"),
        (2, "category"),
        (2, "count"),
        (2, "employees"),
    ]
    assert parsed.rows == ()


def test_errors_of_all_rows_are_reported_in_line_order_and_good_rows_are_kept() -> None:
    parsed = parse_csv(csv_file("2025-W14,Finance,other,1,", "2025-W14,Finance,bogus,1,", "2025-W15,Finance,other,x,"))

    assert [(error.line, error.field) for error in parsed.errors] == [(3, "category"), (4, "count")]
    assert parsed.rows == (row(2, category=Category.OTHER, count=1),)
    assert not parsed.ok


# -- rules across rows --------------------------------------------------------------------------


def test_the_same_week_unit_and_category_twice_is_an_error_on_the_later_line() -> None:
    parsed = parse_csv(
        csv_file(
            "2025-W14,Finance,other,1,",
            "2025-W14,Finance,grief,1,",
            f"2025-03-31,{FINANCE},other,5,",  # the same week and unit, written differently
        )
    )

    error = only_error(parsed)
    assert (error.line, error.field) == (4, "")
    assert error.message.startswith("duplicate of line 2:")
    assert [r.line for r in parsed.rows] == [2, 3]


def test_a_duplicate_is_found_even_when_the_first_row_has_a_wrong_count() -> None:
    parsed = parse_csv(csv_file("2025-W14,Finance,other,x,", "2025-W14,Finance,other,1,"))

    assert [(error.line, error.field) for error in parsed.errors] == [(2, "count"), (3, "")]
    assert "duplicate of line 2" in parsed.errors[1].message


def test_different_headcounts_for_one_unit_and_week_are_an_error() -> None:
    parsed = parse_csv(
        csv_file("2025-W14,Finance,other,1,120", "2025-W14,Finance,grief,1,", "2025-W14,Finance,career,1,118")
    )

    error = only_error(parsed)
    assert (error.line, error.field) == (4, "employees")
    assert "employees 118 differs from 120 on line 2" in error.message
    # An empty headcount does not contradict one given on another row.
    assert [(r.line, r.employees) for r in parsed.rows] == [(2, 120), (3, None)]


def test_headcounts_may_differ_between_units_and_between_weeks() -> None:
    parsed = parse_csv(
        csv_file("2025-W14,Finance,other,1,120", f"2025-W14,{LOGISTICS},other,1,40", "2025-W15,Finance,other,1,125")
    )

    assert parsed.ok
    assert [r.employees for r in parsed.rows] == [120, 40, 125]


# -- JSON ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"data": JSON_ROWS}, "unknown top-level keys 'data'"),
        ({"rows": JSON_ROWS, "tenant": "x"}, "unknown top-level keys 'tenant'"),
        ({"rows": {"week": "2025-W14"}}, 'must be a list of rows or an object {"rows": [...]}, not an object'),
        ("rows", "not text"),
        ([], "no rows"),
    ],
)
def test_a_json_document_of_the_wrong_shape_is_one_file_level_error(document: object, expected: str) -> None:
    error = only_error(parse_json(document))

    assert (error.line, error.field) == (0, "")
    assert expected in error.message


def test_json_rows_are_checked_like_csv_rows() -> None:
    parsed = parse_json(
        [
            ["2025-W14", "Finance", "other", 1],
            {"week": 202514, "org_unit": "Finance", "category": "other", "count": 3.0},
            {"week": "2025-W14", "org_unit": "Finance", "category": "other", "count": True, "team": "A"},
            {"week": "2025-W15", "org_unit": "Finance", "category": "other"},
            {"week": "2025-W16", "org_unit": "Finance", "category": "other", "count": -2, "employees": "0"},
        ]
    )

    assert [(error.line, error.field) for error in parsed.errors] == [
        (1, ""),
        (2, "week"),
        (2, "count"),
        (3, ""),
        (3, "count"),
        (4, "count"),
        (5, "count"),
        (5, "employees"),
    ]
    messages = [error.message for error in parsed.errors]
    assert messages[0].startswith("a row must be an object with the keys week, org_unit")
    assert "week must be text" in messages[1]
    assert "count 3.0 must be a whole number without decimals" in messages[2]
    assert "unknown keys 'team'" in messages[3]
    assert "count must be a whole number from 0 to 10000, not true/false" in messages[4]
    assert messages[5].startswith("missing count")
    assert "must not be negative" in messages[6]
    assert parsed.rows == ()


def test_a_json_key_given_twice_in_different_case_is_an_error() -> None:
    parsed = parse(
        b'[{"week": "2025-W14", "WEEK": "2025-W15", "org_unit": "Finance", "category": "other", "count": 1}]',
        "application/json",
    )

    error = only_error(parsed)
    assert (error.line, error.field) == (1, "week")
    assert "more than once" in error.message


# -- caps ---------------------------------------------------------------------------------------


def test_more_rows_than_the_cap_refuses_the_file_without_checking_the_rows() -> None:
    # Both rows are wrong, yet only the cap is reported: the rows past it are never read.
    error = only_error(parse_csv(csv_file("2025-W14,Nowhere,other,1,", "2025-W15,Nowhere,other,1,", "x"), max_rows=2))

    assert (error.line, error.field) == (4, "")
    assert "more than 2 rows" in error.message


def test_exactly_the_cap_is_accepted() -> None:
    parsed = parse_csv(csv_file("2025-W14,Finance,other,1,", "2025-W15,Finance,other,1,"), max_rows=2)

    assert parsed.ok
    assert len(parsed.rows) == 2


def test_a_json_list_longer_than_the_cap_is_refused() -> None:
    error = only_error(parse_json(JSON_ROWS, max_rows=2))

    assert "more than 2 rows" in error.message


def test_the_error_list_is_cut_at_its_cap_with_a_count_of_the_rest() -> None:
    lines = [f"2025-W14,Nowhere,bogus,{index}," for index in range(150)]  # two errors per row: 300

    parsed = parse_csv(csv_file(*lines))

    assert len(parsed.errors) == MAX_ERRORS == 200
    assert parsed.errors[-1] == RowError(0, "", "… and 101 more errors")
    assert parsed.errors[-2].line == 101  # 199 kept: rows 2..100 (198 errors) and the first error of row 101
    assert parsed.rows == ()


def test_exactly_the_error_cap_is_not_cut() -> None:
    lines = [f"2025-W14,Nowhere,bogus,{index}," for index in range(100)]

    parsed = parse_csv(csv_file(*lines))

    assert len(parsed.errors) == 200
    assert all(error.line > 0 for error in parsed.errors)


@pytest.mark.parametrize("max_rows", [0, -1])
def test_a_nonsensical_cap_is_a_programming_error(max_rows: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        parse_csv(csv_file("2025-W14,Finance,other,1,"), max_rows=max_rows)


# -- broken files -------------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_says_where() -> None:
    content = f"{HEADER}\n2025-W14,".encode() + "Zorg & Welzijn".encode("cp1252") + b"\xe9,other,1,\n"

    error = only_error(parse_history(content, media_type="text/csv", units=UNITS, today=TODAY))

    assert (error.line, error.field) == (2, "")
    assert "not valid UTF-8 (byte 0xE9 on line 2, column 24)" in error.message
    assert "CSV UTF-8" in error.message


def test_a_utf16_file_is_refused_with_a_hint() -> None:
    content = codecs.BOM_UTF16_LE + csv_file("2025-W14,Finance,other,1,").encode("utf-16-le")

    error = only_error(parse_history(content, media_type="text/csv", units=UNITS, today=TODAY))

    assert "UTF-16" in error.message


def test_an_unterminated_quote_is_a_malformed_csv_error_with_its_line() -> None:
    parsed = parse_csv(csv_file("2025-W14,Finance,other,1,", '2025-W15,"Finance,other,1,', "2025-W16,Finance,other,1,"))

    error = only_error(ParsedHistory(rows=(), errors=parsed.errors))
    assert error.line == 4
    assert error.message.startswith("malformed CSV on line 4: unexpected end of data")
    assert [r.line for r in parsed.rows] == [2]  # what came before is still checked


def test_text_after_a_closing_quote_is_a_malformed_csv_error() -> None:
    error = only_error(parse_csv(csv_file('2025-W14,"Finance"x,other,1,')))

    assert error.line == 2
    assert "malformed CSV" in error.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'[{"week": "2025-W14",', "malformed JSON at line 1, column 22"),
        (b"[\n  1,\n  }\n]", "malformed JSON at line 3, column 3"),
        (b"[" * 100_000, "malformed JSON"),
        (b"[" + b"9" * 5000 + b"]", "malformed JSON"),
        (b'["\xc3\x28"]', "not valid UTF-8 (byte 0xC3 on line 1, column 3)"),
    ],
)
def test_malformed_json_is_a_file_level_error_with_the_position(content: bytes, expected: str) -> None:
    error = only_error(parse_history(content, media_type="application/json", units=UNITS, today=TODAY))

    assert (error.line, error.field) == (0, "")
    assert expected in error.message


@settings(max_examples=300)
@given(content=st.binary(max_size=300), media_type=st.sampled_from(["text/csv", "application/json"]))
def test_garbage_bytes_never_raise(content: bytes, media_type: str) -> None:
    parsed = parse_history(content, media_type=media_type, units=UNITS, today=TODAY)

    assert len(parsed.errors) <= MAX_ERRORS
    assert parsed.ok == (not parsed.errors)


@settings(max_examples=300)
@given(
    text=st.text(
        alphabet=st.sampled_from(list(';,"\n\r -W0123456789Financeotherweekorg_unitcategorycount')), max_size=200
    )
)
def test_garbage_text_with_the_right_words_never_raises(text: str) -> None:
    for media_type in ("text/csv", "application/json"):
        parsed = parse_history((HEADER + "\n" + text).encode(), media_type=media_type, units=UNITS, today=TODAY)
        assert parsed.ok == (not parsed.errors)
        assert all(r.week < CURRENT_MONDAY for r in parsed.rows)


# -- round trip ---------------------------------------------------------------------------------

_SPELLINGS: list[Callable[[str], str]] = [str, str.lower, str.upper, lambda name: f"  {name} "]


@st.composite
def history_files(draw: st.DrawFn) -> tuple[list[dict[str, str]], tuple[HistoryRow, ...]]:
    """Rows as a person writes them (names or ids, ISO weeks or Mondays), and the rows they mean."""
    keys = draw(
        st.lists(
            st.tuples(st.integers(1, 150), st.sampled_from(list(UNIT_NAMES)), st.sampled_from(list(Category))),
            unique=True,
            max_size=25,
        )
    )
    headcount_base = draw(st.integers(1, 900_000))
    written: list[dict[str, str]] = []
    expected: list[HistoryRow] = []
    for index, (weeks_back, name, category) in enumerate(keys):
        monday = CURRENT_MONDAY - timedelta(weeks=weeks_back)
        unit_id = UNIT_NAMES[name]
        count = draw(st.integers(0, 10_000))
        # One headcount per unit and week, given on some rows and left empty on others.
        employees = headcount_base + weeks_back * 7 + len(name) if draw(st.booleans()) else None
        year, week, _ = monday.isocalendar()
        written.append(
            {
                "week": draw(st.sampled_from([f"{year}-W{week:02d}", monday.isoformat()])),
                "org_unit": draw(st.sampled_from([draw(st.sampled_from(_SPELLINGS))(name), str(unit_id)])),
                "category": category.value,
                "count": str(count),
                "employees": "" if employees is None else str(employees),
            }
        )
        expected.append(HistoryRow(index + 2, monday, unit_id, category, count, employees))
    return written, tuple(expected)


@settings(max_examples=200)
@given(file=history_files(), delimiter=st.sampled_from([",", ";"]), bom=st.booleans())
def test_rows_written_as_csv_parse_back_to_the_same_rows(
    file: tuple[list[dict[str, str]], tuple[HistoryRow, ...]], delimiter: str, bom: bool
) -> None:
    written, expected = file
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["week", "org_unit", "category", "count", "employees"], delimiter=delimiter)
    writer.writeheader()
    writer.writerows(written)
    content = (codecs.BOM_UTF8 if bom else b"") + out.getvalue().encode()

    parsed = parse_history(content, media_type="text/csv", units=UNITS, today=TODAY)

    if expected:
        assert parsed.errors == ()
        assert parsed.rows == expected
    else:
        assert only_error(parsed).message == "the file has a header but no rows"


@settings(max_examples=100)
@given(file=history_files())
def test_rows_written_as_json_parse_back_to_the_same_rows(
    file: tuple[list[dict[str, str]], tuple[HistoryRow, ...]],
) -> None:
    written, expected = file
    document = [
        {
            **values,
            "count": int(values["count"]),
            "employees": int(values["employees"]) if values["employees"] else None,
        }
        for values in written
    ]

    parsed = parse_json({"rows": document})

    if expected:
        assert parsed.errors == ()
        assert parsed.rows == tuple(
            HistoryRow(r.line - 1, r.week, r.org_unit_id, r.category, r.count, r.employees) for r in expected
        )
    else:
        assert only_error(parsed).message == "the file has no rows"
