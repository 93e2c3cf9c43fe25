"""KvK numbers, VAT ids (btw-id), postal codes, countries and electronic addresses: what is accepted, how it
is normalised, and that mistyped numbers are caught."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bmw.billing.domain.identifiers import (
    COUNTRY_CODES,
    InvalidIdentifier,
    normalise_country,
    normalise_electronic_address,
    normalise_kvk_number,
    normalise_postal_code,
    normalise_vat_id,
    passes_dutch_vat_check,
    passes_elfproef,
    passes_mod97,
)

#: A company's omzetbelastingnummer: its nine digits pass the elfproef (not mod 97).
COMPANY_VAT_ID = "NL004495445B01"
#: A sole trader's btw-id (since 2020): passes mod 97 over the whole id (not the elfproef).
SOLE_TRADER_VAT_ID = "NL002455799B11"


def accepted(vat_id: str) -> bool:
    try:
        normalise_vat_id(vat_id)
    except InvalidIdentifier:
        return False
    return True


def single_digit_changes(value: str, positions: range) -> list[str]:
    return [
        value[:position] + digit + value[position + 1 :]
        for position in positions
        for digit in "0123456789"
        if digit != value[position]
    ]


# -- KvK ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given_value", "expected"), [("17089342", "17089342"), (" 01234567 ", "01234567")])
def test_a_kvk_number_is_eight_digits(given_value: str, expected: str) -> None:
    assert normalise_kvk_number(given_value) == expected


@pytest.mark.parametrize(
    "wrong",
    ["1708934", "170893421", "1708934A", "", "1708 9342", "000017089342", "17.08.93.42", "１７０８９３４２"],
)
def test_anything_else_is_not_a_kvk_number(wrong: str) -> None:
    with pytest.raises(InvalidIdentifier, match="exactly 8 digits"):
        normalise_kvk_number(wrong)


# -- Dutch VAT ids ------------------------------------------------------------------------------------


def test_the_two_kinds_of_dutch_vat_id_pass_their_own_check() -> None:
    assert passes_elfproef(COMPANY_VAT_ID[2:11]) and not passes_mod97(COMPANY_VAT_ID)
    assert passes_mod97(SOLE_TRADER_VAT_ID) and not passes_elfproef(SOLE_TRADER_VAT_ID[2:11])
    assert normalise_vat_id(COMPANY_VAT_ID) == COMPANY_VAT_ID
    assert normalise_vat_id(SOLE_TRADER_VAT_ID) == SOLE_TRADER_VAT_ID


def test_a_vat_id_is_normalised_to_upper_case_without_separators() -> None:
    assert normalise_vat_id(" nl 0044.954.45-b01 ") == COMPANY_VAT_ID


@pytest.mark.parametrize(
    "near_miss",
    [
        "NL004495446B01",  # one digit of a company number changed
        "NL004495454B01",  # two digits of a company number swapped
        "NL002455799B12",  # the check digits of a sole trader's btw-id changed
        "NL002455789B11",  # one digit of a sole trader's btw-id changed
        "NL002545799B11",  # two digits of a sole trader's btw-id swapped
    ],
)
def test_near_misses_fail_both_checks(near_miss: str) -> None:
    assert not passes_dutch_vat_check(near_miss)
    with pytest.raises(InvalidIdentifier, match="neither the mod-97 check .* nor the elfproef"):
        normalise_vat_id(near_miss)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ("NL004495445B1", "NL \\+ 9 digits \\+ B \\+ 2 digits"),
        ("NL004495445X01", "NL \\+ 9 digits \\+ B \\+ 2 digits"),
        ("NL04495445B01", "NL \\+ 9 digits \\+ B \\+ 2 digits"),
        ("004495445B01", "prefix of an EU member state"),
        ("US123456789", "prefix of an EU member state"),
        ("GR123456789", "starts with EL"),
        ("", "prefix of an EU member state"),
    ],
)
def test_malformed_vat_ids_are_refused_saying_what_is_expected(wrong: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        normalise_vat_id(wrong)


@st.composite
def sole_trader_vat_ids(draw: st.DrawFn) -> str:
    """A btw-id that passes mod 97: nine random digits and the two check digits that make it 1 mod 97."""
    digits = draw(st.text(alphabet="0123456789", min_size=9, max_size=9))
    # NL = 2321 and B = 11 as numbers; choose the suffix so the whole number is 1 modulo 97.
    base = int(f"2321{digits}11") * 100
    return f"NL{digits}B{(1 - base) % 97:02d}"


@st.composite
def company_vat_ids(draw: st.DrawFn) -> str:
    """An omzetbelastingnummer: eight random digits, the ninth making the elfproef pass, any suffix."""
    digits = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    check = sum((9 - position) * int(digit) for position, digit in enumerate(digits)) % 11
    assume(check < 10)
    suffix = draw(st.integers(min_value=1, max_value=99))
    return f"NL{digits}{check}B{suffix:02d}"


@given(sole_trader_vat_ids(), st.data())
def test_any_single_digit_change_of_a_sole_trader_btw_id_is_rejected(vat_id: str, data: st.DataObject) -> None:
    """mod 97 catches every single-digit change. The changed number is only accepted when it happens to be a
    valid company number (its nine digits pass the elfproef), which no check can tell from a typo."""
    assert accepted(vat_id)
    changed = data.draw(
        st.sampled_from(single_digit_changes(vat_id, range(2, 11)) + single_digit_changes(vat_id, range(12, 14)))
    )
    assert not passes_mod97(changed)
    assert accepted(changed) == passes_elfproef(changed[2:11])


@given(company_vat_ids(), st.data())
def test_any_single_digit_change_of_a_company_number_is_rejected(vat_id: str, data: st.DataObject) -> None:
    """The elfproef catches every single-digit change in the nine digits; the changed number is only accepted
    when it happens to pass mod 97 as a sole trader's btw-id."""
    assert accepted(vat_id)
    changed = data.draw(st.sampled_from(single_digit_changes(vat_id, range(2, 11))))
    assert not passes_elfproef(changed[2:11])
    assert accepted(changed) == passes_mod97(changed)


