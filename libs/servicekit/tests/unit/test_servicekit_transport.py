"""Kafka TLS/SASL and PostgreSQL TLS: the settings, what they build, and what production refuses.

A throwaway PKI (a CA, a rogue CA, server and client certificates) is made with ``cryptography`` in a tmp dir.
The contexts are not only inspected: small local TLS servers (one speaking PostgreSQL's ``SSLRequest`` opening, one
plain TLS as a Kafka broker does) show that the service's engine and its topic admin really handshake with them,
verify the server, present the client certificate, and fail against a certificate they must not trust. No real
PostgreSQL or Kafka with TLS runs here (the embedded ones of the test suite serve plaintext); the plaintext
development path is what every integration test uses.
"""

from __future__ import annotations

import ast
import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from bmw.contracts.pseudonyms import DEV_LOGIN_DIGEST_KEY
from bmw.servicekit.app import _log_transport
from bmw.servicekit.db import create_engine, engine_for
from bmw.servicekit.messaging import ensure_topics
from bmw.servicekit.settings import ServiceSettings
from bmw.servicekit.transport import (
    DatabaseSslMode,
    DatabaseTransport,
    KafkaSaslMechanism,
    KafkaSecurityProtocol,
    KafkaTransport,
    database_transport_for,
    database_via_unix_socket,
)

TCP_URL = "postgresql+asyncpg://bmw_intake_app:pw@db.internal:5432/bmw_intake"
SOCKET_URL = "postgresql+asyncpg://bmw_intake_app@/bmw_intake?host=/run/postgresql"
PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nnot checked here\n-----END PUBLIC KEY-----"
PASSWORD = "s3cr3t-sasl-password-do-not-log"


class IntakeLikeSettings(ServiceSettings):
    """A service's settings as the services declare them: with an env prefix."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore", populate_by_name=True)

    service_name: str = "intake"


# -- a throwaway PKI ----------------------------------------------------------------------------------------------


@dataclass
class Pki:
    ca: Path
    rogue_ca: Path
    server_cert: Path
    server_key: Path
    other_host_cert: Path
    other_host_key: Path
    client_cert: Path
    client_key: Path
    rogue_key: Path
    encrypted_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    hosts: tuple[str, ...] = (),
    client: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate | None = None, key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca_key, rogue_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = ("BMW test CA", ca_key)
    keys = {name: ec.generate_private_key(ec.SECP256R1()) for name in ("server", "other", "client")}
    encrypted = root / "encrypted.key"
    encrypted.write_bytes(
        keys["client"].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    return Pki(
        ca=_write(root / "ca.pem", _certificate("BMW test CA", ca_key, None)),
        rogue_ca=_write(root / "rogue-ca.pem", _certificate("Rogue CA", rogue_key, None)),
        server_cert=_write(
            root / "server.pem", _certificate("server", keys["server"], ca, hosts=("localhost", "127.0.0.1"))
        ),
        server_key=_write(root / "server.key", key=keys["server"]),
        other_host_cert=_write(
            root / "other.pem", _certificate("other", keys["other"], ca, hosts=("db.elsewhere.invalid",))
        ),
        other_host_key=_write(root / "other.key", key=keys["other"]),
        client_cert=_write(root / "client.pem", _certificate("bmw-intake", keys["client"], ca, client=True)),
        client_key=_write(root / "client.key", key=keys["client"]),
        rogue_key=_write(root / "rogue.key", key=rogue_key),
        encrypted_key=encrypted,
    )


def _serial(certificate: Path) -> int:
    """A certificate's serial number, to tell which CA an ``SSLContext`` trusts (``get_ca_certs``)."""
    return x509.load_pem_x509_certificate(certificate.read_bytes()).serial_number


