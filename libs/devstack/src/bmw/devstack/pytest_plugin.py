"""pytest fixtures for real infrastructure and dev tokens; enable with ``-p bmw.devstack.pytest_plugin``.

``infra`` (session scope) provides PostgreSQL and a Kafka-compatible broker, chosen by ``BMW_TEST_INFRA``:

- ``embedded`` (default): embedded PostgreSQL 18 in a temporary directory and an embedded Tansu broker,
  each started on first use and once per session.
- ``external``: an existing pair, ``BMW_TEST_DATABASE_ADMIN_URL`` (a superuser URL) and
  ``KAFKA_BOOTSTRAP_SERVERS``.
- ``testcontainers``: PostgreSQL (``POSTGRES_IMAGE``) and Apache Kafka (``KAFKA_IMAGE``) containers; skipped when
  no Docker engine answers.

Every mode creates the backend's topics (:func:`bmw.devstack.topology.all_topics`) with 12 partitions when
the broker is first used. ``dev_keys`` (session scope) is a fresh RSA key pair with a ``mint`` helper.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from bmw.contracts.taxonomy import Role
from bmw.devstack.infra import (
    EmbeddedBroker,
    EmbeddedPostgres,
    create_topics,
    drop_service_database,
    free_port,
    provision_app_role,
    provision_service_database,
)
from bmw.devstack.tokens import (
    DEFAULT_TTL,
    DEV_AUDIENCE,
    DEV_ISSUER,
    generate_private_key_pem,
    mint_token,
    public_key_pem,
)
from bmw.devstack.topology import DEFAULT_PARTITIONS, all_topics

InfraMode = Literal["embedded", "external", "testcontainers"]
MODES: Final[tuple[InfraMode, ...]] = ("embedded", "external", "testcontainers")

#: Password of the service roles on servers reached over TCP (test servers only).
_TEST_SERVICE_PASSWORD: Final = "bmw-test"  # noqa: S105 - a throwaway password for throwaway test servers

_HOW_TO = (
    "Use the default BMW_TEST_INFRA=embedded (no Docker needed), or BMW_TEST_INFRA=external with "
    "BMW_TEST_DATABASE_ADMIN_URL and KAFKA_BOOTSTRAP_SERVERS pointing at a running PostgreSQL and Kafka."
)

#: The images of the ``testcontainers`` mode: the same as docker-compose.yml's (tests/deploy checks it).
POSTGRES_IMAGE: Final = "postgres:18"
KAFKA_IMAGE: Final = "apache/kafka:4.1.0"


class TestInfra:
    """PostgreSQL and a Kafka-compatible broker for a test session.

    ``postgres_admin_url`` is a superuser libpq URL; :meth:`database_url` provisions a service's own role and
    database and returns its async SQLAlchemy URL; ``kafka_bootstrap_servers`` is ``host:port``. Resources
    start lazily on first access, so a test needing only Kafka does not start PostgreSQL.
    """

    __test__ = False  # not a test class, despite the name

    def __init__(
        self,
        mode: InfraMode,
        *,
        postgres_admin_url: Callable[[], str],
        kafka_bootstrap_servers: Callable[[], str],
        service_password: str | None = None,
        partitions: int = DEFAULT_PARTITIONS,
        closers: Iterable[Callable[[], None]] = (),
    ) -> None:
        self.mode = mode
        self.partitions = partitions
        self._postgres = postgres_admin_url
        self._kafka = kafka_bootstrap_servers
        self._service_password = service_password
        self._closers = list(closers)
        self._admin_url: str | None = None
        self._bootstrap: str | None = None
        self._database_urls: dict[str, str] = {}

    @property
    def postgres_admin_url(self) -> str:
        """libpq URL of a superuser (starts PostgreSQL on first use)."""
        if self._admin_url is None:
            self._admin_url = self._postgres()
        return self._admin_url

    def database_url(self, service: str, *, fresh: bool = False) -> str:
        """Create role and database ``bmw_<service>`` (idempotent) and return its async SQLAlchemy URL.

        With ``fresh=True`` the database is dropped and created anew (useful against an external server that
        outlives test sessions).
        """
        if fresh:
            drop_service_database(self.postgres_admin_url, service)
            self._database_urls.pop(service, None)
        if service not in self._database_urls:
            self._database_urls[service] = provision_service_database(
                self.postgres_admin_url, service, password=self._service_password
            )
        return self._database_urls[service]

    def app_database_url(self, service: str) -> str:
        """The URL of role ``bmw_<service>_app`` on database ``bmw_<service>``: what the service runs as, owning
        nothing and held by its tenant walls (provisioned on first use; call after :meth:`database_url`)."""
        return provision_app_role(self.postgres_admin_url, service, password=self._service_password)

    @property
    def kafka_bootstrap_servers(self) -> str:
        """``host:port`` of the broker (starts it and creates the topics on first use)."""
        if self._bootstrap is None:
            bootstrap = self._kafka()
            create_topics(bootstrap, all_topics(), self.partitions)
            self._bootstrap = bootstrap
        return self._bootstrap

    def create_topics(self, topics: Iterable[str], partitions: int | None = None) -> dict[str, int]:
        """Create extra topics (e.g. per-test ones) on the session's broker."""
        return create_topics(self.kafka_bootstrap_servers, topics, partitions or self.partitions)

    def close(self) -> None:
        """Stop whatever this session started."""
        closers, self._closers = self._closers, []
        errors: list[BaseException] = []
        for close in reversed(closers):
            try:
                close()
            except Exception as error:  # noqa: BLE001 - keep stopping the rest, re-raise the first below
                errors.append(error)
        if errors:
            raise errors[0]


