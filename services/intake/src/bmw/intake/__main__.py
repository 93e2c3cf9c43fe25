"""``python -m bmw.intake serve|migrate``."""

from bmw.intake.settings import get_settings
from bmw.servicekit.cli import run, service_main


def main() -> int:
    return service_main(
        "intake",
        app_factory="bmw.intake.bootstrap:create_app",
        migrations_package="bmw.intake.migrations",
        database_url=lambda: get_settings().database_url,
    )


if __name__ == "__main__":
    run(main)
