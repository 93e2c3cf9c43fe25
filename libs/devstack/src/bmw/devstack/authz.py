"""The authorisation matrix as data: every role × every operation × own / other organisation, with the outcome
the product promises, run against the running service.

A matrix file is a table a reviewer can read down and across::

    # comments and blank lines are ignored
    operation              anonymous employee client_contact integration  social_worker account_manager provider_admin
    GET /contracts/{id}    unauth    deny     allow|hidden   allow|hidden allow         allow|hidden    allow

A cell is one outcome for both organisations, or ``own|other``: what the caller gets for something of its own
organisation (for an account manager: one in its portfolio) and for something of another. The outcomes:

``allow``
    the caller got past every check: 2xx, or 409 (authorised, but the state of the thing forbids it; the
    matrix sends a command twice when a role earlier in the row already did it).
``deny``  403. ``hidden``  404 (the thing is not the caller's to know of). ``unauth``  401.
``invalid``
    422: refused as input because of *who* asks (e.g. a body naming another organisation). A 422 caused by a
    badly built request is a bug of the test, so no row should need it for that.

Anything else (a 500, a 503) never matches. One rule needs no column: a tenant-bound role (employee, client
contact, integration) asking about another organisation's thing gets the very status it gets for a thing that
does not exist (``Side.ABSENT``: made-up ids), so no answer reveals that the other organisation or its thing
exists. Each operation also needs a request builder: an async function
that, given the caller's role and the side (own / other), returns the request to send, seeding what it needs
(a fresh thing for a command that can run only once). :class:`Requests` collects them and says which
operations have no tenant side (then a cell must be one outcome and only "own" is sent). :func:`check_coverage`
fails when the service has an operation without a row or a builder, or a row for an operation that is gone:
adding an endpoint without deciding who may call it fails the test.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

ROLES: tuple[str, ...] = (
    "anonymous",
    "employee",
    "client_contact",
    "integration",
    "social_worker",
    "account_manager",
    "provider_admin",
)
"""The callers of the matrix, in column order. ``anonymous`` sends no token."""

_COMMANDS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Outcome(enum.StrEnum):
    """What a caller gets, in authorisation terms."""

    ALLOW = "allow"
    DENY = "deny"
    HIDDEN = "hidden"
    UNAUTH = "unauth"
    INVALID = "invalid"
    ERROR = "error"

    @classmethod
    def of(cls, status: int) -> Outcome:
        """Classify an HTTP status."""
        if 200 <= status < 300 or status == 409:
            return cls.ALLOW
        return {401: cls.UNAUTH, 403: cls.DENY, 404: cls.HIDDEN, 422: cls.INVALID}.get(status, cls.ERROR)


class Side(enum.StrEnum):
    """Whose thing the request is about: the caller's organisation, another one, or one that does not exist."""

    OWN = "own"
    OTHER = "other"
    ABSENT = "absent"


TENANT_BOUND: frozenset[str] = frozenset({"employee", "client_contact", "integration"})
"""Roles of one client organisation: to them, another organisation's thing must look exactly like a thing that
does not exist (the same status), or the answer tells them it exists (DESIGN §2 rule 3)."""


@dataclasses.dataclass(frozen=True)
class Cell:
    """The promised outcome of one role on one operation."""

    own: Outcome
    other: Outcome

    @property
    def split(self) -> bool:
        return self.own is not self.other

    def expected(self, side: Side) -> Outcome:
        return self.own if side is Side.OWN else self.other


class MatrixError(ValueError):
    """A matrix file that cannot be read, naming the line."""


@dataclasses.dataclass(frozen=True)
class Matrix:
    """Rows by operation (``"GET /contracts/{contract_id}"``), each a cell per role."""

    rows: Mapping[str, Mapping[str, Cell]]
    source: str = "<matrix>"

    @property
    def operations(self) -> list[str]:
        return list(self.rows)

    @classmethod
    def load(cls, path: Path) -> Matrix:
        return cls.parse(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str = "<matrix>") -> Matrix:
        rows: dict[str, dict[str, Cell]] = {}
        header_seen = False
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            words = line.split()
            where = f"{source}:{number}"
            if not header_seen:
                if words != ["operation", *ROLES]:
                    raise MatrixError(f"{where}: the header must be 'operation {' '.join(ROLES)}'")
                header_seen = True
                continue
            if len(words) != 2 + len(ROLES):
                raise MatrixError(f"{where}: expected an operation (METHOD PATH) and {len(ROLES)} cells, got {line!r}")
            operation = f"{words[0]} {words[1]}"
            if operation in rows:
                raise MatrixError(f"{where}: {operation} has a second row")
            rows[operation] = {role: _cell(word, where, role) for role, word in zip(ROLES, words[2:], strict=True)}
        if not header_seen:
            raise MatrixError(f"{source}: no header row")
        return cls(rows, source)