def infra_mode(environ: dict[str, str] | None = None) -> InfraMode:
    """The mode chosen by ``BMW_TEST_INFRA`` (default ``embedded``)."""
    value = (environ if environ is not None else dict(os.environ)).get("BMW_TEST_INFRA", "embedded").strip().lower()
    for mode in MODES:
        if value == mode:
            return mode
    raise pytest.UsageError(f"BMW_TEST_INFRA={value!r} is not one of {', '.join(MODES)}")


def _embedded(base_dir: Path) -> TestInfra:
    postgres = EmbeddedPostgres(base_dir / "postgres")
    broker = EmbeddedBroker(log_path=base_dir / "broker.log")

    def remove_files() -> None:
        shutil.rmtree(base_dir, ignore_errors=True)

    def start_postgres() -> str:
        return postgres.start().admin_url

    def start_broker() -> str:
        return broker.start().bootstrap_servers

    return TestInfra(
        "embedded",
        postgres_admin_url=start_postgres,
        kafka_bootstrap_servers=start_broker,
        closers=[remove_files, postgres.stop, broker.stop],
    )


def _external(environ: dict[str, str]) -> TestInfra:
    admin_url = environ.get("BMW_TEST_DATABASE_ADMIN_URL", "")
    bootstrap = environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
    missing = [
        name
        for name, value in (("BMW_TEST_DATABASE_ADMIN_URL", admin_url), ("KAFKA_BOOTSTRAP_SERVERS", bootstrap))
        if not value
    ]
    if missing:
        pytest.fail(f"BMW_TEST_INFRA=external needs {' and '.join(missing)}. {_HOW_TO}", pytrace=False)
    return TestInfra(
        "external",
        postgres_admin_url=lambda: admin_url,
        kafka_bootstrap_servers=lambda: bootstrap,
        service_password=environ.get("BMW_TEST_DATABASE_SERVICE_PASSWORD", _TEST_SERVICE_PASSWORD),
    )


def docker_engine_problem() -> str | None:
    """Why no Docker engine can be used (``None`` when one answers a ping)."""
    try:
        import docker  # type: ignore[import-untyped]
        from docker.errors import DockerException  # type: ignore[import-untyped]
    except ImportError as error:  # pragma: no cover - docker comes with testcontainers
        return f"the docker package is missing ({error})"
    where = os.environ.get("DOCKER_HOST", "the default socket (unix:///var/run/docker.sock)")
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except (DockerException, OSError) as error:  # requests' errors are OSErrors
        return f"no Docker engine is reachable at {where}: {error}"
    return None


def _testcontainers() -> TestInfra:
    problem = docker_engine_problem()
    if problem is not None:
        pytest.skip(f"BMW_TEST_INFRA=testcontainers, but {problem}. Start Docker (or set DOCKER_HOST). {_HOW_TO}")

    from testcontainers.community.postgres import PostgresContainer

    closers: list[Callable[[], None]] = []

    def start_postgres() -> str:
        container = PostgresContainer(POSTGRES_IMAGE, driver=None)
        container.start()
        closers.append(container.stop)
        return str(container.get_connection_url())

    def start_kafka() -> str:
        container, bootstrap = _apache_kafka_container()
        closers.append(container.stop)
        return bootstrap

    def stop_containers() -> None:
        while closers:
            closers.pop()()

    return TestInfra(
        "testcontainers",
        postgres_admin_url=start_postgres,
        kafka_bootstrap_servers=start_kafka,
        service_password=_TEST_SERVICE_PASSWORD,
        closers=[stop_containers],
    )


