"""Personal data at rest and in events, the right of access, the right to erasure, and retention.

The last test reads every event intake published in the session, so this module runs after the others
(it sorts last in this directory).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.scheduling import AppointmentCompleted
from bmw.contracts.taxonomy import AppointmentKind
from bmw.devstack.testing import eventually, read_topic
from bmw.intake.adapters.tables import ACCESS_LOG, DOSSIER_ENTRIES, IDEMPOTENCY_KEYS, PERSON_KEYS, PERSONS
from bmw.intake.application.persons import apply_retention, erased_ref
from bmw.intake.application.referrals import expire_referrals

pytestmark = pytest.mark.integration

#: Keys that would mean personal data in an event.
PERSONAL_KEYS = {"name", "email", "phone", "date_of_birth", "note", "notes", "text", "employee", "address"}


async def person_id_of(intake: Any, client_ref: str) -> uuid.UUID:
    async with intake.sessions() as session:
        found = await session.scalar(select(PERSONS.c.id).where(PERSONS.c.client_ref == client_ref))
    assert isinstance(found, uuid.UUID)
    return found


async def test_personal_data_and_the_dossier_are_sealed_at_rest(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    person = flows.person()
    worker_id, worker = flows.worker()
    case_id, client_ref = await flows.open_case(tenant, unit, worker_id, person=person)
    report, note = flows.text("Intakeverslag"), flows.text("Werkaantekening")
    for kind, value in (("intake_report", report), ("working_note", note)):
        response = await intake.client.post(
            f"/cases/{case_id}/dossier", json={"kind": kind, "text": value}, headers=worker
        )
        assert response.status_code == 201, response.text

    person_id = await person_id_of(intake, client_ref)
    async with intake.sessions() as session:
        sealed = await session.scalar(select(PERSONS.c.sealed).where(PERSONS.c.id == person_id))
        entries = (
            await session.execute(
                select(DOSSIER_ENTRIES.c.sealed).where(DOSSIER_ENTRIES.c.case_id == uuid.UUID(case_id))
            )
        ).scalars()
        blobs = [sealed, *entries]
    assert len(blobs) == 3
    for blob in blobs:
        assert blob
        for secret in (*person.values(), report, note):
            assert secret.encode() not in blob

    dump = await flows.all_rows_as_text()
    assert {"persons", "person_keys", "dossier_entries", "access_log", "outbox"} <= set(dump)
    assert client_ref in dump["persons"], "the scan reads the rows"
    digits = "".join(ch for ch in person["phone"] if ch.isdigit())
    for secret in (*person.values(), digits, report, note):
        assert flows.found_in(dump, secret) == [], secret


async def test_the_right_of_access_and_the_right_to_erasure(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    person = flows.person()
    worker_id, worker = flows.worker()
    case_id, client_ref = await flows.open_case(tenant, unit, worker_id, person=person)
    referral_id = str((await flows.case(case_id)).referral_id)
    report, note = flows.text("Intakeverslag"), flows.text("Werkaantekening")
    for kind, value in (("intake_report", report), ("working_note", note)):
        response = await intake.client.post(
            f"/cases/{case_id}/dossier", json={"kind": kind, "text": value}, headers=worker
        )
        assert response.status_code == 201, response.text
    consented = await intake.client.post(
        f"/referrals/{referral_id}/consents",
        json={"recipient": "company_doctor", "item": "closing_report", "granted": True, "method": "written"},
        headers=worker,
    )
    assert consented.status_code == 201, consented.text
    _, colleague = flows.worker()
    glass = await intake.client.get(
        f"/cases/{case_id}/dossier", headers={**colleague, "X-Break-Glass-Reason": "covering an absence this week"}
    )
    assert glass.status_code == 200
    opened = await flows.event(tenant, "intake.case.opened.v1", case_id=case_id)
    assert opened["client_ref"] == client_ref

    admin_id = f"admin-{uuid.uuid4()}"
    admin = flows.token("provider_admin", sub=admin_id)
    export = f"/persons/{client_ref}/export"
    for role, tenant_of in (("social_worker", None), ("client_contact", tenant), ("account_manager", None)):
        refused = await intake.client.get(export, headers=flows.token(role, tenant=tenant_of))
        assert refused.status_code == 403, (role, refused.text)
        assert (
            await intake.client.post(f"/persons/{client_ref}/erase", headers=flows.token(role, tenant=tenant_of))
        ).status_code == 403
    assert (await intake.client.get(export, headers=worker)).status_code == 403

    response = await intake.client.get(export, headers=admin)
    assert response.status_code == 200, response.text
    exported = response.json()
    assert exported["client_ref"] == client_ref
    assert exported["client_organisation"] == str(tenant)
    assert {k: exported["personal_data"][k] for k in ("name", "email", "phone")} == person
    assert [r["id"] for r in exported["referrals"]] == [referral_id]
    assert [(c["id"], c["status"]) for c in exported["cases"]] == [(case_id, "intake_scheduled")]
    assert {(c["recipient"], c["item"], c["granted"]) for c in exported["consents"]} == {
        ("provider", "referral", True),
        ("company_doctor", "closing_report", True),
    }
    assert [(d["kind"], d["text"]) for d in exported["dossier"]] == [("intake_report", report)]
    assert note not in json.dumps(exported), "working notes fall outside the right of access"
    logged = {(row["actor"], row["action"], row["break_glass"]) for row in exported["access_log"]}
    assert (str(worker_id), "create", False) in logged
    assert any(glass and action == "read" for _, action, glass in logged), "the break-glass read is disclosed"
    assert (admin_id, "export", False) in logged

    person_id = await person_id_of(intake, client_ref)
    erased = await intake.client.post(f"/persons/{client_ref}/erase", headers=admin)
    assert erased.status_code == 204, erased.text
    assert (await intake.client.get(export, headers=admin)).status_code == 404
    assert (await intake.client.post(f"/persons/{client_ref}/erase", headers=admin)).status_code == 404
    data = await flows.event(tenant, "intake.client.erased.v1", client_ref=client_ref)
    assert data["client_ref"] == client_ref

    async with intake.sessions() as session:
        keys = await session.scalar(select(func.count()).where(PERSON_KEYS.c.person_id == person_id))
        row = (await session.execute(select(PERSONS).where(PERSONS.c.id == person_id))).one()
        log = (
            await session.execute(select(ACCESS_LOG.c.person_ref).where(ACCESS_LOG.c.case_id == uuid.UUID(case_id)))
        ).scalars()
        log_refs = set(log)
    assert keys == 0, "the person's key is shredded"
    assert row.sealed is None
    assert row.erased_at is not None
    assert log_refs == {erased_ref(client_ref)}

    dump = await flows.all_rows_as_text()
    for secret in (*person.values(), report, note):
        assert flows.found_in(dump, secret) == [], secret
    beyond_the_outbox = {table: rows for table, rows in dump.items() if table != "outbox"}
    assert flows.found_in(beyond_the_outbox, client_ref) == []

    case = await intake.client.get(f"/cases/{case_id}", headers=worker)
    assert case.status_code == 200, "the case stays, without the person"
    assert case.json()["client_ref"] == erased_ref(client_ref)
    assert (await intake.client.get(f"/cases/{case_id}/dossier", headers=worker)).json()["items"] == []


async def test_after_erasure_only_the_erasure_event_still_names_the_client_ref(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    case_id, client_ref = await flows.open_case(tenant, unit)
    await flows.event(tenant, "intake.case.opened.v1", case_id=case_id)
    erased = await intake.client.post(f"/persons/{client_ref}/erase", headers=flows.token("provider_admin"))
    assert erased.status_code == 204
    await flows.event(tenant, "intake.client.erased.v1", client_ref=client_ref)
    dump = await flows.all_rows_as_text()
    assert flows.found_in({t: rows for t, rows in dump.items() if t != "outbox"}, client_ref) == []
    async with intake.sessions() as session:
        naming = await session.execute(
            text("SELECT event_type FROM outbox WHERE envelope::text LIKE :ref"), {"ref": f"%{client_ref}%"}
        )
        types = set(naming.scalars())
    assert types == {"intake.client.erased.v1"}


async def test_retention_erases_persons_whose_cases_closed_five_years_ago(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    worker_id, worker = flows.worker()
    done_case, done_ref = await flows.open_case(tenant, unit, worker_id)
    completed = AppointmentCompleted(
        appointment_id=uuid.uuid4(),
        kind=AppointmentKind.INTAKE,
        case_id=uuid.UUID(done_case),
        worker_id=worker_id,
        start=datetime.now(UTC),
        duration_minutes=60,
    )
    await intake.publish([CloudEvent.create(completed, tenant_id=tenant)])

    async def in_progress() -> bool:
        return bool((await flows.case(done_case)).status == "in_progress")

    await eventually(in_progress, timeout=15, what="the completed intake to start the case")
    note = flows.text("Werkaantekening")
    written = await intake.client.post(
        f"/cases/{done_case}/dossier", json={"kind": "working_note", "text": note}, headers=worker
    )
    assert written.status_code == 201
    closed = await intake.client.post(f"/cases/{done_case}/close", json={"outcome": "resolved"}, headers=worker)
    assert closed.status_code == 200, closed.text
    open_case, open_ref = await flows.open_case(tenant, unit, worker_id)
    admin = flows.token("provider_admin")
    later = datetime.now(UTC) + timedelta(days=365 * 5 + 30)

    today = await apply_retention(intake=intake.use_cases, now=datetime.now(UTC), dry_run=True)
    assert done_ref not in today.persons, "closed today: kept for five years"
    preview = await apply_retention(intake=intake.use_cases, now=later, dry_run=True)
    assert preview.dry_run
    assert done_ref in preview.persons
    assert open_ref not in preview.persons
    assert preview.working_notes >= 1
    assert (await intake.client.get(f"/persons/{done_ref}/export", headers=admin)).status_code == 200
    async with intake.sessions() as session:
        notes = await session.scalar(select(func.count()).where(DOSSIER_ENTRIES.c.case_id == uuid.UUID(done_case)))
    assert notes == 1, "a dry run erases nothing"

    report = await apply_retention(intake=intake.use_cases, now=later)
    assert not report.dry_run
    assert done_ref in report.persons
    assert open_ref not in report.persons
    assert (await intake.client.get(f"/persons/{done_ref}/export", headers=admin)).status_code == 404
    assert (await intake.client.get(f"/persons/{open_ref}/export", headers=admin)).status_code == 200
    await flows.event(tenant, "intake.client.erased.v1", client_ref=done_ref)
    assert (await flows.case(done_case)).client_ref == erased_ref(done_ref)
    assert (await flows.case(open_case)).client_ref == open_ref
    async with intake.sessions() as session:
        notes = await session.scalar(select(func.count()).where(DOSSIER_ENTRIES.c.case_id == uuid.UUID(done_case)))
        keys = await session.scalar(
            select(func.count()).select_from(PERSON_KEYS).join(PERSONS).where(PERSONS.c.client_ref == open_ref)
        )
    assert notes == 0
    assert keys == 1, "the person with an open case keeps their key"

    again = await apply_retention(intake=intake.use_cases, now=later)
    assert done_ref not in again.persons and erased_ref(done_ref) not in again.persons, "erased once"


async def test_retention_also_forgets_a_person_whose_referral_expired_unconsented(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    created = await flows.refer(tenant, unit, consented=False, channel="manager")
    later = datetime.now(UTC) + timedelta(days=365 * 5 + 30)
    await expire_referrals(intake=intake.use_cases, now=datetime.now(UTC) + timedelta(days=15))
    await apply_retention(intake=intake.use_cases, now=later)
    async with intake.sessions() as session:
        person = (
            await session.execute(select(PERSONS.c.sealed, PERSONS.c.erased_at).where(PERSONS.c.tenant_id == tenant))
        ).one()
    seen = await intake.client.get(f"/referrals/{created['id']}", headers=flows.token("provider_admin"))
    assert seen.json()["status"] == "expired"
    assert person.erased_at is not None
    assert person.sealed is None


async def test_erasure_forgets_the_idempotency_keys_a_self_referring_employee_sent(
    intake: Any, flows: Any, body: Any
) -> None:
    """Their stored answers name their own login as the caller for 7 days; the admin who erases sees only its own
    keys behind the caller wall, yet the erased person's go, and a colleague's stay."""
    tenant, unit = await flows.tenant()
    keys: dict[str, str] = {}
    case_ids: dict[str, str] = {}
    for who in ("erased", "colleague"):
        subject = f"employee-{who}-{uuid.uuid4()}"
        headers = {**flows.token("employee", tenant=tenant, sub=subject), "Idempotency-Key": f"key-{uuid.uuid4()}"}
        referral = body(unit, channel="self", employee=flows.person())
        response = await intake.client.post("/referrals", json=referral, headers=headers)
        assert response.status_code == 201, response.text
        keys[who], case_ids[who] = subject, response.json()["case_id"]

    async def subjects() -> set[str]:
        async with intake.sessions() as session:  # the test's view: the service's own, every caller's keys
            found = await session.scalars(
                select(IDEMPOTENCY_KEYS.c.subject).where(IDEMPOTENCY_KEYS.c.subject.in_(keys.values()))
            )
            return set(found)

    assert await subjects() == set(keys.values())
    client_ref = (await flows.case(case_ids["erased"])).client_ref
    erased = await intake.client.post(f"/persons/{client_ref}/erase", headers=flows.token("provider_admin"))
    assert erased.status_code == 204, erased.text
    assert await subjects() == {keys["colleague"]}


async def test_no_event_intake_published_carries_personal_data(
    intake: Any, flows: Any, personal_data: set[str]
) -> None:
    """Runs last: every record intake put on its topic in this session, headers and data."""
    known = {*personal_data, "Sanne de Vries", "sanne@example.nl"}
    assert len(personal_data) >= 10, "the other tests registered their personal data"
    records: list[tuple[dict[str, str], bytes]] = []
    expected = {
        "intake.referral.received.v1",
        "intake.referral.expired.v1",
        "intake.consent.changed.v1",
        "intake.case.opened.v1",
        "intake.case.assigned.v1",
        "intake.case.closed.v1",
        "intake.client.erased.v1",
    }

    async def read_all() -> bool:
        nonlocal records
        # Only what intake itself published: other suites put deliberately broken records on this topic. A read
        # stops after 300 ms without a record, which on a busy machine can be before the end: read again until
        # every kind the other tests published is there (so the scan below sees them all).
        records = await read_topic(
            intake.bootstrap, flows.topic, match=lambda headers: headers.get("ce_source") == "/bmw/intake", idle_ms=3000
        )
        return {headers["ce_type"] for headers, _ in records} >= expected

    await eventually(read_all, timeout=30, what=f"intake's events, every kind of {sorted(expected)}")

    def keys_of(value: object) -> set[str]:
        if isinstance(value, dict):
            return {str(k).lower() for k in value} | {k for v in value.values() for k in keys_of(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys_of(v)}
        return set()

    for headers, value in records:
        kind = headers["ce_type"]
        wire = value.decode() + json.dumps(headers)
        leaked = [secret for secret in known if secret in wire or secret.encode().hex() in wire]
        assert leaked == [], (kind, leaked)
        keys = keys_of(json.loads(value))
        assert keys.isdisjoint(PERSONAL_KEYS), (kind, sorted(keys & PERSONAL_KEYS))
