"""``python -m bmw.scheduling serve|migrate``."""

from bmw.scheduling.settings import get_settings
from bmw.servicekit.cli import run, service_main


def main() -> int:
    return service_main(
        "scheduling",
        app_factory="bmw.scheduling.bootstrap:create_app",
        migrations_package="bmw.scheduling.migrations",
        database_url=lambda: get_settings().database_url,
    )


if __name__ == "__main__":
    run(main)
