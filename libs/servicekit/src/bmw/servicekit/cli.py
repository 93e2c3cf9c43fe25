"""The command line of one service process: ``python -m bmw.<service> serve|migrate``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
) -> int:
    """Parse the arguments and serve, migrate or run an extra command. ``app_factory`` is ``module:function``."""
    parser = argparse.ArgumentParser(prog=f"python -m bmw.{name}", description=f"The BMW {name} service.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API and consume events")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    if migrations_package is not None:
        commands.add_parser("migrate", help="bring the database schema to the newest revision")
    if database_url is not None:
        _replay_parser(commands)
    for command_name, command in (extra or {}).items():
        command.configure(commands.add_parser(command_name, help=command.help, description=command.help))
    args = parser.parse_args(argv)
    configure_logging(name)

    if extra and args.command in extra:
        return extra[args.command].run(args)

    if args.command == "replay" and database_url is not None:
        return _replay(name, database_url(), args, parser)

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


def run(main: Callable[[], int]) -> None:
    sys.exit(main())
