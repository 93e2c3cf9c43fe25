"""The ``bmw`` command line: run the backend locally and mint development tokens.

This is a thin layer over :class:`bmw.devstack.stack.Stack` and :mod:`bmw.devstack.tokens`; ``bmw signals``
lives in :mod:`bmw.devstack.signals_cli`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bmw.contracts.taxonomy import Role
from bmw.devstack import published
from bmw.devstack.demo import DemoLoadError, default_subject
from bmw.devstack.infra import InfraError
from bmw.devstack.processes import ManagedProcess, ProcessFailed
from bmw.devstack.signals_cli import signals_app
from bmw.devstack.stack import Stack, StackError
from bmw.devstack.tokens import (
    DEFAULT_TTL,
    TokenError,
    load_or_create_signing_key,
    mint_token,
    signing_key_path,
)
from bmw.devstack.topology import DEFAULT_PARTITIONS

app = typer.Typer(
    name="bmw",
    help="Developer tooling of the BMW (bedrijfsmaatschappelijk werk) provider backend.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
dev_app = typer.Typer(
    help="Run the whole backend on this machine and mint development tokens.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(dev_app, name="dev")
contracts_app = typer.Typer(
    help="The public contracts kept in the repository: each service's OpenAPI and AsyncAPI documents.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(contracts_app, name="contracts")
intake_app = typer.Typer(
    help="Intake's maintenance jobs, run against the stack that `bmw dev up` started.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(intake_app, name="intake")
app.add_typer(signals_app, name="signals")
dlq_app = typer.Typer(
    help="Dead letters: list what a service's consumers gave up on, and re-drive it after the fix.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(dlq_app, name="dlq")

TOKENS_FILE = "tokens.env"

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        help="State directory: dev signing key, logs, embedded PostgreSQL data, stack.json.",
        show_default=True,
    ),
]


UP_HELP = (
    "Start the whole backend locally and keep it running until Ctrl-C.\n\n"
    "Starts embedded PostgreSQL 18 (unless [bold]BMW_DATABASE_ADMIN_URL[/] or every [bold]<SERVICE>_DATABASE_URL[/] "
    "is set) and an embedded Kafka-compatible broker (unless [bold]KAFKA_BOOTSTRAP_SERVERS[/] is set), creates the "
    "topics, runs each service's migrations, starts intake, scheduling, billing, signals and the GraphQL gateway, "
    "loads demo data, writes [bold]<data-dir>/stack.json[/] and prints the URLs and ready-to-paste tokens.\n\n"
    "Logs are in [bold]<data-dir>/logs/<name>.log[/]. Ctrl-C (or SIGTERM) stops everything and removes stack.json."
)

MINT_HELP = (
    "Print a development token signed with [bold]<data-dir>/dev-signing-key.pem[/] (created if absent).\n\n"
    "The token alone goes to stdout, so [bold]TOKEN=$(bmw dev token --role provider_admin)[/] works. Services "
    "started by [bold]bmw dev up[/] with the same data directory accept it. client_contact, employee and "
    "integration tokens need [bold]--tenant[/]; a social worker's may say whom they serve with [bold]--serves[/]."
)


class _StopRequested(BaseException):
    """Raised from the SIGINT/SIGTERM handler to unwind to the shutdown code (like KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dev_app.command("up", help=UP_HELP)
def up(
    data_dir: DataDir = Path(".bmw"),
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Load the demo client organisations, contracts and workers.")
    ] = True,
    base_port: Annotated[
        int,
        typer.Option(
            "--base-port",
            help="The gateway listens here, intake, scheduling, billing and signals on the next four ports.",
            min=0,
            max=65530,
        ),
    ] = 8100,
    keep_data: Annotated[
        bool,
        typer.Option(
            "--keep-data",
            help="Keep the embedded PostgreSQL data of the last run instead of starting empty "
            "(the embedded broker always starts empty).",
        ),
    ] = False,
    partitions: Annotated[int, typer.Option("--partitions", help="Partitions per Kafka topic.", min=1)] = (
        DEFAULT_PARTITIONS
    ),
    ready_timeout: Annotated[
        float, typer.Option("--ready-timeout", help="Seconds each process gets to answer 200 on /readyz.", min=1)
    ] = 90.0,
) -> None:
    """Start the whole backend locally and keep it running until Ctrl-C (help text: ``UP_HELP``)."""
    console = Console(highlight=False)
    stack = Stack(
        data_dir,
        base_port=base_port,
        demo=demo,
        fresh_database=not keep_data,
        partitions=partitions,
        ready_timeout=ready_timeout,
        progress=lambda message: console.print(f"[green]✓[/] {message}"),
    )
    tokens_file = stack.data_dir / TOKENS_FILE
    stopping = False
    stop_requested_at: float | None = None

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping, stop_requested_at
        if stopping:
            console.print("[yellow]already stopping, please wait…[/]")
            return
        stopping = True
        stop_requested_at = time.monotonic()
        raise _StopRequested(signum)

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, request_stop) for sig in handled}
    exit_code = 0
    try:
        with console.status("starting the BMW stack…"):
            stack.start()
        tokens = stack.dev_tokens()
        _write_tokens(tokens_file, tokens)
        _print_summary(console, stack, tokens, tokens_file)
        _watch(console, stack)
    except _StopRequested as stop:
        console.print(f"\n[bold]{stop}[/]: stopping the stack…")
    except (StackError, InfraError, ProcessFailed, DemoLoadError) as error:
        console.print("[bold red]bmw dev up failed:[/]")
        console.print(str(error), markup=False)
        exit_code = 1
    finally:
        stopping = True
        started = stop_requested_at or time.monotonic()
        stack.stop()
        tokens_file.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        console.print(f"[green]✓[/] stopped everything ({time.monotonic() - started:.1f} s)")
    raise typer.Exit(exit_code)