def _apache_kafka_container() -> tuple[Any, str]:
    """A single-node KRaft ``apache/kafka`` container, advertised on a fixed host port (so clients outside the
    container can follow the metadata)."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    host_port = free_port("0.0.0.0")
    container = DockerContainer(KAFKA_IMAGE)
    host = container.get_container_host_ip()
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{host_port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }
    for key, value in env.items():
        container.with_env(key, value)
    container.with_bind_ports(9092, host_port)
    container.waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(120))
    container.start()
    return container, f"{host}:{host_port}"


def open_test_infra(mode: InfraMode, base_dir: Path, environ: dict[str, str] | None = None) -> TestInfra:
    """The :class:`TestInfra` of ``mode`` (calls ``pytest.skip`` / ``pytest.fail`` when it cannot be had)."""
    if mode == "embedded":
        return _embedded(base_dir)
    if mode == "external":
        return _external(environ if environ is not None else dict(os.environ))
    return _testcontainers()


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestInfra]:
    """PostgreSQL and a Kafka-compatible broker for the session, chosen by ``BMW_TEST_INFRA``."""
    mode = infra_mode()
    # Keep the socket path short: unix socket paths are limited to about 107 bytes.
    base_dir = Path(tempfile.mkdtemp(prefix="bmw-infra-")) if mode == "embedded" else tmp_path_factory.mktemp("infra")
    resource = open_test_infra(mode, base_dir)
    try:
        yield resource
    finally:
        resource.close()


@dataclass(frozen=True)
class DevKeys:
    """A fresh RSA key pair for one test session and a token helper.

    ``env`` holds the settings a service needs to trust these tokens (``BMW_JWT_PUBLIC_KEY``,
    ``BMW_JWT_ISSUER``, ``BMW_JWT_AUDIENCE``).
    """

    private_pem: bytes
    public_pem: str
    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    env: dict[str, str] = field(default_factory=dict)

    def mint(
        self,
        role: Role | str,
        *,
        sub: str | None = None,
        tenant_id: uuid.UUID | str | None = None,
        portfolio: Iterable[uuid.UUID | str] | None = None,
        scopes: Iterable[str] | None = None,
        ttl: timedelta = DEFAULT_TTL,
        issuer: str | None = None,
        audience: str | None = None,
        serves: Iterable[uuid.UUID | str] | None = None,
    ) -> str:
        """A signed token for ``role`` (``sub`` defaults to a random UUID)."""
        return mint_token(
            self.private_pem,
            role=role,
            sub=sub or str(uuid.uuid4()),
            tenant_id=tenant_id,
            portfolio=portfolio,
            scopes=scopes,
            serves=serves,
            ttl=ttl,
            issuer=issuer or self.issuer,
            audience=audience or self.audience,
        )


def make_dev_keys() -> DevKeys:
    """A fresh :class:`DevKeys`."""
    private = generate_private_key_pem()
    public = public_key_pem(private)
    env = {"BMW_JWT_PUBLIC_KEY": public, "BMW_JWT_ISSUER": DEV_ISSUER, "BMW_JWT_AUDIENCE": DEV_AUDIENCE}
    return DevKeys(private_pem=private, public_pem=public, env=env)


@pytest.fixture(scope="session")
def dev_keys() -> DevKeys:
    """A fresh RSA key pair for the session with ``mint(role, ...)``."""
    return make_dev_keys()


class SpanRecorder(SpanProcessor):
    """Keeps the spans that end while it is recording (the ``spans`` fixture switches it on for one test)."""

    def __init__(self) -> None:
        self.recording = False
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        if self.recording:
            self.spans.append(span)


_recorder: SpanRecorder | None = None


@pytest.fixture
def spans() -> Iterator[list[ReadableSpan]]:
    """The spans that end during the test, in the order they end: the process's tracer provider is installed (once
    per process, named ``bmw-test``) as ``serve`` does it for a service; outside this fixture nothing is kept."""
    global _recorder
    if _recorder is None:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            provider = TracerProvider(resource=Resource.create({"service.name": "bmw-test"}))
            trace.set_tracer_provider(provider)
        _recorder = SpanRecorder()
        provider.add_span_processor(_recorder)
    _recorder.spans = []
    _recorder.recording = True
    try:
        yield _recorder.spans
    finally:
        _recorder.recording = False
