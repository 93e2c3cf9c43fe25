"""Text that no service should take in, refused at the door with a 422 naming where it was.

PostgreSQL cannot store U+0000 in ``text`` and Python cannot encode a lone surrogate (``"\\ud800"`` is valid
JSON) as UTF-8: both used to reach the database and come back as a 500. Other control characters have no place
in a name, an address or a note, and the bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) make
a name *display* as something else: "Jansen<RLO>gnirts" on an invoice or in an agenda is the Trojan Source trick.
So every string of a JSON body (keys too), every query parameter and the path are checked before a route sees
them; tab, line feed and carriage return stay allowed (notes have lines).

Strings of a JSON body are also brought to Unicode NFC, so that "é" typed as one code point or as "e" plus a
combining accent is one name: the same person, organisation or unit is not stored twice under names that look
identical. The body is rewritten only when that changes something.

Bodies larger than ``max_body_bytes`` are refused with 413 before they are read into memory (by
``Content-Length``, or while reading a chunked body).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bmw.servicekit.errors import FieldError, error_response

DEFAULT_MAX_BODY_BYTES = 1_048_576
"""1 MiB: far above any command of these APIs (a history import is the largest) and far below harm."""

_CONTROLS = (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0))
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_FORBIDDEN = frozenset((*_CONTROLS, *_BIDI))


def problem_of(text: str) -> str | None:
    """Why ``text`` is refused, or None when it is fine."""
    for char in text:
        point = ord(char)
        if point in _FORBIDDEN:
            kind = "a bidirectional control" if point >= 0x2000 else "a control character"
            return f"contains {kind} (U+{point:04X}), which is not allowed in text"
        if 0xD800 <= point <= 0xDFFF:
            return f"contains a lone surrogate (U+{point:04X}), which is not text"
    return None


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string of a JSON value (keys included) with the path of where it is."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}")


def _nfc(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(key): _nfc(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nfc(item) for item in value]
    return value


def _problems_of_request(scope: Scope) -> list[FieldError]:
    problems: list[FieldError] = []
    path_problem = problem_of(scope.get("path", ""))
    if path_problem:
        problems.append(FieldError(path="path", message=path_problem))
    query = scope.get("query_string", b"").decode("utf-8", errors="surrogateescape")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
        for text in (name, value):
            problem = problem_of(text)
            if problem:
                problems.append(FieldError(path=f"query.{name}", message=problem))
                break
    return problems


class InputGuardMiddleware:
    """Refuses oversized bodies (413) and forbidden characters (422); brings JSON strings to NFC."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = _problems_of_request(scope)
        if problems:
            await self._refuse(problems, scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        if scope.get("method") not in {"POST", "PUT", "PATCH", "DELETE"}:
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(body, message, receive), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
        if "json" in headers.get("content-type", "") and body:
            try:
                document = json.loads(body)
            except ValueError:
                document = None  # FastAPI answers malformed JSON with its own 422
            if document is not None:
                problems = [
                    FieldError(path=where, message=problem)
                    for where, text in _walk(document, "body")
                    if (problem := problem_of(text)) is not None
                ]
                if problems:
                    await self._refuse(problems, scope, receive, send)
                    return
                normalised = _nfc(document)
                if normalised != document:
                    body = json.dumps(normalised, ensure_ascii=False).encode()
                    scope = {**scope, "headers": _with_length(scope.get("headers", []), len(body))}
        await self.app(scope, _replay(body, None, receive), send)

    async def _refuse(self, problems: list[FieldError], scope: Scope, receive: Receive, send: Send) -> None:
        names = ", ".join(problem.path for problem in problems)
        response = error_response(422, "validation_failed", f"invalid input: {names}", fields=problems)
        await response(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "too_large",
            f"the request body is larger than {self.max_body_bytes} bytes",
            details={"max_bytes": self.max_body_bytes},
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _with_length(headers: list[tuple[bytes, bytes]], length: int) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name.lower() != b"content-length"]
    return [*kept, (b"content-length", str(length).encode())]


def _replay(body: bytes, pending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body once (then a message read past it), then the client's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent, pending
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if pending is not None:
            message, pending = pending, None
            return message
        return await receive()

    return replay
