"""Benchmark of the month-end billing run (issue 10): N client organisations with 200 usage records each in one
month, billed by the billing service's own code on a real PostgreSQL with billing's migrations.

What is timed (the *subject*, ``bench.billing_child --mode subject``, in a process of its own):

1. ``run_billing`` over every organisation, in a provider admin's scope, as ``POST /billing-runs`` calls it: one
   draft invoice per organisation (its open usage aggregated per product and price, its subscription's month);
2. ``issue_due_drafts``, the periodic job that issues the drafts after their grace period: gapless numbers, the
   frozen UBL 2.1 XML and HTML, and ``billing.invoice.issued.v1`` into the outbox, as in production.

The *baseline* (``--mode baseline``, also a process of its own, on the same database as the same role) does the
same work in raw SQL through asyncpg: per organisation one transaction with the tenant scope, the month's usage
aggregated by PostgreSQL, contract and buyer read, one issued invoice row with its number and lines, the usage
marked invoiced, one outbox row. It is what PostgreSQL itself allows; ratio = subject ÷ baseline.

Per size: a fresh database, migrated by billing's migrations, served as the service's app role (row-level security
holds, as in production); seeded with COPY (not timed); ``VACUUM ANALYZE``; baseline; the baseline's invoices,
lines, outbox rows and numbers removed and the usage opened again (as a credit note with ``release_usage`` does),
``VACUUM ANALYZE``; the subject; the checks; then, unless ``extra["billing_profile"]`` is false, the same reset and
one more subject pass under pyinstrument (its time is not a figure: the profiler slows what it measures).

Peak memory is ``VmHWM`` of the child process at its end (the seeding happens in this process, never in the child).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg

from bench.suite import Figure, SuiteOptions, SuiteResult, Target
from bmw.devstack.infra import (
    EmbeddedPostgres,
    drop_service_database,
    libpq_url,
    provision_app_role,
    provision_service_database,
)
from bmw.servicekit.migrations import upgrade

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: The month billed; its usage lies on its days (Europe/Amsterdam).
PERIOD = "2026-10"
PERIOD_START = date(2026, 10, 1)
USAGE_PER_ORGANISATION = 200
FULL_SIZES = (1_000, 10_000)
QUICK_SIZES = (100, 1_000)
#: The database of the run (role and database ``bmw_<SERVICE>``, app role ``bmw_<SERVICE>_app``).
SERVICE = "billing"

EXEMPT_REASON = "Vrijgesteld van btw (art. 11 lid 1 Wet OB)"


#: What each optimisation of the billing run gained (issue 10). Not measured in this run: development runs of this
#: suite at 200 organisations on the shared 2-core machine (2026-11-28, load average 5-10 from other sessions), each
#: next to its own raw-asyncpg baseline. Wall clocks moved with the neighbours' load; the child's CPU seconds and the
#: statement count (pg_stat_statements) are the steadier measures.
OPTIMISATIONS: list[dict[str, Any]] = [
    {
        "name": "profile first (HEAD before any change)",
        "wall_seconds": 84.9,
        "ms_per_invoice": 424,
        "baseline_seconds": 22.1,
        "cpu_seconds": 8.94,
        "statements_per_invoice": 37.1,
        "database_execution_seconds": 9.97,
        "finding": "per invoice 37 statements, 15 of them one INSERT per invoice line; the 200 usage rows fetched "
        "whole (23 columns) and grouped in Python; the UPDATE of the usage by 200 bind parameters; the issued row "
        "sent back with its XML and HTML; most of the wall time waiting on PostgreSQL round trips",
    },
    {
        "name": "usage summed by PostgreSQL (locked in a materialised CTE, GROUP BY, array_agg of the ids), the "
        "existing/overlapping checks and organisation/addresses each in one query, usage marked by one uuid[] "
        "parameter, the issuing UPDATE returning only the view's columns",
        "wall_seconds": 51.2,
        "ms_per_invoice": 256,
        "baseline_seconds": 18.7,
        "cpu_seconds": 7.69,
        "statements_per_invoice": 35.1,
        "database_execution_seconds": 7.65,
    },
    {
        "name": "invoice lines as one multi-row INSERT instead of 15 executions",
        "wall_seconds": 23.1,
        "ms_per_invoice": 115,
        "baseline_seconds": 7.5,
        "cpu_seconds": 7.5,
        "statements_per_invoice": 21.1,
        "database_execution_seconds": 3.55,
        "finding": "insert().values([...]) is not cacheable in SQLAlchemy: 4.5 ms of compiling per invoice",
    },
    {
        "name": "the lines through insertmanyvalues (executemany with RETURNING: one statement, compiled once), "
        "the per-organisation statements built once at import (no statement construction or cache key per call)",
        "wall_seconds": 24.7,
        "ms_per_invoice": 124,
        "baseline_seconds": 6.6,
        "cpu_seconds": 6.5,
        "statements_per_invoice": 21.1,
        "database_execution_seconds": 4.93,
    },
]


@dataclass(frozen=True)
class ProductSpec:
    code: str
    kind: str
    price: int
    vat: str
    included: str | None = None
    overage: int | None = None

    def to_json(self) -> dict[str, Any]:
        """As ``Product.to_json`` stores it."""
        return {
            "code": self.code,
            "kind": self.kind,
            "unit_price_cents": self.price,
            "vat_rate": self.vat,
            "vat_exemption_reason": EXEMPT_REASON if self.vat == "exempt" else None,
            "included_quantity": self.included,
            "overage_unit_price_cents": self.overage,
            "sessions_per_employee_per_year": None,
        }


#: One contract per organisation mixing every kind of product the run bills (DESIGN §3).
PRODUCTS = (
    ProductSpec("ABO", "subscription_per_employee_year", 3_950, "exempt"),
    ProductSpec("UREN", "hour_bundle", 11_000, "exempt", included="40.00", overage=12_500),
    ProductSpec("TRAJECT", "trajectory_fixed_price", 125_000, "21"),
    ProductSpec("WORKSHOP", "workshop_per_participant", 4_500, "9"),
    ProductSpec("NOSHOW", "no_show_fee", 9_500, "21"),
    ProductSpec("LATE", "late_cancellation_fee", 7_500, "21"),
    ProductSpec("DETACH", "secondment_hourly", 9_800, "21"),
)
BY_CODE = {product.code: product for product in PRODUCTS}
#: Usage rows per organisation per product (adds up to 200): appointments' hours, fees, cases, workshops, secondment.
MIX = (("UREN", 140), ("NOSHOW", 20), ("LATE", 10), ("TRAJECT", 8), ("WORKSHOP", 12), ("DETACH", 10))
#: Invoice lines per organisation: the subscription, the bundle inside and beyond, one per trajectory, the others.
LINES_PER_INVOICE = 1 + 2 + 8 + 4
MINUTES = (45, 50, 60, 75, 90)


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class Expected:
    """What an organisation's invoice must say, priced here independently of the service (Decimal, half up)."""

    net_cents: int
    vat_cents: int

    @property
    def gross_cents(self) -> int:
        return self.net_cents + self.vat_cents


