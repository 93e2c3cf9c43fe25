"""``python -m bmw.billing serve|migrate``."""

from bmw.billing.settings import get_settings
from bmw.servicekit.cli import run, service_main


def main() -> int:
    return service_main(
        "billing",
        app_factory="bmw.billing.bootstrap:create_app",
        migrations_package="bmw.billing.migrations",
        database_url=lambda: get_settings().database_url,
    )


if __name__ == "__main__":
    run(main)
