"""The command line of one service process: ``python -m bmw.<service> serve|migrate``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bmw.servicekit.logs import configure_logging
from bmw.servicekit.migrations import upgrade
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
    for command_name, command in (extra or {}).items():
        command.configure(commands.add_parser(command_name, help=command.help, description=command.help))
    args = parser.parse_args(argv)
    configure_logging(name)

    if extra and args.command in extra:
        return extra[args.command].run(args)

    if args.command == "migrate":
        if migrations_package is None or database_url is None:
            parser.error(f"{name} has no database to migrate")
        # Migrations run as the database's owner; the service itself runs as a role that owns nothing.
        url = os.environ.get(f"{name.upper()}_MIGRATION_DATABASE_URL") or database_url()
        upgrade(migrations_package, url, transport=database_transport_for(name, url))
        print(f"{name}: database schema is up to date")
        return 0

    import uvicorn

    uvicorn.run(
        app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_graceful_shutdown=15,
    )
    return 0


def run(main: Callable[[], int]) -> None:
    sys.exit(main())