@dataclass
class Seeded:
    organisations: int
    usage: int
    expected: dict[uuid.UUID, Expected] = field(default_factory=dict)
    seconds: float = 0.0


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _copy(connection: psycopg.Connection[Any], table: str, columns: str, rows: io.StringIO) -> None:
    with connection.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(rows.getvalue())


def _text(value: Any) -> str:
    if value is None:
        return "\\N"
    return str(value)


def seed(admin_database_url: str, organisations: int, *, advance: Any, seed_value: int = 10) -> Seeded:
    """N organisations with a profile, an invoice address and a year's contract, and 200 open usage rows each in
    the month, in the shape the service's own metering writes them; returns what each invoice must come to."""
    rng = random.Random(seed_value)
    started = time.perf_counter()
    result = Seeded(organisations=organisations, usage=0)
    products_json = json.dumps([product.to_json() for product in PRODUCTS])
    created = datetime(2026, 1, 1, 8, tzinfo=UTC)
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        # As superuser: the walls (RLS) do not hold the seeding, and the foreign-key triggers are skipped (the rows
        # are consistent by construction): seeding is not what is measured.
        connection.execute("SET session_replication_role = replica")
        batch = 500
        for first in range(0, organisations, batch):
            organisations_rows, addresses, contracts, usage = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
            for index in range(first, min(first + batch, organisations)):
                tenant = _uuid(rng)
                contract = _uuid(rng)
                employees = rng.randint(50, 2_000)
                organisations_rows.write(
                    "\t".join(
                        (
                            str(tenant),
                            f"Klant {index:05d} B.V.",
                            f"{10_000_000 + index:08d}",
                            "5",
                            f"NL{100_000_000 + index:09d}B01",
                            "30",
                            f"crediteuren@klant{index:05d}.example.nl",
                        )
                    )
                    + "\n"
                )
                addresses.write(f"{tenant}\tinvoice\tStationsplein\t{1 + index % 200}\t3511 ED\tUtrecht\tNL\n")
                contracts.write(
                    f"{tenant}\t{contract}\t{products_json}\t2026-01-01\t2026-12-31\tactive\tPO-{index:05d}\t"
                    f"{employees}\tmonth\n"
                )
                groups: dict[tuple[str, int, bool, uuid.UUID | None], Decimal] = defaultdict(Decimal)
                groups[("ABO", BY_CODE["ABO"].price, False, None)] = Decimal(employees)  # per 12 employee-months
                used = Decimal(rng.choice((0, 10, 20, 30)))  # bundle hours of earlier months
                included = Decimal(BY_CODE["UREN"].included or 0)
                rows = 0
                for code, count in MIX:
                    product = BY_CODE[code]
                    made = 0
                    while made < count:
                        day = PERIOD_START + timedelta(days=rng.randrange(31))
                        moment = datetime(day.year, day.month, day.day, rng.randint(8, 16), 0, tzinfo=AMSTERDAM)
                        source = _uuid(rng)
                        case_id = client_ref = correction = None
                        portions: list[tuple[str, Decimal, int, bool]] = []
                        if code == "UREN":
                            activity, unit = "appointment_completed", "hour"
                            hours = _hours(rng.choice(MINUTES))
                            inside = min(hours, max(included - used, Decimal(0)))
                            beyond = hours - inside
                            if inside > 0:
                                portions.append(("base", inside, product.price, False))
                            if beyond > 0 and made + len(portions) < count:
                                portions.append(("overage", beyond, product.overage or product.price, True))
                            used += sum((p[1] for p in portions), Decimal(0))
                        elif code == "NOSHOW":
                            activity, unit = "appointment_no_show", "occurrence"
                            portions.append(("base", Decimal(1), product.price, False))
                        elif code == "LATE":
                            activity, unit = "appointment_late_cancellation", "occurrence"
                            portions.append(("base", Decimal(1), product.price, False))
                        elif code == "TRAJECT":
                            activity, unit = "case_opened", "case"
                            case_id = _uuid(rng)
                            client_ref = f"c-{rng.getrandbits(64):016x}"
                            portions.append(("base", Decimal(1), product.price, False))
                        elif code == "WORKSHOP":
                            activity, unit = "workshop_completed", "participant"
                            portions.append(("base", Decimal(rng.randint(5, 20)), product.price, False))
                        else:
                            activity, unit = "secondment_hours", "hour"
                            moment = datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM)
                            correction = f"secondment:{_uuid(rng)}:{day.isoformat()}"
                            portions.append(("base", Decimal(rng.randint(8, 32)) / 4, product.price, False))
                        for portion, quantity, price, overage in portions:
                            usage.write(
                                "\t".join(
                                    (
                                        str(_uuid(rng)),
                                        str(tenant),
                                        str(contract),
                                        code,
                                        product.kind,
                                        activity,
                                        unit,
                                        str(quantity),
                                        str(price),
                                        "t" if overage else "f",
                                        moment.isoformat(),
                                        str(source),
                                        portion,
                                        moment.isoformat(),
                                        _text(case_id),
                                        _text(client_ref),
                                        _text(correction),
                                        "open",
                                    )
                                )
                                + "\n"
                            )
                            groups[(code, price, overage, case_id)] += quantity
                            made += 1
                    rows += made
                result.usage += rows
                result.expected[tenant] = _expected(groups)
            _copy(
                connection,
                "organisations",
                "id, name, kvk_number, k_anonymity, vat_id, payment_terms_days, invoice_email",
                organisations_rows,
            )
            _copy(
                connection,
                "organisation_addresses",
                "tenant_id, kind, street, house_number, postal_code, city, country",
                addresses,
            )
            _copy(
                connection,
                "contracts",
                "tenant_id, id, products, period_start, period_end, status, buyer_reference, employees, "
                "invoicing_period",
                contracts,
            )
            _copy(
                connection,
                "usage_records",
                "id, tenant_id, contract_id, product_code, kind, activity, unit, quantity, unit_price_cents, overage, "
                "occurred_at, source_event_id, portion, source_time, case_id, client_ref, correction_key, status",
                usage,
            )
            advance(min(first + batch, organisations))
        connection.execute("UPDATE organisations SET created_at = %s, updated_at = %s", (created, created))
    result.seconds = time.perf_counter() - started
    return result


