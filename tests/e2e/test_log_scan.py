"""No secret and no test person's data in the logs of a whole end-to-end run.

Runs last in the session (``tests/e2e/conftest.py`` moves it to the end), so that it reads everything the e2e
tests made the stack write: every file in ``stack.log_dir`` — each service's and the gateway's log (also those
of processes a test started the way the stack does, e.g. the resilience tests' counted gateway and a restarted
service), the migrations' logs and the broker's.

Searched for, each as written, JSON-escaped (the logs are JSON lines, non-ASCII escaped), URL-encoded, as hex and as
base64 (in any alignment), case-insensitively except base64:

* **Tokens**: every token ``Stack.mint`` handed out in the session (whole, and its payload and signature alone),
  and anything shaped like a JWT at all (tokens the tests signed themselves with the stack's key);
* **Key material** the stack holds: every base64 line of the dev signing key's PEM (and any PEM private key
  header), intake's key-encryption key (and its raw bytes) and subject pepper as the services run with them,
  the database passwords in the services' and the admin's URLs;
* **Personal data of every test person**: of each person intake still holds, what its right-of-access export
  gives (name, e-mail, phone, date of birth, formal dossier texts, stated break-glass reasons); of erased
  persons, what their tests registered in the ``personal_data`` fixture; and any e-mail address at all.

The scan must have something to find: before it, one request with an expired token (signed with the stack's own
key) and a body or query full of a canary person's data goes to the gateway and to each service, and their logs
must show the refusal's reason under that request's correlation id; the token and the canary's data are then
searched for like everything else.

Not scanned: what the integration tests' in-process services print (pytest captures it and shows it only for a
failing test), pytest's own output, and the log of the session's PostgreSQL server, which lives outside the stack.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from bmw.devstack.needles import Needle
from bmw.devstack.stack import Stack
from bmw.devstack.testing import bearer, eventually
from bmw.devstack.tokens import mint_token
from bmw.devstack.topology import SERVICES
from bmw.intake.settings import DEV_KEY_ENCRYPTION_KEY, DEV_SUBJECT_PEPPER

pytestmark = pytest.mark.e2e

#: Anything shaped like a JWT: a base64url JSON header and payload (``{"`` encodes as ``eyJ``) and a signature.
JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
#: Any e-mail address: no log line has a reason to hold one.
EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
#: The header of any PEM private key.
PRIVATE_KEY: Final = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")

#: Values shorter than this are not searched for (a phone digit group or a short word would match anything).
SHORTEST: Final = 6


def needles(label: str, values: Iterable[str | None]) -> list[Needle]:
    """The values worth searching for under one label (absent and very short ones left out)."""
    return [Needle.of(label, value) for value in values if value and len(value) >= SHORTEST]


def token_needles(tokens: Iterable[str]) -> list[Needle]:
    """Each token whole, and its payload and signature alone (a truncated token still shows one of them)."""
    found: list[Needle] = []
    for number, token in enumerate(tokens, start=1):
        _, payload, signature = token.split(".")
        found += [
            Needle.of(f"token #{number}", token),
            Needle.of(f"payload of token #{number}", payload),
            Needle.of(f"signature of token #{number}", signature),
        ]
    return found


def key_material(stack: Stack) -> list[Needle]:
    """The stack's secrets: signing key, intake's key-encryption key and pepper, database passwords."""
    pem_lines = [line for line in stack.signing_key_pem.decode().splitlines() if line and not line.startswith("-")]
    assert len(pem_lines) >= 10, "the signing key's PEM has no body to search for"
    kek = stack.environ.get("INTAKE_KEY_ENCRYPTION_KEY", DEV_KEY_ENCRYPTION_KEY)
    pepper = stack.environ.get("INTAKE_SUBJECT_PEPPER", DEV_SUBJECT_PEPPER)
    urls = [stack.environ.get("BMW_DATABASE_ADMIN_URL", "")]
    urls += [
        url for endpoint in stack.services.values() for url in (endpoint.database_url, endpoint.migration_database_url)
    ]
    passwords = {urlsplit(url).password for url in urls if url} | {stack.environ.get("BMW_DATABASE_SERVICE_PASSWORD")}
    return [
        *[Needle.of(f"signing key line {number}", line) for number, line in enumerate(pem_lines, start=1)],
        Needle.of("intake key-encryption key", kek),
        Needle.of("intake key-encryption key (raw)", base64.b64decode(kek).decode("latin-1")),
        Needle.of("intake subject pepper", pepper),
        *needles("a database password", passwords),
    ]


async def persons_in_intake(stack: Stack, dsn: tuple[str, bool]) -> list[Needle]:
    """What intake holds of every person it still knows, as their right-of-access export gives it."""
    url, open_walls = dsn
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        if open_walls:
            await connection.execute("SET app.all_tenants = 'on'")
        cursor = await connection.execute("SELECT client_ref FROM persons WHERE erased_at IS NULL ORDER BY created_at")
        refs = [str(ref) for (ref,) in await cursor.fetchall()]
    assert refs, "intake holds no person: the e2e tests and the demo data should have left some"
    headers = bearer(stack.mint("provider_admin"))
    limit = asyncio.Semaphore(8)

    async def export(http: httpx.AsyncClient, ref: str) -> list[Needle]:
        async with limit:
            response = await http.get(f"{stack.services['intake'].url}/persons/{ref}/export", headers=headers)
        assert response.status_code == 200, response.text
        held = response.json()
        person = held["personal_data"] or {}
        label = f"personal data of {ref}"
        return needles(
            label,
            [
                person.get("name"),
                person.get("email"),
                person.get("phone"),
                person.get("date_of_birth"),
                *(entry["text"] for entry in held["dossier"]),
                *(row["reason"] for row in held["access_log"]),
            ],
        )

    async with httpx.AsyncClient(timeout=30) as http:
        exported = await asyncio.gather(*(export(http, ref) for ref in refs))
    return [needle for person in exported for needle in person]


async def canary_requests(stack: Stack, token: str, person: dict[str, str], correlation_id: str) -> None:
    """A request to the gateway and to each service that must be refused at the door, and logged there."""
    tenant = stack.tenants[0]
    headers = {**bearer(token), "x-correlation-id": correlation_id}
    referral = {
        "org_unit_id": tenant.org_units[0].id,
        "category": "workload_stress",
        "urgency": "normal",
        "channel": "self",
        "employee": person,
    }
    mutation = "mutation S($i: ReferralInput!) { submitReferral(input: $i) { __typename } }"
    graphql_input = {
        "orgUnitId": tenant.org_units[0].id,
        "category": "WORKLOAD_STRESS",
        "urgency": "NORMAL",
        "channel": "SELF",
        "employee": person,
    }
    async with httpx.AsyncClient(timeout=30) as http:
        refused = await http.post(
            stack.graphql_url, json={"query": mutation, "variables": {"i": graphql_input}}, headers=headers
        )
        assert "invalid or expired token" in refused.text, refused.text
        refused = await http.post(f"{stack.services['intake'].url}/referrals", json=referral, headers=headers)
        assert refused.status_code == 401, refused.text
        for service, path in (("scheduling", "/appointments"), ("billing", "/invoices"), ("signals", "/signals")):
            refused = await http.get(
                f"{stack.services[service].url}{path}", params={"q": person["email"]}, headers=headers
            )
            assert refused.status_code == 401, (service, refused.text)


def scan(texts: dict[str, str], wanted: list[Needle]) -> dict[str, list[str]]:
    """By name, what of ``wanted`` (labels) and which patterns each text holds; texts that hold nothing left out.

    The needles are first looked for in all texts at once (one pass per form rather than one per form and file),
    and only those found are traced to their file.
    """
    everything = "\0".join(texts.values())
    present = [needle for needle in wanted if needle.found_in(everything, everything.lower())]
    found: dict[str, list[str]] = {}
    for name, text in texts.items():
        lowered = text.lower()
        hits = [needle.label for needle in present if needle.found_in(text, lowered)]
        for pattern_name, pattern in (("something shaped like a JWT", JWT), ("an e-mail address", EMAIL)):
            hits += [f"{pattern_name} ({match[:12]}…)" for match in pattern.findall(text)]
        if PRIVATE_KEY.search(text):
            hits.append("a PEM private key")
        if hits:
            found[name] = sorted(set(hits))
    return found


async def test_no_log_of_the_run_holds_a_token_a_key_or_a_test_persons_data(
    stack: Stack, personal_data: set[str], admin_dsn: Callable[[str], tuple[str, bool]]
) -> None:
    tag = uuid.uuid4().hex[:10]
    canary = {
        "name": f"Ödön Kanarie-Łukasiewicz {tag}",
        "email": f"kanarie.{tag}@log-scan.example.org",
        "phone": f"+31 20 {int(tag[:6], 16) % 10**7:07d}",
    }
    expired = mint_token(
        stack.signing_key_pem,
        role="employee",
        sub=f"kanarie-{tag}",
        tenant_id=stack.tenants[0].id,
        ttl=timedelta(minutes=1),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    correlation_id = f"log-scan-{tag}"
    await canary_requests(stack, expired, canary, correlation_id)
    processes = ["gateway", *SERVICES]

    def logged_refusals() -> dict[str, list[dict[str, Any]]]:
        lines: dict[str, list[dict[str, Any]]] = {}
        for name in processes:
            path = stack.log_dir / f"{name}.log"
            text = path.read_text(encoding="utf-8", errors="ignore")
            entries = [json.loads(line) for line in text.splitlines() if correlation_id in line]
            lines[name] = [entry for entry in entries if entry.get("correlation_id") == correlation_id]
        return lines

    async def every_refusal_logged() -> bool:
        return all(logged_refusals().values())

    await eventually(every_refusal_logged, timeout=10, what="the canary's refusals in the gateway's and services' logs")
    for name, entries in logged_refusals().items():
        assert any(entry["message"].startswith("token refused") for entry in entries), (name, entries)

    persons = await persons_in_intake(stack, admin_dsn("intake"))  # mints a token too: before the tokens are read
    wanted = [
        *token_needles(stack.minted),
        Needle.of("the canary's expired token", expired),
        *key_material(stack),
        *needles("personal data of an erased test person", personal_data),
        *needles("the canary's personal data", canary.values()),
        *persons,
    ]
    # The search finds what it looks for as a service would log it: a JSON line, non-ASCII escaped.
    written = json.dumps({"message": f"submitted by {canary['name']} with {expired}"})
    control = scan({"control": written}, wanted)["control"]
    assert {"the canary's personal data", "the canary's expired token"} <= set(control), control

    logs = {path.name: path.read_bytes().decode("utf-8", errors="ignore") for path in stack.log_dir.iterdir()}
    assert {f"{name}.log" for name in [*processes, "broker"]} <= set(logs), sorted(logs)
    found = scan(logs, wanted)
    assert found == {}, f"secrets or personal data in the logs: {found}"
