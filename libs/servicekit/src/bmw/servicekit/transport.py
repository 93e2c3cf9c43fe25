"""Transport security of the two connections every process makes: Kafka (TLS, SASL) and PostgreSQL (TLS).

Every place that opens a connection takes its options from one object built here: the service's FastStream
broker (:meth:`KafkaTransport.faststream_security`), its topic admin and the gateway's event feed (raw aiokafka
clients, :meth:`KafkaTransport.aiokafka_kwargs`), the service's engine, its CLI jobs and its migrations
(:meth:`DatabaseTransport.connect_args`). One object, so that production cannot end up with one encrypted client
and one forgotten plaintext one.

What production accepts (``BMW_ENVIRONMENT=production``), and why:

- Kafka must be ``SSL`` or ``SASL_SSL``. ``PLAINTEXT`` puts every event (pseudonyms, tenants, signals) on the
  wire in the clear, and ``SASL_PLAINTEXT`` adds the broker password to it. A service refuses to start with either
  unless ``KAFKA_ALLOW_PLAINTEXT=true`` says that someone decided so (a broker on a private link, a service mesh
  that encrypts). TLS always verifies the broker's certificate and host name, against ``KAFKA_SSL_CAFILE`` or the
  system's CAs: an unverified TLS connection is no defence against the attacker it exists for.
- PostgreSQL must be reached with TLS (``<SERVICE>_DATABASE_SSL_MODE`` ``require``, ``verify-ca`` or ``verify-full``)
  unless it is a unix socket (the connection never leaves the machine) or ``<SERVICE>_DATABASE_ALLOW_PLAINTEXT=true``.
  ``prefer`` (asyncpg's and libpq's default) counts as plaintext: it falls back silently, and anyone on the path can
  make it. ``verify-full`` is what we recommend; ``require`` (encrypted, server not verified, libpq's meaning) is
  accepted for platforms whose database certificate cannot be verified, and said so in the log at start.

Inconsistent settings (SASL without a user, a client certificate without its key, a CA file for a plaintext
connection, an unreadable file) are refused at start with the setting named: a half-configured transport that
quietly connects in the clear, or never, is worse than one that does not start. Passwords are ``SecretStr``: never
in a ``repr``, a log line or an error message.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class KafkaSecurityProtocol(StrEnum):
    """Kafka's ``security.protocol``: whether the connection is encrypted (``SSL``) and authenticated (``SASL``)."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class KafkaSaslMechanism(StrEnum):
    """The SASL mechanisms a username and password can log in with."""

    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class DatabaseSslMode(StrEnum):
    """libpq's ``sslmode`` values, with libpq's meaning (``allow`` left out: it is ``prefer`` but worse)."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class TransportSettingsError(ValueError):
    """A transport setting is inconsistent or unusable; the message names the setting.

    A ``ValueError``, so that inside a settings validator pydantic reports it like any other bad setting.
    """


def _given(settings: Mapping[str, object]) -> list[str]:
    return [name for name, value in settings.items() if value]


def _unset(settings: Mapping[str, object]) -> list[str]:
    return [name for name, value in settings.items() if not value]


def _readable(setting: str, value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise TransportSettingsError(f"{setting}: {value} is not a readable file")
    return path


def _load_verify(context: ssl.SSLContext, setting: str, cafile: Path) -> None:
    try:
        context.load_verify_locations(cafile=str(cafile))
    except (ssl.SSLError, OSError, ValueError) as error:
        raise TransportSettingsError(f"{setting}: {cafile} holds no usable CA certificate ({error})") from None


def _load_chain(context: ssl.SSLContext, settings: tuple[str, str], certfile: Path, keyfile: Path) -> None:
    try:
        # A password callback that answers nothing: an encrypted key fails here instead of prompting on a TTY.
        context.load_cert_chain(str(certfile), str(keyfile), password=lambda: b"")
    except (ssl.SSLError, OSError, ValueError) as error:
        raise TransportSettingsError(
            f"{settings[0]}/{settings[1]}: {certfile} and {keyfile} are not a certificate with its unencrypted "
            f"private key ({error})"
        ) from None


def _tls_client_context(*, verify: bool, check_hostname: bool) -> ssl.SSLContext:
    """A client context: TLS 1.2 at least; verifying against the system's CAs until a CA file is loaded."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    return context


