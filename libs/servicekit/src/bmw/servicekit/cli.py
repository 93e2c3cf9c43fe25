"""The command line of one service process: ``python -m bmw.<service> serve|migrate``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bmw.servicekit.dlq import DeadLetter, DeadLetterOffice
from bmw.servicekit.logs import configure_logging
from bmw.servicekit.migrations import upgrade
from bmw.servicekit.tracing import TracingConfigurationError, configure_tracing
from bmw.servicekit.transport import database_transport_for


@dataclass(frozen=True)
class Command:
    """An extra subcommand of a service (e.g. intake's ``retention``)."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def service_main(
    name: str,
    *,
    app_factory: str,
    migrations_package: str | None,
    database_url: Callable[[], str] | None,
    argv: Sequence[str] | None = None,
    extra: dict[str, Command] | None = None,
    dead_letters: Callable[[], DeadLetterOffice] | None = None,
) -> int:
    """Parse the arguments and serve, migrate or run an extra command. ``app_factory`` is ``module:function``;
    ``dead_letters`` gives the service's dead-letter office (``dlq list|redrive``)."""
    parser = argparse.ArgumentParser(prog=f"python -m bmw.{name}", description=f"The BMW {name} service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API and consume events")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    if migrations_package is not None:
        commands.add_parser("migrate", help="bring the database schema to the newest revision")
    if database_url is not None:
        _replay_parser(commands)
    if dead_letters is not None:
        _dlq_parser(commands)
    for command_name, command in (extra or {}).items():
        command.configure(commands.add_parser(command_name, help=command.help, description=command.help))
    args = parser.parse_args(argv)
    configure_logging(name)

    if extra and args.command in extra:
        return extra[args.command].run(args)

    if args.command == "replay" and database_url is not None:
        return _replay(name, database_url(), args, parser)

    if args.command == "dlq" and dead_letters is not None:
        return _dlq(name, dead_letters(), args)

    if args.command == "migrate":
        if migrations_package is None or database_url is None:
            parser.error(f"{name} has no database to migrate")
        # Migrations run as the database's owner; the service itself runs as a role that owns nothing.
        url = os.environ.get(f"{name.upper()}_MIGRATION_DATABASE_URL") or database_url()
        upgrade(migrations_package, url, transport=database_transport_for(name, url))
        print(f"{name}: database schema is up to date")
        return 0

    import uvicorn

    try:
        configure_tracing(name)
    except TracingConfigurationError as error:
        parser.error(str(error))
    uvicorn.run(
        app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=15,
        # Longer than the gateway's keep-alive expiry (2 s): the client drops an idle connection before the server
        # closes it, so no request is sent on a connection being closed.
        timeout_keep_alive=30,
    )
    return 0


REPLAY_HELP = (
    "publish again the events this service published in a period (after the broker lost data): marks them unsent "
    "in the outbox, and the running service's relay sends them again with their original ids; consumers skip the "
    "ones they had already applied"
)


def _moment(text: str) -> datetime:
    """An ISO 8601 date-time with a UTC offset (a date alone is midnight UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None
    if len(text) == 10:  # a date: its midnight in UTC
        return moment.replace(tzinfo=UTC)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a UTC offset, e.g. {text}+01:00 or {text}Z")
    return moment


def _replay_parser(commands: Any) -> None:
    replay = commands.add_parser("replay", help=REPLAY_HELP, description=REPLAY_HELP)
    replay.add_argument(
        "--since", required=True, type=_moment, help="from this moment on, e.g. 2026-11-27T06:00:00+01:00 or 2026-11-27"
    )
    replay.add_argument("--until", type=_moment, help="up to this moment (default: now)")
    replay.add_argument("--dry-run", action="store_true", help="count what would be published again, change nothing")


def _replay(name: str, url: str, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import asyncio

    from bmw.servicekit.db import create_engine, session_factory
    from bmw.servicekit.replay import ReplayError, replay_outbox
    from bmw.servicekit.uow import UnitOfWorkFactory

    async def go() -> str:
        engine = create_engine(url, pool_size=1, transport=database_transport_for(name, url))
        try:
            report = await replay_outbox(
                UnitOfWorkFactory(session_factory(engine)), since=args.since, until=args.until, dry_run=args.dry_run
            )
        finally:
            await engine.dispose()
        return report.line(name)

    try:
        print(asyncio.run(go()))
    except ReplayError as error:
        parser.error(str(error))
    return 0


DLQ_HELP = (
    "the records this service's consumers gave up on (in the dead-letter topics of what they consume): list them "
    "with their reason, or re-drive them to their topic after the fix; the group that failed applies them, the others "
    "skip them"
)


def _dlq_parser(commands: Any) -> None:
    dlq = commands.add_parser("dlq", help=DLQ_HELP, description=DLQ_HELP)
    actions = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = actions.add_parser("list", help="the dead letters not re-driven yet, oldest first (never their data)")
    listing.add_argument("--all", action="store_true", help="also the ones re-driven before")
    redrive = actions.add_parser("redrive", help="publish every pending dead letter again to the topic it came from")
    redrive.add_argument("--dry-run", action="store_true", help="list what would be re-driven, change nothing")


def _dlq(name: str, office: DeadLetterOffice, args: argparse.Namespace) -> int:
    import asyncio

    if args.dlq_command == "list":
        found = asyncio.run(office.find(include_redriven=args.all))
        print(dead_letter_table(found) if found else f"{name}: no dead letters" + ("" if args.all else " pending"))
        return 0
    report = asyncio.run(office.redrive(dry_run=args.dry_run))
    if report.records:
        print(dead_letter_table(list(report.records)))
    print(report.line(name))
    return 0


def dead_letter_table(records: Sequence[DeadLetter]) -> str:
    """Dead letters as an aligned text table: when, which group, which event, why (never the record's data)."""
    header = ("dead since (UTC)", "group", "event", "id", "organisation", "tries", "reason")
    rows = [
        (
            record.dead_since.strftime("%Y-%m-%d %H:%M:%S"),
            record.consumer_group,
            record.event_type,
            record.event_id,
            record.tenant_id,
            str(record.attempts) + (" (re-driven)" if record.redriven else ""),
            record.reason if len(record.reason) <= 80 else record.reason[:79] + "…",
        )
        for record in records
    ]
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    rule = "  ".join("-" * width for width in widths)
    title = "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()
    return "\n".join([title, rule, *lines])


def run(main: Callable[[], int]) -> None:
    sys.exit(main())
