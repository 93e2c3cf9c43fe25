"""``python -m bmw.scheduling serve|migrate|retention``."""

from __future__ import annotations

import argparse
import asyncio

from bmw.scheduling.application.persons import apply_retention
from bmw.scheduling.bootstrap import service_spec
from bmw.scheduling.settings import SchedulingSettings, get_settings
from bmw.servicekit.app import dead_letter_office
from bmw.servicekit.cli import Command, run, service_main
from bmw.servicekit.db import engine_for, session_factory
from bmw.servicekit.uow import UnitOfWorkFactory


async def retention(settings: SchedulingSettings, *, dry_run: bool) -> str:
    """Run the retention job once against the settings' database; what it did (or would do), in one line."""
    engine = engine_for(settings)
    try:
        report = await apply_retention(
            uow=UnitOfWorkFactory(session_factory(engine)),
            retention_days=settings.client_link_retention_days,
            dry_run=dry_run,
        )
    finally:
        await engine.dispose()
    verb = "would forget" if report.dry_run else "forgot"
    return (
        f"{verb} the person of {report.appointments} appointment(s) and {report.pending_intakes} pending intake(s) "
        f"older than {settings.client_link_retention_days} days (before {report.cutoff.date().isoformat()})"
    )


def _report(line: str) -> int:
    print(line)
    return 0


def _dry_run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="count what would be forgotten, change nothing")


def main() -> int:
    return service_main(
        "scheduling",
        app_factory="bmw.scheduling.bootstrap:create_app",
        migrations_package="bmw.scheduling.migrations",
        database_url=lambda: get_settings().database_url,
        dead_letters=lambda: dead_letter_office(service_spec(get_settings())),
        extra={
            "retention": Command(
                help="forget the pseudonym and login digest of appointments that ended longer ago than "
                "SCHEDULING_CLIENT_LINK_RETENTION_DAYS (default 730); the time slots stay. Run daily from cron.",
                configure=_dry_run_option,
                run=lambda args: _report(asyncio.run(retention(get_settings(), dry_run=args.dry_run))),
            ),
        },
    )


if __name__ == "__main__":
    run(main)
