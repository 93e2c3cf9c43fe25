"""Stack orchestration with stand-in service processes (the real services are tested elsewhere)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import jwt
import psycopg
import pytest

from bmw.devstack.infra import libpq_url
from bmw.devstack.processes import ProcessFailed
from bmw.devstack.pytest_plugin import TestInfra
from bmw.devstack.stack import Stack, StackError
from bmw.devstack.topology import SERVICES

STUB = Path(__file__).with_name("stub_component.py")
pytestmark = pytest.mark.integration

OVERRIDES = ("BMW_DATABASE_ADMIN_URL", "KAFKA_BOOTSTRAP_SERVERS", *(f"{s.upper()}_DATABASE_URL" for s in SERVICES))


def stub_launcher(component: str, args: Sequence[str]) -> list[str]:
    return [sys.executable, str(STUB), component, *args]


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Outside /tmp/pytest-of-root: as root, embedded PostgreSQL makes every parent directory world-traversable.
    path = Path(tempfile.mkdtemp(prefix="bmw-stack-test-"))
    (path / "records").mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def base_environ(records: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    env["STUB_RECORD_DIR"] = str(records)
    env.update(extra)
    return env


def record(records: Path, name: str) -> dict[str, str]:
    env: dict[str, str] = json.loads((records / f"{name}.json").read_text())["env"]
    return env


def pids(stack: Stack) -> list[int]:
    return [p.pid for p in stack.supervisor.processes]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_stack_with_embedded_infrastructure(workdir: Path) -> None:
    records = workdir / "records"
    stack = Stack(workdir / ".bmw", base_port=0, demo=False, environ=base_environ(records), launcher=stub_launcher)
    with stack:
        assert stack.postgres is not None and stack.broker is not None
        state = json.loads(stack.stack_file.read_text())
        assert state == stack.as_json()
        assert set(state) == {"gateway_url", "kafka_bootstrap_servers", "services", "tenants"}
        assert list(state["services"]) == list(SERVICES)
        assert state["tenants"] == []
        assert state["kafka_bootstrap_servers"] == stack.broker.bootstrap_servers
        for name in SERVICES:
            service = state["services"][name]
            # the service runs as a role that owns nothing; its migrations run as the database's owner
            assert (
                service["database_url"]
                == f"postgresql+asyncpg://bmw_{name}_app@/bmw_{name}?host={stack.postgres.socket_dir}"
            )
            owner_url = f"postgresql+asyncpg://bmw_{name}@/bmw_{name}?host={stack.postgres.socket_dir}"
            assert httpx.get(f"{service['url']}/readyz").status_code == 200
            env = record(records, f"{name}-serve")
            assert env["BMW_ENVIRONMENT"] == "development"
            assert env["KAFKA_BOOTSTRAP_SERVERS"] == stack.kafka_bootstrap_servers
            assert env[f"{name.upper()}_DATABASE_URL"] == service["database_url"]
            assert env["BMW_JWT_ISSUER"] == "bmw-dev" and env["BMW_JWT_AUDIENCE"] == "bmw"
            assert env["BMW_JWT_PUBLIC_KEY"].startswith("-----BEGIN PUBLIC KEY-----")
            assert record(records, f"{name}-migrate")[f"{name.upper()}_MIGRATION_DATABASE_URL"] == owner_url
            # the stand-in migration really ran against the service's own database, as its owner; the service's
            # role may use the table but not change it
            with psycopg.connect(libpq_url(service["database_url"])) as conn:
                assert conn.execute("SELECT to_regclass('stub_migrated')").fetchone() == ("stub_migrated",)
                assert conn.execute("SELECT count(*) FROM stub_migrated").fetchone() == (0,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute("DROP TABLE stub_migrated")
        gateway = record(records, "gateway-serve")
        for name in SERVICES:
            assert gateway[f"GATEWAY_{name.upper()}_URL"] == state["services"][name]["url"]
        assert "GATEWAY_DATABASE_URL" not in gateway
        assert httpx.get(f"{stack.gateway_url}/readyz").status_code == 200
        assert stack.graphql_url == f"{state['gateway_url']}/graphql"

        tokens = stack.dev_tokens()
        assert set(tokens) == {"provider_admin", "account_manager", "social_worker"}  # no demo tenants
        public = record(records, "gateway-serve")["BMW_JWT_PUBLIC_KEY"]
        claims = jwt.decode(tokens["provider_admin"], public, algorithms=["RS256"], audience="bmw")
        assert claims["roles"] == ["provider_admin"]

        with pytest.raises(StackError, match="already running"):
            Stack(workdir / ".bmw", base_port=0, demo=False, launcher=stub_launcher).start()
        children = pids(stack)
        broker_pid = stack.broker.pid
    assert not stack.stack_file.exists()
    assert broker_pid is not None
    assert not any(running(pid) for pid in [*children, broker_pid])


def test_a_failing_service_stops_everything_and_reports_its_log(workdir: Path, infra: TestInfra) -> None:
    records = workdir / "records"
    environ = base_environ(
        records,
        STUB_FAIL="billing-serve",
        BMW_DATABASE_ADMIN_URL=infra.postgres_admin_url,
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
    )
    stack = Stack(workdir / ".bmw", base_port=0, demo=False, environ=environ, launcher=stub_launcher)
    started: list[int] = []
    original = stack.supervisor.start

    def spy(*args: object, **kwargs: object) -> object:
        process = original(*args, **kwargs)  # type: ignore[arg-type]
        started.append(process.pid)
        return process

    stack.supervisor.start = spy  # type: ignore[method-assign]
    with pytest.raises(ProcessFailed, match=r"billing: exited with code 3(.|\n)*simulated failure"):
        stack.start()
    assert stack.postgres is None and stack.broker is None  # the session's infrastructure was used
    assert not stack.stack_file.exists()
    assert len(started) >= 8  # four migrations, then the services
    assert not any(running(pid) for pid in started)
    # provisioned through the admin URL: roles with passwords, since such a server is usually reached over TCP
    migrate = record(records, "intake-migrate")
    assert migrate["INTAKE_MIGRATION_DATABASE_URL"].startswith("postgresql+asyncpg://bmw_intake:")
    assert migrate["INTAKE_DATABASE_URL"].startswith("postgresql+asyncpg://bmw_intake_app:")


def test_busy_base_port_is_refused(workdir: Path, infra: TestInfra) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        environ = base_environ(
            workdir / "records",
            BMW_DATABASE_ADMIN_URL=infra.postgres_admin_url,
            KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers,
        )
        stack = Stack(workdir / ".bmw", base_port=port, demo=False, environ=environ, launcher=stub_launcher)
        with pytest.raises(StackError, match=f"ports already in use on 127.0.0.1: gateway {port}"):
            stack.start()
