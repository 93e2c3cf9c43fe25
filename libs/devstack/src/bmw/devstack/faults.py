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
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from bmw.devstack.infra import libpq_url, service_role
from bmw.devstack.stack import Stack
from bmw.devstack.topology import SERVICES

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
        self, stack: Stack, *, tenant_index: int = 0, category: str = "CONFLICT_COLLEAGUES", rate: float = 5.0
    ) -> None:
        tenant = stack.tenants[tenant_index]
        self.tenant_id = uuid.UUID(str(tenant.id))
        self.unit_id = uuid.UUID(str(tenant.org_units[0].id))
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
