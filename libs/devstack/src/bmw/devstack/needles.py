"""Secrets and personal data in every form a leak could take them: what the end-to-end erasure search and the log
scan look for (``tests/e2e``)."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from urllib.parse import quote, quote_plus


def base64_forms(value: str) -> set[str]:
    """The base64 (standard and URL-safe) of ``value``'s UTF-8 as it shows inside a longer base64 text.

    A value encoded as part of a longer message starts at any of three byte alignments; for each, only the
    characters made of the value's bits alone are kept, so that the form is found wherever the value was encoded.
    """
    data = value.encode()
    found: set[str] = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + data).decode()
        start, end = math.ceil(pad * 8 / 6), (pad + len(data)) * 8 // 6
        found.add(encoded[start:end])
        found.add(encoded[start:end].replace("+", "-").replace("/", "_"))
    return found


@dataclass(frozen=True)
class Needle:
    """A secret or a piece of personal data in every form searched for; its label may be shown, the value not."""

    label: str
    #: Lower-cased (matched case-insensitively): as written, JSON-escaped, URL-encoded, hex of its UTF-8.
    text_forms: frozenset[str]
    #: Base64 of its UTF-8 in every alignment, matched exactly.
    base64: frozenset[str]

    @classmethod
    def of(cls, label: str, value: str) -> Needle:
        plain = (value, json.dumps(value)[1:-1], quote(value), quote_plus(value), value.encode().hex())
        return cls(label, frozenset(form.lower() for form in plain), frozenset(base64_forms(value)))

    def found_in(self, text: str, lowered: str) -> bool:
        return any(form in lowered for form in self.text_forms) or any(form in text for form in self.base64)
