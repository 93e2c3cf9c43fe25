"""The gateway's event feed connects to Kafka with the services' TLS/SASL settings, under the same production rules.

The settings themselves (what each combination builds, what is refused) are tested with the services' in
``libs/servicekit/tests/unit/test_servicekit_transport.py``; here: the gateway's own refusal, the lifespan handing
the settings' transport to the feed, and the feed's consumer really handshaking with a TLS listener (a stand-in for
a broker: it hangs up after the handshake) that presents a certificate of a throwaway CA.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from bmw.gateway import app as gateway_app
from bmw.gateway.subscriptions.feed import EventFeed
from bmw.gateway.subscriptions.kafka import KafkaEventSource
from bmw.gateway.testing import FakeServices, SigningKey, make_settings, serve
from bmw.servicekit.transport import KafkaSecurityProtocol, KafkaTransport

PASSWORD = "gateway-sasl-password-not-for-logs"


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path


def _sign(subject: str, key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey, *, ca: bool) -> bytes:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gateway test CA")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    else:
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
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("gateway-pki")
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    (root / "ca.pem").write_bytes(_sign("Gateway test CA", ca_key, ca_key, ca=True))
    (root / "server.pem").write_bytes(_sign("broker", server_key, ca_key, ca=False))
    (root / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return Pki(root / "ca.pem", root / "server.pem", root / "server.key")


@pytest.fixture
async def tls_listener(pki: Pki) -> AsyncIterator[tuple[int, list[str]]]:
    """A TLS listener on a free port; each completed handshake appends to the list, then it hangs up."""
    handshakes: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshakes.append(str(writer.get_extra_info("ssl_object").version()))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1], handshakes
    finally:
        server.close()
        await server.wait_closed()


def test_production_refuses_a_plaintext_event_feed(signing_key: SigningKey, pki: Pki) -> None:
    with pytest.raises(ValidationError, match="KAFKA_SECURITY_PROTOCOL=PLAINTEXT is plaintext"):
        make_settings(signing_key, environment="production", kafka_bootstrap_servers="kafka:9093")
    sasl = {"kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_sasl_username": "gw", "kafka_sasl_password": PASSWORD}
    with pytest.raises(ValidationError, match="KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT is plaintext") as refused:
        make_settings(
            signing_key,
            environment="production",
            kafka_bootstrap_servers="kafka:9093",
            kafka_security_protocol="SASL_PLAINTEXT",
            **sasl,
        )
    assert PASSWORD not in str(refused.value)
    # Without a broker there is no feed to protect; an explicit decision lets plaintext through.
    assert make_settings(signing_key, environment="production", kafka_bootstrap_servers="").production
    allowed = make_settings(
        signing_key, environment="production", kafka_bootstrap_servers="kafka:9093", kafka_allow_plaintext=True
    )
    assert not allowed.kafka_transport().encrypted
    encrypted = make_settings(
        signing_key,
        environment="production",
        kafka_bootstrap_servers="kafka:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=str(pki.ca),
        **sasl,
    )
    assert encrypted.kafka_transport().aiokafka_kwargs()["security_protocol"] == "SASL_SSL"
    assert PASSWORD not in repr(encrypted)


async def test_the_lifespan_hands_the_settings_transport_to_the_feed(
    signing_key: SigningKey, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    given: dict[str, Any] = {}

    @asynccontextmanager
    async def recording_feed(**kwargs: Any) -> AsyncIterator[EventFeed]:
        given.update(kwargs)
        yield EventFeed()

    monkeypatch.setattr(gateway_app, "running_feed", recording_feed)
    settings = make_settings(
        signing_key, kafka_bootstrap_servers="kafka:9093", kafka_security_protocol="SSL", kafka_ssl_cafile=str(pki.ca)
    )
    async with serve(settings, FakeServices()):
        pass
    assert given["bootstrap_servers"] == "kafka:9093"
    transport = given["transport"]
    assert isinstance(transport, KafkaTransport)
    assert transport.security_protocol is KafkaSecurityProtocol.SSL
    assert transport.ssl_cafile == str(pki.ca)


async def test_the_feed_consumer_handshakes_tls_with_the_broker(pki: Pki, tls_listener: tuple[int, list[str]]) -> None:
    port, handshakes = tls_listener
    transport = KafkaTransport(security_protocol=KafkaSecurityProtocol.SSL, ssl_cafile=str(pki.ca))
    source = KafkaEventSource(
        EventFeed(), bootstrap_servers=f"127.0.0.1:{port}", retry_seconds=0.05, transport=transport
    )
    try:
        # The stand-in speaks no Kafka after the handshake, so the feed never reports itself connected.
        assert await source.start(wait_seconds=1.0) is False
    finally:
        await source.stop()
    assert handshakes, "the feed's consumer never completed a TLS handshake"
    assert all(version in ("TLSv1.2", "TLSv1.3") for version in handshakes)


async def test_a_plaintext_feed_sends_no_tls_to_a_tls_broker(pki: Pki, tls_listener: tuple[int, list[str]]) -> None:
    port, handshakes = tls_listener
    source = KafkaEventSource(EventFeed(), bootstrap_servers=f"127.0.0.1:{port}", retry_seconds=0.05)
    try:
        assert await source.start(wait_seconds=0.5) is False
    finally:
        await source.stop()
    assert handshakes == []
