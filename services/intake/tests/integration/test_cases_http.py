"""The case lifecycle over HTTP, what scheduling tells intake, the two-layer dossier and break-glass reads."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.scheduling import IntakeUnschedulable
from bmw.contracts.taxonomy import UnschedulableReason
from bmw.devstack.testing import eventually
from bmw.intake.adapters.tables import ACCESS_LOG

pytestmark = pytest.mark.integration

REASON = "covering for a colleague on sick leave"


async def test_a_case_moves_through_its_lifecycle_with_the_assigned_worker_only(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    case_id, _ = await flows.open_case(tenant, unit)
    worker_id, worker = flows.worker()
    path = f"/cases/{case_id}"
    assert (await intake.client.get(path, headers=worker)).status_code == 403, "not assigned yet"

    await flows.book(tenant, case_id, worker_id)
    assigned = await flows.event(tenant, "intake.case.assigned.v1", case_id=case_id)
    assert assigned["worker_id"] == str(worker_id)
    read = await intake.client.get(path, headers=worker)
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "intake_scheduled"
    assert read.json()["worker_id"] == str(worker_id)

    too_early = await intake.client.post(f"{path}/close", json={"outcome": "resolved"}, headers=worker)
    assert too_early.status_code == 409, "no intake took place, so the case cannot be resolved"
    assert too_early.json()["error"]["details"]["current_state"] == "intake_scheduled"

    _, colleague = flows.worker()
    client_contact = flows.token("client_contact", tenant=tenant)
    for headers, expected in ((colleague, 403), (client_contact, 404)):
        assert (await intake.client.post(f"{path}/start", headers=headers)).status_code == expected
        assert (await intake.client.get(path, headers=headers)).status_code == expected
    assert (await flows.case(case_id)).status == "intake_scheduled", "refused commands change nothing"

    started = await intake.client.post(f"{path}/start", headers=worker)
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "in_progress"
    closed = await intake.client.post(f"{path}/close", json={"outcome": "resolved"}, headers=worker)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["outcome"] == "resolved"
    assert closed.json()["closed_at"] is not None

    for command, body in (("start", None), ("close", {"outcome": "dropped_out"})):
        illegal = await intake.client.post(f"{path}/{command}", json=body, headers=worker)
        assert illegal.status_code == 409, illegal.text
        assert illegal.json()["error"]["details"]["current_state"] == "closed"

    reopened = await intake.client.post(f"{path}/reopen", headers=worker)
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "in_progress"
    assert reopened.json()["reopened_count"] == 1
    assert reopened.json()["outcome"] is None
    again = await intake.client.post(f"{path}/reopen", headers=worker)
    assert again.status_code == 409
    assert again.json()["error"]["details"]["current_state"] == "in_progress"

    history = (await intake.client.get(path, headers=worker)).json()["history"]
    assert [step["status"] for step in history] == [
        "registered",
        "intake_scheduled",
        "in_progress",
        "closed",
        "in_progress",
    ]
    found = await flows.events(
        tenant,
        until=lambda f: any(kind == "intake.case.reopened.v1" for kind, _ in f),
        what="the reopened event",
    )
    mine = [kind for kind, data in found if data.get("case_id") == case_id]
    assert mine == [
        "intake.case.opened.v1",
        "intake.case.assigned.v1",
        "intake.case.closed.v1",
        "intake.case.reopened.v1",
    ]
    closed_event = next(data for kind, data in found if kind == "intake.case.closed.v1")
    assert closed_event["outcome"] == "resolved"


async def test_an_unschedulable_intake_escalates_the_case_until_it_is_booked(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    case_id, _ = await flows.open_case(tenant, unit)
    unschedulable = IntakeUnschedulable(
        case_id=uuid.UUID(case_id), reason=UnschedulableReason.NO_CAPACITY_BEFORE_DEADLINE
    )
    await intake.publish([CloudEvent.create(unschedulable, tenant_id=tenant)])

    async def escalated() -> bool:
        return bool((await flows.case(case_id)).escalation == "no_capacity_before_deadline")

    await eventually(escalated, timeout=15, what="the case to be escalated")
    await flows.event(tenant, "intake.case.escalated.v1", case_id=case_id)

    admin = flows.token("provider_admin")
    listed = await intake.client.get("/cases/escalated", headers=admin)
    assert listed.status_code == 200, listed.text
    mine = [case for case in listed.json()["items"] if case["id"] == case_id]
    assert len(mine) == 1
    assert mine[0]["escalation"] == "no_capacity_before_deadline"
    assert mine[0]["status"] == "registered"
    _, worker = flows.worker()
    assert (await intake.client.get("/cases/escalated", headers=worker)).status_code == 403

    worker_id, _ = flows.worker()
    await flows.book(tenant, case_id, worker_id)
    listed = await intake.client.get("/cases/escalated", headers=admin)
    assert case_id not in [case["id"] for case in listed.json()["items"]], "a booking resolves the escalation"


async def test_a_closed_case_no_longer_needs_anyone_to_act(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    case_id, _ = await flows.open_case(tenant, unit)
    unschedulable = IntakeUnschedulable(case_id=uuid.UUID(case_id), reason=UnschedulableReason.NO_SPECIALISM)
    await intake.publish([CloudEvent.create(unschedulable, tenant_id=tenant)])

    async def escalated() -> bool:
        return (await flows.case(case_id)).escalation is not None

    await eventually(escalated, timeout=15, what="the case to be escalated")
    worker_id, worker = flows.worker()
    admin = flows.token("provider_admin")
    assigned = await intake.client.post(f"/cases/{case_id}/assign", json={"worker_id": str(worker_id)}, headers=admin)
    assert assigned.status_code == 200, assigned.text
    closed = await intake.client.post(f"/cases/{case_id}/close", json={"outcome": "referred_elsewhere"}, headers=worker)
    assert closed.status_code == 200, closed.text
    listed = await intake.client.get("/cases/escalated", headers=admin)
    assert case_id not in [case["id"] for case in listed.json()["items"]]


async def test_the_caseload_is_paginated_by_cursor(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    worker_id, worker = flows.worker()
    cases = [(await flows.open_case(tenant, unit, worker_id))[0] for _ in range(3)]
    _, other_worker = flows.worker()

    first = await intake.client.get("/cases", params={"limit": 2}, headers=worker)
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    second = await intake.client.get("/cases", params={"limit": 2, "cursor": page["next_cursor"]}, headers=worker)
    assert second.status_code == 200, second.text
    assert second.json()["next_cursor"] is None
    ids = [case["id"] for case in page["items"] + second.json()["items"]]
    assert ids == list(reversed(cases)), "newest first, each case once"
    assert all(case["worker_id"] == str(worker_id) for case in page["items"])

    assert (await intake.client.get("/cases", headers=other_worker)).json()["items"] == []
    client_contact = flows.token("client_contact", tenant=tenant)
    assert (await intake.client.get("/cases", headers=client_contact)).status_code == 403

    garbage = await intake.client.get("/cases", params={"cursor": "not-a-cursor-at-all"}, headers=worker)
    assert garbage.status_code == 422, garbage.text
    assert [f["path"] for f in garbage.json()["error"]["fields"]] == ["query.cursor"]


async def test_the_dossier_is_for_the_assigned_worker_and_break_glass_reads_are_logged(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    worker_id, worker = flows.worker()
    case_id, client_ref = await flows.open_case(tenant, unit, worker_id)
    dossier = f"/cases/{case_id}/dossier"
    report, note = flows.text("Intakeverslag"), flows.text("Werkaantekening")
    for kind, value, layer in (("intake_report", report, "formal"), ("working_note", note, "working")):
        written = await intake.client.post(dossier, json={"kind": kind, "text": value}, headers=worker)
        assert written.status_code == 201, written.text
        assert written.json()["layer"] == layer
        assert written.json()["author"] == str(worker_id)

    own = await intake.client.get(dossier, headers=worker)
    assert own.status_code == 200, own.text
    assert [(e["kind"], e["text"]) for e in own.json()["items"]] == [("intake_report", report), ("working_note", note)]
    first = await intake.client.get(dossier, params={"limit": 1}, headers=worker)
    assert [e["kind"] for e in first.json()["items"]] == ["intake_report"]
    second = await intake.client.get(
        dossier, params={"limit": 1, "cursor": first.json()["next_cursor"]}, headers=worker
    )
    assert [e["kind"] for e in second.json()["items"]] == ["working_note"]

    colleague_id, colleague = flows.worker()
    assert (await intake.client.get(dossier, headers=colleague)).status_code == 403
    short = await intake.client.get(dossier, headers={**colleague, "X-Break-Glass-Reason": "because"})
    assert short.status_code == 403, "a reason must say something"
    writing = await intake.client.post(dossier, json={"kind": "plan", "text": "x"}, headers=colleague)
    assert writing.status_code == 403, "break-glass is for reading only"
    covered = await intake.client.get(dossier, headers={**colleague, "X-Break-Glass-Reason": REASON})
    assert covered.status_code == 200, covered.text
    assert [e["text"] for e in covered.json()["items"]] == [report, note]

    client_contact = flows.token("client_contact", tenant=tenant)
    for headers in (client_contact, flows.token("provider_admin")):
        assert (await intake.client.get(dossier, headers=headers)).status_code == 404
        assert (
            await intake.client.get(dossier, headers={**headers, "X-Break-Glass-Reason": REASON})
        ).status_code == 404

    async with intake.sessions() as session:
        rows = (await session.execute(select(ACCESS_LOG).where(ACCESS_LOG.c.case_id == uuid.UUID(case_id)))).all()
    glass = [row for row in rows if row.break_glass]
    assert len(glass) == 1, "one break-glass read, the refused attempts read nothing"
    assert glass[0].actor == str(colleague_id)
    assert glass[0].reason == REASON
    assert glass[0].person_ref == client_ref
    assert glass[0].action == "read"
    assert {(row.actor, row.action, row.resource) for row in rows if not row.break_glass} >= {
        (str(worker_id), "create", "dossier.formal"),
        (str(worker_id), "create", "dossier.working"),
        (str(worker_id), "read", "dossier"),
    }
    assert all(row.reason is None for row in rows if not row.break_glass)


async def test_a_break_glass_reason_beyond_ascii_travels_percent_encoded(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    worker_id, _ = flows.worker()
    case_id, _ = await flows.open_case(tenant, unit, worker_id)
    _, colleague = flows.worker()
    reason = "Collega ziek; cliënt belt in crisis — overname vandaag"
    encoded = quote(reason, safe=" ;")
    read = await intake.client.get(f"/cases/{case_id}", headers={**colleague, "X-Break-Glass-Reason": encoded})
    assert read.status_code == 200, read.text
    async with intake.sessions() as session:
        logged = (
            (
                await session.execute(
                    select(ACCESS_LOG.c.reason).where(
                        ACCESS_LOG.c.case_id == uuid.UUID(case_id), ACCESS_LOG.c.break_glass
                    )
                )
            )
            .scalars()
            .all()
        )
    assert logged == [reason], "the log keeps the reason as written, not its encoding"

    for header, problem in (("%C3%28 not utf-8 at all", "not UTF-8"), ("x" * 501, "at most 500")):
        refused = await intake.client.get(f"/cases/{case_id}", headers={**colleague, "X-Break-Glass-Reason": header})
        assert refused.status_code == 422, refused.text
        fields = refused.json()["error"]["fields"]
        assert [f["path"] for f in fields] == ["header.X-Break-Glass-Reason"]
        assert problem in fields[0]["message"]


async def test_the_access_log_is_append_only(intake: Any, flows: Any) -> None:
    tenant, unit = await flows.tenant()
    worker_id, worker = flows.worker()
    case_id, client_ref = await flows.open_case(tenant, unit, worker_id)
    assert (await intake.client.get(f"/cases/{case_id}", headers=worker)).status_code == 200
    async with intake.sessions() as session:
        entry = await session.scalar(select(ACCESS_LOG.c.id).where(ACCESS_LOG.c.case_id == uuid.UUID(case_id)).limit(1))
    assert entry is not None

    tampering = [
        ("UPDATE access_log SET action = 'x' WHERE id = :id", {"id": entry}),
        ("UPDATE access_log SET person_ref = 'someone-else' WHERE id = :id", {"id": entry}),
        ("DELETE FROM access_log WHERE id = :id", {"id": entry}),
        ("DELETE FROM access_log", {}),
    ]
    for statement, values in tampering:
        async with intake.sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement), values)
            await session.rollback()
    async with intake.sessions() as session:
        row = (await session.execute(select(ACCESS_LOG).where(ACCESS_LOG.c.id == entry))).one()
    assert row.action != "x"
    assert row.person_ref == client_ref
