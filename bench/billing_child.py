"""One measured pass of the billing benchmark (``bench.billing``) in a process of its own, so that its peak memory
(``VmHWM``) is the billing run's and not the seeding's.

``--mode subject`` runs the real month-end billing: ``run_billing`` over every client organisation (what
``POST /billing-runs`` calls, in a provider admin's scope), then ``issue_due_drafts`` (the periodic job that issues
the drafts after their grace period: numbers, UBL, HTML, ``billing.invoice.issued.v1`` into the outbox), on the
service's own engine and unit of work, as the service's role that row-level security holds.

``--mode baseline`` does the same work in raw SQL through asyncpg, as that same role: per organisation, one
transaction with the tenant scope, the usage of the month aggregated by PostgreSQL, the contract and the buyer read,
one issued invoice row with its number and its lines, the usage marked invoiced, one outbox row. That is what
PostgreSQL itself allows for the run; the gap to the subject is the application's own cost.

Writes a JSON result (seconds per phase, counts, ``VmHWM``) to ``--result``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_CENT = Decimal(1)


def memory_status() -> dict[str, int]:
    """``VmHWM`` and ``VmRSS`` of this process in KiB (Linux)."""
    found: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0])
    return found


# -- the subject: the billing service's own code ---------------------------------------------------------------


async def subject(database_url: str, period_text: str, issue_day: date) -> dict[str, Any]:
    """The real month-end billing; ``issue_day`` is unused: the job issues on its own clock (now + grace)."""
    return await _subject(database_url, period_text)


async def _subject(database_url: str, period_text: str) -> dict[str, Any]:
    # Imported here, so that the baseline's process does not carry the service (its peak memory is a figure).
    from bmw.billing.application.invoicing import issue_due_drafts, run_billing
    from bmw.billing.domain.periods import Period
    from bmw.billing.settings import BillingSettings
    from bmw.contracts.taxonomy import Role
    from bmw.servicekit.auth import Principal
    from bmw.servicekit.db import engine_for, session_factory
    from bmw.servicekit.uow import UnitOfWorkFactory
    from bmw.servicekit.walls import TenantScope, scoped

    settings = BillingSettings(database_url=database_url)
    engine = engine_for(settings)
    uow = UnitOfWorkFactory(session_factory(engine))
    admin = Principal(subject="bench-provider-admin", roles=frozenset({Role.PROVIDER_ADMIN}))
    period = Period.parse(period_text)
    try:
        started = time.perf_counter()
        # As POST /billing-runs does it: in the provider admin's scope (get_principal widens the request's scope).
        with scoped(TenantScope.of(admin)):
            result = await run_billing(period, tenant_id=None, principal=admin, uow=uow, settings=settings)
        drafted = time.perf_counter()
        # As the periodic job does it once the grace period has passed (the service's own scope).
        moment = datetime.now(UTC) + timedelta(hours=settings.auto_issue_after_hours + 1)
        issued = await issue_due_drafts(uow, settings, now=moment)
        finished = time.perf_counter()
    finally:
        await engine.dispose()
    return {
        "draft_seconds": drafted - started,
        "issue_seconds": finished - drafted,
        "seconds": finished - started,
        "drafts": len(result.drafts),
        "skipped": len(result.skipped),
        "skipped_reasons": sorted({skip.reason for skip in result.skipped})[:5],
        "issued": issued,
    }


# -- the baseline: the same work in raw SQL --------------------------------------------------------------------

SCOPE_SQL = (
    "SELECT set_config('app.all_tenants', $1, true), set_config('app.tenant_ids', $2, true), "
    "set_config('app.caller', '', true)"
)
TENANTS_SQL = "SELECT id FROM organisations ORDER BY name"
USAGE_SQL = """
SELECT contract_id, product_code, kind, unit, unit_price_cents, overage,
       CASE WHEN kind = 'trajectory_fixed_price' THEN case_id END AS reference, sum(quantity) AS quantity
FROM usage_records
WHERE tenant_id = $1 AND status = 'open' AND occurred_at < $2
GROUP BY 1, 2, 3, 4, 5, 6, 7
ORDER BY 1, 2, 6, 7
"""
CONTRACTS_SQL = (
    "SELECT id, employees, products, buyer_reference FROM contracts "
    "WHERE tenant_id = $1 AND period_start <= $3 AND period_end >= $2"
)
BUYER_SQL = """
SELECT o.name, o.kvk_number, o.vat_id, o.invoice_email, o.payment_terms_days,
       a.street, a.house_number, a.postal_code, a.city, a.country
