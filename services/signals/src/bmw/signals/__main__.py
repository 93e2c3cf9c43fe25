"""``python -m bmw.signals serve|migrate|retention``."""

from __future__ import annotations

import argparse
import asyncio

from bmw.servicekit.app import dead_letter_office
from bmw.servicekit.cli import Command, run, service_main
from bmw.servicekit.db import engine_for, session_factory
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.signals.application.persons import apply_retention
from bmw.signals.bootstrap import service_spec
from bmw.signals.settings import SignalsSettings, get_settings


async def retention(settings: SignalsSettings, *, dry_run: bool) -> str:
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
    verb = "would drop" if report.dry_run else "dropped"
    return (
        f"{verb} {report.contributions} referral contribution(s) ({report.with_pseudonym} with a pseudonym) of weeks "
        f"before {report.first_kept_week.isoformat()} ({settings.client_link_retention_days} days); weekly counts "
        "unchanged"
    )


def _report(line: str) -> int:
    print(line)
    return 0


def _dry_run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="count what would be dropped, change nothing")


def main() -> int:
    return service_main(
        "signals",
        app_factory="bmw.signals.bootstrap:create_app",
        migrations_package="bmw.signals.migrations",
        database_url=lambda: get_settings().database_url,
        dead_letters=lambda: dead_letter_office(service_spec(get_settings())),
        extra={
            "retention": Command(
                help="drop the links from weekly counts back to referrals and their persons for weeks older than "
                "SIGNALS_CLIENT_LINK_RETENTION_DAYS (default 730); the counts stay. Run daily from cron.",
                configure=_dry_run_option,
                run=lambda args: _report(asyncio.run(retention(get_settings(), dry_run=args.dry_run))),
            ),
        },
    )


if __name__ == "__main__":
    run(main)
