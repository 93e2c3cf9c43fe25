"""Identifiers of a client organisation: KvK number, VAT id, postal code, country, electronic address.

Pure functions that normalise a value or raise :class:`InvalidIdentifier` with a message that says what
is expected. They know nothing of HTTP: the caller attaches the field path.
"""

from __future__ import annotations

import re
from typing import Final


class InvalidIdentifier(ValueError):
    """A value that does not follow its identifier's rules; ``str(error)`` says what is expected."""


# -- KvK number ----------------------------------------------------------------------------------

_KVK = re.compile(r"[0-9]{8}")


def normalise_kvk_number(value: str) -> str:
    """A Chamber of Commerce (Kamer van Koophandel) number: exactly 8 digits.

    The KvK publishes no check digit for these numbers, so only the form is checked. Surrounding
    whitespace is dropped; anything else (letters, spaces, 7 or 9 digits, the 12-digit
    vestigingsnummer) is refused.
    """
    number = value.strip()
    if not _KVK.fullmatch(number):
        raise InvalidIdentifier(f"a KvK number is exactly 8 digits, e.g. 17089342 (got {len(number)} characters)")
    return number


# -- VAT ids -------------------------------------------------------------------------------------

_NL_VAT = re.compile(r"NL([0-9]{9})B([0-9]{2})")

#: The general pattern of each EU member state's VAT id after its two-letter prefix (VIES formats).
#: Only the form is checked, except for NL, BE and DE which also have their check digits verified.
EU_VAT_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    country: re.compile(pattern)
    for country, pattern in {
        "AT": r"U[0-9]{8}",
        "BE": r"[01][0-9]{9}",
        "BG": r"[0-9]{9,10}",
        "CY": r"[0-9]{8}[A-Z]",
        "CZ": r"[0-9]{8,10}",
        "DE": r"[0-9]{9}",
        "DK": r"[0-9]{8}",
        "EE": r"[0-9]{9}",
        "EL": r"[0-9]{9}",
        "ES": r"[0-9A-Z][0-9]{7}[0-9A-Z]",
        "FI": r"[0-9]{8}",
        "FR": r"[0-9A-HJ-NP-Z]{2}[0-9]{9}",
        "HR": r"[0-9]{11}",
        "HU": r"[0-9]{8}",
        "IE": r"[0-9][0-9A-Z+*][0-9]{5}[A-W][A-IW]?",
        "IT": r"[0-9]{11}",
        "LT": r"[0-9]{9}|[0-9]{12}",
        "LU": r"[0-9]{8}",
        "LV": r"[0-9]{11}",
        "MT": r"[0-9]{8}",
        "NL": r"[0-9]{9}B[0-9]{2}",
        "PL": r"[0-9]{10}",
        "PT": r"[0-9]{9}",
        "RO": r"[1-9][0-9]{1,9}",
        "SE": r"[0-9]{10}01",
        "SI": r"[0-9]{8}",
        "SK": r"[0-9]{10}",
        "XI": r"[0-9]{9}|[0-9]{12}|GD[0-9]{3}|HA[0-9]{3}",
    }.items()
}

#: What each prefix's number looks like, for the error message.
_VAT_EXAMPLES: Final[dict[str, str]] = {
    "NL": "NL + 9 digits + B + 2 digits, e.g. NL004495445B01",
    "BE": "BE + 10 digits starting with 0 or 1, e.g. BE0403019261",
    "DE": "DE + 9 digits, e.g. DE136695976",
}


def passes_elfproef(digits: str) -> bool:
    """The 11-test (elfproef) of a nine-digit number, as in the BSN/RSIN and the old omzetbelastingnummer.

    Weights 9, 8, ..., 2 for the first eight digits and -1 for the ninth; the sum must be a multiple of 11.
    Every single-digit change is caught: each weight is non-zero modulo the prime 11.
    """
    if not re.fullmatch(r"[0-9]{9}", digits):
        return False
    total = sum((9 - position) * int(digit) for position, digit in enumerate(digits[:8])) - int(digits[8])
    return total % 11 == 0


def _letters_as_numbers(text: str) -> str:
    # ISO 7064 / IBAN style: A=10, B=11, ..., L=21, N=23, Z=35.
    return "".join(str(int(char, 36)) for char in text)


