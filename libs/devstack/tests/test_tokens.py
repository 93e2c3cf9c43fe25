"""Dev signing key and token minting."""

from __future__ import annotations

import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from bmw.contracts.taxonomy import Role
from bmw.devstack.pytest_plugin import DevKeys
from bmw.devstack.tokens import (
    TokenError,
    load_or_create_signing_key,
    mint_token,
    public_jwk,
    public_key_pem,
    signing_key_path,
)

TENANT = uuid.UUID("0b9a7c55-3f3e-4d55-9d0c-1c2a4f0e8b11")


def decode(token: str, dev_keys: DevKeys) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token, dev_keys.public_pem, algorithms=["RS256"], audience="bmw", issuer="bmw-dev"
    )
    return claims


def test_signing_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = signing_key_path(tmp_path / ".bmw")
    first = load_or_create_signing_key(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert load_or_create_signing_key(path) == first
    assert public_key_pem(first).startswith("-----BEGIN PUBLIC KEY-----")


def test_token_carries_the_claims_and_verifies_with_the_public_key(dev_keys: DevKeys) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    token = mint_token(
        dev_keys.private_pem,
        role=Role.INTEGRATION,
        sub="afas-koppeling",
        tenant_id=TENANT,
        scopes=["invoices:read", "referrals:write"],
        ttl=timedelta(hours=2),
        now=now,
    )
    claims = decode(token, dev_keys)
    assert claims == {
        "iss": "bmw-dev",
        "aud": "bmw",
        "sub": "afas-koppeling",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=2)).timestamp()),
        "roles": ["integration"],
        "tenant_id": str(TENANT),
        "scopes": ["invoices:read", "referrals:write"],
    }
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == public_jwk(dev_keys.private_pem)["kid"]


def test_account_manager_token_has_portfolio_and_no_tenant(dev_keys: DevKeys) -> None:
    other = uuid.uuid4()
    claims = decode(dev_keys.mint("account_manager", portfolio=[TENANT, str(other)]), dev_keys)
    assert claims["roles"] == ["account_manager"]
    assert claims["portfolio"] == [str(TENANT), str(other)]
    assert "tenant_id" not in claims
    assert "scopes" not in claims


def test_default_lifetime_is_twelve_hours(dev_keys: DevKeys) -> None:
    claims = decode(dev_keys.mint(Role.PROVIDER_ADMIN, sub="admin"), dev_keys)
    assert claims["exp"] == claims["iat"] + 12 * 3600  # type: ignore[operator]


@pytest.mark.parametrize("role", ["client_contact", "employee", "integration"])
def test_tenant_bound_roles_need_a_tenant(dev_keys: DevKeys, role: str) -> None:
    with pytest.raises(TokenError, match="tenant_id"):
        mint_token(dev_keys.private_pem, role=role, sub="someone")


def test_refuses_unknown_role_and_malformed_tenant(dev_keys: DevKeys) -> None:
    with pytest.raises(TokenError, match="unknown role 'hr_officer'; valid roles: client_contact"):
        mint_token(dev_keys.private_pem, role="hr_officer", sub="x")
    with pytest.raises(TokenError, match="must be a UUID"):
        mint_token(dev_keys.private_pem, role="employee", sub="x", tenant_id="acme")


def test_expired_token_is_refused_by_the_verifier(dev_keys: DevKeys) -> None:
    token = mint_token(dev_keys.private_pem, role="social_worker", sub="w", now=datetime.now(UTC) - timedelta(hours=13))
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(token, dev_keys)


def test_servicekit_accepts_the_dev_tokens(dev_keys: DevKeys) -> None:
    auth = pytest.importorskip("bmw.servicekit.auth")
    verifier = auth.TokenVerifier(dev_keys.public_pem, issuer="bmw-dev", audience="bmw")
    principal = verifier.verify(dev_keys.mint("client_contact", sub="hr-officer", tenant_id=TENANT))
    assert principal.tenant_id == TENANT
    assert principal.roles == frozenset({Role.CLIENT_CONTACT})
