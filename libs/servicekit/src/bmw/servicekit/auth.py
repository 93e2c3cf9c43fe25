"""JWT authentication and role/tenant authorisation (DESIGN §1).

Every identity arrives as a signed JWT: ``iss``, ``aud``, ``sub``, ``exp``, ``roles``, and
``tenant_id`` (tenant-bound roles), ``portfolio`` (account managers), ``serves`` (social workers: the client
organisations they serve), ``scopes`` (integrations). A social worker's token without ``serves`` reaches every
organisation, as an identity provider that does not know the links would have it; production refuses such a token
(``require_serves``), so there a social worker acts only for the organisations they serve.
Services verify tokens themselves: the gateway is not the only wall.

The verification key is either one PEM public key (development, tests) or the identity provider's JWKS
URL (production): its keys are cached for a while and fetched again when a token names a key id the
cache does not know, so that a rotated key is picked up without a restart; a flood of made-up key ids
costs at most one fetch per ``min_refresh_seconds``. A caller learns only that a token is not accepted;
the server log says which check failed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import jwt

from bmw.contracts.taxonomy import TENANT_BOUND_ROLES, Role
from bmw.servicekit.errors import Forbidden, Unauthorized

logger = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "ES256")


@dataclass(frozen=True)
class Principal:
    """The verified caller."""

    subject: str
    roles: frozenset[Role]
    tenant_id: uuid.UUID | None = None
    portfolio: frozenset[uuid.UUID] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    token: str = field(default="", repr=False, compare=False)
    #: The client organisations a social worker serves; None when the token does not say (every organisation).
    serves: frozenset[uuid.UUID] | None = None

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def may_act_for(self, tenant_id: uuid.UUID) -> bool:
        """Whether this caller may touch the given client organisation's data at all."""
        if Role.PROVIDER_ADMIN in self.roles:
            return True
        if Role.SOCIAL_WORKER in self.roles and (self.serves is None or tenant_id in self.serves):
            return True
        if Role.ACCOUNT_MANAGER in self.roles and tenant_id in self.portfolio:
            return True
        return self.tenant_id == tenant_id and bool(self.roles & TENANT_BOUND_ROLES)

    def require_tenant(self, tenant_id: uuid.UUID) -> None:
        """Refuse with 403 unless the caller may act for the tenant (never says whether it exists)."""
        if not self.may_act_for(tenant_id):
            raise Forbidden("not allowed for this client organisation")

    def require_role(self, *roles: Role) -> None:
        if not self.has_role(*roles):
            allowed = ", ".join(sorted(r.value for r in roles))
            raise Forbidden(f"this operation needs one of the roles: {allowed}")


class KeySource(Protocol):
    """Where the public key that checks a token's signature comes from."""

    def key_for(self, key_id: str | None, algorithm: str) -> Any:
        """The key for the token's ``kid`` and ``alg`` headers; raises ``jwt.PyJWTError`` when there is none."""
        ...


class StaticKey:
    """One PEM public key, whatever the token's key id."""

    def __init__(self, public_key: str) -> None:
        self._key = public_key

    def key_for(self, key_id: str | None, algorithm: str) -> Any:
        if not self._key:
            raise jwt.InvalidKeyError("no public key configured (BMW_JWT_PUBLIC_KEY or BMW_JWT_JWKS_URL)")
        return self._key


def fetch_jwks(url: str, timeout_seconds: float = 3.0) -> Mapping[str, Any]:
    """The JSON Web Key Set at ``url`` (https in production)."""
    response = httpx.get(url, timeout=timeout_seconds, follow_redirects=False)
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError("a JWKS document is a JSON object")
    return document


