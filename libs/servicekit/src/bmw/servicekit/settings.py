"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from bmw.contracts.pseudonyms import DEV_LOGIN_DIGEST_KEY
from bmw.servicekit.transport import DatabaseTransportSettings, KafkaTransportSettings


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class ServiceSettings(KafkaTransportSettings, DatabaseTransportSettings):
    """Infrastructure settings of one service. Service-specific fields come in subclasses.

    Shared variables (``KAFKA_BOOTSTRAP_SERVERS``, ``KAFKA_SECURITY_PROTOCOL`` ..., ``BMW_*``) have no prefix; the
    database URL and its TLS settings are per service (``INTAKE_DATABASE_URL``, ``INTAKE_DATABASE_SSL_MODE``), so each
    service can move to its own server. The transport settings and their production rules: ``bmw.servicekit.transport``.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = Field(default="service", description="Name used in logs, CloudEvents source, group ids.")
    environment: Environment = Field(default=Environment.DEVELOPMENT, validation_alias=_env("BMW_ENVIRONMENT"))
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL, e.g. postgresql+asyncpg://bmw_intake@/bmw_intake?host=/run/pg",
    )
    database_pool_size: int = Field(default=10, ge=1)
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"))
    topic_partitions: int = Field(default=12, ge=1, validation_alias=_env("BMW_KAFKA_TOPIC_PARTITIONS"))
    jwt_public_key: str = Field(default="", validation_alias=_env("BMW_JWT_PUBLIC_KEY"))
    jwt_jwks_url: str = Field(
        default="",
        validation_alias=_env("BMW_JWT_JWKS_URL"),
        description="The identity provider's JWKS URL; when set, its keys verify tokens instead of BMW_JWT_PUBLIC_KEY.",
    )
    jwt_jwks_cache_seconds: float = Field(
        default=300.0,
        gt=0,
        validation_alias=_env("BMW_JWT_JWKS_CACHE_SECONDS"),
        description="How long fetched JWKS keys are trusted before they are fetched again (a token with an unknown "
        "key id fetches them sooner, at most every 30 seconds).",
    )
    jwt_issuer: str = Field(default="bmw-dev", validation_alias=_env("BMW_JWT_ISSUER"))
    jwt_audience: str = Field(default="bmw", validation_alias=_env("BMW_JWT_AUDIENCE"))
    jwt_leeway_seconds: int = Field(default=30, ge=0, validation_alias=_env("BMW_JWT_LEEWAY_SECONDS"))
    outbox_batch_size: int = Field(default=200, ge=1, validation_alias=_env("BMW_OUTBOX_BATCH_SIZE"))
    outbox_poll_seconds: float = Field(default=0.5, gt=0, validation_alias=_env("BMW_OUTBOX_POLL_SECONDS"))
    consumer_max_attempts: int = Field(default=5, ge=1, validation_alias=_env("BMW_CONSUMER_MAX_ATTEMPTS"))
    consumer_backoff_seconds: float = Field(default=0.2, ge=0, validation_alias=_env("BMW_CONSUMER_BACKOFF_SECONDS"))
    consumer_backoff_max_seconds: float = Field(
        default=10.0, ge=0, validation_alias=_env("BMW_CONSUMER_BACKOFF_MAX_SECONDS")
    )
    consumer_batch_size: int = Field(
        default=100,
        ge=1,
        le=10_000,
        validation_alias=_env("BMW_CONSUMER_BATCH_SIZE"),
        description="Records a consumer group takes from the broker at once; their offsets are committed together "
        "once every one of them was applied.",
    )
    consumer_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        validation_alias=_env("BMW_CONSUMER_CONCURRENCY"),
        description="Partitions a consumer group applies side by side (each partition's events stay in order); keep "
        "it below the database pool size.",
    )
    outbox_keep_days: int = Field(
        default=14,
        ge=1,
        validation_alias=_env("BMW_OUTBOX_KEEP_DAYS"),
        description="Sent events stay in the outbox this many days: the period `replay` can publish again.",
    )
    inbox_keep_days: int = Field(
        default=45,
        ge=1,
        validation_alias=_env("BMW_INBOX_KEEP_DAYS"),
        description="A consumer group remembers the events it applied this many days. Longer than the outbox's keep "
        "and the topics' retention (30 days in docker-compose.yml): an older redelivery would be applied again.",
    )
    messaging_housekeeping_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias=_env("BMW_MESSAGING_HOUSEKEEPING_SECONDS"),
        description="How often sent outbox rows and remembered inbox rows past their keep are deleted.",
    )
    topic_check_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=_env("BMW_TOPIC_CHECK_SECONDS"),
        description="How often the service checks that its topics exist (and recreates them after a broker lost them).",
    )
    kafka_metadata_max_age_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=_env("BMW_KAFKA_METADATA_MAX_AGE_SECONDS"),
        description="How often the Kafka clients refresh the cluster's metadata, so that consumer groups notice a "
        "recreated topic or added partitions.",
    )
    small_cell_k: int = Field(default=5, ge=5, validation_alias=_env("BMW_SMALL_CELL_K"))
    login_digest_key: SecretStr = Field(
        default=SecretStr(DEV_LOGIN_DIGEST_KEY),
        validation_alias=_env("BMW_LOGIN_DIGEST_KEY"),
        description="The key of the login digests in events (bmw.contracts.pseudonyms); the same in every service.",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if not self.database_url:
            raise ValueError(f"{self.service_name.upper()}_DATABASE_URL is not set")
        if self.inbox_keep_days <= self.outbox_keep_days:
            raise ValueError(
                f"BMW_INBOX_KEEP_DAYS ({self.inbox_keep_days}) must be longer than BMW_OUTBOX_KEEP_DAYS "
                f"({self.outbox_keep_days}): a replayed event the inbox forgot would be applied twice"
            )
        if self.environment is Environment.PRODUCTION and not (self.jwt_public_key or self.jwt_jwks_url):
            raise ValueError("BMW_JWT_JWKS_URL (or BMW_JWT_PUBLIC_KEY) must be set in production")
        if self.environment is Environment.PRODUCTION and (
            self.login_digest_key.get_secret_value() in ("", DEV_LOGIN_DIGEST_KEY)
        ):
            raise ValueError("BMW_LOGIN_DIGEST_KEY must be set to the services' shared secret in production")
        return self

    @property
    def topic(self) -> str:
        """The topic this service produces to."""
        return f"bmw.{self.service_name}.events"
