"""``python -m bmw.gateway serve [--host H] [--port P]``."""

from bmw.servicekit.cli import run, service_main


def main() -> int:
    """Serve the gateway (it has no database, hence no ``migrate``)."""
    return service_main(
        "gateway",
        app_factory="bmw.gateway.app:create_app",
        migrations_package=None,
        database_url=None,
    )


if __name__ == "__main__":
    run(main)
