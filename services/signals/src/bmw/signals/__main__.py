"""``python -m bmw.signals serve|migrate``."""

from bmw.servicekit.cli import run, service_main
from bmw.signals.settings import get_settings


def main() -> int:
    return service_main(
        "signals",
        app_factory="bmw.signals.bootstrap:create_app",
        migrations_package="bmw.signals.migrations",
        database_url=lambda: get_settings().database_url,
    )


if __name__ == "__main__":
    run(main)
