"""Envelope encryption of personal data, one key per person: sealed fields open only with that person's
key and id, tampering is detected, and the plaintext never shows in what is stored (DESIGN §3 intake,
crypto-shredding)."""

from __future__ import annotations

import base64
import json
import os
import uuid
from typing import Any

import pytest

from bmw.intake.adapters.crypto import CryptoError, PersonCipher, decode_key

ALICE = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
BOB = uuid.UUID("00000000-0000-4000-8000-0000000000b2")
FIELDS: dict[str, Any] = {
    "name": "Sanne de Vries",
    "email": "sanne.devries@example.nl",
    "phone": "+31 6 1234 5678",
    "notes": "conflict met leidinggevende; ‘werkdruk’ — ü",
    "age": 41,
    "consents": ["attendance"],
}


@pytest.fixture
def cipher() -> PersonCipher:
    return PersonCipher(key_encryption_key=os.urandom(32))


# -- round trip ----------------------------------------------------------------------------------


def test_sealed_fields_open_with_the_persons_key_and_id(cipher: PersonCipher) -> None:
    data_key, wrapped = cipher.new_data_key(ALICE)

    sealed = cipher.seal(data_key, ALICE, FIELDS)

    assert cipher.open(data_key, ALICE, sealed) == FIELDS
    assert cipher.open(cipher.unwrap(wrapped, ALICE), ALICE, sealed) == FIELDS


def test_a_wrapped_key_unwraps_to_the_data_key(cipher: PersonCipher) -> None:
    data_key, wrapped = cipher.new_data_key(ALICE)

    assert len(data_key) == 32
    assert cipher.unwrap(wrapped, ALICE) == data_key
    assert data_key not in wrapped


def test_each_person_gets_a_fresh_data_key(cipher: PersonCipher) -> None:
    first, _ = cipher.new_data_key(ALICE)
    second, _ = cipher.new_data_key(ALICE)

    assert first != second


def test_empty_fields_round_trip(cipher: PersonCipher) -> None:
    data_key, _ = cipher.new_data_key(ALICE)

    assert cipher.open(data_key, ALICE, cipher.seal(data_key, ALICE, {})) == {}


# -- what does not open --------------------------------------------------------------------------


def test_a_ciphertext_moved_to_another_person_does_not_open(cipher: PersonCipher) -> None:
    data_key, _ = cipher.new_data_key(ALICE)
    sealed = cipher.seal(data_key, ALICE, FIELDS)

    with pytest.raises(CryptoError):
        cipher.open(data_key, BOB, sealed)  # even with the right key: the person id is associated data


def test_a_ciphertext_does_not_open_with_another_persons_key(cipher: PersonCipher) -> None:
    alice_key, _ = cipher.new_data_key(ALICE)
    bob_key, _ = cipher.new_data_key(BOB)
    sealed = cipher.seal(alice_key, ALICE, FIELDS)

    with pytest.raises(CryptoError):
        cipher.open(bob_key, ALICE, sealed)


def test_every_tampered_byte_is_detected(cipher: PersonCipher) -> None:
    data_key, _ = cipher.new_data_key(ALICE)
    sealed = cipher.seal(data_key, ALICE, {"name": "Sanne"})

    for index in range(len(sealed)):  # nonce, ciphertext and tag alike
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(CryptoError):
            cipher.open(data_key, ALICE, bytes(tampered))


@pytest.mark.parametrize("cut", [0, 1, 11, 12, 27])
def test_a_truncated_ciphertext_does_not_open(cipher: PersonCipher, cut: int) -> None:
    data_key, _ = cipher.new_data_key(ALICE)
    sealed = cipher.seal(data_key, ALICE, FIELDS)

    with pytest.raises(CryptoError):
        cipher.open(data_key, ALICE, sealed[:cut])


def test_a_wrapped_key_does_not_unwrap_for_another_person(cipher: PersonCipher) -> None:
    _, wrapped = cipher.new_data_key(ALICE)

    with pytest.raises(CryptoError):
        cipher.unwrap(wrapped, BOB)


def test_a_wrapped_key_does_not_unwrap_under_another_key_encryption_key(cipher: PersonCipher) -> None:
    _, wrapped = cipher.new_data_key(ALICE)
    other = PersonCipher(key_encryption_key=os.urandom(32))

    with pytest.raises(CryptoError):
        other.unwrap(wrapped, ALICE)


def test_a_tampered_wrapped_key_does_not_unwrap(cipher: PersonCipher) -> None:
    _, wrapped = cipher.new_data_key(ALICE)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 0x80

    with pytest.raises(CryptoError):
        cipher.unwrap(bytes(tampered), ALICE)


def test_a_wrapped_key_is_not_personal_data_of_the_same_person(cipher: PersonCipher) -> None:
    """Wrapping and sealing use different associated data, so one cannot pass for the other."""
    _, wrapped = cipher.new_data_key(ALICE)

    with pytest.raises(CryptoError):
        cipher.open(cipher.key_encryption_key, ALICE, wrapped)


# -- randomness and confidentiality --------------------------------------------------------------


def test_two_seals_of_the_same_fields_differ(cipher: PersonCipher) -> None:
    data_key, _ = cipher.new_data_key(ALICE)

    first = cipher.seal(data_key, ALICE, FIELDS)
    second = cipher.seal(data_key, ALICE, FIELDS)

    assert first != second
    assert first[:12] != second[:12]  # a fresh nonce each time
    assert cipher.open(data_key, ALICE, first) == cipher.open(data_key, ALICE, second)


@pytest.mark.parametrize("name", ["Sanne de Vries", "Jan", "Zoë Ğüneş", "a" * 500])
def test_sealed_bytes_never_contain_the_plaintext(cipher: PersonCipher, name: str) -> None:
    data_key, wrapped = cipher.new_data_key(ALICE)

    sealed = cipher.seal(data_key, ALICE, {"name": name, "email": "sanne.devries@example.nl"})

    for stored in (sealed, wrapped):
        for needle in (name.encode(), json.dumps(name).encode(), base64.b64encode(name.encode()), b"example.nl"):
            assert needle not in stored


# -- the key-encryption key from settings --------------------------------------------------------


def test_a_base64_key_of_32_bytes_decodes() -> None:
    key = os.urandom(32)

    assert decode_key(base64.b64encode(key).decode()) == key


@pytest.mark.parametrize(
    "text",
    [
        "not base64 at all!",
        "@@@@" * 11,
        base64.b64encode(bytes(range(32))).decode()[:-1],  # bad padding
        base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),  # URL-safe alphabet is not accepted
        "é" * 44,
    ],
)
def test_a_key_that_is_not_base64_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="base64"):
        decode_key(text)


@pytest.mark.parametrize("length", [0, 1, 16, 24, 31, 33, 64])
def test_a_key_of_the_wrong_length_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        decode_key(base64.b64encode(os.urandom(length)).decode())
