"""Stands in for ``python -m bmw.<component>`` in the Stack tests: records its environment, "migrates" by
creating a table through the given database URL (as its own role), and serves ``/readyz``.

Usage: ``stub_component.py <component> migrate`` or ``stub_component.py <component> serve --host H --port P``.
``STUB_FAIL=<component>-<command>`` makes that invocation exit with code 3.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def migrate(url: str) -> None:
    import psycopg  # lighter than SQLAlchemy; the URL itself is exercised with asyncpg in test_postgres

    libpq = "postgresql://" + url.split("://", 1)[1]
    with psycopg.connect(libpq) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS stub_migrated (id int)")


def main() -> None:
    component, command, *rest = sys.argv[1:]
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("BMW_", "KAFKA_", "GATEWAY_")) or k.endswith("_DATABASE_URL")
    }
    with open(os.path.join(os.environ["STUB_RECORD_DIR"], f"{component}-{command}.json"), "w") as handle:
        json.dump({"argv": sys.argv[1:], "env": env}, handle)
    if os.environ.get("STUB_FAIL") == f"{component}-{command}":
        print(f"{component}: cannot start, simulated failure", flush=True)
        sys.exit(3)
    if command == "migrate":
        # as bmw.servicekit.cli does: migrations run as the database's owner
        prefix = component.upper()
        migrate(os.environ.get(f"{prefix}_MIGRATION_DATABASE_URL") or os.environ[f"{prefix}_DATABASE_URL"])
        print(f"{component}: database schema is up to date")
        return
    host = rest[rest.index("--host") + 1]
    port = int(rest[rest.index("--port") + 1])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path in ("/readyz", "/healthz")
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}' if ok else b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    main()
