"""Demo data loading against a mock HTTP transport."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from bmw.contracts.taxonomy import ProductKind, Specialism, VatRate
from bmw.devstack.demo import DEMO_ACCOUNT_MANAGER_ID, DemoLoadError, DemoTenant, load_demo
from bmw.devstack.stack import ServiceEndpoint, Stack


def fake_stack(tmp_path: Path) -> Stack:
    stack = Stack(tmp_path / ".bmw", base_port=0)
    stack.services = {
        name: ServiceEndpoint(name, f"http://{name}.test", "")
        for name in ("intake", "scheduling", "billing", "signals")
    }
    return stack


def test_load_demo_creates_organisations_workers_and_contracts(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, object]]] = []
    referral_tokens: list[str] = []
    referral_keys: list[str] = []

    signals_calls: list[tuple[str, str, httpx.Request]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "signals.test":
            signals_calls.append((request.method, request.url.path, request))
            if request.url.path == "/detection-runs":
                return httpx.Response(200, json={"raised": [str(uuid.uuid4())], "resolved": []})
            return httpx.Response(201, json={"id": str(uuid.uuid4())})
        body = json.loads(request.content)
        calls.append((f"{request.url.host}{request.url.path}", body))
        if request.url.path == "/referrals":
            referral_tokens.append(request.headers["Authorization"])
            referral_keys.append(request.headers["Idempotency-Key"])
            return httpx.Response(201, json={"id": str(uuid.uuid4()), "status": "case_opened"})
        assert request.headers["Authorization"] == "Bearer admin-token"
        if request.url.path == "/client-organisations":
            units = [{"id": str(uuid.uuid4()), "name": u["name"]} for u in body["org_units"]]
            return httpx.Response(201, json={"id": str(uuid.uuid4()), "name": body["name"], "org_units": units})
        return httpx.Response(201, json={"id": str(uuid.uuid4()), **body})

    stack = fake_stack(tmp_path)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        tenants = load_demo(stack, "admin-token", client=client)

    assert [t.name for t in tenants] == ["Van der Veen Transport & Logistiek B.V.", "Gemeente Waterland aan Zee"]
    assert [u.name for u in tenants[0].org_units] == ["Logistiek", "Planning", "Finance", "HR"]
    assert [u.name for u in tenants[1].org_units] == ["Burgerzaken", "Sociaal Domein", "ICT", "Facilitair"]
    referrals = [body for path, body in calls if path == "intake.test/referrals"]
    assert [c[0] for c in calls if c[0] != "intake.test/referrals"] == [
        "billing.test/client-organisations",
        "billing.test/client-organisations",
        *["scheduling.test/workers"] * 4,
        "billing.test/contracts",
        "billing.test/contracts",
        "scheduling.test/workshops",
        "scheduling.test/workshops",
        "scheduling.test/secondments",
        *["scheduling.test/appointments/held"] * 3,
    ]
    # The story: a reorganisation in Logistiek shows as visible cells (5 or more), the rest stays small.
    per_cell: dict[tuple[object, object], int] = {}
    for referral in referrals:
        key = (referral["org_unit_id"], referral["category"])
        per_cell[key] = per_cell.get(key, 0) + 1
    logistiek = tenants[0].org_units[0].id
    assert per_cell[(logistiek, "reorganisation_uncertainty")] >= 5
    assert any(count < 5 for count in per_cell.values()), "some cells must stay under k"
    assert all(r["employee_consented"] and r["channel"] == "hr" for r in referrals)
    assert len(set(referral_tokens)) == 2, "one HR contact per organisation, never the admin"
    assert len(set(referral_keys)) == len(referrals), "each story referral is idempotent on its own key"
    # The scheduling story: a nominated training at the logistics company, an open workshop and walk-in
    # hours at the municipality, each by workers who serve the organisation.
    dismissal, hybrid = (body for path, body in calls if path == "scheduling.test/workshops")
    assert (dismissal["tenant_id"], dismissal["self_registration"]) == (tenants[0].id, False)
    assert (hybrid["tenant_id"], hybrid["self_registration"]) == (tenants[1].id, True)
    walk_in = next(body for path, body in calls if path == "scheduling.test/secondments")
    assert walk_in["walk_in"] is True and walk_in["tenant_id"] == tenants[1].id
    worker_bodies = [w for path, w in calls if path == "scheduling.test/workers"]
    served = {w.id: body["tenant_ids"] for w, body in zip(stack.demo_workers, worker_bodies, strict=True)}
    for planned in (dismissal, hybrid):
        for trainer in planned["trainer_ids"]:  # type: ignore[attr-defined]
            assert planned["tenant_id"] in served[trainer]
    organisation = calls[0][1]
    assert organisation["account_manager_id"] == DEMO_ACCOUNT_MANAGER_ID
    assert organisation["invoice_email"] and organisation["vat_id"].startswith("NL"), "enough to invoice"  # type: ignore[union-attr]
    held = [body for path, body in calls if path == "scheduling.test/appointments/held"]
    assert {h["tenant_id"] for h in held} == {tenants[0].id} and all(h["kind"] == "consult" for h in held)
    assert len(str(organisation["kvk_number"])) == 8
    for _, worker in calls[2:6]:
        assert set(worker) - {"id"} == {"name", "specialisms", "languages", "tenant_ids"}
        assert all(Specialism(s) for s in worker["specialisms"])  # type: ignore[attr-defined]
        assert set(worker["tenant_ids"]) <= {t.id for t in tenants}  # type: ignore[arg-type]
    assert len(stack.demo_workers) == 4
    for (_, contract), tenant in zip(calls[6:8], tenants, strict=True):
        assert contract["tenant_id"] == tenant.id
        assert str(contract["period_start"]) < str(contract["period_end"])
        for product in contract["products"]:  # type: ignore[attr-defined]
            assert {"code", "kind", "unit_price_cents", "vat_rate"} <= set(product)
            ProductKind(product["kind"])
            VatRate(product["vat_rate"])
    bundle = next(p for p in calls[6][1]["products"] if p["kind"] == "hour_bundle")  # type: ignore[attr-defined]
    assert bundle["included_quantity"] == "40.00"
    assert DemoTenant.from_json(tenants[0].as_json()) == tenants[0]
    # Headcounts go to billing with the org units: the detectors judge referrals against a unit's size.
    assert all(unit["employees"] > 0 for unit in organisation["org_units"])  # type: ignore[attr-defined]

    # The signals story: each organisation's history, a management action by HR, an observation by the
    # seconded worker, then the detectors run.
    paths = [path for _, path, _ in signals_calls]
    assert paths[:2] == ["/history-imports", "/history-imports"]
    for (_, _, request), tenant in zip(signals_calls[:2], tenants, strict=True):
        assert request.url.params["tenant_id"] == tenant.id
        assert request.headers["content-type"] == "text/csv"
        lines = request.content.decode().splitlines()
        assert lines[0] == "week;org_unit;category;count;employees"
        assert len(lines) > 20, "two years of weeks with a referral here and there"
        assert {line.split(";")[1] for line in lines[1:]} <= {unit.name for unit in tenant.org_units}
    action = next(request for _, path, request in signals_calls if path == "/management-actions")
    assert json.loads(action.content)["action_type"] == "reorganisation_announced"
    assert action.headers["Authorization"] != "Bearer admin-token", "HR records what management did"
    assert "/secondment-observations" in paths
    assert paths[-len(tenants) :] == ["/detection-runs"] * len(tenants)


def test_load_demo_fails_clearly(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"detail": [{"loc": ["body", "kvk_number"], "msg": "invalid"}]})

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(DemoLoadError, match=r"POST http://billing.test/client-organisations answered HTTP 422.*kvk"),
    ):
        load_demo(fake_stack(tmp_path), "admin-token", client=client)
