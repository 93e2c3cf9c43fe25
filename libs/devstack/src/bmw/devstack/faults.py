"""Fault tolerance harness: a steady load of referrals through the gateway, and the accounting check after a fault.

While a part of the stack is killed or stopped (``tests/faults``), :class:`ReferralLoad` keeps submitting referrals
at a fixed rate and records, for each, whether the gateway accepted it, refused it cleanly (``ServiceUnavailable``
with a retry hint), or left it unknown (a timeout). :func:`account` then checks, in every service's database, that
each accepted referral is reflected exactly once where it belongs and nothing refused left a trace:

- intake holds it and opened its case;
- signals counted it once (a contribution row, and the unit's weekly count equal to its contributions);
- scheduling handled its case once (an outcome, at most one intake appointment);
- billing metered the case's opening once;
- every outbox row was published.

The other helpers serve the scenarios: :func:`replay_period` publishes a period's events again (the outbox replay
that ``bmw replay`` runs), :func:`consumer_outcomes` reads what each consumer group did with its records (applied,
duplicate, ignored, dead-lettered) from a service's ``/metrics``, :func:`publish_raw` puts a record of any shape on a
topic (poison), :func:`service_command` runs ``python -m bmw.<service> ...`` against the stack, and
:func:`resident_kib` reads a process's resident memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from bmw.devstack.infra import libpq_url, service_role
from bmw.devstack.stack import Stack
from bmw.devstack.topology import SERVICES
from bmw.servicekit.db import create_engine, session_factory
from bmw.servicekit.replay import replay_outbox
from bmw.servicekit.uow import UnitOfWorkFactory

SUBMIT = """
mutation Submit($input: ReferralInput!) {
  submitReferral(input: $input) {
    __typename
    ... on ReferralSubmitted { referral { id caseId } }
    ... on ServiceUnavailable { message }
  }
}
"""


@dataclass
class LoadResult:
    """What the gateway answered to each submitted referral."""

    accepted: list[uuid.UUID] = field(default_factory=list)
    #: Clean refusals: (what, message), e.g. ("ServiceUnavailable", "the intake service is unavailable; retry …").
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: No answer in time: the referral may or may not exist.
    unknown: int = 0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def submitted(self) -> int:
        return len(self.accepted) + len(self.refused) + self.unknown


class ReferralLoad:
    """Submits referrals for one organisation's unit through the gateway at ``rate`` per second, until stopped."""

    def __init__(
        self,
        stack: Stack,
        *,
        tenant_index: int = 0,
        unit_index: int = 0,
        category: str = "CONFLICT_COLLEAGUES",
        rate: float = 5.0,
    ) -> None:
        tenant = stack.tenants[tenant_index]
        self.tenant_id = uuid.UUID(str(tenant.id))
        self.unit_id = uuid.UUID(str(tenant.org_units[unit_index].id))
        self.category = category
        self.rate = rate
        self._url = stack.graphql_url
        self._token = stack.mint("client_contact", tenant_id=str(tenant.id))
        self.result = LoadResult()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _input(self, number: int) -> dict[str, Any]:
        return {
            "orgUnitId": str(self.unit_id),
            "category": self.category,
            "urgency": "NORMAL",
            "channel": "HR",
            "employeeConsented": True,
            "employee": {"name": f"Medewerker {number}", "email": f"medewerker{number}@example.nl"},
        }

    async def _submit(self, http: httpx.AsyncClient, number: int) -> None:
        try:
            response = await http.post(
                self._url,
                json={"query": SUBMIT, "variables": {"input": self._input(number)}},
                headers={"Authorization": f"Bearer {self._token}"},
            )
        except httpx.TimeoutException:
            self.result.unknown += 1
            return
        except httpx.TransportError as error:  # the gateway itself unreachable: nothing was sent on
            self.result.refused.append((type(error).__name__, str(error)))
            return
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        answer = (body.get("data") or {}).get("submitReferral") or {}
        kind = answer.get("__typename")
        if kind == "ReferralSubmitted":
            self.result.accepted.append(uuid.UUID(answer["referral"]["id"]))
        elif kind is not None:
            self.result.refused.append((kind, str(answer.get("message", ""))))
        else:
            self.result.refused.append((f"HTTP {response.status_code}", str(body.get("errors", ""))[:200]))

    async def _run(self) -> None:
        interval = 1 / self.rate
        number = 0
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=20) as http:
            next_at = time.monotonic()
            while not self._stopping.is_set():
                number += 1
                task = asyncio.create_task(self._submit(http, number))
                pending.add(task)
                task.add_done_callback(pending.discard)
                next_at += interval
                await asyncio.sleep(max(next_at - time.monotonic(), 0))
            await asyncio.gather(*pending)

    def start(self) -> ReferralLoad:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> LoadResult:
        """Stop submitting, wait for the answers still due, and return what happened."""
        self._stopping.set()
        if self._task is not None:
            await self._task
        return self.result

    async def submit_once(self) -> LoadResult:
        """Submit one referral (without the steady load) and wait for the answer."""
        async with httpx.AsyncClient(timeout=20) as http:
            await self._submit(http, self.result.submitted + 1)
        return self.result

    async def run_for(self, seconds: float) -> LoadResult:
        self.start()
        await asyncio.sleep(seconds)
        return await self.stop()