def _cell(word: str, where: str, role: str) -> Cell:
    parts = word.split("|")
    try:
        outcomes = [Outcome(part) for part in parts]
    except ValueError:
        known = ", ".join(o.value for o in Outcome)
        raise MatrixError(f"{where}: {role}: {word!r} is not an outcome ({known})") from None
    if len(outcomes) > 2 or Outcome.ERROR in outcomes:
        raise MatrixError(f"{where}: {role}: {word!r} must be one outcome or own|other, and never 'error'")
    return Cell(outcomes[0], outcomes[-1])


@dataclasses.dataclass(frozen=True)
class Call:
    """One request of the matrix (the method comes from the operation)."""

    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None


Ctx = TypeVar("Ctx")
Builder = Callable[[Ctx, Side, str], Awaitable[Call]]


@dataclasses.dataclass
class _Registered(Generic[Ctx]):
    build: Builder[Ctx]
    tenanted: bool


class Requests(Generic[Ctx]):
    """The request builders of one service, by operation."""

    def __init__(self) -> None:
        self._builders: dict[str, _Registered[Ctx]] = {}

    def op(self, operation: str, *, tenanted: bool = True) -> Callable[[Builder[Ctx]], Builder[Ctx]]:
        """Register the builder of ``operation``; ``tenanted=False`` when it is about no organisation."""

        def register(build: Builder[Ctx]) -> Builder[Ctx]:
            if operation in self._builders:
                raise ValueError(f"{operation} has a second builder")
            self._builders[operation] = _Registered(build, tenanted)
            return build

        return register

    def simple(self, operation: str, path: str | Callable[[Ctx, Side], str], *, tenanted: bool = True) -> None:
        """A builder that only fills in a path (from the context and side)."""

        async def build(ctx: Ctx, side: Side, role: str) -> Call:
            return Call(path if isinstance(path, str) else path(ctx, side))

        self.op(operation, tenanted=tenanted)(build)

    @property
    def operations(self) -> set[str]:
        return set(self._builders)

    def get(self, operation: str) -> _Registered[Ctx]:
        return self._builders[operation]


def operations_of(openapi: Mapping[str, Any]) -> set[str]:
    """Every ``METHOD /path`` of an OpenAPI document."""
    methods = {"get", "post", "put", "patch", "delete", "head", "options"}
    return {
        f"{method.upper()} {path}"
        for path, item in openapi.get("paths", {}).items()
        for method in item
        if method in methods
    }


def check_coverage(matrix: Matrix, requests: Requests[Any], operations: Iterable[str]) -> list[str]:
    """What is missing or stale, one line each; empty when every operation has a row and a builder."""
    wanted = set(operations)
    problems = [f"{op}: no row in {matrix.source}" for op in sorted(wanted - set(matrix.rows))]
    problems += [f"{op}: no request builder" for op in sorted(wanted - requests.operations)]
    gone = "an operation the service does not have"
    problems += [f"{op}: a row for {gone}" for op in sorted(set(matrix.rows) - wanted)]
    problems += [f"{op}: a builder for {gone}" for op in sorted(requests.operations - wanted)]
    for op in sorted(wanted & set(matrix.rows) & requests.operations):
        if not requests.get(op).tenanted:
            split = [role for role, cell in matrix.rows[op].items() if cell.split]
            if split:
                problems.append(f"{op}: about no organisation, yet {', '.join(split)} has an own|other cell")
    return problems


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """A cell whose outcome differs from the matrix."""

    operation: str
    role: str
    side: Side
    expected: Outcome
    actual: Outcome
    status: int
    body: str

    def __str__(self) -> str:
        return (
            f"{self.operation:<55} {self.role:<16} {self.side.value:<6} expected {self.expected.value:<8} "
            f"got {self.actual.value} ({self.status}) {self.body[:160]}"
        )


@dataclasses.dataclass(frozen=True)
class Observed:
    """What one role got for one side of one operation."""

    outcome: Outcome
    status: int
    body: str