def passes_mod97(vat_id: str) -> bool:
    """The mod-97 check (ISO 7064 MOD 97-10) of a Dutch btw-id such as ``NL002455799B11``.

    The whole id with its letters as numbers (N=23, L=21, B=11) read as one integer is 1 modulo 97.
    Every single-digit change is caught: 10**k is never a multiple of the prime 97.
    """
    if not _NL_VAT.fullmatch(vat_id):
        return False
    return int(_letters_as_numbers(vat_id)) % 97 == 1


def passes_dutch_vat_check(vat_id: str) -> bool:
    """Whether a Dutch VAT id ``NL#########B##`` passes one of its two checks.

    Two kinds of number share this form. Since 1 January 2020 a sole trader (eenmanszaak) gets a
    btw-identificatienummer that is no longer derived from the BSN; it is validated with the mod-97 check
    over the whole id, letters included (N=23, L=21, B=11: the number must be 1 modulo 97). Companies keep
    their older number (omzetbelastingnummer), whose nine digits pass the elfproef (11-test) and whose
    two-digit suffix after the B (usually 01; a fiscal unity numbers its members) carries no check. So a
    number is accepted when it passes either: refusing one of the two would refuse real, valid numbers.

    Each check alone catches any single-digit error in what it covers; a mistyped number may still pass the
    other check by chance (about 1 in 11 for the elfproef, 1 in 97 for mod 97), which no form check avoids.
    """
    match = _NL_VAT.fullmatch(vat_id)
    if match is None:
        return False
    return passes_mod97(vat_id) or passes_elfproef(match.group(1))


def _passes_belgian_check(number: str) -> bool:
    # The last two digits are 97 minus the first eight modulo 97.
    return 97 - int(number[:8]) % 97 == int(number[8:])


def _passes_german_check(number: str) -> bool:
    # ISO 7064 MOD 11,10 over the first eight digits gives the ninth.
    product = 10
    for digit in number[:8]:
        total = (int(digit) + product) % 10 or 10
        product = (2 * total) % 11
    check = (11 - product) % 10
    return check == int(number[8])


def normalise_vat_id(value: str) -> str:
    """A VAT id (btw-id) of an EU member state, with its country prefix, in upper case without separators.

    Spaces, dots and dashes are dropped. NL, BE and DE numbers must also pass their check digits (see
    :func:`passes_dutch_vat_check` for the two Dutch checks); the numbers of the other member states are
    checked for their form only (the VIES pattern). Anything without a known EU prefix is refused.
    """
    vat_id = re.sub(r"[\s.\-]", "", value).upper()
    country, number = vat_id[:2], vat_id[2:]
    if country == "GR":
        raise InvalidIdentifier("a Greek VAT id starts with EL, not GR")
    pattern = EU_VAT_PATTERNS.get(country)
    if pattern is None:
        raise InvalidIdentifier(
            "a VAT id starts with the two-letter prefix of an EU member state (NL, BE, DE, ...), e.g. NL004495445B01"
        )
    if not pattern.fullmatch(number):
        expected = _VAT_EXAMPLES.get(country, f"the {country} VAT id pattern")
        raise InvalidIdentifier(f"not a valid {country} VAT id: expected {expected}")
    if country == "NL" and not passes_dutch_vat_check(vat_id):
        raise InvalidIdentifier(
            "not a valid Dutch VAT id: it passes neither the mod-97 check (btw-id since 2020) nor the "
            "elfproef (omzetbelastingnummer); check for a mistyped digit"
        )
    if country == "BE" and not _passes_belgian_check(number):
        raise InvalidIdentifier("not a valid Belgian VAT id: its check digits do not match; check for a typo")
    if country == "DE" and not _passes_german_check(number):
        raise InvalidIdentifier("not a valid German VAT id: its check digit does not match; check for a typo")
    return vat_id


# -- countries and postal codes ------------------------------------------------------------------

_ASSIGNED_COUNTRY_CODES: Final = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW
    BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI
    FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN
    IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
    PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE
    YT ZA ZM ZW