class JwksKeys:
    """The identity provider's signing keys from its JWKS URL, cached; refetched on an unknown key id.

    Only RSA and EC signature keys whose ``alg`` (when given) is one of ``ALGORITHMS`` are kept. A failed fetch
    keeps the keys known so far (and is logged); with none known, every token is refused. Thread-safe: services
    verify tokens in FastAPI's thread pool.
    """

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        #: Fetches made (or tried) so far: what the tests and the health view count.
        self.fetches = 0

    def key_for(self, key_id: str | None, algorithm: str) -> Any:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._cache_seconds
            unknown = self._find(key_id) is None
            may_refresh = self._fetched_at is None or now - self._fetched_at >= self._min_refresh_seconds
            if stale or (unknown and may_refresh):
                self._refresh(now)
            found = self._find(key_id)
        if found is None:
            raise jwt.InvalidKeyError(f"no key {key_id!r} in the JWKS at {self._url}")
        if found.algorithm_name and found.algorithm_name != algorithm:
            raise jwt.InvalidAlgorithmError(f"key {key_id!r} is for {found.algorithm_name}, not {algorithm}")
        return found.key

    def _find(self, key_id: str | None) -> jwt.PyJWK | None:
        if key_id is None:
            # A token without a kid is checked only against a set of exactly one key: never a guess among several.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(key_id)

    def _refresh(self, now: float) -> None:
        self.fetches += 1
        self._fetched_at = now
        try:
            document = self._fetch(self._url)
            keys: dict[str | None, jwt.PyJWK] = {}
            for entry in document.get("keys", []):
                if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                    continue
                if entry.get("kty") not in {"RSA", "EC"} or entry.get("alg", ALGORITHMS[0]) not in ALGORITHMS:
                    continue
                key = jwt.PyJWK(entry)
                keys[key.key_id] = key
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as error:
            logger.warning("JWKS fetch from %s failed (%s); keeping %d known key(s)", self._url, error, len(self._keys))
            return
        if not keys:
            logger.warning("JWKS at %s: no usable signing key; keeping %d known", self._url, len(self._keys))
            return
        self._keys = keys
        logger.info("JWKS from %s: key ids %s", self._url, sorted(str(k) for k in keys))


class TokenVerifier:
    """Verifies RS256/ES256 tokens with pinned algorithms and required claims, against one public key or the
    keys of a JWKS URL (``keys``)."""

    def __init__(
        self,
        public_key: str = "",
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = 30,
        keys: KeySource | None = None,
        require_serves: bool = False,
    ) -> None:
        self._keys: KeySource = keys or StaticKey(public_key)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        #: Refuse a social worker's token without a ``serves`` claim (production).
        self._require_serves = require_serves

    @classmethod
    def configured(
        cls,
        *,
        public_key: str,
        jwks_url: str,
        jwks_cache_seconds: float,
        issuer: str,
        audience: str,
        leeway_seconds: int,
        jwks_min_refresh_seconds: float = 30.0,
        require_serves: bool = False,
    ) -> TokenVerifier:
        """The verifier the settings describe: the JWKS URL when set, else the PEM key."""
        keys: KeySource = (
            JwksKeys(jwks_url, cache_seconds=jwks_cache_seconds, min_refresh_seconds=jwks_min_refresh_seconds)
            if jwks_url
            else StaticKey(public_key)
        )
        return cls(
            issuer=issuer, audience=audience, leeway_seconds=leeway_seconds, keys=keys, require_serves=require_serves
        )

    @property
    def fetches_keys(self) -> bool:
        """Whether a verification may fetch keys over the network (async callers then verify in a thread)."""
        return isinstance(self._keys, JwksKeys)

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm not in ALGORITHMS:
                raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not allowed")
            key_id = header.get("kid")
            key = self._keys.key_for(key_id if isinstance(key_id, str) else None, algorithm)
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            return principal_from_claims(claims, token, require_serves=self._require_serves)
        except (jwt.PyJWTError, ValueError) as error:
            # The caller learns only that the token is not accepted; the log says why.
            logger.info("token refused: %s", error)
            raise Unauthorized("invalid or expired token") from error


def principal_from_claims(claims: dict[str, Any], token: str = "", *, require_serves: bool = False) -> Principal:
    """The caller the claims describe; ``require_serves`` refuses a social worker's token that does not say which
    organisations they serve (production), unless it is also a provider admin's."""
    raw_roles = claims.get("roles") or []
    if not isinstance(raw_roles, list) or not raw_roles:
        raise ValueError("token has no roles")
    roles = frozenset(Role(r) for r in raw_roles)
    tenant = claims.get("tenant_id")
    tenant_id = uuid.UUID(str(tenant)) if tenant else None
    if roles & TENANT_BOUND_ROLES and tenant_id is None:
        raise ValueError("a tenant-bound role needs a tenant_id claim")
    serves = (
        frozenset(uuid.UUID(str(t)) for t in _as_list(claims["serves"])) if claims.get("serves") is not None else None
    )
    if require_serves and serves is None and Role.SOCIAL_WORKER in roles and Role.PROVIDER_ADMIN not in roles:
        raise ValueError("a social worker's token needs a serves claim")
    return Principal(
        subject=str(claims["sub"]),
        roles=roles,
        tenant_id=tenant_id,
        portfolio=frozenset(uuid.UUID(str(t)) for t in _as_list(claims.get("portfolio"))),
        scopes=frozenset(str(s) for s in _as_list(claims.get("scopes"))),
        token=token,
        serves=serves,
    )


def _as_list(value: object) -> Iterable[object]:
    if value is None:
        return ()
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return value
    raise ValueError("expected a list claim")


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    return token.strip()