def _server_context(pki: Pki, *, other_host: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if other_host:
        context.load_cert_chain(pki.other_host_cert, pki.other_host_key)
    else:
        context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(cafile=pki.ca)
    context.verify_mode = ssl.CERT_OPTIONAL  # records a client certificate when one is presented
    return context


# -- local servers that record what the client did --------------------------------------------------------------


@dataclass
class Seen:
    """What a test server saw of the one client that connected."""

    port: int = 0
    plaintext: bool = False
    handshakes: int = 0
    client_certificate: str | None = None
    errors: list[str] = field(default_factory=list)


SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def _client_subject(writer: asyncio.StreamWriter) -> str | None:
    ssl_object = writer.get_extra_info("ssl_object")
    peer = ssl_object.getpeercert() if ssl_object is not None else None
    if not peer:
        return None
    return str(dict(item for rdn in peer["subject"] for item in rdn).get("commonName"))


@pytest.fixture
async def postgres_like(pki: Pki) -> AsyncIterator[Callable[..., Awaitable[Seen]]]:
    """Starts a server that answers PostgreSQL's SSLRequest with 'S' and handshakes, then hangs up."""
    servers: list[asyncio.Server] = []

    async def start(*, other_host: bool = False) -> Seen:
        seen = Seen()
        context = _server_context(pki, other_host=other_host)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                opening = await reader.readexactly(8)
                if opening != SSL_REQUEST:
                    seen.plaintext = True
                    return
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(context)
                seen.handshakes += 1
                seen.client_certificate = _client_subject(writer)
            except (ssl.SSLError, OSError, asyncio.IncompleteReadError) as error:
                seen.errors.append(type(error).__name__)
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        seen.port = server.sockets[0].getsockname()[1]
        return seen

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def _connect(url: str, transport: DatabaseTransport) -> BaseException:
    """Connect through the service's own engine factory; the test server always hangs up, so this fails."""
    engine = create_engine(url, pool_size=1, transport=transport)
    try:
        async with asyncio.timeout(10), engine.connect():
            pass
    except BaseException as error:  # what failed is what the test looks at
        return error
    finally:
        await engine.dispose()
    raise AssertionError("the test server never lets a connection through")


def _url(port: int, host: str = "127.0.0.1") -> str:
    return f"postgresql+asyncpg://bmw_intake_app:pw@{host}:{port}/bmw_intake"


# -- Kafka: what the settings build -------------------------------------------------------------------------------


def test_default_is_plaintext_kafka_and_prefer_database() -> None:
    settings = ServiceSettings(database_url=TCP_URL)
    kafka, database = settings.kafka_transport(), settings.database_transport()
    assert kafka.faststream_security() is None
    assert kafka.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT", "ssl_context": None}
    assert database.ssl_mode is DatabaseSslMode.PREFER
    assert database.connect_args() == {"ssl": "prefer"}
    assert not database.encrypted


def test_ssl_verifies_the_broker_against_the_given_ca(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "ssl")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(pki.ca))
    transport = ServiceSettings(database_url=TCP_URL).kafka_transport()
    context = transport.ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert [int(str(ca["serialNumber"]), 16) for ca in context.get_ca_certs()] == [_serial(pki.ca)]
    security = transport.faststream_security()
    assert type(security) is BaseSecurity
    assert security.use_ssl and security.ssl_context is context
    assert transport.aiokafka_kwargs() == {"security_protocol": "SSL", "ssl_context": context}


