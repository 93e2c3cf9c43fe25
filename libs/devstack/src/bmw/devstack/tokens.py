"""Development identity tokens: a local RSA signing key and RS256 JWTs shaped like the production ones.

Production trusts an external identity provider; the local stack signs its own tokens with a dev key kept at
``.bmw/dev-signing-key.pem`` (DESIGN §1). Services get the matching public key as ``BMW_JWT_PUBLIC_KEY``.

Claims: ``iss``, ``aud``, ``sub``, ``iat``, ``exp``, ``roles`` (a one-element list) and, when given,
``tenant_id`` (required for the tenant-bound roles ``client_contact``, ``employee`` and ``integration``),
``portfolio`` (account managers) and ``scopes`` (integrations). The header carries ``kid``, the RFC 7638
thumbprint of the public key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bmw.contracts.taxonomy import TENANT_BOUND_ROLES, Role

#: ``iss`` of development tokens (``BMW_JWT_ISSUER``).
DEV_ISSUER: Final = "bmw-dev"
#: ``aud`` of development tokens (``BMW_JWT_AUDIENCE``).
DEV_AUDIENCE: Final = "bmw"
#: Default lifetime of a development token.
DEFAULT_TTL: Final = timedelta(hours=12)
#: File name of the dev signing key inside the data directory.
SIGNING_KEY_FILE: Final = "dev-signing-key.pem"

PemInput = bytes | str


class TokenError(ValueError):
    """A token cannot be minted as asked (unknown role, missing or malformed tenant, ...)."""


def generate_private_key_pem(key_size: int = 2048) -> bytes:
    """A fresh RSA private key as unencrypted PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def signing_key_path(data_dir: Path | str = ".bmw") -> Path:
    """Where the dev signing key lives: ``<data_dir>/dev-signing-key.pem``."""
    return Path(data_dir) / SIGNING_KEY_FILE


def load_or_create_signing_key(path: Path | str) -> bytes:
    """The PEM private key at ``path``; generated there (mode 0600) on first use.

    Creation is atomic: concurrent first uses end up with the same key.
    """
    path = Path(path)
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = generate_private_key_pem()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.chmod(tmp, 0o600)
        # os.link fails if another process created the key meanwhile: then theirs is used.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def _private_key(private_key_pem: PemInput) -> rsa.RSAPrivateKey:
    data = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TokenError("the dev signing key must be an RSA private key")
    return key


def public_key_pem(private_key_pem: PemInput) -> str:
    """The SubjectPublicKeyInfo PEM of the key pair (what ``BMW_JWT_PUBLIC_KEY`` holds)."""
    public = _private_key(private_key_pem).public_key()
    return public.public_bytes(
        encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(private_key_pem: PemInput) -> dict[str, str]:
    """The public key as a JWK (``kty``, ``n``, ``e``, ``kid``, ``alg``, ``use``), e.g. for a JWKS document."""
    numbers = _private_key(private_key_pem).public_key().public_numbers()
    jwk = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def parse_role(role: Role | str) -> Role:
    """``role`` as a :class:`Role`; :class:`TokenError` naming the valid roles otherwise."""
    try:
        return Role(role)
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise TokenError(f"unknown role {role!r}; valid roles: {valid}") from None


def _uuid_text(value: uuid.UUID | str, what: str) -> str:
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    except ValueError:
        raise TokenError(f"{what} must be a UUID (a client organisation id), got {value!r}") from None


def mint_token(
    private_key_pem: PemInput,
    *,
    role: Role | str,
    sub: str,
    tenant_id: uuid.UUID | str | None = None,
    portfolio: Iterable[uuid.UUID | str] | None = None,
    scopes: Iterable[str] | None = None,
    serves: Iterable[uuid.UUID | str] | None = None,
    ttl: timedelta = DEFAULT_TTL,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    now: datetime | None = None,
) -> str:
    """A signed RS256 JWT for one role.

    ``client_contact``, ``employee`` and ``integration`` act for one client organisation and need
    ``tenant_id``; without it this raises :class:`TokenError`. Tenant, portfolio and ``serves`` ids (the client
    organisations a social worker serves; without it they reach every organisation) must be UUIDs.
    ``now`` fixes the issue time (tests).
    """
    parsed = parse_role(role)
    if not sub:
        raise TokenError("a token needs a subject (sub)")
    if parsed in TENANT_BOUND_ROLES and tenant_id is None:
        raise TokenError(f"role {parsed.value} acts for one client organisation and needs its id as tenant_id")
    if ttl <= timedelta(0):
        raise TokenError("the token lifetime must be positive")
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "roles": [parsed.value],
    }
    if tenant_id is not None:
        claims["tenant_id"] = _uuid_text(tenant_id, "tenant_id")
    if portfolio is not None:
        claims["portfolio"] = [_uuid_text(t, "a portfolio entry") for t in portfolio]
    if scopes is not None:
        claims["scopes"] = [s for s in scopes if s]
    if serves is not None:
        claims["serves"] = [_uuid_text(t, "a served organisation") for t in serves]
    key = _private_key(private_key_pem)
    kid = public_jwk(private_key_pem)["kid"]
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