def _watch(console: Console, stack: Stack) -> None:
    """Wait for a signal, reporting any service that exits on its own."""
    reported: set[int] = set()
    while True:
        time.sleep(1.0)
        for process in stack.crashed():
            if process.pid not in reported:
                reported.add(process.pid)
                _report_crash(console, process)


def _report_crash(console: Console, process: ManagedProcess) -> None:
    console.print(
        f"[bold red]{process.name} exited with code {process.returncode}[/] — last lines of {process.log_path}:"
    )
    console.print(process.log_tail(20), markup=False)


def _write_tokens(path: Path, tokens: dict[str, str]) -> None:
    lines = [f"export BMW_TOKEN_{role.upper()}={token}" for role, token in tokens.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _print_summary(console: Console, stack: Stack, tokens: dict[str, str], tokens_file: Path) -> None:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("component")
    table.add_column("URL")
    table.add_column("database")
    table.add_row("gateway", stack.graphql_url, "")
    for name, endpoint in stack.services.items():
        table.add_row(name, endpoint.url, endpoint.database_url)
    console.print(Panel.fit(table, title="[bold green]BMW stack is up[/]", subtitle=f"state in {stack.stack_file}"))
    console.print(f"Kafka bootstrap servers: [bold]{stack.kafka_bootstrap_servers}[/]")
    console.print(f"Logs: {stack.log_dir}/<name>.log")
    if stack.tenants:
        console.print("Demo client organisations:")
        for tenant in stack.tenants:
            units = ", ".join(u.name for u in tenant.org_units)
            console.print(f"  • {tenant.name}  [dim]{tenant.id}[/]  ({units})")
    hours = DEFAULT_TTL.total_seconds() / 3600
    console.print(
        f"\n[bold]Tokens[/] (valid {hours:.0f} h; also in {tokens_file}, e.g. [bold]source {tokens_file}[/]):"
    )
    for role, token in tokens.items():
        console.print(f"export BMW_TOKEN_{role.upper()}={token}", soft_wrap=True, markup=False)
    if not stack.tenants:
        console.print("[dim]No demo tenants: mint tenant-bound tokens with bmw dev token --role ... --tenant <id>[/]")
    console.print(
        f'\nTry: curl -s {stack.graphql_url} -H "Authorization: Bearer $BMW_TOKEN_PROVIDER_ADMIN" '
        "-H 'Content-Type: application/json' -d '{\"query\": \"{ __typename }\"}'",
        soft_wrap=True,
        markup=False,
    )
    console.print("\n[bold]Ctrl-C[/] stops everything.")


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


@dev_app.command("token", help=MINT_HELP)
def token(
    role: Annotated[
        Role,
        typer.Option("--role", help="Role claim of the token.", case_sensitive=False, show_default=False),
    ],
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            help="Client organisation id (UUID); required for client_contact, employee and integration.",
        ),
    ] = None,
    sub: Annotated[
        str | None, typer.Option("--sub", help="Subject; defaults to the demo identity of the role.")
    ] = None,
    portfolio: Annotated[
        str | None,
        typer.Option("--portfolio", help="Comma-separated client organisation ids of an account manager."),
    ] = None,
    scopes: Annotated[
        str | None, typer.Option("--scopes", help="Comma-separated scopes of an integration, e.g. invoices:read.")
    ] = None,
    serves: Annotated[
        str | None,
        typer.Option(
            "--serves",
            help="Comma-separated client organisation ids a social worker serves (without it: every organisation; "
            "production refuses a social worker's token without it).",
        ),
    ] = None,
    ttl_hours: Annotated[float, typer.Option("--ttl-hours", help="Lifetime in hours.", min=0.01)] = 12.0,
    data_dir: DataDir = Path(".bmw"),
) -> None:
    """Print a development token (help text: ``MINT_HELP``)."""
    key = load_or_create_signing_key(signing_key_path(data_dir))
    try:
        text = mint_token(
            key,
            role=role,
            sub=sub or default_subject(role),
            tenant_id=tenant,
            portfolio=_split(portfolio),
            scopes=_split(scopes),
            serves=_split(serves),
            ttl=timedelta(hours=ttl_hours),
        )
    except TokenError as error:
        message = str(error)
        options = (
            ("portfolio", "--portfolio"),
            ("served", "--serves"),
            ("tenant", "--tenant"),
            ("subject", "--sub"),
            ("lifetime", "--ttl-hours"),
        )
        hint = next((option for word, option in options if word in message), None)
        raise typer.BadParameter(message, param_hint=hint) from None
    typer.echo(text)