@pytest.mark.parametrize(
    ("protocol", "mechanism", "kind"),
    [
        ("SASL_SSL", "PLAIN", SASLPlaintext),
        ("SASL_SSL", "SCRAM-SHA-256", SASLScram256),
        ("SASL_SSL", "scram-sha-512", SASLScram512),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512", SASLScram512),
    ],
)
def test_sasl_builds_the_faststream_security_and_the_same_aiokafka_options(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, protocol: str, mechanism: str, kind: type[BaseSecurity]
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", protocol)
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", mechanism)
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "bmw-intake")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)
    if protocol == "SASL_SSL":
        monkeypatch.setenv("KAFKA_SSL_CAFILE", str(pki.ca))
    transport = ServiceSettings(database_url=TCP_URL).kafka_transport()
    security = transport.faststream_security()
    assert type(security) is kind
    assert security.use_ssl is (protocol == "SASL_SSL")
    kwargs = transport.aiokafka_kwargs()
    assert kwargs == {
        "security_protocol": protocol,
        "ssl_context": transport.ssl_context(),
        "sasl_mechanism": mechanism.upper(),
        "sasl_plain_username": "bmw-intake",
        "sasl_plain_password": PASSWORD,
    }
    assert (kwargs["ssl_context"] is not None) is (protocol == "SASL_SSL")
    # The raw clients (topic admin, the gateway's feed) connect exactly as FastStream's producer and consumers do.
    assert parse_security(security) == kwargs


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_PASSWORD": PASSWORD},
            "KAFKA_SASL_USERNAME must be set with KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": PASSWORD},
            "KAFKA_SASL_MECHANISM must be set",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u"},
            "KAFKA_SASL_PASSWORD must be set",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": PASSWORD},
            "KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD set, but KAFKA_SECURITY_PROTOCOL=SSL does not log in with SASL",
        ),
        ({"KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_MECHANISM set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT"),
        ({"KAFKA_SSL_CAFILE": "{ca}"}, "KAFKA_SSL_CAFILE set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "{client_cert}"},
            "KAFKA_SSL_CERTFILE is set without KAFKA_SSL_KEYFILE",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEYFILE": "{client_key}"},
            "KAFKA_SSL_KEYFILE is set without KAFKA_SSL_CERTFILE",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"},
            "KAFKA_SSL_CAFILE: /nonexistent/ca.pem is not a readable file",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "{client_key}"}, "KAFKA_SSL_CAFILE: "),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "{client_cert}", "KAFKA_SSL_KEYFILE": "{rogue}"},
            "KAFKA_SSL_CERTFILE/KAFKA_SSL_KEYFILE",
        ),
        (
            {
                "KAFKA_SECURITY_PROTOCOL": "SSL",
                "KAFKA_SSL_CERTFILE": "{client_cert}",
                "KAFKA_SSL_KEYFILE": "{encrypted}",
            },
            "unencrypted private key",
        ),
    ],
)
def test_inconsistent_kafka_settings_are_refused_naming_the_setting(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    files = {
        "ca": pki.ca,
        "client_cert": pki.client_cert,
        "client_key": pki.client_key,
        "rogue": pki.rogue_key,
        "encrypted": pki.encrypted_key,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(**files))
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(database_url=TCP_URL)
    assert message in str(refused.value)
    assert PASSWORD not in str(refused.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INTAKE_DATABASE_SSL_MODE": "verify"}, "INTAKE_DATABASE_SSL_MODE='verify' is not one of disable, prefer"),
        (
            {"INTAKE_DATABASE_SSL_MODE": "verify-full", "INTAKE_DATABASE_SSL_CERT": "{client_cert}"},
            "INTAKE_DATABASE_SSL_CERT is set without INTAKE_DATABASE_SSL_KEY",
        ),
        (
            {"INTAKE_DATABASE_SSL_MODE": "verify-full", "INTAKE_DATABASE_SSL_KEY": "{client_key}"},
            "INTAKE_DATABASE_SSL_KEY is set without INTAKE_DATABASE_SSL_CERT",
        ),
        (
            {"INTAKE_DATABASE_SSL_MODE": "disable", "INTAKE_DATABASE_SSL_ROOT_CERT": "{ca}"},
            "INTAKE_DATABASE_SSL_ROOT_CERT set, but INTAKE_DATABASE_SSL_MODE=disable does not insist on TLS",
        ),
        (
            {"INTAKE_DATABASE_SSL_MODE": "verify-ca", "INTAKE_DATABASE_SSL_ROOT_CERT": "/nonexistent/root.crt"},
            "INTAKE_DATABASE_SSL_ROOT_CERT: /nonexistent/root.crt is not a readable file",
        ),
        (
            {
                "INTAKE_DATABASE_SSL_MODE": "verify-full",
                "INTAKE_DATABASE_SSL_CERT": "{client_cert}",
                "INTAKE_DATABASE_SSL_KEY": "{rogue}",
            },
            "INTAKE_DATABASE_SSL_CERT/INTAKE_DATABASE_SSL_KEY",
        ),
    ],
)
def test_inconsistent_database_settings_are_refused_naming_the_setting(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    files = {"ca": pki.ca, "client_cert": pki.client_cert, "client_key": pki.client_key, "rogue": pki.rogue_key}
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(**files))
    with pytest.raises(ValidationError) as refused:
        IntakeLikeSettings(database_url=TCP_URL)
    assert message in str(refused.value)


def test_no_secret_in_a_repr_a_log_line_or_an_error(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "bmw-intake",
        "KAFKA_SASL_PASSWORD": PASSWORD,
        "KAFKA_SSL_CAFILE": str(pki.ca),
    }.items():
        monkeypatch.setenv(name, value)
    settings = ServiceSettings(database_url=TCP_URL)
    transport = settings.kafka_transport()
    with caplog.at_level(logging.INFO, logger="bmw.servicekit.app"):
        _log_transport(settings)
    shown = [repr(settings), str(settings), repr(transport), transport.describe(), caplog.text]
    assert "SCRAM-SHA-512 as bmw-intake" in caplog.text  # the log does say how the process connects
    for text in shown:
        assert PASSWORD not in text
    # A setting refused next to the password does not quote it back (pydantic would show the input otherwise).
    monkeypatch.setenv("KAFKA_SSL_CERTFILE", str(pki.client_cert))
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(database_url=TCP_URL)
    assert "KAFKA_SSL_CERTFILE is set without KAFKA_SSL_KEYFILE" in str(refused.value)
    assert PASSWORD not in str(refused.value)