async def observe(
    client: httpx.AsyncClient,
    requests: Requests[Ctx],
    ctx: Ctx,
    operation: str,
    tokens: Mapping[str, str | None],
    *,
    method: str | None = None,
    classify: Callable[[httpx.Response], Outcome] | None = None,
) -> dict[tuple[str, Side], Observed]:
    """Send ``operation`` as every role, for its own and (when tenanted) another organisation.

    ``method`` defaults to the operation's first word (``GET /path``); ``classify`` to the HTTP status
    (:meth:`Outcome.of`). A GraphQL matrix passes ``POST`` and a classifier that reads the error code or the
    result union's member instead.
    """
    method = method or operation.split(" ", 1)[0]
    registered = requests.get(operation)
    observed: dict[tuple[str, Side], Observed] = {}
    for role in ROLES:
        sides = [Side.OWN]
        if registered.tenanted:
            sides += [Side.OTHER, Side.ABSENT] if role in TENANT_BOUND else [Side.OTHER]
        for side in sides:
            call = await registered.build(ctx, side, role)
            headers = dict(call.headers or {})
            token = tokens[role]
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            if method in _COMMANDS:
                headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
            response = await client.request(method, call.path, params=call.params, json=call.json, headers=headers)
            outcome = classify(response) if classify else Outcome.of(response.status_code)
            observed[role, side] = Observed(outcome, response.status_code, response.text)
    return observed


def compare(matrix: Matrix, operation: str, observed: Mapping[tuple[str, Side], Observed]) -> list[Mismatch]:
    """The cells of ``operation`` whose observed outcome differs from the matrix, and the tenant-bound answers
    about another organisation that differ from the answer about nothing."""
    mismatches = []
    for (role, side), seen in observed.items():
        if side is Side.ABSENT:
            other = observed[role, Side.OTHER]
            if seen.status != other.status:
                mismatches.append(
                    Mismatch(
                        operation,
                        role,
                        side,
                        other.outcome,
                        seen.outcome,
                        seen.status,
                        f"but {other.status} for another organisation's: the answer tells them it exists. {seen.body}",
                    )
                )
            continue
        expected = matrix.rows[operation][role].expected(side)
        if seen.outcome is not expected:
            mismatches.append(Mismatch(operation, role, side, expected, seen.outcome, seen.status, seen.body))
    return mismatches


def draft_row(operation: str, observed: Mapping[tuple[str, Side], Observed]) -> str:
    """The matrix row of what was observed: a draft for a new operation, to be *reviewed*, never pasted blind."""
    cells = []
    for role in ROLES:
        own = observed[role, Side.OWN].outcome.value
        other = observed.get((role, Side.OTHER))
        cells.append(own if other is None or other.outcome.value == own else f"{own}|{other.outcome.value}")
    return " ".join([operation, *cells])


def report(mismatches: Iterable[Mismatch]) -> str:
    """The mismatches as a table for an assertion message."""
    return "\n".join(str(m) for m in mismatches)


def matrix_tokens(
    mint: Callable[..., str],
    own_tenant: uuid.UUID,
    *,
    scopes: Iterable[str] = (),
    subs: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """A token per role of the matrix: the tenant-bound roles of ``own_tenant`` (an integration with every
    scope in ``scopes``), an account manager with ``own_tenant`` alone in its portfolio, and ``subs`` for roles
    whose subject matters (an employee's login, a social worker's id)."""
    subs = subs or {}
    tokens: dict[str, str | None] = {"anonymous": None}
    for role in ROLES[1:]:
        claims: dict[str, Any] = {"sub": subs.get(role)}
        if role in {"employee", "client_contact", "integration"}:
            claims["tenant_id"] = own_tenant
        if role == "integration":
            claims["scopes"] = list(scopes)
        if role == "account_manager":
            claims["portfolio"] = [own_tenant]
        tokens[role] = mint(role, **claims)
    return tokens


async def uncovered(client: httpx.AsyncClient, matrix: Matrix, requests: Requests[Any]) -> list[str]:
    """:func:`check_coverage` against the operations the running service documents (its ``/openapi.json``)."""
    response = await client.get("/openapi.json")
    if response.status_code != 200:
        return [f"GET /openapi.json answered {response.status_code}"]
    return check_coverage(matrix, requests, operations_of(response.json()))


async def unmatched(
    client: httpx.AsyncClient,
    matrix: Matrix,
    requests: Requests[Ctx],
    ctx: Ctx,
    operation: str,
    tokens: Mapping[str, str | None],
    *,
    classify: Callable[[httpx.Response], Outcome] | None = None,
) -> str:
    """Empty when every cell of ``operation`` answers as the matrix says; else the mismatches as a table and the
    observed row (to review, for a row being written)."""
    if operation not in requests.operations:
        return f"{operation} has no request builder"
    observed = await observe(client, requests, ctx, operation, tokens, classify=classify)
    mismatches = compare(matrix, operation, observed)
    return f"{report(mismatches)}\nobserved: {draft_row(operation, observed)}" if mismatches else ""
