"""The intake app in process, on the session's real PostgreSQL and broker."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.scheduling import AppointmentBooked
from bmw.contracts.taxonomy import AppointmentKind
from bmw.devstack.testing import bearer, eventually, read_topic, service_under_test
from bmw.intake.adapters.tables import CASES, PERSONS, REFERRALS
from bmw.intake.entrypoints.deps import build_intake
from bmw.intake.settings import IntakeSettings
from bmw.servicekit.uow import UnitOfWorkFactory


@pytest.fixture(scope="module")
async def intake(infra: Any, dev_keys: Any) -> AsyncIterator[SimpleNamespace]:
    async with service_under_test("intake", infra, dev_keys, consumer_backoff_seconds=0.05) as service:

        async def stored_referrals(tenant: uuid.UUID) -> tuple[int, int]:
            async with service.sessions() as session:
                referrals = await session.scalar(select(func.count()).where(REFERRALS.c.tenant_id == tenant))
                clients = await session.scalar(select(func.count()).where(PERSONS.c.tenant_id == tenant))
            return int(referrals or 0), int(clients or 0)

        # The use cases on the same database, for jobs the app runs on a timer (expiry, retention); their
        # events go to the outbox, which the app's relay publishes.
        url = service.sessions.kw["bind"].url.render_as_string(hide_password=False)
        use_cases = build_intake(IntakeSettings(database_url=url), UnitOfWorkFactory(service.sessions))
        yield SimpleNamespace(
            client=service.client,
            register_tenant=service.register_tenant,
            stored_referrals=stored_referrals,
            bootstrap=service.bootstrap,
            publish=service.publish,
            sessions=service.sessions,
            database_url=service.database_url,
            use_cases=use_cases,
        )


def referral_body(org_unit: uuid.UUID, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "org_unit_id": str(org_unit),
        "category": "reorganisation_uncertainty",
        "urgency": "normal",
        "channel": "hr",
        "employee": {"name": "Sanne de Vries", "email": "sanne@example.nl"},
        "employee_consented": True,
    }
    body.update(overrides)
    return body


@pytest.fixture
def body() -> Callable[..., dict[str, object]]:
    return referral_body


# -- helpers for the consent, case, dossier and rights-of-the-person tests -------------------------------

INTAKE_TOPIC = "bmw.intake.events"


@pytest.fixture(scope="session")
def personal_data() -> set[str]:
    """Every name, e-mail, phone number and dossier text the tests hand to intake (checked against events)."""
    return set()


class Flows:
    """Steps the tests share: referring a person, opening and booking cases, reading events and tables."""

    def __init__(self, intake: SimpleNamespace, dev_keys: Any, personal_data: set[str]) -> None:
        self.intake = intake
        self.keys = dev_keys
        self.personal_data = personal_data
        self.topic = INTAKE_TOPIC

    def person(self) -> dict[str, str]:
        """Distinctive contact details (remembered as personal data)."""
        tag = secrets.token_hex(5)
        digits = "".join(secrets.choice("0123456789") for _ in range(8))
        person = {"name": f"Quirine Zwanenburg {tag}", "email": f"q.{tag}@example.nl", "phone": f"+31 6 {digits}"}
        self.personal_data.update(person.values())
        return person

    def text(self, what: str) -> str:
        """A distinctive dossier text (remembered as personal data)."""
        value = f"{what} {secrets.token_hex(6)}: spanning met de leidinggevende sinds de reorganisatie"
        self.personal_data.add(value)
        return value

    def token(
        self, role: str, *, tenant: uuid.UUID | None = None, sub: str | None = None, **claims: Any
    ) -> dict[str, str]:
        return bearer(self.keys.mint(role, tenant_id=tenant, sub=sub, **claims))

    def worker(self) -> tuple[uuid.UUID, dict[str, str]]:
        """A social worker: their id and the headers of their token (subject = worker id)."""
        worker_id = uuid.uuid4()
        return worker_id, self.token("social_worker", sub=str(worker_id))

    async def tenant(self) -> tuple[uuid.UUID, uuid.UUID]:
        tenant, (unit,) = await self.intake.register_tenant("Operations")
        return tenant, unit

    async def refer(
        self,
        tenant: uuid.UUID,
        unit: uuid.UUID,
        *,
        consented: bool = True,
        channel: str = "hr",
        referrer: dict[str, str] | None = None,
        person: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A referral by a client contact (HR by default); the JSON answer."""
        body = {
            "org_unit_id": str(unit),
            "category": "workload_stress",
            "urgency": "normal",
            "channel": channel,
            "employee": person or self.person(),
            "employee_consented": consented,
        }
        headers = referrer or self.token("client_contact", tenant=tenant)
        response = await self.intake.client.post("/referrals", json=body, headers=headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def case(self, case_id: uuid.UUID | str) -> Any:
        async with self.intake.sessions() as session:
            return (await session.execute(select(CASES).where(CASES.c.id == uuid.UUID(str(case_id))))).one()

    async def book(self, tenant: uuid.UUID, case_id: uuid.UUID | str, worker_id: uuid.UUID) -> None:
        """Scheduling booked the intake with ``worker_id``; wait until intake assigned the case."""
        booked = AppointmentBooked(
            appointment_id=uuid.uuid4(),
            kind=AppointmentKind.INTAKE,
            case_id=uuid.UUID(str(case_id)),
            worker_id=worker_id,
            start=datetime.now(UTC),
            duration_minutes=60,
        )
        await self.intake.publish([CloudEvent.create(booked, tenant_id=tenant)])

        async def assigned() -> bool:
            row = await self.case(case_id)
            return bool(row.worker_id == worker_id and row.status == "intake_scheduled")

        await eventually(assigned, timeout=15, what="the booking to schedule and assign the case")

    async def open_case(
        self, tenant: uuid.UUID, unit: uuid.UUID, worker_id: uuid.UUID | None = None, **referral: Any
    ) -> tuple[str, str]:
        """A consented referral, its case booked with ``worker_id`` (if given): (case id, client_ref)."""
        created = await self.refer(tenant, unit, **referral)
        case_id = created["case_id"]
        assert case_id is not None
        if worker_id is not None:
            await self.book(tenant, case_id, worker_id)
        return case_id, (await self.case(case_id)).client_ref

    async def events(
        self,
        tenant: uuid.UUID | None,
        *,
        until: Callable[[list[tuple[str, dict[str, Any]]]], bool] = lambda found: True,
        what: str = "intake's events",
    ) -> list[tuple[str, dict[str, Any]]]:
        """(type, data) of intake's events of one tenant (all for None), once ``until`` holds of them."""
        found: list[tuple[str, dict[str, Any]]] = []

        async def check() -> bool:
            nonlocal found
            records = await read_topic(
                self.intake.bootstrap,
                INTAKE_TOPIC,
                match=lambda h: tenant is None or h.get("ce_tenantid") == str(tenant),
                idle_ms=300,
            )
            found = [(headers["ce_type"], json.loads(value)) for headers, value in records]
            return until(found)

        await eventually(check, timeout=15, what=what)
        return found

    async def event(self, tenant: uuid.UUID, event_type: str, **fields: str) -> dict[str, Any]:
        """The data of the first event of ``event_type`` whose fields match (waits for it)."""

        def matches(found: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
            return [
                data
                for kind, data in found
                if kind == event_type and all(str(data.get(k)) == str(v) for k, v in fields.items())
            ]

        found = await self.events(tenant, until=lambda f: bool(matches(f)), what=f"{event_type} {fields}")
        return matches(found)[0]

    async def all_rows_as_text(self) -> dict[str, str]:
        """Every row of every table of intake's schema as text, per table."""
        async with self.intake.sessions() as session:
            tables = (
                await session.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                    )
                )
            ).scalars()
            dump = {}
            for table in list(tables):
                rows = await session.execute(text(f'SELECT t::text FROM public."{table}" t'))  # noqa: S608
                dump[table] = "\n".join(rows.scalars())
        return dump

    @staticmethod
    def found_in(dump: dict[str, str], secret: str) -> list[str]:
        """The tables whose rows hold ``secret`` in clear or as the hex of a bytea column."""
        needles = {secret, secret.encode().hex()}
        return [table for table, rows in dump.items() if any(needle in rows for needle in needles)]


@pytest.fixture(scope="module")
def flows(intake: SimpleNamespace, dev_keys: Any, personal_data: set[str]) -> Flows:
    return Flows(intake, dev_keys, personal_data)