# -- production --------------------------------------------------------------------------------------------------


def _production(**values: Any) -> IntakeLikeSettings:
    values.setdefault("login_digest_key", "the-services-shared-secret")
    return IntakeLikeSettings(environment="production", jwt_public_key=PUBLIC_KEY, **values)


def test_production_refuses_the_development_login_digest_key(pki: Pki) -> None:
    safe = {
        "database_url": TCP_URL,
        "database_ssl_mode": "verify-full",
        "database_ssl_root_cert": str(pki.ca),
        "kafka_security_protocol": "SSL",
        "kafka_ssl_cafile": str(pki.ca),
    }
    for key in (DEV_LOGIN_DIGEST_KEY, ""):
        with pytest.raises(ValidationError, match="BMW_LOGIN_DIGEST_KEY must be set"):
            _production(login_digest_key=key, **safe)
    settings = _production(**safe)
    assert "the-services-shared-secret" not in repr(settings)


def test_production_refuses_plaintext_kafka_unless_allowed(pki: Pki) -> None:
    verified_db = {"database_url": TCP_URL, "database_ssl_mode": "verify-full", "database_ssl_root_cert": str(pki.ca)}
    for protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
        sasl = {"kafka_sasl_mechanism": "PLAIN", "kafka_sasl_username": "u", "kafka_sasl_password": PASSWORD}
        extra = sasl if protocol == "SASL_PLAINTEXT" else {}
        with pytest.raises(ValidationError, match=f"KAFKA_SECURITY_PROTOCOL={protocol} is plaintext"):
            _production(kafka_security_protocol=protocol, **extra, **verified_db)
        allowed = _production(kafka_security_protocol=protocol, kafka_allow_plaintext=True, **extra, **verified_db)
        assert not allowed.kafka_transport().encrypted
    encrypted = _production(kafka_security_protocol="SSL", kafka_ssl_cafile=str(pki.ca), **verified_db)
    assert encrypted.kafka_transport().encrypted
    # Development keeps the plaintext defaults the local stack and the tests use.
    assert not IntakeLikeSettings(database_url=TCP_URL).kafka_transport().encrypted


