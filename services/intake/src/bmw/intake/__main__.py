"""``python -m bmw.intake serve|migrate|retention|expire-referrals``."""

from __future__ import annotations

import argparse
import asyncio
import json

from bmw.intake.application.persons import apply_retention
from bmw.intake.application.referrals import expire_referrals
from bmw.intake.bootstrap import service_spec
from bmw.intake.entrypoints.deps import build_intake
from bmw.intake.settings import get_settings
from bmw.servicekit.app import dead_letter_office
from bmw.servicekit.cli import Command, run, service_main
from bmw.servicekit.db import engine_for, session_factory
from bmw.servicekit.uow import UnitOfWorkFactory


async def _with_intake(work: str, dry_run: bool) -> int:
    settings = get_settings()
    engine = engine_for(settings)
    try:
        intake = build_intake(settings, UnitOfWorkFactory(session_factory(engine)))
        if work == "retention":
            report = await apply_retention(intake=intake, dry_run=dry_run)
            verb = "would erase" if report.dry_run else "erased"
            print(
                json.dumps(
                    {
                        "dry_run": report.dry_run,
                        f"persons_{verb.replace(' ', '_')}": report.persons,
                        "working_notes": report.working_notes,
                    },
                    indent=2,
                )
            )
            print(
                f"{verb} {len(report.persons)} person(s) whose cases closed over {settings.retention_years} years ago "
                f"and {report.working_notes} working note(s) older than {settings.working_notes_retention_days} days"
            )
        else:
            print(f"expired {await expire_referrals(intake=intake)} referral(s) that waited 14 days for consent")
    finally:
        await engine.dispose()
    return 0


def _dry_run_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show what would go, change nothing")


def main() -> int:
    return service_main(
        "intake",
        app_factory="bmw.intake.bootstrap:create_app",
        migrations_package="bmw.intake.migrations",
        database_url=lambda: get_settings().database_url,
        dead_letters=lambda: dead_letter_office(service_spec(get_settings())),
        extra={
            "retention": Command(
                help="erase persons whose cases closed longer ago than the retention period, and old working notes",
                configure=_dry_run_option,
                run=lambda args: asyncio.run(_with_intake("retention", args.dry_run)),
            ),
            "expire-referrals": Command(
                help="expire referrals that waited 14 days for the employee's consent (the service also does this "
                "hourly)",
                configure=lambda parser: None,
                run=lambda args: asyncio.run(_with_intake("expire", False)),
            ),
        },
    )


if __name__ == "__main__":
    run(main)