def _expected(groups: dict[tuple[str, int, bool, uuid.UUID | None], Decimal]) -> Expected:
    """Each line exact to the cent (quantity × price, half up; the subscription per 12 employee-months), VAT once
    per rate on the sum of its lines (EN 16931)."""
    taxable: dict[str, int] = defaultdict(int)
    for (code, price, _overage, _case), quantity in groups.items():
        amount = quantity * price / 12 if code == "ABO" else quantity * price
        taxable[BY_CODE[code].vat] += _cents(amount)
    vat = sum(_cents(Decimal(cents) * Decimal(rate) / 100) for rate, cents in taxable.items() if rate != "exempt")
    return Expected(net_cents=sum(taxable.values()), vat_cents=vat)


# -- the database between passes --------------------------------------------------------------------------------


def vacuum(admin_database_url: str) -> float:
    started = time.perf_counter()
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def reset(admin_database_url: str) -> float:
    """Forget a pass's invoices, lines, runs, numbers and outbox rows, and open its usage again; then vacuum."""
    started = time.perf_counter()
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        # TRUNCATE passes the trigger that keeps issued invoices final (it is a row trigger): only a benchmark may.
        connection.execute("TRUNCATE invoice_lines, invoices, billing_runs, invoice_numbers, outbox")
        connection.execute("UPDATE usage_records SET status = 'open', invoice_id = NULL WHERE status = 'invoiced'")
    vacuum(admin_database_url)
    return time.perf_counter() - started


