"""Envelope encryption of personal data, one data key per person (crypto-shredding).

Each person's fields are sealed with AES-256-GCM under the person's own data key; the data key is
stored wrapped (AES-256-GCM) under the key-encryption key from settings, which never touches the
database. Deleting the person's wrapped key makes every copy of their data unreadable, backups included.
The person id is bound as associated data, so a ciphertext moved to another person does not open.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


class CryptoError(RuntimeError):
    """A ciphertext or key that does not open: tampered, wrong key, or shredded."""


def decode_key(text: str) -> bytes:
    """A 256-bit key from its base64 text (as kept in settings)."""
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError as error:
        raise ValueError("the key-encryption key must be base64") from error
    if len(key) != 32:
        raise ValueError("the key-encryption key must be 32 bytes (256 bits)")
    return key


def _seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def _open(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], associated)
    except (InvalidTag, ValueError) as error:
        raise CryptoError("ciphertext does not open with this key") from error


@dataclass(frozen=True)
class PersonCipher:
    """Wraps data keys under the key-encryption key and seals personal fields under a data key."""

    key_encryption_key: bytes
    key_id: str = "kek-1"

    def new_data_key(self, person_id: uuid.UUID) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (to store)."""
        data_key = AESGCM.generate_key(bit_length=256)
        return data_key, _seal(self.key_encryption_key, data_key, b"dek:" + person_id.bytes)

    def unwrap(self, wrapped: bytes, person_id: uuid.UUID) -> bytes:
        return _open(self.key_encryption_key, wrapped, b"dek:" + person_id.bytes)

    @staticmethod
    def seal(data_key: bytes, person_id: uuid.UUID, fields: dict[str, Any]) -> bytes:
        """Encrypt a JSON-able dict of personal fields."""
        plaintext = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
        return _seal(data_key, plaintext, person_id.bytes)

    @staticmethod
    def open(data_key: bytes, person_id: uuid.UUID, sealed: bytes) -> dict[str, Any]:
        value = json.loads(_open(data_key, sealed, person_id.bytes))
        if not isinstance(value, dict):
            raise CryptoError("sealed personal data is not an object")
        return value
