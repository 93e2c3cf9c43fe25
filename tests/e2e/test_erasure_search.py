"""Erasure end to end: after ``eraseClient`` no database and no retained event holds anything readable of the person.

One employee of Van der Veen refers themselves through the gateway, with a name full of non-ASCII letters, an
e-mail address and a phone number that exist nowhere else; gives a consent; scheduling books their intake
automatically (addiction: Joris Hendriks, the one demo social worker with that specialism, so no other journey
meets this case); Joris records a consult that took place (completed, so billing meters it), writes a formal
dossier entry and a working note; a covering colleague reads the case with a stated reason (free text about them).
Every service now holds something of them: the test proves that first, by finding their ``client_ref`` in each
service's database (and, sealed at rest, none of their data in clear anywhere but the stated reason, which the
access log keeps as written). Then a provider admin erases them through the gateway, and the test waits until
scheduling, billing and signals have each applied ``intake.client.erased.v1`` (its id in their inbox) before
searching:

* **Every database**: every row of every table in the public schema of each service's database except
  ``alembic_version``, read as the server's admin so that no tenant wall hides a row; every column as text
  (jsonb as JSON, bytea as hex and as UTF-8), case-insensitively, for the name, e-mail address, phone number
  (as given and as digits), the free texts, the employee's login subject and its digest, and the ``client_ref``,
  each as written, JSON-escaped, URL-encoded, as hex and as base64 of its UTF-8 (in any alignment). The one place
  the ``client_ref`` may stay is the erasure record: intake's outbox copy of its own ``intake.client.erased.v1``
  (kept for replay; the erasure redacts the pseudonym from every other outbox copy). Intake's person row is then
  checked to hold nothing readable: no sealed data, no login hash, no data key.
* **Every topic**: each retained record (key, headers and value) from the beginning to the end offsets, for the
  same personal data in the same forms. The ``client_ref`` itself is in retained events by design (events are
  immutable facts, and after the erasure no database maps the pseudonym to anyone), and so is the login digest
  in ``intake.case.opened.v1``, which carries it for scheduling; the test asserts both honestly (they are there,
  and only where the contracts put them). That digest is an unkeyed hash of the login: whoever knows the login
  can still find the event.

What this search found, and the erasure now removes: the employee's own login as the referrer of their
self-referral, the actor of their case's opening and of their access-log rows; the colleague's stated reason; the
login digest in intake's outbox copy of ``intake.case.opened.v1``.

The dossier entries, the consult recorded afterwards and the case reads go to intake's and scheduling's HTTP APIs,
as a social worker's tools do: the gateway has no mutation for them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from gql import Client, GraphQLRequest, gql
from gql.transport.httpx import HTTPXAsyncTransport
from psycopg import sql

from bmw.contracts.pseudonyms import login_digest
from bmw.devstack.needles import Needle
from bmw.devstack.stack import Stack
from bmw.devstack.testing import bearer, eventually
from bmw.devstack.topology import SERVICES
from bmw.intake.application.persons import erased_ref

pytestmark = pytest.mark.e2e

SCHEMA_SDL: Final = (Path(__file__).resolve().parents[2] / "gateway" / "schema.graphql").read_text(encoding="utf-8")

#: The services that learn of the person by event and must forget them on ``intake.client.erased.v1``.
CONSUMERS: Final = ("scheduling", "billing", "signals")

SUBMIT = gql(
    """
    mutation SelfReferral($input: ReferralInput!) {
      submitReferral(input: $input) {
        __typename
        ... on ReferralSubmitted { referral { id status caseId } }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
      }
    }
    """
)

CONSENT = gql(
    """
    mutation Consent($input: GiveConsentInput!) {
      giveConsent(input: $input) { __typename ... on ValidationFailed { message } ... on Forbidden { message } }
    }
    """
)

CASE = gql(
    """
    query Case($id: ID!, $reason: String) {
      case(id: $id, breakGlassReason: $reason) { id clientRef workerId status dossier(first: 5) { nodes { kind } } }
    }
    """
)

ERASE = gql(
    """
    mutation Erase($input: EraseClientInput!) {
      eraseClient(input: $input) {
        __typename
        ... on ClientErased { clientRef erased }
        ... on NotFound { message }
        ... on Forbidden { message }
      }
    }
    """
)


# -- what is searched for, and how it may be written down --------------------------------------------------------


def as_text(value: Any) -> list[str]:
    """A column value as the texts to search: bytea as hex and as UTF-8, jsonb as JSON, anything else as str."""
    if value is None:
        return []
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return [raw.hex(), raw.decode("utf-8", errors="ignore")]
    if isinstance(value, dict | list):
        return [json.dumps(value, ensure_ascii=False, default=str)]
    return [str(value)]


def leaks(texts: Iterable[tuple[str, str]], needles: Iterable[Needle]) -> list[tuple[str, str]]:
    """(where, what) for every needle found in the (where, text) pairs."""
    wanted = list(needles)
    found: list[tuple[str, str]] = []
    for where, text in texts:
        lowered = text.lower()
        found.extend((where, needle.label) for needle in wanted if needle.found_in(text, lowered))
    return found


# -- the service databases, past every tenant wall ------------------------------------------------------------------


@dataclass(frozen=True)
class Databases:
    """The service databases, read past every tenant wall (the ``admin_dsn`` fixture of conftest)."""

    dsn: Callable[[str], tuple[str, bool]]

    async def connect(self, service: str) -> psycopg.AsyncConnection[Any]:
        dsn, open_walls = self.dsn(service)
        connection = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        if open_walls:
            await connection.execute("SET app.all_tenants = 'on'")
        return connection

    async def texts(self, service: str) -> list[tuple[str, str]]:
        """(``service.table.column``, text) for every column of the service's tables: its values in every row.

        One text per column (the values joined by a NUL, which no needle holds) keeps the search to a few
        thousand substring scans in C rather than one per value.
        """
        values: dict[str, list[str]] = {}
        async with await self.connect(service) as connection:
            tables = await connection.execute(
                "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'm') AND c.relname <> 'alembic_version'"
                " ORDER BY c.relname"
            )
            for (table,) in await tables.fetchall():
                cursor = await connection.execute(sql.SQL("SELECT * FROM public.{}").format(sql.Identifier(table)))
                columns = [column.name for column in cursor.description or []]
                for row in await cursor.fetchall():
                    for column, value in zip(columns, row, strict=True):
                        values.setdefault(f"{service}.{table}.{column}", []).extend(as_text(value))
        assert values.get(f"{service}.outbox.envelope"), f"{service}: no outbox rows read"
        return [(where, "\0".join(texts)) for where, texts in values.items()]

    async def query(self, service: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        async with await self.connect(service) as connection:
            cursor = await connection.execute(statement, params)
            return list(await cursor.fetchall())

    async def outbox_event_id(self, service: str, event_type: str, field: str, value: str) -> str | None:
        """The id of the event of ``event_type`` in the service's outbox whose data ``field`` is ``value``."""
        rows = await self.query(
            service,
            "SELECT id::text FROM outbox WHERE event_type = %s AND envelope->'data'->>%s = %s",
            event_type,
            field,
            value,
        )
        return str(rows[0][0]) if rows else None

    async def applied_by(self, service: str, event_id: str) -> set[str]:
        """The consumer groups of the service that applied the event."""
        rows = await self.query(service, "SELECT consumer_group FROM inbox WHERE event_id = %s::uuid", event_id)
        return {str(group) for (group,) in rows}


