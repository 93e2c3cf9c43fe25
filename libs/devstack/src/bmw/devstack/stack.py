"""The whole local stack, as ``bmw dev up`` runs it: infrastructure, migrations, four services and the gateway.

:class:`Stack` is what the CLI and the end-to-end tests share::

    with Stack(tmp_path / ".bmw", base_port=0, demo=False) as stack:
        httpx.post(stack.graphql_url, json=..., headers={"Authorization": f"Bearer {stack.mint('provider_admin')}"})

Start order: PostgreSQL (embedded unless ``BMW_DATABASE_ADMIN_URL`` or every ``<SERVICE>_DATABASE_URL`` is
given), the broker (embedded Tansu unless ``KAFKA_BOOTSTRAP_SERVERS`` is given), the topics, every service's
migrations (in parallel), the services, the gateway, the demo data, and finally ``<data_dir>/stack.json``.
Any failure stops whatever was started and re-raises. :meth:`Stack.stop` stops everything and removes
``stack.json``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from bmw.contracts.taxonomy import Role
from bmw.devstack import demo as demo_data
from bmw.devstack.demo import DemoTenant, DemoWorker
from bmw.devstack.infra import (
    EmbeddedBroker,
    EmbeddedPostgres,
    create_topics,
    free_port,
    port_is_free,
    provision_app_role,
    provision_service_database,
)
from bmw.devstack.processes import ManagedProcess, Supervisor
from bmw.devstack.tokens import (
    DEFAULT_TTL,
    DEV_AUDIENCE,
    DEV_ISSUER,
    load_or_create_signing_key,
    mint_token,
    parse_role,
    public_key_pem,
    signing_key_path,
)
from bmw.devstack.topology import DEFAULT_PARTITIONS, SERVICES, all_topics

logger = logging.getLogger(__name__)

#: Builds the command line of a component (``intake`` ... ``gateway``) from its arguments.
Launcher = Callable[[str, Sequence[str]], list[str]]

#: Name of the state file the stack writes into its data directory while it runs.
STACK_FILE = "stack.json"
#: Name of the file remembering the demo data when the database is kept between runs.
DEMO_FILE = "demo.json"


def default_launcher(component: str, args: Sequence[str]) -> list[str]:
    """``<this python> -m bmw.<component> <args>``."""
    return [sys.executable, "-m", f"bmw.{component}", *args]


class StackError(RuntimeError):
    """The stack cannot start as configured (busy ports, a stack already running, ...)."""


@dataclass(frozen=True)
class ServiceEndpoint:
    """Where one running service answers, and its database."""

    name: str
    url: str
    #: What the service runs as: a role that owns nothing, held by the tenant walls.
    database_url: str
    #: What its migrations run as: the database's owner (the same URL when the databases were given).
    migration_database_url: str = ""


class Stack:
    """The local BMW backend: infrastructure plus one process per service and one for the gateway.

    Args:
        data_dir: state directory (``.bmw``): signing key, logs (``logs/<name>.log``), embedded PostgreSQL data
            (``postgres/``), ``stack.json``.
        base_port: the gateway listens on ``base_port``, the services on the next four ports in the order of
            :data:`~bmw.devstack.topology.SERVICES`. ``0`` picks free ports (tests).
        demo: load the demo data (:func:`bmw.devstack.demo.load_demo`).
        fresh_database: wipe the embedded PostgreSQL data first (the embedded broker forgets everything too,
            so both start empty). With ``False`` the data is kept and the demo data of an earlier run
            (``demo.json``) is reused rather than loaded twice.
        partitions: partitions per topic.
        environ: where overrides (``BMW_DATABASE_ADMIN_URL``, ``<SERVICE>_DATABASE_URL``,
            ``KAFKA_BOOTSTRAP_SERVERS``, ``BMW_DATABASE_SERVICE_PASSWORD``) are read, and the base environment
            of every child process; defaults to ``os.environ``.
        launcher: builds each component's command line; the default runs ``python -m bmw.<component>``.
        ready_timeout: seconds each service and the gateway get to answer 200 on ``/readyz``.
        progress: called with a short message after each step (the CLI prints them).
    """

    def __init__(
        self,
        data_dir: Path | str = ".bmw",
        *,
        base_port: int = 8100,
        host: str = "127.0.0.1",
        demo: bool = True,
        fresh_database: bool = True,
        partitions: int = DEFAULT_PARTITIONS,
        environ: Mapping[str, str] | None = None,
        launcher: Launcher = default_launcher,
        ready_timeout: float = 90.0,
        migrate_timeout: float = 300.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.log_dir = self.data_dir / "logs"
        self.stack_file = self.data_dir / STACK_FILE
        self.base_port = base_port
        self.host = host
        self.demo = demo
        self.fresh_database = fresh_database
        self.partitions = partitions
        self.environ: dict[str, str] = dict(os.environ if environ is None else environ)
        self.launcher = launcher
        self.ready_timeout = ready_timeout
        self.migrate_timeout = migrate_timeout
        self._progress = progress

        #: Base URL of the gateway (GraphQL at :attr:`graphql_url`).
        self.gateway_url = ""
        #: ``host:port`` list of the Kafka-compatible broker.
        self.kafka_bootstrap_servers = ""
        #: The running services by name.
        self.services: dict[str, ServiceEndpoint] = {}
        #: The demo client organisations (empty without demo data).
        self.tenants: list[DemoTenant] = []
        #: The demo social workers (set by :func:`bmw.devstack.demo.load_demo`).
        self.demo_workers: list[DemoWorker] = []
        #: The dev signing key (PEM) and its public half, as given to every process.
        self.signing_key_pem = b""
        self.jwt_public_key = ""
        #: Every token :meth:`mint` handed out, so that a test can prove none of them reached a log.
        self.minted: list[str] = []
        #: Embedded infrastructure, when the stack started it.
        self.postgres: EmbeddedPostgres | None = None
        self.broker: EmbeddedBroker | None = None
        self.supervisor = Supervisor(self.log_dir)
        self._servers: list[ManagedProcess] = []
        self._ports: dict[str, int] = {}
        self._lock: IO[bytes] | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Bring the whole stack up; on any failure stop what was started and re-raise."""
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the gateway and the services (SIGTERM, then SIGKILL after 10 s), the broker and PostgreSQL,
        and remove ``stack.json``. Calling it twice is harmless."""
        try:
            self.supervisor.stop_all()
            self._servers.clear()
            if self.broker is not None:
                self.broker.stop()
                self.broker = None
            if self.postgres is not None:
                self.postgres.stop()
                self.postgres = None
        finally:
            self.stack_file.unlink(missing_ok=True)
            if self._lock is not None:
                self._lock.close()
                self._lock = None
            self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _report(self, message: str) -> None:
        logger.info("%s", message)
        if self._progress is not None:
            self._progress(message)

    def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        self.stack_file.unlink(missing_ok=True)
        self.signing_key_pem = load_or_create_signing_key(signing_key_path(self.data_dir))
        self.jwt_public_key = public_key_pem(self.signing_key_pem)

        database_urls = self._databases()
        self._broker()
        started = time.monotonic()
        create_topics(self.kafka_bootstrap_servers, all_topics(), self.partitions)
        self._report(f"topics ready: {len(all_topics())} with {self.partitions} partitions ({_since(started)})")

        self._allocate_ports()
        self.services = {
            name: ServiceEndpoint(name, f"http://{self.host}:{self._ports[name]}", *database_urls[name])
            for name in SERVICES
        }
        self.gateway_url = f"http://{self.host}:{self._ports['gateway']}"

        started = time.monotonic()
        migrations = [
            self.supervisor.start(f"{name}-migrate", self.launcher(name, ["migrate"]), env=self.service_env(name))
            for name in SERVICES
        ]
        for process in migrations:
            process.check_exit(self.migrate_timeout)
        self._report(f"migrations done ({_since(started)})")

        started = time.monotonic()
        for name in SERVICES:
            command = self.launcher(name, ["serve", "--host", self.host, "--port", str(self._ports[name])])
            self._servers.append(self.supervisor.start(name, command, env=self.service_env(name)))
        for process in self._servers:
            process.wait_ready(self.services[process.name].url, self.ready_timeout)
        self._report(f"services ready: {', '.join(SERVICES)} ({_since(started)})")

        started = time.monotonic()
        command = self.launcher("gateway", ["serve", "--host", self.host, "--port", str(self._ports["gateway"])])
        gateway = self.supervisor.start("gateway", command, env=self.gateway_env())
        self._servers.append(gateway)
        gateway.wait_ready(self.gateway_url, self.ready_timeout)
        self._report(f"gateway ready at {self.graphql_url} ({_since(started)})")

        if self.demo:
            self._load_demo()
        self._write_json(self.stack_file, self.as_json())

    def _acquire_lock(self) -> None:
        lock = open(self.data_dir / "stack.lock", "wb")  # noqa: SIM115 - held open while the stack runs
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StackError(
                f"another stack is already running with data directory {self.data_dir} "
                f"(see {self.stack_file}); stop it first or use another --data-dir"
            ) from None
        self._lock = lock

    def _databases(self) -> dict[str, tuple[str, str]]:
        """Per service: the URL it runs as and the URL its migrations run as."""
        given = {name: self.environ.get(f"{name.upper()}_DATABASE_URL", "") for name in SERVICES}
        missing = [name for name in SERVICES if not given[name]]
        if not missing:
            self._report("databases: using the given <SERVICE>_DATABASE_URL variables")
            return {name: (url, url) for name, url in given.items()}
        admin_url = self.environ.get("BMW_DATABASE_ADMIN_URL", "")
        password_base = self.environ.get("BMW_DATABASE_SERVICE_PASSWORD", "")
        if admin_url:
            self._report("databases: provisioning through BMW_DATABASE_ADMIN_URL")
        else:
            started = time.monotonic()
            pgdata = self.data_dir / "postgres"
            if self.fresh_database and pgdata.exists():
                shutil.rmtree(pgdata)
                (self.data_dir / DEMO_FILE).unlink(missing_ok=True)
            self.postgres = EmbeddedPostgres(pgdata).start()
            admin_url = self.postgres.admin_url
            self._report(f"PostgreSQL 18 ready (embedded, {pgdata}, {_since(started)})")
        urls = {name: (url, url) for name, url in given.items() if url}
        for name in missing:
            # A server reached over TCP needs passwords; the embedded one trusts its unix socket.
            password = None if self.postgres is not None else (password_base or "bmw-dev") + f"-{name}"
            owner = provision_service_database(admin_url, name, password=password)
            urls[name] = (provision_app_role(admin_url, name, password=password), owner)
        return urls

    def _broker(self) -> None:
        given = self.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if given:
            self.kafka_bootstrap_servers = given
            self._report(f"broker: using KAFKA_BOOTSTRAP_SERVERS={given}")
            return
        started = time.monotonic()
        self.broker = EmbeddedBroker(host=self.host, log_path=self.log_dir / "broker.log").start()
        self.kafka_bootstrap_servers = self.broker.bootstrap_servers
        self._report(f"broker ready (embedded Tansu at {self.kafka_bootstrap_servers}, {_since(started)})")

    def _allocate_ports(self) -> None:
        names = ["gateway", *SERVICES]
        if self.base_port == 0:
            self._ports = {name: free_port(self.host) for name in names}
            return
        self._ports = {name: self.base_port + offset for offset, name in enumerate(names)}
        busy = [f"{name} {port}" for name, port in self._ports.items() if not port_is_free(port, self.host)]
        if busy:
            raise StackError(
                f"ports already in use on {self.host}: {', '.join(busy)}; "
                "stop whatever uses them or choose another --base-port"
            )

    def _load_demo(self) -> None:
        started = time.monotonic()
        demo_file = self.data_dir / DEMO_FILE
        if demo_file.exists():
            saved = json.loads(demo_file.read_text())
            self.tenants = [DemoTenant.from_json(t) for t in saved.get("tenants", [])]
            self.demo_workers = [DemoWorker(id=str(w["id"]), name=str(w["name"])) for w in saved.get("workers", [])]
            self._report(f"demo data kept from an earlier run ({demo_file}; delete it to load the demo again)")
            return
        admin_token = self.mint(Role.PROVIDER_ADMIN, sub=demo_data.DEMO_PROVIDER_ADMIN_ID)
        self.tenants = demo_data.load_demo(self, admin_token)
        self._write_json(
            demo_file,
            {
                "tenants": [t.as_json() for t in self.tenants],
                "workers": [{"id": w.id, "name": w.name} for w in self.demo_workers],
            },
        )
        self._report(f"demo data loaded: {', '.join(t.name for t in self.tenants)} ({_since(started)})")

    @staticmethod
    def _write_json(path: Path, data: Any) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)

    # -- what the processes get -------------------------------------------------------------------

    def _common_env(self) -> dict[str, str]:
        env = dict(self.environ)
        env.update(
            {
                "BMW_ENVIRONMENT": "development",
                "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
                "BMW_KAFKA_TOPIC_PARTITIONS": str(self.partitions),
                "BMW_JWT_PUBLIC_KEY": self.jwt_public_key,
                "BMW_JWT_ISSUER": DEV_ISSUER,
                "BMW_JWT_AUDIENCE": DEV_AUDIENCE,
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def service_env(self, service: str) -> dict[str, str]:
        """The environment of a service process: the base environment plus ``BMW_ENVIRONMENT``,
        ``KAFKA_BOOTSTRAP_SERVERS``, ``<SERVICE>_DATABASE_URL`` (the role it runs as),
        ``<SERVICE>_MIGRATION_DATABASE_URL`` (the owner, for ``migrate``) and the ``BMW_JWT_*`` settings."""
        env = self._common_env()
        endpoint = self.services[service]
        env[f"{service.upper()}_DATABASE_URL"] = endpoint.database_url
        env[f"{service.upper()}_MIGRATION_DATABASE_URL"] = endpoint.migration_database_url or endpoint.database_url
        return env

    def gateway_env(self) -> dict[str, str]:
        """The environment of the gateway: as a service's, without a database, plus ``GATEWAY_<SERVICE>_URL``."""
        env = self._common_env()
        for name, endpoint in self.services.items():
            env[f"GATEWAY_{name.upper()}_URL"] = endpoint.url
        return env

    # -- what callers use ----------------------------------------------------------------------------

    @property
    def graphql_url(self) -> str:
        """The gateway's GraphQL endpoint."""
        return f"{self.gateway_url}/graphql"

    # -- faults (tests/faults): kill and restart the parts ------------------------------------------------------

    def kill_service(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` (default SIGKILL: no graceful stop, no flush) to a service's or the gateway's process group
        and wait until it is gone."""
        process = self.supervisor.get(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def restart_service(self, name: str) -> ManagedProcess:
        """Start a service (or the gateway) again as the stack started it, and wait until it is ready. The log of
        the run before is kept as ``<name>.<n>.log``."""
        previous = self.supervisor.get(name)
        if previous.alive:
            raise RuntimeError(f"{name} still runs (pid {previous.pid}); kill it first")
        runs = len(list(self.log_dir.glob(f"{name}.*.log")))
        log = self.log_dir / f"{name}.log"
        if log.exists():
            log.rename(self.log_dir / f"{name}.{runs + 1}.log")
        environ = self.gateway_env() if name == "gateway" else self.service_env(name)
        command = self.launcher(name, ["serve", "--host", self.host, "--port", str(self._ports[name])])
        process = self.supervisor.start(name, command, env=environ)
        self._servers = [p for p in self._servers if p.name != name] + [process]
        url = self.gateway_url if name == "gateway" else self.services[name].url
        process.wait_ready(url, self.ready_timeout)
        return process

    def restart_broker(self) -> None:
        """Kill the embedded broker and start an empty one on the same port: every topic, record and committed
        offset is gone, as after a broker that lost its data."""
        if self.broker is None or self.broker.port is None:
            raise RuntimeError("the stack runs no embedded broker (KAFKA_BOOTSTRAP_SERVERS was given)")
        port, log = self.broker.port, self.broker.log_path
        pid = self.broker.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.broker.stop()
        self.broker = EmbeddedBroker(host=self.host, port=port, log_path=log).start()

    def crashed(self) -> list[ManagedProcess]:
        """Services or the gateway that exited while the stack runs."""
        return [p for p in self._servers if not p.alive]

    def as_json(self) -> dict[str, Any]:
        """What ``stack.json`` holds: gateway URL, broker, each service's URL and database, demo tenants."""
        return {
            "gateway_url": self.gateway_url,
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "services": {
                name: {"url": endpoint.url, "database_url": endpoint.database_url}
                for name, endpoint in self.services.items()
            },
            "tenants": [tenant.as_json() for tenant in self.tenants],
        }

    def mint(
        self,
        role: Role | str,
        *,
        sub: str | None = None,
        tenant_id: str | None = None,
        portfolio: Iterable[str] | None = None,
        scopes: Iterable[str] | None = None,
        ttl: timedelta = DEFAULT_TTL,
        serves: Iterable[str] | None = None,
    ) -> str:
        """A token signed with this stack's dev key (``sub`` defaults to a stable id per role)."""
        if not self.signing_key_pem:
            self.signing_key_pem = load_or_create_signing_key(signing_key_path(self.data_dir))
        token = mint_token(
            self.signing_key_pem,
            role=role,
            sub=sub or demo_data.default_subject(parse_role(role)),
            tenant_id=tenant_id,
            portfolio=portfolio,
            scopes=scopes,
            serves=serves,
            ttl=ttl,
        )
        self.minted.append(token)
        return token

    def dev_tokens(self, ttl: timedelta = DEFAULT_TTL) -> dict[str, str]:
        """Ready-to-use tokens by role: provider_admin, account_manager (portfolio: every demo tenant),
        social_worker (the first demo worker) and, with demo tenants, client_contact, employee and
        integration for the first tenant."""
        tenant_ids = [t.id for t in self.tenants]
        worker = self.demo_workers[0].id if self.demo_workers else demo_data.default_subject(Role.SOCIAL_WORKER)
        tokens = {
            Role.PROVIDER_ADMIN.value: self.mint(Role.PROVIDER_ADMIN, sub=demo_data.DEMO_PROVIDER_ADMIN_ID, ttl=ttl),
            Role.ACCOUNT_MANAGER.value: self.mint(
                Role.ACCOUNT_MANAGER, sub=demo_data.DEMO_ACCOUNT_MANAGER_ID, portfolio=tenant_ids, ttl=ttl
            ),
            Role.SOCIAL_WORKER.value: self.mint(Role.SOCIAL_WORKER, sub=worker, ttl=ttl),
        }
        if tenant_ids:
            first = tenant_ids[0]
            tokens[Role.CLIENT_CONTACT.value] = self.mint(
                Role.CLIENT_CONTACT, sub=demo_data.DEMO_CLIENT_CONTACT_ID, tenant_id=first, ttl=ttl
            )
            tokens[Role.EMPLOYEE.value] = self.mint(
                Role.EMPLOYEE, sub=demo_data.DEMO_EMPLOYEE_ID, tenant_id=first, ttl=ttl
            )
            tokens[Role.INTEGRATION.value] = self.mint(
                Role.INTEGRATION,
                sub=demo_data.DEMO_INTEGRATION_ID,
                tenant_id=first,
                scopes=demo_data.DEMO_INTEGRATION_SCOPES,
                ttl=ttl,
            )
        return tokens


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.1f} s"