"""
#: ISO 3166-1 alpha-2: every officially assigned code.
COUNTRY_CODES: Final[frozenset[str]] = frozenset(_ASSIGNED_COUNTRY_CODES.split())


def normalise_country(value: str) -> str:
    """An ISO 3166-1 alpha-2 country code in upper case (``nl`` → ``NL``)."""
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise InvalidIdentifier("a country is an ISO 3166-1 alpha-2 code, e.g. NL, BE, DE")
    return code


_NL_POSTAL_CODE = re.compile(r"([1-9][0-9]{3})\s*([A-Z]{2})")
#: PostNL does not hand out these letter pairs (they read as SA, SD and SS).
_NL_UNUSED_LETTERS: Final = frozenset({"SA", "SD", "SS"})
_POSTAL_CODES: Final[dict[str, tuple[re.Pattern[str], str]]] = {
    "BE": (re.compile(r"[1-9][0-9]{3}"), "4 digits, e.g. 1000"),
    "DE": (re.compile(r"[0-9]{5}"), "5 digits, e.g. 10115"),
    "LU": (re.compile(r"(?:L-?)?([0-9]{4})"), "4 digits, e.g. 1009"),
}
_ANY_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9 \-]{1,11}")


def normalise_postal_code(value: str, country: str) -> str:
    """A postal code in its country's form: Dutch ``1234 AB`` (from ``1234ab``, ``1234  AB``), ...

    Dutch, Belgian, German and Luxembourg codes are checked for their form; other countries' codes for
    letters, digits, spaces and dashes only.
    """
    code = " ".join(value.upper().split())
    if country == "NL":
        match = _NL_POSTAL_CODE.fullmatch(code)
        if match is None:
            raise InvalidIdentifier("a Dutch postal code is 4 digits (not starting with 0) and 2 letters, e.g. 1234 AB")
        digits, letters = match.groups()
        if letters in _NL_UNUSED_LETTERS:
            raise InvalidIdentifier(f"Dutch postal codes do not use the letters {letters}")
        return f"{digits} {letters}"
    rule = _POSTAL_CODES.get(country)
    if rule is not None:
        pattern, expected = rule
        match = pattern.fullmatch(code)
        if match is None:
            raise InvalidIdentifier(f"a {country} postal code is {expected}")
        return match.group(match.lastindex or 0)
    if not _ANY_POSTAL_CODE.fullmatch(code):
        raise InvalidIdentifier("a postal code has 2 to 12 letters, digits, spaces or dashes")
    return code


# -- electronic address (Peppol endpoint) ----------------------------------------------------------

#: Electronic address schemes (EAS code list, as used for Peppol endpoint ids, BT-49) accepted here.
ELECTRONIC_ADDRESS_SCHEMES: Final[dict[str, str]] = {
    "0106": "Dutch KvK number (8 digits)",
    "0190": "Dutch OIN of a government organisation (20 digits)",
    "9944": "Dutch VAT id (NL#########B##)",
    "0208": "Belgian enterprise number (10 digits)",
    "9930": "German VAT id (DE#########)",
    "0088": "GS1 Global Location Number (13 digits)",
}


def _passes_gs1_check(digits: str) -> bool:
    # GS1 mod 10: from the right, weights 3 and 1 alternate over the digits before the check digit.
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - weighted % 10) % 10 == int(digits[-1])


def normalise_electronic_address(scheme: str, identifier: str) -> str:
    """The identifier of an electronic address (e.g. a Peppol id ``0106:17089342``), checked for its scheme.

    Raises :class:`InvalidIdentifier` naming what the scheme expects; the scheme itself must be one of
    :data:`ELECTRONIC_ADDRESS_SCHEMES`.
    """
    if scheme not in ELECTRONIC_ADDRESS_SCHEMES:
        known = ", ".join(f"{code} ({text})" for code, text in ELECTRONIC_ADDRESS_SCHEMES.items())
        raise InvalidIdentifier(f"unknown electronic address scheme; known: {known}")
    value = identifier.strip()
    if scheme == "0106":
        return normalise_kvk_number(value)
    if scheme == "9944":
        normalised = normalise_vat_id(value)
        if not normalised.startswith("NL"):
            raise InvalidIdentifier("scheme 9944 takes a Dutch VAT id (NL#########B##)")
        return normalised
    if scheme == "9930":
        normalised = normalise_vat_id(value)
        if not normalised.startswith("DE"):
            raise InvalidIdentifier("scheme 9930 takes a German VAT id (DE#########)")
        return normalised
    lengths = {"0190": 20, "0208": 10, "0088": 13}
    if not (value.isdigit() and value.isascii() and len(value) == lengths[scheme]):
        raise InvalidIdentifier(f"scheme {scheme} takes a {ELECTRONIC_ADDRESS_SCHEMES[scheme]}")
    if scheme == "0208" and not _passes_belgian_check(value):
        raise InvalidIdentifier("not a valid Belgian enterprise number: its check digits do not match")
    if scheme == "0088" and not _passes_gs1_check(value):
        raise InvalidIdentifier("not a valid GLN: its check digit does not match")
    return value