@dataclass(frozen=True)
class KafkaTransport:
    """How every Kafka client of a process connects. Validated (files read) when built."""

    security_protocol: KafkaSecurityProtocol = KafkaSecurityProtocol.PLAINTEXT
    sasl_mechanism: KafkaSaslMechanism | None = None
    sasl_username: str = ""
    sasl_password: SecretStr = field(default=SecretStr(""), repr=False)
    ssl_cafile: str = ""
    ssl_certfile: str = ""
    ssl_keyfile: str = ""
    _context: ssl.SSLContext | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        protocol = f"KAFKA_SECURITY_PROTOCOL={self.security_protocol}"
        sasl_settings = {
            "KAFKA_SASL_MECHANISM": self.sasl_mechanism,
            "KAFKA_SASL_USERNAME": self.sasl_username,
            "KAFKA_SASL_PASSWORD": self.sasl_password.get_secret_value(),
        }
        if self.uses_sasl:
            if missing := _unset(sasl_settings):
                raise TransportSettingsError(
                    f"{', '.join(missing)} must be set with {protocol} (mechanisms: {', '.join(KafkaSaslMechanism)})"
                )
        elif given := _given(sasl_settings):
            raise TransportSettingsError(
                f"{', '.join(given)} set, but {protocol} does not log in with SASL (use SASL_SSL)"
            )
        client = {"KAFKA_SSL_CERTFILE": self.ssl_certfile, "KAFKA_SSL_KEYFILE": self.ssl_keyfile}
        if len(_given(client)) == 1:
            (missing_file,) = _unset(client)
            raise TransportSettingsError(
                f"{_given(client)[0]} is set without {missing_file}: a client certificate needs its key"
            )
        if not self.encrypted:
            if given := _given({"KAFKA_SSL_CAFILE": self.ssl_cafile, **client}):
                raise TransportSettingsError(
                    f"{', '.join(given)} set, but {protocol} does not use TLS (use SSL or SASL_SSL)"
                )
            return
        # The broker's certificate and host name are always verified: TLS without it stops no one on the path.
        context = _tls_client_context(verify=True, check_hostname=True)
        if self.ssl_cafile:
            _load_verify(context, "KAFKA_SSL_CAFILE", _readable("KAFKA_SSL_CAFILE", self.ssl_cafile))
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if self.ssl_certfile:
            _load_chain(
                context,
                ("KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE"),
                _readable("KAFKA_SSL_CERTFILE", self.ssl_certfile),
                _readable("KAFKA_SSL_KEYFILE", self.ssl_keyfile),
            )
        object.__setattr__(self, "_context", context)

    @property
    def encrypted(self) -> bool:
        """Whether the connection is TLS."""
        return self.security_protocol in (KafkaSecurityProtocol.SSL, KafkaSecurityProtocol.SASL_SSL)

    @property
    def uses_sasl(self) -> bool:
        """Whether the client logs in with SASL."""
        return self.security_protocol in (KafkaSecurityProtocol.SASL_PLAINTEXT, KafkaSecurityProtocol.SASL_SSL)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context (shared by every client of the process), or ``None`` for a plaintext protocol."""
        return self._context

    def faststream_security(self) -> BaseSecurity | None:
        """The ``security=`` of a FastStream ``KafkaBroker``: its producer and every subscriber use it."""
        context = self._context
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context) if context is not None else None
        password = self.sasl_password.get_secret_value()
        kinds: dict[KafkaSaslMechanism | None, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            KafkaSaslMechanism.PLAIN: SASLPlaintext,
            KafkaSaslMechanism.SCRAM_SHA_256: SASLScram256,
            KafkaSaslMechanism.SCRAM_SHA_512: SASLScram512,
        }
        return kinds[self.sasl_mechanism](self.sasl_username, password, ssl_context=context, use_ssl=self.encrypted)

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a raw aiokafka client (``AIOKafkaConsumer``, ``AIOKafkaAdminClient``): the same
        options FastStream derives from :meth:`faststream_security`."""
        kwargs: dict[str, Any] = {"security_protocol": str(self.security_protocol), "ssl_context": self._context}
        if self.uses_sasl:
            kwargs |= {
                "sasl_mechanism": str(self.sasl_mechanism),
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        return kwargs

    def describe(self) -> str:
        """One line for the start-up log: protocol, mechanism, user and files; never the password."""
        parts = [str(self.security_protocol)]
        if self.uses_sasl:
            parts.append(f"{self.sasl_mechanism} as {self.sasl_username}")
        if self.encrypted:
            parts.append(f"CA {self.ssl_cafile or 'system'}")
            if self.ssl_certfile:
                parts.append(f"client certificate {self.ssl_certfile}")
        return ", ".join(parts)


def database_via_unix_socket(database_url: str) -> bool:
    """Whether a SQLAlchemy URL reaches PostgreSQL over a unix socket (``?host=/run/...``): TLS never applies there,
    and the connection never leaves the machine."""
    try:
        host = make_url(database_url).query.get("host")
    except ArgumentError:  # an unparsable URL is reported by the engine, with its own message
        return False
    hosts = host if isinstance(host, tuple) else (host,)
    return bool(hosts) and all(isinstance(h, str) and h.startswith("/") for h in hosts)


@dataclass(frozen=True)
class DatabaseTransport:
    """How a service's engines (server, CLI jobs, migrations) connect to its PostgreSQL.

    ``prefix`` is the service's settings prefix (``INTAKE_``), so that errors name the variable to fix.
    """

    ssl_mode: DatabaseSslMode = DatabaseSslMode.PREFER
    ssl_root_cert: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    prefix: str = ""
    _context: ssl.SSLContext | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        p = self.prefix
        client = {f"{p}DATABASE_SSL_CERT": self.ssl_cert, f"{p}DATABASE_SSL_KEY": self.ssl_key}
        if len(_given(client)) == 1:
            raise TransportSettingsError(
                f"{_given(client)[0]} is set without {_unset(client)[0]}: a client certificate needs its key"
            )
        if not self.encrypted:
            if given := _given({f"{p}DATABASE_SSL_ROOT_CERT": self.ssl_root_cert, **client}):
                raise TransportSettingsError(
                    f"{', '.join(given)} set, but {p}DATABASE_SSL_MODE={self.ssl_mode} does not insist on TLS "
                    "(use require, verify-ca or verify-full)"
                )
            return
        root = _readable(f"{p}DATABASE_SSL_ROOT_CERT", self.ssl_root_cert) if self.ssl_root_cert else None
        full = self.ssl_mode is DatabaseSslMode.VERIFY_FULL
        # libpq's meaning: ``require`` verifies the chain only when a root certificate is given.
        verify = self.ssl_mode is not DatabaseSslMode.REQUIRE or root is not None
        context = _tls_client_context(verify=verify, check_hostname=full)
        if root is not None:
            _load_verify(context, f"{p}DATABASE_SSL_ROOT_CERT", root)
        elif verify:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if self.ssl_cert:
            _load_chain(
                context,
                (f"{p}DATABASE_SSL_CERT", f"{p}DATABASE_SSL_KEY"),
                _readable(f"{p}DATABASE_SSL_CERT", self.ssl_cert),
                _readable(f"{p}DATABASE_SSL_KEY", self.ssl_key),
            )
        object.__setattr__(self, "_context", context)

    @property
    def encrypted(self) -> bool:
        """Whether every connection is TLS (``prefer`` is not: it falls back to plaintext without a word)."""
        return self.ssl_mode in (DatabaseSslMode.REQUIRE, DatabaseSslMode.VERIFY_CA, DatabaseSslMode.VERIFY_FULL)

    @property
    def verifies_server(self) -> bool:
        """Whether the server's certificate is checked against a CA (all but ``require`` without a root cert)."""
        return self._context is not None and self._context.verify_mode == ssl.CERT_REQUIRED

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of ``require``/``verify-ca``/``verify-full``, else ``None``."""
        return self._context

    def connect_args(self) -> dict[str, Any]:
        """asyncpg's ``ssl`` argument, for ``create_async_engine(connect_args=...)``.

        Always explicit, so that neither ``PGSSLMODE`` nor ``~/.postgresql`` decide behind the settings' back:
        ``False`` for ``disable``, asyncpg's own ``"prefer"``, otherwise our context (asyncpg then insists on TLS).
        """
        if self._context is not None:
            return {"ssl": self._context}
        return {"ssl": False if self.ssl_mode is DatabaseSslMode.DISABLE else "prefer"}

    def describe(self) -> str:
        """One line for the start-up log."""
        parts = [f"sslmode {self.ssl_mode}"]
        if self.ssl_root_cert:
            parts.append(f"root certificate {self.ssl_root_cert}")
        if self.ssl_cert:
            parts.append(f"client certificate {self.ssl_cert}")
        return ", ".join(parts)


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


def _in_production(settings: object) -> bool:
    # ``environment`` (BMW_ENVIRONMENT) is declared by the settings class that mixes these in (ServiceSettings,
    # GatewaySettings): this module cannot import their ``Environment`` without an import cycle; it is a StrEnum.
    return str(getattr(settings, "environment", "")) == "production"


class KafkaTransportSettings(BaseSettings):
    """The ``KAFKA_*`` transport settings, shared by the services and the gateway (no per-service prefix: the
    processes of one deployment talk to one cluster; each may still get its own SASL user through its own
    environment)."""

    #: A refused setting's error must not quote the input: it holds the SASL password (inherited by subclasses).
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default=KafkaSecurityProtocol.PLAINTEXT,
        validation_alias=_env("KAFKA_SECURITY_PROTOCOL"),
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; production refuses the plaintext ones.",
    )
    kafka_sasl_mechanism: KafkaSaslMechanism | None = Field(
        default=None,
        validation_alias=_env("KAFKA_SASL_MECHANISM"),
        description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; required with a SASL protocol.",
    )
    kafka_sasl_username: str = Field(default="", validation_alias=_env("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: SecretStr = Field(default=SecretStr(""), validation_alias=_env("KAFKA_SASL_PASSWORD"))
    kafka_ssl_cafile: str = Field(
        default="",
        validation_alias=_env("KAFKA_SSL_CAFILE"),
        description="PEM file of the CA(s) that signed the brokers' certificates; empty: the system's CAs.",
    )
    kafka_ssl_certfile: str = Field(
        default="", validation_alias=_env("KAFKA_SSL_CERTFILE"), description="Client certificate (mutual TLS), PEM."
    )
    kafka_ssl_keyfile: str = Field(
        default="", validation_alias=_env("KAFKA_SSL_KEYFILE"), description="The client certificate's key, PEM."
    )
    kafka_allow_plaintext: bool = Field(
        default=False,
        validation_alias=_env("KAFKA_ALLOW_PLAINTEXT"),
        description="Let production run PLAINTEXT or SASL_PLAINTEXT (e.g. a broker on an encrypted private link).",
    )

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_kafka_transport(self) -> Self:
        transport = self.kafka_transport()
        uses_kafka = bool(getattr(self, "kafka_bootstrap_servers", True))
        if _in_production(self) and uses_kafka and not transport.encrypted and not self.kafka_allow_plaintext:
            raise TransportSettingsError(
                f"KAFKA_SECURITY_PROTOCOL={transport.security_protocol} is plaintext: production needs SSL or "
                "SASL_SSL (or KAFKA_ALLOW_PLAINTEXT=true when the link is encrypted by other means)"
            )
        return self

    def kafka_transport(self) -> KafkaTransport:
        """The Kafka transport these settings describe (validated; files read)."""
        return KafkaTransport(
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
        )


class DatabaseTransportSettings(BaseSettings):
    """The PostgreSQL transport settings, per service like its URL: ``<SERVICE>_DATABASE_SSL_MODE`` and so on (the
    prefix is the subclass's ``env_prefix``), so that each service's database can live on its own server."""

    #: As for Kafka: an error never quotes the input (the database URL may hold a password).
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    database_ssl_mode: DatabaseSslMode = Field(
        default=DatabaseSslMode.PREFER,
        description="disable, prefer, require, verify-ca or verify-full (libpq's meaning); production needs one "
        "of the last three unless the database is reached over a unix socket.",
    )
    database_ssl_root_cert: str = Field(
        default="", description="PEM file of the CA that signed the server's certificate; empty: the system's CAs."
    )
    database_ssl_cert: str = Field(default="", description="Client certificate (PEM), for certificate login.")
    database_ssl_key: str = Field(default="", description="The client certificate's unencrypted key (PEM).")
    database_allow_plaintext: bool = Field(
        default=False, description="Let production connect without TLS (disable or prefer) over TCP."
    )

    @field_validator("database_ssl_mode", mode="before")
    @classmethod
    def _known_mode(cls, value: object) -> object:
        # Checked here to name the variable (``INTAKE_DATABASE_SSL_MODE``), which pydantic's error would not.
        if not isinstance(value, str):
            return value
        mode = value.strip().lower()
        if mode not in set(DatabaseSslMode):
            prefix = str(cls.model_config.get("env_prefix") or "")
            raise TransportSettingsError(
                f"{prefix}DATABASE_SSL_MODE={value!r} is not one of {', '.join(DatabaseSslMode)}"
            )
        return mode

    @model_validator(mode="after")
    def _check_database_transport(self) -> Self:
        transport = self.database_transport()
        url = str(getattr(self, "database_url", ""))
        if (
            _in_production(self)
            and not transport.encrypted
            and not self.database_allow_plaintext
            and not database_via_unix_socket(url)
        ):
            p = transport.prefix
            raise TransportSettingsError(
                f"{p}DATABASE_SSL_MODE={transport.ssl_mode} may send data in the clear: production needs require, "
                f"verify-ca or verify-full (or {p}DATABASE_ALLOW_PLAINTEXT=true when the link is encrypted by other "
                "means)"
            )
        return self

    def database_transport(self) -> DatabaseTransport:
        """The PostgreSQL transport these settings describe (validated; files read)."""
        return DatabaseTransport(
            ssl_mode=self.database_ssl_mode,
            ssl_root_cert=self.database_ssl_root_cert,
            ssl_cert=self.database_ssl_cert,
            ssl_key=self.database_ssl_key,
            prefix=str(self.model_config.get("env_prefix") or ""),
        )


def database_transport_for(service: str, database_url: str) -> DatabaseTransport:
    """The database transport of ``service`` from the environment (``<SERVICE>_DATABASE_SSL_*``), checked against
    ``database_url`` and ``BMW_ENVIRONMENT`` like the service's own settings: for the command line's ``migrate``,
    which connects with ``<SERVICE>_MIGRATION_DATABASE_URL`` and must not need the service's other settings."""

    class _MigrationTransport(DatabaseTransportSettings):
        model_config = SettingsConfigDict(env_prefix=f"{service.upper()}_", extra="ignore", populate_by_name=True)

        environment: str = Field(default="development", validation_alias=_env("BMW_ENVIRONMENT"))
        database_url: str = ""

    return _MigrationTransport(database_url=database_url).database_transport()