# -- every topic, from the beginning to the end offsets --------------------------------------------------------


@dataclass(frozen=True)
class Retained:
    """One record as retained by the broker: where it is, its event type, and its key, headers and value as text."""

    topic: str
    offset: int
    event_type: str
    text: str


async def retained_events(bootstrap: str) -> list[Retained]:
    """Every record retained on every topic of the broker, read from the beginning to today's end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[Retained] = []
    try:
        topics = sorted(await consumer.topics())
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: Mapping[TopicPartition, int] = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        deadline = asyncio.get_running_loop().time() + 60
        while pending:
            assert asyncio.get_running_loop().time() < deadline, f"not read to their end offsets: {sorted(pending)}"
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, batch_records in batch.items():
                for record in batch_records:
                    if record.offset >= ends[tp]:
                        continue
                    headers = {name: value.decode("utf-8", errors="ignore") for name, value in record.headers}
                    text = "\n".join(
                        [
                            (record.key or b"").decode("utf-8", errors="ignore"),
                            json.dumps(headers, ensure_ascii=False),
                            (record.value or b"").decode("utf-8", errors="ignore"),
                        ]
                    )
                    records.append(Retained(tp.topic, record.offset, headers.get("ce_type", ""), text))
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    assert topics, "the broker lists no topic"
    return records


# -- the journey -----------------------------------------------------------------------------------------------


def client(stack: Stack, token: str) -> Client:
    transport = HTTPXAsyncTransport(url=stack.graphql_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(transport=transport, schema=SCHEMA_SDL, fetch_schema_from_transport=False)


async def run(stack: Stack, token: str, document: Any, **variables: Any) -> dict[str, Any]:
    async with client(stack, token) as session:
        result: dict[str, Any] = await session.execute(GraphQLRequest(document, variable_values=variables))
    return result


@dataclass(frozen=True)
class Person:
    """A person nobody else in the session resembles: every value is unique to this run."""

    name: str
    email: str
    phone: str
    login: str
    dossier_text: str
    working_note: str
    break_glass_reason: str

    @classmethod
    def unique(cls) -> Person:
        tag = uuid.uuid4().hex[:10]
        letters = "".join("abcdefghijklmnop"[int(c, 16)] for c in tag)
        name = f"Zoë Ærøskøbing-Đurić {letters.capitalize()}"
        digits = f"{uuid.uuid4().int % 10**8:08d}"
        return cls(
            name=name,
            email=f"zoe.{letters}@verwijder-mij.example.org",
            phone=f"+31 6 {digits[:4]} {digits[4:]}",
            login=str(uuid.uuid4()),
            dossier_text=f"Intakeverslag: verslaving na ontslag van {name}; afspraak met schuldhulp ({tag}-dossier).",
            working_note=f"Werkaantekening: cliënt klinkt somber, vader ernstig ziek ({tag}-notitie).",
            break_glass_reason=f"Collega ziek; cliënt belt in crisis over de schulden ({tag}-reden)",
        )

    def values(self) -> dict[str, str]:
        """Each piece of their data by what it is."""
        return {
            "name": self.name,
            "e-mail": self.email,
            "phone": self.phone,
            "phone digits": "".join(c for c in self.phone if c.isdigit()),
            "dossier text": self.dossier_text,
            "working note": self.working_note,
            "break-glass reason": self.break_glass_reason,
            "login subject": self.login,
        }

    def needles(self) -> list[Needle]:
        return [Needle.of(label, value) for label, value in self.values().items()]


async def held_consult(
    http: httpx.AsyncClient, stack: Stack, token: str, *, tenant_id: str, worker_id: str, case_id: str
) -> str:
    """Record a consult that took place yesterday or the day before (the first hour the worker was free)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for hours_back in range(24, 24 * 6, 5):
        response = await http.post(
            f"{stack.services['scheduling'].url}/appointments/held",
            json={
                "worker_id": worker_id,
                "tenant_id": tenant_id,
                "kind": "consult",
                "start": (now - timedelta(hours=hours_back)).isoformat(),
                "case_id": case_id,
            },
            headers=bearer(token),
        )
        if response.status_code == 409:
            continue  # the worker had another appointment then
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        assert body["status"] == "completed", body
        return str(body["id"])
    raise AssertionError("no free hour in the worker's past five days to record the consult in")