def test_production_refuses_a_database_connection_that_may_be_plaintext(pki: Pki) -> None:
    kafka = {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": str(pki.ca)}
    for mode in ("disable", "prefer"):
        with pytest.raises(ValidationError, match=f"INTAKE_DATABASE_SSL_MODE={mode} may send data in the clear"):
            _production(database_url=TCP_URL, database_ssl_mode=mode, **kafka)
        allowed = _production(database_url=TCP_URL, database_ssl_mode=mode, database_allow_plaintext=True, **kafka)
        assert not allowed.database_transport().encrypted
        # A unix socket never leaves the machine (and asyncpg never uses TLS on one).
        local = _production(database_url=SOCKET_URL, database_ssl_mode=mode, **kafka)
        assert local.database_transport().ssl_mode == mode
    for mode in ("require", "verify-ca", "verify-full"):
        assert _production(database_url=TCP_URL, database_ssl_mode=mode, **kafka).database_transport().encrypted


def test_production_warns_when_the_database_server_is_not_verified(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    kafka = {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": str(pki.ca)}
    with caplog.at_level(logging.WARNING, logger="bmw.servicekit.app"):
        _log_transport(_production(database_url=TCP_URL, database_ssl_mode="require", **kafka))
    assert "certificate is not verified" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bmw.servicekit.app"):
        _log_transport(
            _production(
                database_url=TCP_URL, database_ssl_mode="verify-full", database_ssl_root_cert=str(pki.ca), **kafka
            )
        )
    assert "not verified" not in caplog.text


def test_unix_socket_urls_are_recognised() -> None:
    assert database_via_unix_socket(SOCKET_URL)
    assert not database_via_unix_socket(TCP_URL)
    assert not database_via_unix_socket("postgresql+asyncpg://u@localhost/db?host=localhost")
    assert not database_via_unix_socket("not a url")


def test_migrate_takes_the_services_database_tls_from_the_environment(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_SSL_MODE", "verify-full")
    monkeypatch.setenv("INTAKE_DATABASE_SSL_ROOT_CERT", str(pki.ca))
    transport = database_transport_for("intake", TCP_URL)
    context = transport.ssl_context()
    assert context is not None and context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    monkeypatch.setenv("BMW_ENVIRONMENT", "production")
    monkeypatch.setenv("INTAKE_DATABASE_SSL_MODE", "prefer")
    monkeypatch.delenv("INTAKE_DATABASE_SSL_ROOT_CERT")
    with pytest.raises(ValidationError, match="INTAKE_DATABASE_SSL_MODE=prefer may send data in the clear"):
        database_transport_for("intake", TCP_URL)
    assert not database_transport_for("intake", SOCKET_URL).encrypted


# -- PostgreSQL: the contexts, and the engine against a TLS server -----------------------------------------------


@pytest.mark.parametrize(
    ("mode", "root", "verify_mode", "check_hostname"),
    [
        ("require", False, ssl.CERT_NONE, False),
        ("require", True, ssl.CERT_REQUIRED, False),  # libpq: a root certificate makes require verify the chain
        ("verify-ca", True, ssl.CERT_REQUIRED, False),
        ("verify-full", True, ssl.CERT_REQUIRED, True),
        ("verify-full", False, ssl.CERT_REQUIRED, True),  # the system's CAs
    ],
)
def test_database_modes_build_libpqs_contexts(
    pki: Pki, mode: str, root: bool, verify_mode: ssl.VerifyMode, check_hostname: bool
) -> None:
    transport = DatabaseTransport(ssl_mode=DatabaseSslMode(mode), ssl_root_cert=str(pki.ca) if root else "")
    context = transport.ssl_context()
    assert context is not None
    assert transport.connect_args() == {"ssl": context}
    assert context.verify_mode == verify_mode
    assert context.check_hostname is check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    if root:
        assert [int(str(c["serialNumber"]), 16) for c in context.get_ca_certs()] == [_serial(pki.ca)]
    assert DatabaseTransport(ssl_mode=DatabaseSslMode.DISABLE).connect_args() == {"ssl": False}


async def test_the_engine_verifies_the_database_server_and_presents_its_certificate(
    pki: Pki, postgres_like: Callable[..., Awaitable[Seen]]
) -> None:
    seen = await postgres_like()
    transport = DatabaseTransport(
        ssl_mode=DatabaseSslMode.VERIFY_FULL,
        ssl_root_cert=str(pki.ca),
        ssl_cert=str(pki.client_cert),
        ssl_key=str(pki.client_key),
    )
    await _connect(_url(seen.port), transport)
    assert seen.handshakes == 1 and not seen.plaintext
    assert seen.client_certificate == "bmw-intake"


async def test_the_engine_refuses_a_server_it_must_not_trust(
    pki: Pki, postgres_like: Callable[..., Awaitable[Seen]]
) -> None:
    seen = await postgres_like()
    rogue = DatabaseTransport(ssl_mode=DatabaseSslMode.VERIFY_CA, ssl_root_cert=str(pki.rogue_ca))
    error = await _connect(_url(seen.port), rogue)
    assert isinstance(error, ssl.SSLCertVerificationError), repr(error)
    assert seen.handshakes == 0 and not seen.plaintext


async def test_verify_full_checks_the_host_name_and_verify_ca_does_not(
    pki: Pki, postgres_like: Callable[..., Awaitable[Seen]]
) -> None:
    seen = await postgres_like(other_host=True)  # a certificate of our CA, for another host
    full = DatabaseTransport(ssl_mode=DatabaseSslMode.VERIFY_FULL, ssl_root_cert=str(pki.ca))
    error = await _connect(_url(seen.port), full)
    assert isinstance(error, ssl.SSLCertVerificationError) and "mismatch" in str(error), repr(error)
    assert seen.handshakes == 0
    await _connect(_url(seen.port), DatabaseTransport(ssl_mode=DatabaseSslMode.VERIFY_CA, ssl_root_cert=str(pki.ca)))
    assert seen.handshakes == 1


async def test_disable_connects_in_the_clear_and_ignores_pgsslmode(
    postgres_like: Callable[..., Awaitable[Seen]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSSLMODE", "require")  # the settings decide, not the environment behind their back
    seen = await postgres_like()
    await _connect(_url(seen.port), DatabaseTransport(ssl_mode=DatabaseSslMode.DISABLE))
    assert seen.plaintext and seen.handshakes == 0


async def test_engine_for_uses_the_services_settings(pki: Pki, postgres_like: Callable[..., Awaitable[Seen]]) -> None:
    seen = await postgres_like()
    settings = IntakeLikeSettings(
        database_url=_url(seen.port), database_ssl_mode="verify-full", database_ssl_root_cert=str(pki.ca)
    )
    engine = engine_for(settings)
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 - the server hangs up after the handshake
            async with asyncio.timeout(10), engine.connect():
                pass
    finally:
        await engine.dispose()
    assert seen.handshakes == 1


# -- Kafka: the topic admin against a TLS "broker" ---------------------------------------------------------------


@pytest.fixture
async def tls_broker(pki: Pki) -> AsyncIterator[Seen]:
    """A TLS listener standing in for a broker: records the handshake and the client certificate, then hangs up."""
    seen = Seen()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.handshakes += 1
        seen.client_certificate = _client_subject(writer)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=_server_context(pki))
    seen.port = server.sockets[0].getsockname()[1]
    try:
        yield seen
    finally:
        server.close()
        await server.wait_closed()


async def test_the_topic_admin_connects_with_tls_and_the_client_certificate(pki: Pki, tls_broker: Seen) -> None:
    transport = KafkaTransport(
        security_protocol=KafkaSecurityProtocol.SSL,
        ssl_cafile=str(pki.ca),
        ssl_certfile=str(pki.client_cert),
        ssl_keyfile=str(pki.client_key),
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - the stand-in speaks no Kafka after the handshake
        async with asyncio.timeout(20):
            await ensure_topics(f"127.0.0.1:{tls_broker.port}", ["t"], partitions=1, transport=transport)
    assert tls_broker.handshakes >= 1
    assert tls_broker.client_certificate == "bmw-intake"


async def test_the_topic_admin_refuses_a_broker_of_another_ca(pki: Pki, tls_broker: Seen) -> None:
    transport = KafkaTransport(security_protocol=KafkaSecurityProtocol.SSL, ssl_cafile=str(pki.rogue_ca))
    with pytest.raises(Exception):  # noqa: B017, PT011 - aiokafka reports the failed bootstrap its own way
        async with asyncio.timeout(20):
            await ensure_topics(f"127.0.0.1:{tls_broker.port}", ["t"], partitions=1, transport=transport)
    assert tls_broker.handshakes == 0


def test_kafka_transport_repr_hides_the_password() -> None:
    transport = KafkaTransport(
        security_protocol=KafkaSecurityProtocol.SASL_PLAINTEXT,
        sasl_mechanism=KafkaSaslMechanism.PLAIN,
        sasl_username="bmw-intake",
        sasl_password=SecretStr(PASSWORD),
    )
    assert PASSWORD not in repr(transport)
    assert transport.aiokafka_kwargs()["sasl_plain_password"] == PASSWORD  # but the client does get it


# -- every connection site takes the transport ------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[4]

#: Constructor -> the keyword through which the transport must reach it (``**`` for raw aiokafka clients).
CONNECTION_SITES = {
    "KafkaBroker": "security",
    "AIOKafkaConsumer": "**",
    "AIOKafkaProducer": "**",
    "AIOKafkaAdminClient": "**",
    "create_async_engine": "connect_args",
    "create_engine": "transport",  # bmw.servicekit.db's; engine_for(settings) passes it
}


def _sites_without_transport(source: str) -> list[str]:
    missing = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        needed = CONNECTION_SITES.get(name)
        if needed is None:
            continue
        given = {keyword.arg or "**" for keyword in node.keywords}
        if needed not in given:
            missing.append(f"{name}() at line {node.lineno}")
    return missing


def test_every_kafka_client_and_database_engine_takes_the_transport() -> None:
    """Production code (services, gateway, servicekit; not devstack, which runs the local plaintext stack) opens no
    connection that bypasses the TLS/SASL settings: each site passes the transport through its keyword."""
    roots = [*sorted((ROOT / "services").glob("*/src")), ROOT / "gateway" / "src", ROOT / "libs" / "servicekit" / "src"]
    assert len(roots) == 6
    missing = [
        f"{path.relative_to(ROOT)}: {site}"
        for root in roots
        for path in sorted(root.rglob("*.py"))
        for site in _sites_without_transport(path.read_text())
    ]
    assert not missing, f"connections that ignore the transport settings (use engine_for(settings) etc.): {missing}"
    # The scan itself sees a bare site.
    assert _sites_without_transport(
        "e = create_engine(url)\nb = KafkaBroker(s, security=x)\nc = AIOKafkaConsumer(t)"
    ) == [
        "create_engine() at line 1",
        "AIOKafkaConsumer() at line 3",
    ]
