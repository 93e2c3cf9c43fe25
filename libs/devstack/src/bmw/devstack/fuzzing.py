"""Fuzz a service's HTTP API from its own OpenAPI document (schemathesis + hypothesis).

Every operation of the document gets random requests, valid and invalid, sent with real tokens of every role (so
they reach the handlers, not only the 401); part of the valid ones name rows the test created (``known``), so
that real answers are checked, not only 404s; and one request per operation carries forbidden text in a query
parameter no operation declares (the input guard's 422, which even an operation without parameters gives).
Each answer must pass these schemathesis checks:

* ``not_a_server_error``: no 5xx, whatever the input;
* ``status_code_conformance``: the status is one the operation documents in its ``responses``;
* ``content_type_conformance`` and ``response_schema_conformance``: the body is of a documented media type
  and matches the documented schema for that status (e.g. the uniform error body of a 422);
* ``response_headers_conformance``: headers the operation documents are present and well-formed.

Left out, because they assert what the services do not promise: ``positive_data_acceptance`` (a valid request
is answered 2xx; random ids are 404, random bodies break business rules: 409, 422), ``negative_data_rejection``
(a request the schema calls invalid is refused; pydantic's lax mode accepts ``"12"`` for an integer, and
FastAPI ignores unknown query parameters, on purpose), the stateful checks (``use_after_free``,
``ensure_resource_availability``, ``ignored_auth``, ``object_level_authorization``) that need links between
operations or re-send requests through schemathesis' own transport (what roles may do is the authorisation
matrix's job), and the coverage-phase checks (``missing_required_header``, ``unsupported_method``,
``allow_header_conformance``), which judge requests this fuzz does not make.

The services under test run in process on the session's asyncio loop, which owns their database connections,
so schemathesis never calls the app itself: hypothesis runs in a worker thread, and each request is handed to
the loop (``asyncio.run_coroutine_threadsafe``) and sent with the service's own ``httpx.AsyncClient``; the
answer is checked with ``case.validate_response``. Failures are collected, not raised at once, so one run
reports every broken operation; hypothesis does not shrink them (each one names the request that broke).

Reproducible and bounded: hypothesis is derandomised (the same requests every run), keeps no example database,
and has no deadline. ``BMW_FUZZ_EXAMPLES`` sets the examples per operation and generation mode (default
:data:`DEFAULT_EXAMPLES`); raise it for a longer local run, e.g. ``BMW_FUZZ_EXAMPLES=200 pytest -k fuzz``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisDeprecationWarning, Unsatisfiable
from schemathesis import APIOperation, Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bmw.devstack.pytest_plugin import DevKeys

Operation = APIOperation[Any, Any, Any, Any]
FuzzCase = Case[Operation]

#: Examples per operation and generation mode unless ``BMW_FUZZ_EXAMPLES`` says otherwise.
DEFAULT_EXAMPLES = 10

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

#: How long one request may take before the fuzz gives up on it (a hung handler is a failure too).
REQUEST_TIMEOUT_SECONDS = 30.0


def examples_per_operation() -> int:
    """``BMW_FUZZ_EXAMPLES`` if set (a positive integer), else :data:`DEFAULT_EXAMPLES`."""
    raw = os.environ.get("BMW_FUZZ_EXAMPLES", "").strip()
    if not raw:
        return DEFAULT_EXAMPLES
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"BMW_FUZZ_EXAMPLES must be a positive integer, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Identity:
    """A caller the fuzz sends requests as: a name for the report and the headers of its token."""

    name: str
    headers: Mapping[str, str]


#: Every scope a service checks, so that an integration's requests get past the scope checks too.
INTEGRATION_SCOPES = ("referrals:read", "referrals:write", "usage:read", "invoices:read", "org_units:write")


def every_role(keys: DevKeys, tenant: uuid.UUID, *, worker: uuid.UUID | None = None) -> list[Identity]:
    """One caller of each role: the tenant-bound ones (and the account manager's portfolio) of ``tenant``; the
    social worker is ``worker`` when given (the one assigned to the test's case, say)."""
    return [
        Identity("provider_admin", _bearer(keys.mint("provider_admin"))),
        Identity("social_worker", _bearer(keys.mint("social_worker", sub=str(worker) if worker else None))),
        Identity("account_manager", _bearer(keys.mint("account_manager", portfolio=[tenant]))),
        Identity("client_contact", _bearer(keys.mint("client_contact", tenant_id=tenant))),
        Identity("employee", _bearer(keys.mint("employee", tenant_id=tenant))),
        Identity("integration", _bearer(keys.mint("integration", tenant_id=tenant, scopes=INTEGRATION_SCOPES))),
    ]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Failure:
    """One request whose answer broke a check."""

    operation: str
    mode: str
    identity: str
    request: str
    status: int | None
    problem: str

    def __str__(self) -> str:
        return (
            f"{self.operation} [{self.mode}, as {self.identity}] -> {self.status}\n"
            f"  request: {self.request}\n  {self.problem}"
        )


@dataclass
class FuzzReport:
    """What a fuzz run sent and what broke."""

    requests: int = 0
    operations: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    #: Per operation, how often each status came back (which operations the fuzz got through to a 2xx).
    outcomes: dict[str, dict[int, int]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    #: Seconds spent per operation and mode, to see where a slow run goes.
    seconds: dict[str, float] = field(default_factory=dict)

    def successes(self, *operations: str) -> int:
        """How many 2xx answers these operations gave: whether the fuzz reached real rows through them."""
        return sum(
            count
            for operation in operations
            for status, count in self.outcomes.get(operation, {}).items()
            if 200 <= status < 300
        )

    def summary(self) -> str:
        """The failures, one block each, after a line of counts."""
        head = (
            f"{len(self.failures)} failure(s) in {self.requests} requests over {len(self.operations)} operations; "
            f"statuses {dict(sorted(self.statuses.items()))}"
        )
        return "\n\n".join([head, *(str(failure) for failure in self.failures)])


def _short(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _to_httpx(kwargs: dict[str, Any]) -> httpx.Request:
    """The request schemathesis would send (its ``requests`` keyword arguments), as exact bytes for httpx."""
    accepted = {"method", "url", "headers", "files", "data", "params", "cookies", "json"}
    prepared = requests.Request(**{k: v for k, v in kwargs.items() if k in accepted}).prepare()
    body = prepared.body
    content = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""
    headers = {
        name: value if isinstance(value, str) else value.decode("latin-1") for name, value in prepared.headers.items()
    }
    return httpx.Request(str(prepared.method), str(prepared.url), headers=headers, content=content)


def _describe(request: httpx.Request) -> str:
    body = request.content.decode("utf-8", "replace")
    return _short(f"{request.method} {request.url}" + (f" body={body}" if body else ""))


def _operations(document: dict[str, Any], exclude: Sequence[str]) -> list[Operation]:
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(document)))
    # The fuzz sends real tokens itself; U+0000 is refused at the door by every service (a 422 worth one
    # test, not half of every run's examples).
    schema.config.generation.update(with_security_parameters=False, allow_x00=False)
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise ValueError(
                f"the service's OpenAPI document has an operation schemathesis cannot read: {result.err()}"
            )
        operations.append(result.ok())
    operations.sort(key=lambda operation: operation.label)
    unknown = set(exclude) - {operation.label for operation in operations}
    if unknown:
        raise ValueError(f"excluded operations that the document does not have: {sorted(unknown)}")
    return [operation for operation in operations if operation.label not in exclude]


_UNCONSTRAINED = {"type", "title", "description", "examples"}


def _negatable(operation: Operation) -> bool:
    """Whether any part of a request to ``operation`` can be made invalid.

    A path parameter that is any string (a feed's secret) cannot: hypothesis would search in vain for one.
    """
    if operation.body or any(True for _ in chain(operation.query, operation.headers, operation.cookies)):
        return True
    for parameter in operation.path_parameters:
        schema = parameter.definition.get("schema", {})
        if schema.get("type") != "string" or set(schema) - _UNCONSTRAINED:
            return True
    return False


def _strategy(
    operation: Operation, mode: GenerationMode, known: Mapping[str, Sequence[str]]
) -> st.SearchStrategy[FuzzCase]:
    """Cases for ``operation``; in positive mode also ones whose path and query use ``known`` values.

    Random ids find nothing (a 404): the known ones (rows the test created) reach real data, so that the
    documented schema of a real answer is checked too.
    """
    plain = operation.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE:
        return plain
    in_path = [p.name for p in operation.path_parameters if p.name in known]
    in_query = [p.name for p in operation.query if p.name in known]
    if not in_path and not in_query:
        return plain
    rounds = max(len(known[name]) for name in (*in_path, *in_query))
    seeded = [
        operation.as_strategy(
            generation_mode=mode,
            path_parameters={name: known[name][i % len(known[name])] for name in in_path} or None,
            query={name: known[name][i % len(known[name])] for name in in_query} or None,
        )
        for i in range(rounds)
    ]
    return st.one_of(*seeded, plain)


async def fuzz_openapi(
    client: httpx.AsyncClient,
    identities: Sequence[Identity],
    *,
    known: Mapping[str, Sequence[str]] | None = None,
    examples: int | None = None,
    exclude: Sequence[str] = (),
) -> FuzzReport:
    """Fuzz every operation of the service behind ``client`` (its ``/openapi.json``) and check every answer.

    Each example is sent as one of ``identities`` (drawn by hypothesis). ``known`` gives real values of path and
    query parameters by name (``{"case_id": [...]}``), which part of the valid examples use. ``exclude`` names
    operations (``"GET /path"``) to leave out; whoever excludes one says why. ``examples`` overrides
    ``BMW_FUZZ_EXAMPLES``. Returns the report; the caller asserts that it has no failures.
    """
    response = await client.get("/openapi.json")
    response.raise_for_status()
    operations = _operations(response.json(), exclude)
    loop = asyncio.get_running_loop()
    report = FuzzReport(operations=[operation.label for operation in operations])
    count = examples if examples is not None else examples_per_operation()
    base_url = str(client.base_url).rstrip("/")
    values = {name: [str(value) for value in found] for name, found in (known or {}).items() if found}

    def send(request: httpx.Request) -> httpx.Response:
        # The app and its database connections live on the test's loop: the request is sent there.
        future = asyncio.run_coroutine_threadsafe(client.send(request), loop)
        try:
            return future.result(timeout=REQUEST_TIMEOUT_SECONDS)
        except TimeoutError:
            future.cancel()
            raise

    def check(operation: Operation, mode: str, case: FuzzCase, identity: Identity, seen: set[Any]) -> None:
        """Send one case and check its answer; a failure is recorded once per kind and status."""

        def record(request: httpx.Request, status: int | None, problem: str) -> None:
            key = (problem.splitlines()[0] if problem else "", status)
            if key not in seen:
                seen.add(key)
                report.failures.append(
                    Failure(operation.label, mode, identity.name, _describe(request), status, problem)
                )

        request = _to_httpx(case.as_transport_kwargs(base_url=base_url, headers=dict(identity.headers)))
        report.requests += 1
        try:
            answer = send(request)
        except Exception as exc:  # noqa: BLE001 - an exception out of the app (a 500) is what the fuzz looks for
            record(request, None, f"no answer, the app raised {type(exc).__name__}: {_short(str(exc))}")
            return
        report.statuses[answer.status_code] = report.statuses.get(answer.status_code, 0) + 1
        counts = report.outcomes.setdefault(operation.label, {})
        counts[answer.status_code] = counts.get(answer.status_code, 0) + 1
        try:
            case.validate_response(answer, checks=CHECKS)
        except FailureGroup as group:
            problems = "\n  ".join(f"{failure.title}: {_short(failure.message)}" for failure in group.exceptions)
            record(request, answer.status_code, f"{problems}\n  body: {_short(answer.text)}")

    def fuzz_one(operation: Operation, mode: GenerationMode) -> None:
        seen: set[Any] = set()

        @settings(
            max_examples=count,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, mode, values), identity=st.sampled_from(list(identities)))
        def run(case: FuzzCase, identity: Identity) -> None:
            check(operation, mode.value, case, identity, seen)

        started = time.perf_counter()
        try:
            run()
        except Unsatisfiable as exc:
            report.failures.append(
                Failure(operation.label, mode.value, "-", "-", None, f"no request could be generated: {exc}")
            )
        report.seconds[f"{operation.label} [{mode.value}]"] = time.perf_counter() - started

    def probe_stray_text(operation: Operation) -> None:
        # Every service refuses forbidden text anywhere in a request, in a parameter that no operation declares
        # too: schemathesis adds none to an operation without parameters, so one request per operation does.
        path = {parameter.name: values.get(parameter.name, ["0"])[0] for parameter in operation.path_parameters}
        case = operation.Case(path_parameters=path, query={"note": "Jansen\u202egnirts"})
        check(operation, "stray text", case, identities[0], set())

    def fuzz_all() -> None:
        with warnings.catch_warnings():
            # schemathesis' strategies use the random module, which hypothesis seeds per example (so the run
            # stays reproducible) but warns about once per strategy.
            warnings.simplefilter("ignore", HypothesisDeprecationWarning)
            for operation in operations:
                fuzz_one(operation, GenerationMode.POSITIVE)
                if _negatable(operation):
                    fuzz_one(operation, GenerationMode.NEGATIVE)
                probe_stray_text(operation)

    await asyncio.to_thread(fuzz_all)
    return report