def counts(admin_database_url: str) -> tuple[int, int]:
    """Invoices (drafts and issued) and issued invoices so far."""
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        row = connection.execute("SELECT count(*), count(*) FILTER (WHERE status = 'issued') FROM invoices").fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def enable_statement_statistics(postgres: EmbeddedPostgres) -> None:
    """Load pg_stat_statements (a restart): where the database's share of a pass goes, statement by statement."""
    with psycopg.connect(postgres.admin_url, autocommit=True) as connection:
        connection.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    postgres.stop()
    postgres.start()


def reset_statement_statistics(admin_database_url: str) -> None:
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_statements_reset()")


def statement_statistics(admin_database_url: str, limit: int = 10) -> dict[str, Any]:
    """The database's time in the pass: every statement's execution time summed, and the heaviest statements."""
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        where = "dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND userid = %s::regrole"
        role = f"bmw_{SERVICE}_app"
        total = connection.execute(
            f"SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0) FROM pg_stat_statements WHERE {where}",  # noqa: S608
            (role,),
        ).fetchone()
        rows = connection.execute(
            f"SELECT calls, total_exec_time, mean_exec_time, rows, query FROM pg_stat_statements WHERE {where} "  # noqa: S608
            "ORDER BY total_exec_time DESC LIMIT %s",
            (role, limit),
        ).fetchall()
    return {
        "execution_seconds": round(float(total[0]) / 1000, 3) if total else None,
        "statements": int(total[1]) if total else None,
        "top": [
            {
                "calls": int(calls),
                "total_ms": round(float(total_ms), 1),
                "mean_ms": round(float(mean_ms), 4),
                "rows": int(count),
                "query": " ".join(str(query).split())[:240],
            }
            for calls, total_ms, mean_ms, count, query in rows
        ],
    }


# -- a pass in its own process ----------------------------------------------------------------------------------