async def test_an_erased_person_is_found_in_no_database_and_in_no_retained_event(
    stack: Stack, personal_data: set[str], admin_dsn: Callable[[str], tuple[str, bool]]
) -> None:
    databases = Databases(admin_dsn)
    van_der_veen = stack.tenants[0]
    finance = next(unit.id for unit in van_der_veen.org_units if unit.name == "Finance")
    joris = next(worker for worker in stack.demo_workers if worker.name == "Joris Hendriks")
    person = Person.unique()
    personal_data.update(person.values().values())  # the log scan looks for them at the end of the session
    employee = stack.mint("employee", sub=person.login, tenant_id=van_der_veen.id)
    worker = stack.mint("social_worker", sub=joris.id)
    admin = stack.mint("provider_admin")

    # The employee refers themselves and consents to anonymised statistics.
    submitted = (
        await run(
            stack,
            employee,
            SUBMIT,
            input={
                "orgUnitId": finance,
                "category": "ADDICTION",
                "urgency": "NORMAL",
                "channel": "SELF",
                "employeeConsented": True,
                "employee": {"name": person.name, "email": person.email, "phone": person.phone},
            },
        )
    )["submitReferral"]
    assert submitted["__typename"] == "ReferralSubmitted", submitted
    referral_id, case_id = submitted["referral"]["id"], submitted["referral"]["caseId"]
    assert submitted["referral"]["status"] == "CASE_OPENED" and case_id
    consent = await run(
        stack,
        employee,
        CONSENT,
        input={"referralId": referral_id, "recipient": "PROVIDER", "item": "ANONYMISED_STATISTICS"},
    )
    assert consent["giveConsent"]["__typename"] == "ConsentGiven", consent

    async with httpx.AsyncClient(timeout=30) as http:
        # Scheduling books the intake with Joris, and intake assigns him the case.
        async def assigned() -> bool:
            response = await http.get(f"{stack.services['intake'].url}/cases/{case_id}", headers=bearer(worker))
            return response.status_code == 200 and response.json()["worker_id"] == joris.id

        await eventually(assigned, timeout=60, what="the intake booked with Joris and the case assigned to him")
        case = (await run(stack, worker, CASE, id=case_id))["case"]
        client_ref = case["clientRef"]
        assert client_ref.startswith("c_") and case["status"] == "INTAKE_SCHEDULED"
        needles = person.needles()
        ref_needles = [Needle.of("client_ref", client_ref), Needle.of("login digest", login_digest(person.login))]

        consult_id = await held_consult(
            http, stack, worker, tenant_id=van_der_veen.id, worker_id=joris.id, case_id=case_id
        )
        for kind, text in (("intake_report", person.dossier_text), ("working_note", person.working_note)):
            written = await http.post(
                f"{stack.services['intake'].url}/cases/{case_id}/dossier",
                json={"kind": kind, "text": text},
                headers=bearer(worker),
            )
            assert written.status_code == 201, written.text
    colleague = stack.mint("social_worker", sub=str(uuid.uuid4()))
    covered = (await run(stack, colleague, CASE, id=case_id, reason=person.break_glass_reason))["case"]
    assert covered["id"] == case_id and covered["dossier"]["nodes"], covered

    # Every service holds something of them before the erasure: the case opened reached scheduling, billing and
    # signals, and billing metered the consult.
    opened = await databases.outbox_event_id("intake", "intake.case.opened.v1", "case_id", case_id)
    completed = await databases.outbox_event_id(
        "scheduling", "scheduling.appointment.completed.v1", "appointment_id", consult_id
    )
    assert opened and completed

    async def everyone_has_it() -> bool:
        return all([await databases.applied_by(service, opened) for service in CONSUMERS]) and bool(
            await databases.applied_by("billing", completed)
        )

    await eventually(everyone_has_it, what="the case opened applied by every service, the consult by billing")
    before = {service: await databases.texts(service) for service in SERVICES}
    for service, texts in before.items():
        assert leaks(texts, [ref_needles[0]]), f"{service} holds nothing of the person: the search proves nothing"
    # Sealed at rest: nothing in clear but the colleague's stated reason, which the access log keeps as written.
    in_clear = {leak for texts in before.values() for leak in leaks(texts, needles[:-1])}
    assert in_clear == {("intake.access_log.reason", "break-glass reason")}, in_clear

    # The erasure, through the gateway, as a provider admin.
    erased = (await run(stack, admin, ERASE, input={"clientRef": client_ref}))["eraseClient"]
    assert erased["__typename"] == "ClientErased" and erased["clientRef"] == client_ref, erased
    erasure = await databases.outbox_event_id("intake", "intake.client.erased.v1", "client_ref", client_ref)
    assert erasure is not None, "intake keeps its erasure record in its outbox"
    groups = {service: await databases.applied_by(service, opened) for service in CONSUMERS}

    async def everyone_forgot() -> bool:
        return all([groups[service] <= await databases.applied_by(service, erasure) for service in CONSUMERS])

    await eventually(everyone_forgot, what="intake.client.erased.v1 applied by every group that had the person")
    again = (await run(stack, admin, ERASE, input={"clientRef": client_ref}))["eraseClient"]
    assert again["__typename"] == "NotFound", "the pseudonym still leads to a person"

    # (a) every database: nothing of the person; the pseudonym only in intake's erasure record.
    found: list[tuple[str, str]] = []
    for service in SERVICES:
        found.extend(leaks(await databases.texts(service), [*needles, *ref_needles]))
    records = await databases.query(
        "intake", "SELECT id::text, event_type FROM outbox WHERE strpos(envelope::text, %s) > 0", client_ref
    )
    assert records == [(erasure, "intake.client.erased.v1")], records
    expected = {("intake.outbox.envelope", "client_ref")}
    assert set(found) == expected, f"left after the erasure (where, what): {sorted(set(found) - expected)}"
    person_rows = await databases.query(
        "intake",
        "SELECT p.sealed IS NULL, p.subject_hash IS NULL, p.erased_at IS NOT NULL, k.person_id IS NULL"
        " FROM persons p LEFT JOIN person_keys k ON k.person_id = p.id WHERE p.client_ref = %s",
        erased_ref(client_ref),
    )
    assert person_rows == [(True, True, True, True)], "intake's person row still holds something readable"

    # (b) every topic: nothing of the person in any form; the pseudonyms only where the contracts carry them.
    events = await retained_events(stack.kafka_bootstrap_servers)
    by_type: dict[str, list[str]] = {}
    for event in events:
        by_type.setdefault(f"{event.topic} {event.event_type}", []).append(event.text)
    in_events = leaks(((where, "\0".join(texts)) for where, texts in by_type.items()), needles)
    assert in_events == [], f"personal data in retained events: {in_events}"
    with_ref = {e.event_type for e in events if client_ref in e.text}
    assert {"intake.case.opened.v1", "intake.client.erased.v1"} <= with_ref, with_ref
    assert with_ref <= {"intake.case.opened.v1", "intake.consent.changed.v1", "intake.client.erased.v1"}, with_ref
    with_digest = {e.event_type for e in events if login_digest(person.login) in e.text}
    assert with_digest == {"intake.case.opened.v1"}, with_digest
