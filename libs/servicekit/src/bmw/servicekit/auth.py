"""JWT authentication and role/tenant authorisation (DESIGN §1).

Every identity arrives as a signed JWT: ``iss``, ``aud``, ``sub``, ``exp``, ``roles``, and
``tenant_id`` (tenant-bound roles), ``portfolio`` (account managers), ``scopes`` (integrations).
Services verify tokens themselves: the gateway is not the only wall.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def may_act_for(self, tenant_id: uuid.UUID) -> bool:
        """Whether this caller may touch the given client organisation's data at all."""
        if Role.PROVIDER_ADMIN in self.roles or Role.SOCIAL_WORKER in self.roles:
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


class TokenVerifier:
    """Verifies RS256/ES256 tokens against a public key with pinned algorithms and required claims."""

    def __init__(self, public_key: str, *, issuer: str, audience: str, leeway_seconds: int = 30) -> None:
        self._key = public_key
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    def verify(self, token: str) -> Principal:
        if not self._key:
            logger.warning("token refused: no public key configured (BMW_JWT_PUBLIC_KEY)")
            raise Unauthorized("invalid or expired token")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=list(ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
            return principal_from_claims(claims, token)
        except (jwt.PyJWTError, ValueError) as error:
            # The caller learns only that the token is not accepted; the log says why.
            logger.info("token refused: %s", error)
            raise Unauthorized("invalid or expired token") from error


def principal_from_claims(claims: dict[str, Any], token: str = "") -> Principal:
    raw_roles = claims.get("roles") or []
    if not isinstance(raw_roles, list) or not raw_roles:
        raise ValueError("token has no roles")
    roles = frozenset(Role(r) for r in raw_roles)
    tenant = claims.get("tenant_id")
    tenant_id = uuid.UUID(str(tenant)) if tenant else None
    if roles & TENANT_BOUND_ROLES and tenant_id is None:
        raise ValueError("a tenant-bound role needs a tenant_id claim")
    return Principal(
        subject=str(claims["sub"]),
        roles=roles,
        tenant_id=tenant_id,
        portfolio=frozenset(uuid.UUID(str(t)) for t in _as_list(claims.get("portfolio"))),
        scopes=frozenset(str(s) for s in _as_list(claims.get("scopes"))),
        token=token,
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