def run_child(
    mode: str,
    *,
    app_url: str,
    admin_database_url: str,
    workdir: Path,
    organisations: int,
    options: SuiteOptions,
    label: str,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Run one pass in ``python -m bench.billing_child`` and follow its invoices on progress bars."""
    result_file = workdir / f"{mode}-{organisations}-{'profile' if profile else 'run'}.json"
    command = [
        sys.executable,
        "-m",
        "bench.billing_child",
        "--mode",
        mode,
        "--database-url",
        app_url,
        "--period",
        PERIOD,
        "--issue-day",
        (datetime.now(AMSTERDAM).date() + timedelta(days=3)).isoformat(),
        "--result",
        str(result_file),
    ]
    if profile is not None:
        command += ["--profile", str(profile)]
    progress = options.progress
    drafts_task = progress.add_task(f"{label}: drafts", total=organisations)
    issue_task = progress.add_task(f"{label}: issued", total=organisations) if mode == "subject" else None
    log = result_file.with_suffix(".log")
    with log.open("wb") as errors:
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)  # noqa: S603
    try:
        while child.poll() is None:
            time.sleep(0.5)
            made, issued = counts(admin_database_url)
            progress.update(drafts_task, completed=made)
            if issue_task is not None:
                progress.update(issue_task, completed=issued)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    made, issued = counts(admin_database_url)
    progress.update(drafts_task, completed=made)
    if issue_task is not None:
        progress.update(issue_task, completed=issued)
    if child.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"billing child ({mode}) failed with {child.returncode}:\n{tail}")
    outcome: dict[str, Any] = json.loads(result_file.read_text())
    return outcome


# -- checks -----------------------------------------------------------------------------------------------------


def check(admin_database_url: str, seeded: Seeded, *, subject: bool) -> dict[str, Any]:
    """What a correct month-end run leaves: one invoice per organisation, each exactly the priced usage, every
    usage row invoiced, one ``billing.invoice.issued.v1`` per invoice in the outbox, gapless numbers."""
    n = seeded.organisations
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT tenant_id, status, number, net_cents, vat_cents, gross_cents FROM invoices WHERE kind = 'invoice'"
        ).fetchall()
        lines = connection.execute("SELECT count(*) FROM invoice_lines").fetchone()
        still_open = connection.execute("SELECT count(*) FROM usage_records WHERE status <> 'invoiced'").fetchone()
        events = connection.execute(
            "SELECT o.envelope -> 'data' ->> 'invoice_id' AS invoice_id, count(*) FROM outbox o "
            "WHERE o.event_type = 'billing.invoice.issued.v1' GROUP BY 1"
        ).fetchall()
        invoice_ids = {
            str(row[0]) for row in connection.execute("SELECT id FROM invoices WHERE kind = 'invoice'").fetchall()
        }
    per_tenant: dict[uuid.UUID, int] = defaultdict(int)
    wrong: list[str] = []
    for tenant, _status, _number, net, vat, gross in rows:
        per_tenant[tenant] += 1
        expected = seeded.expected.get(tenant)
        if expected is None or (net, vat, gross) != (expected.net_cents, expected.vat_cents, expected.gross_cents):
            wrong.append(f"{tenant}: {net}/{vat}/{gross} != {expected}")
    numbers = sorted(int(str(row[2]).split("-")[1]) for row in rows if row[2])
    event_counts = {str(invoice_id): int(count) for invoice_id, count in events}
    prefix = "" if subject else "baseline: "
    checks: dict[str, Any] = {
        f"{prefix}one invoice per organisation": len(rows) == n
        and len(per_tenant) == n
        and set(per_tenant.values()) == {1},
        f"{prefix}invoices": len(rows),
        f"{prefix}every invoice issued": all(row[1] == "issued" for row in rows) and len(rows) == n,
        f"{prefix}totals equal the exactly priced usage": not wrong and len(rows) == n,
        f"{prefix}lines": int(lines[0]) if lines else 0,
        f"{prefix}lines as expected ({LINES_PER_INVOICE} per invoice)": (int(lines[0]) if lines else 0)
        == LINES_PER_INVOICE * n,
        f"{prefix}every usage row invoiced": (int(still_open[0]) if still_open else -1) == 0,
        f"{prefix}one invoice event per invoice in the outbox": set(event_counts) == invoice_ids
        and set(event_counts.values()) <= {1}
        and len(event_counts) == n,
        f"{prefix}numbers gapless": numbers == list(range(1, n + 1)),
    }
    if wrong:
        checks[f"{prefix}wrong totals (first 3)"] = wrong[:3]
    return checks


# -- the suite --------------------------------------------------------------------------------------------------


def _chart(path: Path, sizes: list[int], subject_ms: list[float], baseline_ms: list[float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    axes.plot(sizes, subject_ms, marker="o", label="billing service (run + issue)")
    axes.plot(sizes, baseline_ms, marker="s", label="raw asyncpg baseline")
    axes.set_xscale("log")
    axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
    axes.set_xlabel("client organisations (200 usage records each)")
    axes.set_ylabel("ms per invoice")
    axes.set_ylim(bottom=0)
    axes.set_title("Month-end billing: time per invoice")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


@dataclass
class SizeResult:
    organisations: int
    seeded: Seeded
    subject: dict[str, Any]
    baseline: dict[str, Any]
    checks: dict[str, Any]
    profile: dict[str, Any] | None = None


def measure_size(
    postgres: EmbeddedPostgres, organisations: int, options: SuiteOptions, workdir: Path, *, profile: bool
) -> SizeResult:
    admin = postgres.admin_url
    drop_service_database(admin, SERVICE)
    owner_url = provision_service_database(admin, SERVICE)
    upgrade(f"bmw.{SERVICE}.migrations", owner_url)
    app_url = provision_app_role(admin, SERVICE)
    parts = urlsplit(libpq_url(admin))
    admin_database_url = urlunsplit((parts.scheme, parts.netloc, f"/bmw_{SERVICE}", parts.query, ""))
    progress = options.progress
    seeding = progress.add_task(f"billing {organisations:,}: seeding", total=organisations)
    seeded = seed(admin_database_url, organisations, advance=lambda done: progress.update(seeding, completed=done))
    with psycopg.connect(admin_database_url, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    vacuum(admin_database_url)

    def child(mode: str, label: str, html: Path | None = None) -> dict[str, Any]:
        return run_child(
            mode,
            app_url=app_url,
            admin_database_url=admin_database_url,
            workdir=workdir,
            organisations=organisations,
            options=options,
            label=f"{label} {organisations:,}",
            profile=html,
        )

    reset_statement_statistics(admin_database_url)
    baseline = child("baseline", "baseline")
    baseline["database"] = statement_statistics(admin_database_url)
    checks = check(admin_database_url, seeded, subject=False)
    baseline["reset_seconds"] = reset(admin_database_url)
    reset_statement_statistics(admin_database_url)
    subject = child("subject", "billing run")
    subject["database"] = statement_statistics(admin_database_url)
    checks.update(check(admin_database_url, seeded, subject=True))
    profiled = None
    if profile:
        reset(admin_database_url)
        html = options.output / "profiles" / f"billing-{organisations}.html"
        profiled = child("subject", "profiled", html=html)
        profiled["html"] = str(html.relative_to(options.output))
        profiled["top"] = profiled.pop("hot_spots", {})
    drop_service_database(admin, SERVICE)
    return SizeResult(organisations, seeded, subject, baseline, checks, profiled)


def run(options: SuiteOptions) -> SuiteResult:
    """The billing-run suite: see the module docstring."""
    started = time.perf_counter()
    sizes = tuple(options.extra.get("billing_sizes") or (QUICK_SIZES if options.quick else FULL_SIZES))
    # True (every size), False, or the sizes to profile.
    wanted = options.extra.get("billing_profile", True)
    profiled_sizes = set(sizes) if wanted is True else set(wanted or ())
    result = SuiteResult(
        name="billing",
        title="Month-end billing run",
        settings={
            "sizes": list(sizes),
            "usage_per_organisation": USAGE_PER_ORGANISATION,
            "period": PERIOD,
            "lines_per_invoice": LINES_PER_INVOICE,
            "products": [product.to_json() for product in PRODUCTS],
            "profiled": sorted(profiled_sizes),
        },
    )
    options.output.mkdir(parents=True, exist_ok=True)
    measured: list[SizeResult] = []
    with tempfile.TemporaryDirectory(prefix="bmw-bench-billing-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        with EmbeddedPostgres(workdir / "postgres") as postgres:
            enable_statement_statistics(postgres)
            for organisations in sizes:
                measured.append(
                    measure_size(postgres, organisations, options, workdir, profile=organisations in profiled_sizes)
                )
    _report(result, measured, options, quick=options.quick)
    result.seconds = time.perf_counter() - started
    return result


def _report(result: SuiteResult, measured: list[SizeResult], options: SuiteOptions, *, quick: bool) -> None:
    per_size: dict[str, Any] = {}
    for size in measured:
        n = size.organisations
        subject, baseline = size.subject, size.baseline
        result.figures += [
            Figure(
                key=f"billing.{n}.wall_seconds",
                group="billing",
                name=f"Billing run, {n:,} organisations (drafts + issue)",
                unit="s",
                value=subject["seconds"],
                baseline=baseline["seconds"],
                baseline_name="raw asyncpg",
                higher_is_better=False,
                count=n,
                seconds=subject["seconds"],
                baseline_seconds=baseline["seconds"],
            ),
            Figure(
                key=f"billing.{n}.ms_per_invoice",
                group="billing",
                name=f"Time per invoice, {n:,} organisations",
                unit="ms",
                value=1000 * subject["seconds"] / max(subject["issued"], 1),
                baseline=1000 * baseline["seconds"] / max(baseline["issued"], 1),
                baseline_name="raw asyncpg",
                higher_is_better=False,
                count=n,
            ),
            Figure(
                key=f"billing.{n}.peak_rss_mib",
                group="billing",
                name=f"Peak memory (VmHWM), {n:,} organisations",
                unit="MiB",
                value=subject["VmHWM"] / 1024,
                baseline=baseline["VmHWM"] / 1024,
                baseline_name="raw asyncpg process",
                higher_is_better=False,
                count=n,
            ),
        ]
        result.checks.update({f"{n:,}: {name}": value for name, value in size.checks.items()})
        per_size[str(n)] = {
            "seeding_seconds": round(size.seeded.seconds, 2),
            "usage_rows": size.seeded.usage,
            "subject": subject,
            "baseline": baseline,
            "profile": size.profile,
        }
        if size.profile is not None:
            result.details.setdefault("profile_top", {})[str(n)] = size.profile["top"]
    result.details["sizes"] = per_size
    result.details["optimisations"] = OPTIMISATIONS
    if len(measured) >= 2:
        small, large = measured[0], measured[-1]
        per_small = small.subject["seconds"] / max(small.subject["issued"], 1)
        per_large = large.subject["seconds"] / max(large.subject["issued"], 1)
        quick_note = (
            f"measured at the quick sizes ({small.organisations:,} and {large.organisations:,}), not 1,000 and 10,000"
            if quick
            else ""
        )
        database = large.subject.get("database") or {}
        executed = float(database.get("execution_seconds") or 0.0)
        why = (
            f"{1000 * per_large:.1f} ms per invoice at {large.organisations:,}: PostgreSQL executing "
            f"{100 * executed / large.subject['seconds']:.0f} % of it (the usage UPDATE the most), the service's own "
            f"CPU {1000 * large.subject.get('cpu_seconds', float('nan')) / max(large.subject['issued'], 1):.1f} ms, "
            f"the rest round trips ({database.get('statements', 0) / max(large.subject['issued'], 1):.0f} statements "
            f"per invoice); raw asyncpg needs {1000 * large.baseline['seconds'] / max(large.baseline['issued'], 1):.1f}"
            " ms"
        )
        result.targets += [
            Target(
                key="billing.10k_wall_seconds",
                text="billing run of 10,000 organisations under 2 minutes",
                value=large.subject["seconds"],
                limit=120,
                unit="s",
                higher_is_better=False,
                note="; ".join(part for part in (quick_note, why if large.subject["seconds"] > 120 else "") if part),
            ),
            Target(
                key="billing.per_invoice_growth",
                text="cost per invoice flat: per-invoice time at 10,000 ÷ at 1,000 ≤ 1.25",
                value=per_large / per_small,
                limit=1.25,
                unit="×",
                higher_is_better=False,
                note=quick_note,
            ),
        ]
        if options.charts:
            path = options.output / "billing.png"
            with contextlib.suppress(ImportError):
                _chart(
                    path,
                    [size.organisations for size in measured],
                    [1000 * s.subject["seconds"] / max(s.subject["issued"], 1) for s in measured],
                    [1000 * s.baseline["seconds"] / max(s.baseline["issued"], 1) for s in measured],
                )
                result.charts.append(path.name)
