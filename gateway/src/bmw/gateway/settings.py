"""Gateway settings: the services it calls, the token it trusts, the limits it enforces."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from bmw.servicekit.settings import Environment
from bmw.servicekit.transport import KafkaTransportSettings

#: The service URL settings, by service name; each must be set explicitly in production.
SERVICE_URL_FIELDS = {
    "intake": "intake_url",
    "scheduling": "scheduling_url",
    "billing": "billing_url",
    "signals": "signals_url",
}


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class GatewaySettings(KafkaTransportSettings):
    """Everything the gateway reads from its environment.

    The service URLs default to the ports ``bmw dev up`` uses (gateway on 8100, the services
    on the next four), so a bare ``python -m bmw.gateway serve`` works against a local stack;
    production refuses those defaults. The event feed's Kafka TLS/SASL settings (``KAFKA_SECURITY_PROTOCOL`` ...)
    are the services' own, with the same production rules (``bmw.servicekit.transport``).
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Environment = Field(default=Environment.DEVELOPMENT, validation_alias=_env("BMW_ENVIRONMENT"))
    intake_url: str = Field(
        default="http://127.0.0.1:8101",
        validation_alias=_env("GATEWAY_INTAKE_URL"),
        description="Base URL of the intake service's HTTP API.",
    )
    scheduling_url: str = Field(
        default="http://127.0.0.1:8102",
        validation_alias=_env("GATEWAY_SCHEDULING_URL"),
        description="Base URL of the scheduling service's HTTP API.",
    )
    billing_url: str = Field(
        default="http://127.0.0.1:8103",
        validation_alias=_env("GATEWAY_BILLING_URL"),
        description="Base URL of the billing service's HTTP API.",
    )
    signals_url: str = Field(
        default="http://127.0.0.1:8104",
        validation_alias=_env("GATEWAY_SIGNALS_URL"),
        description="Base URL of the signals service's HTTP API.",
    )
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
    max_depth: int = Field(
        default=10,
        ge=1,
        validation_alias=_env("GATEWAY_MAX_DEPTH"),
        description="Deepest selection nesting a document may have.",
    )
    max_aliases: int = Field(
        default=15,
        ge=0,
        validation_alias=_env("GATEWAY_MAX_ALIASES"),
        description="Most field aliases a document may use.",
    )
    max_tokens: int = Field(
        default=2000,
        ge=1,
        validation_alias=_env("GATEWAY_MAX_TOKENS"),
        description="Most lexical tokens a document may have; parsing stops beyond.",
    )
    introspection: bool | None = Field(
        default=None,
        validation_alias=_env("GATEWAY_INTROSPECTION"),
        description="Allow introspection; unset means on everywhere except production.",
    )
    request_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias=_env("GATEWAY_REQUEST_TIMEOUT_SECONDS"),
        description="Longest wait for a service's answer.",
    )
    connect_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        validation_alias=_env("GATEWAY_CONNECT_TIMEOUT_SECONDS"),
        description="Longest wait for a connection to a service.",
    )
    read_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        validation_alias=_env("GATEWAY_READ_RETRIES"),
        description="Further attempts of a read (GET) that could not connect or met 502/503/504; never of a "
        "command, and never after a read timed out (that would only multiply the wait).",
    )
    read_retry_backoff_seconds: float = Field(
        default=0.05,
        ge=0,
        le=5,
        validation_alias=_env("GATEWAY_READ_RETRY_BACKOFF_SECONDS"),
        description="Pause before the first retry of a read; it doubles for each further one.",
    )
    max_connections: int = Field(
        default=100,
        ge=1,
        validation_alias=_env("GATEWAY_MAX_CONNECTIONS"),
        description="Size of the connection pool shared by all service calls.",
    )
    kafka_bootstrap_servers: str = Field(
        default="",
        validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS"),
        description="Kafka brokers (host:port, comma-separated) the subscriptions' event feed reads from; "
        "empty: no feed, and subscriptions are refused as unavailable.",
    )
    subscription_queue_size: int = Field(
        default=100,
        ge=1,
        validation_alias=_env("GATEWAY_SUBSCRIPTION_QUEUE_SIZE"),
        description="Events a subscriber may fall behind by; beyond that its oldest undelivered events are dropped.",
    )
    max_cost: int = Field(
        default=5000,
        ge=1,
        validation_alias=_env("GATEWAY_MAX_COST"),
        description="Highest estimated cost of an operation: each field 1, a connection's selection times its `first`.",
    )
    max_request_bytes: int = Field(
        default=100_000,
        ge=1024,
        validation_alias=_env("GATEWAY_MAX_REQUEST_BYTES"),
        description="Largest request (body plus query string) accepted; larger ones get 413 before parsing.",
    )
    rate_limit_per_minute: int = Field(
        default=600,
        ge=1,
        validation_alias=_env("GATEWAY_RATE_LIMIT_PER_MINUTE"),
        description="Sustained requests a minute per caller (token subject, else client address), per process.",
    )
    rate_limit_burst: int = Field(
        default=100,
        ge=1,
        validation_alias=_env("GATEWAY_RATE_LIMIT_BURST"),
        description="Requests a caller may make at once before the per-minute rate applies.",
    )
    trusted_documents_path: Path | None = Field(
        default=None,
        validation_alias=_env("GATEWAY_TRUSTED_DOCUMENTS_PATH"),
        description="Registry of trusted documents (sha256 → text); unset means gateway/trusted_documents.json.",
    )
    integrations_trusted_documents_only: bool | None = Field(
        default=None,
        validation_alias=_env("GATEWAY_INTEGRATIONS_TRUSTED_DOCUMENTS_ONLY"),
        description="Restrict the integration role to trusted documents; unset means only in production.",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            if not (self.jwt_public_key or self.jwt_jwks_url):
                raise ValueError("BMW_JWT_JWKS_URL (or BMW_JWT_PUBLIC_KEY) must be set in production")
            unset = [
                f"GATEWAY_{service.upper()}_URL"
                for service, field in SERVICE_URL_FIELDS.items()
                if field not in self.model_fields_set
            ]
            if unset:
                raise ValueError(f"{', '.join(unset)} must be set in production")
        return self

    @property
    def production(self) -> bool:
        """Whether this is the production environment."""
        return self.environment is Environment.PRODUCTION

    @property
    def introspection_enabled(self) -> bool:
        """Introspection as configured, by default on everywhere except production."""
        if self.introspection is None:
            return not self.production
        return self.introspection

    @property
    def integrations_restricted_to_trusted_documents(self) -> bool:
        """Whether integrations may only run trusted documents; by default only in production."""
        if self.integrations_trusted_documents_only is None:
            return self.production
        return self.integrations_trusted_documents_only

    def service_urls(self) -> dict[str, str]:
        """Base URL of each service, without a trailing slash."""
        return {service: str(getattr(self, field)).rstrip("/") for service, field in SERVICE_URL_FIELDS.items()}


@cache
def get_settings() -> GatewaySettings:
    """The settings from the environment, read once."""
    return GatewaySettings()