def _run_service(service: str, command: list[str], data_dir: Path, *, stack_required: bool = True) -> None:
    """``python -m bmw.<service> <command>`` against the stack ``bmw dev up`` started (its database URL from
    ``<data-dir>/stack.json``); without a stack, where allowed, against ``<SERVICE>_DATABASE_URL`` as set."""
    stack_file = data_dir / "stack.json"
    environ = dict(os.environ)
    if stack_file.exists():
        described = json.loads(stack_file.read_text())
        environ[f"{service.upper()}_DATABASE_URL"] = described["services"][service]["database_url"]
        environ["KAFKA_BOOTSTRAP_SERVERS"] = described["kafka_bootstrap_servers"]
    elif stack_required or not environ.get(f"{service.upper()}_DATABASE_URL"):
        typer.echo(
            f"no running stack: {stack_file} is missing (start one with `bmw dev up`"
            + ("" if stack_required else f", or set {service.upper()}_DATABASE_URL")
            + ")",
            err=True,
        )
        raise typer.Exit(2)
    completed = subprocess.run([sys.executable, "-m", f"bmw.{service}", *command], env=environ, check=False)
    raise typer.Exit(completed.returncode)


class Service(StrEnum):
    """A service with a database and an outbox."""

    INTAKE = "intake"
    SCHEDULING = "scheduling"
    BILLING = "billing"
    SIGNALS = "signals"