FROM organisations o JOIN organisation_addresses a ON a.tenant_id = o.id AND a.kind = 'invoice'
WHERE o.id = $1
"""
NUMBER_SQL = (
    "INSERT INTO invoice_numbers (year, last_number) VALUES ($1, 1) ON CONFLICT (year) "
    "DO UPDATE SET last_number = invoice_numbers.last_number + 1 RETURNING last_number"
)
INVOICE_SQL = """
INSERT INTO invoices (id, tenant_id, kind, status, number, period_start, period_end, issue_date, due_date,
                      buyer_reference, net_cents, vat_cents, gross_cents, document, issued_at, issued_by)
VALUES ($1, $2, 'invoice', 'issued', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, now(), 'baseline')
"""
#: All lines of an invoice in one statement (as the service sends them).
LINE_SQL = """
INSERT INTO invoice_lines (invoice_id, line_no, product_code, description, quantity, unit_code, unit_price_cents,
                           net_cents, vat_rate)
SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::numeric[], $6::text[], $7::bigint[], $8::bigint[],
                         $9::text[])
"""
MARK_SQL = (
    "UPDATE usage_records SET status = 'invoiced', invoice_id = $2, updated_at = now() "
    "WHERE tenant_id = $1 AND status = 'open' AND occurred_at < $3"
)
OUTBOX_SQL = "INSERT INTO outbox (id, topic, event_type, tenant_id, envelope) VALUES ($1, $2, $3, $4, $5::jsonb)"


def _round(amount: Decimal) -> int:
    return int(amount.quantize(_CENT, rounding=ROUND_HALF_UP))


async def baseline(database_url: str, period_text: str, issue_day: date) -> dict[str, Any]:
    import asyncpg  # type: ignore[import-untyped]

    from bmw.billing.domain.periods import Period

    period = Period.parse(period_text)
    end = datetime.combine(period.end + timedelta(days=1), datetime.min.time(), tzinfo=AMSTERDAM)
    url = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    connection = await asyncpg.connect(url)
    invoices = 0
    try:
        started = time.perf_counter()
        async with connection.transaction():
            await connection.execute(SCOPE_SQL, "on", "{}")
            tenants = [row["id"] for row in await connection.fetch(TENANTS_SQL)]
        for tenant in tenants:
            async with connection.transaction():
                await connection.execute(SCOPE_SQL, "off", "{" + str(tenant) + "}")
                usage = await connection.fetch(USAGE_SQL, tenant, end)
                contracts = await connection.fetch(CONTRACTS_SQL, tenant, period.start, period.end)
                buyer = await connection.fetchrow(BUYER_SQL, tenant)
                if not usage or buyer is None:
                    continue
                products: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
                lines: list[tuple[str, str, Decimal, str, int, int, dict[str, Any]]] = []
                for contract in contracts:
                    for raw in json.loads(contract["products"]):
                        products[(contract["id"], raw["code"])] = raw
                        if raw["kind"] == "subscription_per_employee_year" and contract["employees"]:
                            quantity = Decimal(contract["employees"])  # employee-months of one month, priced per 12
                            net = _round(quantity * raw["unit_price_cents"] / 12)
                            lines.append(
                                (raw["code"], "Abonnement", quantity, "MON", raw["unit_price_cents"], net, raw)
                            )
                for row in usage:
                    raw = products[(row["contract_id"], row["product_code"])]
                    quantity = row["quantity"]
                    if quantity <= 0:
                        continue
                    net = _round(quantity * row["unit_price_cents"])
                    unit = "HUR" if row["unit"] == "hour" else "C62"
                    lines.append((row["product_code"], row["kind"], quantity, unit, row["unit_price_cents"], net, raw))
                taxable: dict[str, int] = defaultdict(int)
                for line in lines:
                    taxable[line[6]["vat_rate"]] += line[5]
                net_total = sum(taxable.values())
                vat_total = sum(
                    _round(Decimal(cents) * Decimal(rate) / 100) for rate, cents in taxable.items() if rate != "exempt"
                )
                number = await connection.fetchval(NUMBER_SQL, issue_day.year)
                invoice_id = uuid.uuid4()
                document = {
                    "buyer": dict(buyer),
                    "lines": [
                        {"product_code": code, "quantity": str(q), "unit_price_cents": p, "net_cents": n}
                        for code, _, q, _, p, n, _ in lines
                    ],
                    "net_cents": net_total,
                    "vat_cents": vat_total,
                }
                await connection.execute(
                    INVOICE_SQL,
                    invoice_id,
                    tenant,
                    f"{issue_day.year}-{number:06d}",
                    period.start,
                    period.end,
                    issue_day,
                    issue_day + timedelta(days=buyer["payment_terms_days"]),
                    contracts[0]["buyer_reference"] if contracts else None,
                    net_total,
                    vat_total,
                    net_total + vat_total,
                    json.dumps(document),
                )
                numbered = list(enumerate(lines, start=1))
                await connection.execute(
                    LINE_SQL,
                    invoice_id,
                    [no for no, _ in numbered],
                    [line[0] for _, line in numbered],
                    [line[1] for _, line in numbered],
                    [line[2] for _, line in numbered],
                    [line[3] for _, line in numbered],
                    [line[4] for _, line in numbered],
                    [line[5] for _, line in numbered],
                    [line[6]["vat_rate"] for _, line in numbered],
                )
                await connection.execute(MARK_SQL, tenant, invoice_id, end)
                event_id = uuid.uuid4()
                envelope = {
                    "id": str(event_id),
                    "type": "billing.invoice.issued.v1",
                    "tenantid": str(tenant),
                    "data": {"invoice_id": str(invoice_id), "net_cents": net_total, "vat_cents": vat_total},
                }
                await connection.execute(
                    OUTBOX_SQL,
                    event_id,
                    "bmw.billing.events",
                    "billing.invoice.issued.v1",
                    tenant,
                    json.dumps(envelope),
                )
                invoices += 1
        finished = time.perf_counter()
    finally:
        await connection.close()
    return {"seconds": finished - started, "drafts": invoices, "issued": invoices, "skipped": len(tenants) - invoices}


# -- main ------------------------------------------------------------------------------------------------------


def hot_spots(root: Any, limit: int = 15) -> dict[str, list[str]]:
    """From a pyinstrument frame tree: the functions with the most time of their own (summed over every call site),
    and the project's own functions (``bmw.*``) with the most time including what they call (recursion counted
    once)."""
    own: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)

    def walk(frame: Any, active: frozenset[str]) -> None:
        if frame.is_synthetic:  # "[self]", "[await]": counted in their parent's own time
            return
        key = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
        own[key] += frame.total_self_time
        if "bmw/" in (frame.file_path or "") and key not in active:
            inclusive[key] += frame.time
        for child in frame.children:
            walk(child, active | {key})

    if root is not None:
        walk(root, frozenset())
    ranked_own = sorted(own.items(), key=lambda item: -item[1])[:limit]
    ranked_inclusive = sorted(inclusive.items(), key=lambda item: -item[1])[:limit]
    return {
        "self": [f"{seconds:7.2f} s  {key}" for key, seconds in ranked_own],
        "inclusive_bmw": [f"{seconds:7.2f} s  {key}" for key, seconds in ranked_inclusive],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.billing_child", description=__doc__)
    parser.add_argument("--mode", choices=("subject", "baseline"), required=True)
    parser.add_argument("--database-url", required=True, help="async SQLAlchemy URL of the service's role")
    parser.add_argument("--period", required=True, help="e.g. 2026-10")
    parser.add_argument("--issue-day", required=True, type=date.fromisoformat)
    parser.add_argument("--result", required=True, type=Path, help="where the JSON result goes")
    parser.add_argument("--profile", type=Path, default=None, help="run under pyinstrument; HTML here (+ .txt)")
    args = parser.parse_args(argv)
    work = subject if args.mode == "subject" else baseline
    # What each pass imports is loaded before the clock (and the profiler) starts.
    importlib.import_module("bmw.billing.application.invoicing" if args.mode == "subject" else "asyncpg")
    if args.profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="enabled")
        profiler.start()
        outcome = asyncio.run(work(args.database_url, args.period, args.issue_day))
        session = profiler.stop()
        args.profile.parent.mkdir(parents=True, exist_ok=True)
        args.profile.write_text(profiler.output_html())
        args.profile.with_suffix(".txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False)
        )
        outcome["profiled"] = True
        outcome["hot_spots"] = hot_spots(session.root_frame())
    else:
        cpu = time.process_time()
        outcome = asyncio.run(work(args.database_url, args.period, args.issue_day))
        # The process's own CPU time: steadier than the wall clock on a machine others share.
        outcome["cpu_seconds"] = time.process_time() - cpu
    outcome.update(memory_status())
    args.result.write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