def service_dsn(stack: Stack, service: str) -> str:
    """A libpq URL of ``service``'s database as the server's superuser (no tenant wall applies)."""
    if stack.postgres is None:
        raise RuntimeError("the accounting needs the stack's own PostgreSQL")
    parts = urlsplit(libpq_url(stack.postgres.admin_url))
    return urlunsplit((parts.scheme, parts.netloc, f"/{service_role(service)}", parts.query, ""))


def _rows(stack: Stack, service: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(service_dsn(stack, service), autocommit=True) as conn:
        return list(conn.execute(query, params).fetchall())


def _outbox_story(stack: Stack, referrals: list[uuid.UUID]) -> str:
    """How intake's outbox saw the events of ``referrals`` (for a failure message): type, created, sent, attempts."""
    rows = _rows(
        stack,
        "intake",
        "SELECT envelope->'data'->>'referral_id', event_type, created_at, sent_at, publish_attempts FROM outbox "
        "WHERE envelope->'data'->>'referral_id' = ANY(%s) ORDER BY seq",
        [str(referral) for referral in referrals],
    )
    return "; ".join(
        f"{referral} {kind} created {created:%H:%M:%S.%f} sent {sent and f'{sent:%H:%M:%S.%f}'} tries {tries}"
        for referral, kind, created, sent, tries in rows
    ) or ", ".join(map(str, referrals))


@dataclass(frozen=True)
class Accounting:
    """Where the accepted referrals are, service by service; :attr:`problems` is empty when all is exact."""

    problems: tuple[str, ...]
    referrals: int
    cases: int

    @property
    def exact(self) -> bool:
        return not self.problems


def account(stack: Stack, load: ReferralLoad, accepted: Iterable[uuid.UUID]) -> Accounting:
    """Check that each accepted referral of ``load``'s organisation unit is reflected exactly once everywhere."""
    ids = sorted(set(accepted))
    problems: list[str] = []
    stored = _rows(
        stack,
        "intake",
        "SELECT id FROM referrals WHERE tenant_id = %s AND org_unit_id = %s AND category = %s",
        load.tenant_id,
        load.unit_id,
        load.category.lower(),
    )
    stored_ids = {row[0] for row in stored}
    if missing := set(ids) - stored_ids:
        problems.append(f"intake lacks {len(missing)} accepted referral(s)")
    if extra := stored_ids - set(ids):
        problems.append(f"intake holds {len(extra)} referral(s) the gateway did not accept")
    cases = dict(_rows(stack, "intake", "SELECT referral_id, id FROM cases WHERE referral_id = ANY(%s)", ids))
    if len(cases) != len(ids):
        problems.append(f"intake opened {len(cases)} case(s) for {len(ids)} referral(s)")

    contributions = _rows(
        stack, "signals", "SELECT referral_id FROM referral_contributions WHERE referral_id = ANY(%s)", ids
    )
    if len(contributions) != len(ids):
        uncounted = sorted(set(ids) - {row[0] for row in contributions})
        story = _outbox_story(stack, uncounted[:3])
        problems.append(f"signals counted {len(contributions)} of {len(ids)} referral(s); not: {story}")
    [(weekly, contributed)] = _rows(
        stack,
        "signals",
        "SELECT (SELECT coalesce(sum(referrals), 0) FROM weekly_referral_counts"
        "        WHERE tenant_id = %s AND org_unit_id = %s AND category = %s),"
        "       (SELECT count(*) FROM referral_contributions"
        "        WHERE tenant_id = %s AND org_unit_id = %s AND category = %s)",
        load.tenant_id,
        load.unit_id,
        load.category.lower(),
        load.tenant_id,
        load.unit_id,
        load.category.lower(),
    )
    if weekly != contributed:
        problems.append(f"signals' weekly counts say {weekly}, its contributions {contributed}")

    case_ids = list(cases.values())
    handled = _rows(
        stack,
        "scheduling",
        "SELECT case_id FROM pending_intakes WHERE case_id = ANY(%s) AND outcome IS NOT NULL",
        case_ids,
    )
    if len(handled) != len(case_ids):
        problems.append(f"scheduling handled {len(handled)} of {len(case_ids)} case(s)")
    doubled = _rows(
        stack,
        "scheduling",
        "SELECT case_id FROM appointments WHERE case_id = ANY(%s) AND status <> 'cancelled' "
        "GROUP BY case_id HAVING count(*) > 1",
        case_ids,
    )
    if doubled:
        problems.append(f"scheduling booked {len(doubled)} case(s) twice")

    metered = _rows(
        stack,
        "billing",
        "SELECT data->>'case_id' FROM billable_activity WHERE event_type = 'intake.case.opened.v1' "
        "AND data->>'case_id' = ANY(%s)",
        [str(case) for case in case_ids],
    )
    if len(metered) != len(case_ids) or len({row[0] for row in metered}) != len(metered):
        problems.append(f"billing metered {len(metered)} opening(s) for {len(case_ids)} case(s)")

    for service in SERVICES:
        [(unsent,)] = _rows(stack, service, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        if unsent:
            problems.append(f"{service}'s outbox still holds {unsent} unsent event(s)")
    return Accounting(problems=tuple(problems), referrals=len(stored_ids), cases=len(cases))


async def settled(
    stack: Stack,
    load: ReferralLoad,
    accepted: Iterable[uuid.UUID],
    *,
    timeout: float = 90.0,  # noqa: ASYNC109 - a deadline for the whole wait, as eventually() has
) -> Accounting:
    """Wait until the accounting comes out exact (the events take a moment to flow), or return its last problems."""
    accepted = list(accepted)
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(account, stack, load, accepted)
        if result.exact or time.monotonic() > deadline:
            return result
        await asyncio.sleep(1.0)


# -- the scenarios' instruments ------------------------------------------------------------------------------------


def outbox_event_ids(stack: Stack, service: str, since: datetime, until: datetime) -> set[uuid.UUID]:
    """The ids of the events ``service`` wrote in ``[since, until)`` and has published (what a replay marks)."""
    rows = _rows(
        stack,
        service,
        "SELECT id FROM outbox WHERE created_at >= %s AND created_at < %s AND sent_at IS NOT NULL",
        since,
        until,
    )
    return {row[0] for row in rows}


def unsent_events(stack: Stack) -> int:
    """Events every service's outbox has not published yet."""
    return sum(_rows(stack, service, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] for service in SERVICES)


async def replay_period(stack: Stack, since: datetime, until: datetime) -> dict[str, set[uuid.UUID]]:
    """Publish again what every service published in ``[since, until)``, as ``bmw replay`` does (the same
    :func:`~bmw.servicekit.replay.replay_outbox`, run here rather than in four new processes), and wait until their
    relays have sent it all. Returns, per service, the ids of the events marked."""
    marked = {service: await asyncio.to_thread(outbox_event_ids, stack, service, since, until) for service in SERVICES}

    async def replay(service: str) -> int:
        engine = create_engine(stack.services[service].database_url, pool_size=1)
        try:
            report = await replay_outbox(UnitOfWorkFactory(session_factory(engine)), since=since, until=until)
        finally:
            await engine.dispose()
        return report.events

    counted = await asyncio.gather(*(replay(service) for service in SERVICES))
    for service, events in zip(SERVICES, counted, strict=True):
        if events != len(marked[service]):
            raise AssertionError(f"{service}: replay marked {events} event(s), the outbox held {len(marked[service])}")
    deadline = time.monotonic() + 60
    while await asyncio.to_thread(unsent_events, stack):
        if time.monotonic() > deadline:
            raise AssertionError("the relays did not publish the replayed events within 60 s")
        await asyncio.sleep(0.2)
    return marked


def applied_by(stack: Stack, service: str, event_ids: Iterable[uuid.UUID]) -> dict[str, int]:
    """Per consumer group of ``service``: how many of ``event_ids`` its inbox says it applied."""
    rows = _rows(
        stack,
        service,
        "SELECT consumer_group, count(*) FROM inbox WHERE event_id = ANY(%s) GROUP BY consumer_group",
        list(event_ids),
    )
    return {str(group): int(count) for group, count in rows}


def inbox_rows(stack: Stack, service: str) -> int:
    """Every inbox row of ``service`` (all its groups)."""
    return int(_rows(stack, service, "SELECT count(*) FROM inbox")[0][0])


async def consumer_outcomes(stack: Stack, service: str) -> dict[tuple[str, str], int]:
    """``bmw_consumer_events_total`` of a service's ``/metrics``: per (group, outcome), the records handled since the
    process started."""
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.get(f"{stack.services[service].url}/metrics")
    response.raise_for_status()
    found: dict[tuple[str, str], int] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "bmw_consumer_events_total":
                found[(sample.labels["group"], sample.labels["outcome"])] = int(sample.value)
    return found


async def publish_raw(
    stack: Stack, topic: str, value: bytes, *, key: bytes | None = None, headers: Mapping[str, str] | None = None
) -> None:
    """Put one record of any shape on a topic of the stack's broker, as a faulty producer would."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        encoded = [(name, text.encode()) for name, text in (headers or {}).items()]
        await producer.send_and_wait(topic, value, key=key, headers=encoded)
    finally:
        await producer.stop()


async def service_command(stack: Stack, service: str, *args: str, timeout: float = 120) -> str:  # noqa: ASYNC109
    """``python -m bmw.<service> <args>`` with the service's environment; its output (it must succeed)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"bmw.{service}",
        *args,
        env=stack.service_env(service),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    out, err = await _communicate(process, timeout)
    if process.returncode != 0:
        raise AssertionError(f"python -m bmw.{service} {' '.join(args)} exited {process.returncode}: {err.decode()}")
    return out.decode()


async def _communicate(process: asyncio.subprocess.Process, timeout: float) -> tuple[bytes, bytes]:  # noqa: ASYNC109
    """Its output, or, after ``timeout`` seconds, kill it (its process group) and fail."""
    try:
        return await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise AssertionError(f"no answer within {timeout:.0f} s: {process!r}") from None


def resident_kib(pid: int) -> int:
    """The resident memory of a process (``VmRSS``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"process {pid} reports no VmRSS")


def uncounted_by_signals(stack: Stack, accepted: Sequence[uuid.UUID]) -> int:
    """How many of the accepted referrals signals has not counted yet: its lag, in referrals."""
    rows = _rows(
        stack, "signals", "SELECT count(*) FROM referral_contributions WHERE referral_id = ANY(%s)", list(accepted)
    )
    return len(set(accepted)) - int(rows[0][0])


def execute(stack: Stack, service: str, statement: str, *params: Any) -> None:
    """Run one statement in ``service``'s database as the server's superuser (a test's repair or sabotage)."""
    with psycopg.connect(service_dsn(stack, service), autocommit=True) as conn:
        conn.execute(statement, params)


def rows(stack: Stack, service: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """The rows of a query in ``service``'s database, as the server's superuser."""
    return _rows(stack, service, query, *params)


def logged_errors(stack: Stack, *, limit: int = 12) -> str:
    """The last ``limit`` error-level entries of the stack's logs (every run of every process), each with the last
    line of its exception: what a failed scenario attaches to its message, so that a failure on a busy CI machine
    says what went wrong without a re-run."""
    entries: list[tuple[str, str]] = []
    for log in sorted(stack.log_dir.glob("*.log")):
        with contextlib.suppress(OSError), log.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if '"level": "error"' not in line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                exception = str(entry.get("exception", "")).strip().splitlines()
                cause = f" [{exception[-1]}]" if exception else ""
                entries.append((str(entry.get("time", "")), f"{log.stem}: {entry.get('message', '')}{cause}"))
    entries.sort()
    return "\n".join(f"{moment} {text}" for moment, text in entries[-limit:]) or "(no error in the logs)"