def test_a_typo_may_coincide_with_a_valid_number_of_the_other_kind() -> None:
    """Why the properties above are conditional: accepting both kinds of number means a mistyped sole-trader
    btw-id can be a valid company number. Here one digit changed makes the nine digits pass the elfproef."""
    coincidences = [v for v in single_digit_changes(SOLE_TRADER_VAT_ID, range(2, 11)) if accepted(v)]
    assert coincidences, "expected at least one single-digit change that passes the elfproef"
    assert all(passes_elfproef(v[2:11]) and not passes_mod97(v) for v in coincidences)
    # at most one wrong digit value per position can satisfy the elfproef
    assert len(coincidences) <= 9


# -- other EU VAT ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("BE0403019261", "BE0403019261"),
        ("be 0403.019.261", "BE0403019261"),
        ("DE136695976", "DE136695976"),
        ("ATU13585627", "ATU13585627"),
        ("FR40303265045", "FR40303265045"),
        ("EL094259216", "EL094259216"),
    ],
)
def test_other_eu_vat_ids_are_accepted_in_their_form(given_value: str, expected: str) -> None:
    assert normalise_vat_id(given_value) == expected


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        ("BE0403019262", "Belgian VAT id: its check digits"),
        ("BE2403019261", "BE \\+ 10 digits starting with 0 or 1"),
        ("BE403019261", "BE \\+ 10 digits"),
        ("DE136695977", "German VAT id: its check digit"),
        ("DE13669597", "DE \\+ 9 digits"),
        ("ATU1358562", "not a valid AT VAT id"),
    ],
)
def test_wrong_belgian_german_and_other_vat_ids_are_refused(wrong: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier, match=message):
        normalise_vat_id(wrong)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8), st.sampled_from("01"), st.data())