REPLAY_HELP = (
    "Publish again the events a service published since a moment, after the broker lost data.\n\n"
    "Marks them unsent in the service's outbox; its running relay sends them again with their original ids, and "
    "every consumer skips what its inbox says it already applied. Runs against the stack of [bold]bmw dev up[/], "
    "or, without one, the database in [bold]<SERVICE>_DATABASE_URL[/]."
)


@app.command("replay", help=REPLAY_HELP)
def replay(
    service: Annotated[Service, typer.Option("--service", help="Whose events to publish again.", show_default=False)],
    since: Annotated[
        str, typer.Option("--since", help="From this moment: ISO 8601 with offset, or a date (midnight UTC).")
    ],
    until: Annotated[str | None, typer.Option("--until", help="Up to this moment (default: now).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be published; change nothing.")] = False,
    data_dir: DataDir = Path(".bmw"),
) -> None:
    """Mark a service's events of a period for publishing again (help text: ``REPLAY_HELP``)."""
    command = ["replay", "--since", since, *(["--until", until] if until else []), *(["--dry-run"] if dry_run else [])]
    _run_service(service.value, command, data_dir, stack_required=False)


DLQ_LIST_HELP = (
    "List what a service's consumers gave up on: when, which group, which event, how often tried and why (never the "
    "record's data). Runs against the stack of [bold]bmw dev up[/], or, without one, the broker in "
    "[bold]KAFKA_BOOTSTRAP_SERVERS[/]."
)
DLQ_REDRIVE_HELP = (
    "After the fix: publish every pending dead letter of a service's groups again to the topic it came from. The "
    "group that failed applies it; every other group skips it (its inbox)."
)


@dlq_app.command("list", help=DLQ_LIST_HELP)
def dlq_list(
    service: Annotated[Service, typer.Option("--service", help="Whose consumers' dead letters.", show_default=False)],
    everything: Annotated[bool, typer.Option("--all", help="Also the ones re-driven before.")] = False,
    data_dir: DataDir = Path(".bmw"),
) -> None:
    """List a service's dead letters (help text: ``DLQ_LIST_HELP``)."""
    _run_service(service.value, ["dlq", "list", *(["--all"] if everything else [])], data_dir, stack_required=False)


@dlq_app.command("redrive", help=DLQ_REDRIVE_HELP)
def dlq_redrive(
    service: Annotated[Service, typer.Option("--service", help="Whose consumers' dead letters.", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be re-driven; change nothing.")] = False,
    data_dir: DataDir = Path(".bmw"),
) -> None:
    """Re-drive a service's dead letters (help text: ``DLQ_REDRIVE_HELP``)."""
    command = ["dlq", "redrive", *(["--dry-run"] if dry_run else [])]
    _run_service(service.value, command, data_dir, stack_required=False)


@intake_app.command("retention")
def intake_retention(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be erased; change nothing.")] = False,
    data_dir: DataDir = Path(".bmw"),
) -> None:
    """Erase persons whose cases closed longer ago than the retention period (default 5 years)."""
    _run_service("intake", ["retention", *(["--dry-run"] if dry_run else [])], data_dir)


@intake_app.command("expire-referrals")
def intake_expire(data_dir: DataDir = Path(".bmw")) -> None:
    """Expire referrals that waited 14 days for the employee's consent."""
    _run_service("intake", ["expire-referrals"], data_dir)


@contracts_app.command("export")
def contracts_export() -> None:
    """Write services/<name>/openapi.json and asyncapi.json from the code."""
    for path in published.export():
        typer.echo(f"wrote {path.relative_to(published.repository_root())}")


@contracts_app.command("check")
def contracts_check() -> None:
    """Fail (exit 1) when a committed OpenAPI or AsyncAPI document differs from the code."""
    stale = published.stale()
    for path in stale:
        typer.echo(f"out of date: {path.relative_to(published.repository_root())}", err=True)
    if stale:
        typer.echo("run `bmw contracts export` and commit the result", err=True)
        raise typer.Exit(1)
    typer.echo("every published contract matches the code")


def main() -> None:
    """Entry point for ``python -m bmw.devstack``."""
    app()