def test_any_single_digit_change_of_a_belgian_vat_id_is_rejected(digits: str, first: str, data: st.DataObject) -> None:
    body = first + digits[1:]
    number = f"{body}{97 - int(body) % 97:02d}"
    assert accepted(f"BE{number}")
    changed = data.draw(st.sampled_from(single_digit_changes(number, range(10))))
    assert not accepted(f"BE{changed}")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.data())
def test_any_single_digit_change_of_a_german_vat_id_is_rejected(digits: str, data: st.DataObject) -> None:
    valid = [f"DE{digits[:8]}{check}" for check in "0123456789" if accepted(f"DE{digits[:8]}{check}")]
    assert len(valid) == 1  # exactly one check digit fits eight digits
    changed = data.draw(st.sampled_from(single_digit_changes(valid[0], range(2, 11))))
    assert not accepted(changed)


# -- countries and postal codes -----------------------------------------------------------------------


def test_countries_are_iso_3166_alpha_2_codes() -> None:
    assert len(COUNTRY_CODES) == 249
    assert normalise_country(" nl ") == "NL"
    for wrong in ("NLD", "XX", "", "EU"):
        with pytest.raises(InvalidIdentifier, match="ISO 3166-1 alpha-2"):
            normalise_country(wrong)


@given(
    st.integers(min_value=1000, max_value=9999),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRTUVWXYZ", min_size=2, max_size=2),
    st.sampled_from(["", " ", "  "]),
    st.booleans(),
)
def test_a_dutch_postal_code_is_normalised_to_1234_ab(digits: int, letters: str, gap: str, lower: bool) -> None:
    assume(letters not in {"SA", "SD", "SS"})
    written = f" {digits}{gap}{letters.lower() if lower else letters} "
    assert normalise_postal_code(written, "NL") == f"{digits} {letters}"


@pytest.mark.parametrize(
    "wrong", ["0123 AB", "123 AB", "12345 AB", "1234 A", "1234 ABC", "1234 SS", "AB 1234", "1234-AB"]
)
def test_malformed_dutch_postal_codes_are_refused(wrong: str) -> None:
    with pytest.raises(InvalidIdentifier, match="Dutch postal code"):
        normalise_postal_code(wrong, "NL")


def test_postal_codes_of_other_countries() -> None:
    assert normalise_postal_code("1000", "BE") == "1000"
    assert normalise_postal_code("10115", "DE") == "10115"
    assert normalise_postal_code("L-1009", "LU") == "1009"
    assert normalise_postal_code("sw1a 1aa", "GB") == "SW1A 1AA"
    with pytest.raises(InvalidIdentifier, match="DE postal code is 5 digits"):
        normalise_postal_code("1011", "DE")
    with pytest.raises(InvalidIdentifier, match="BE postal code is 4 digits"):
        normalise_postal_code("1234 AB", "BE")
    with pytest.raises(InvalidIdentifier, match="letters, digits, spaces or dashes"):
        normalise_postal_code("12#4", "FR")


# -- electronic addresses -----------------------------------------------------------------------------


def test_electronic_addresses_are_checked_for_their_scheme() -> None:
    assert normalise_electronic_address("0106", "17089342") == "17089342"
    assert normalise_electronic_address("9944", "nl004495445b01") == COMPANY_VAT_ID
    assert normalise_electronic_address("0208", "0403019261") == "0403019261"
    assert normalise_electronic_address("0088", "4006381333931") == "4006381333931"
    assert normalise_electronic_address("0190", "00000001003214345000") == "00000001003214345000"
    refused = [
        ("0106", "1708934", "exactly 8 digits"),
        ("9944", "DE136695976", "Dutch VAT id"),
        ("9930", COMPANY_VAT_ID, "German VAT id"),
        ("0208", "0403019262", "Belgian enterprise number"),
        ("0088", "4006381333932", "GLN"),
        ("0190", "123", "OIN"),
        ("9999", "x", "unknown electronic address scheme"),
    ]
    for scheme, identifier, message in refused:
        with pytest.raises(InvalidIdentifier, match=message):
            normalise_electronic_address(scheme, identifier)
