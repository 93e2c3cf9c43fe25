"""Token verification and role/tenant authorisation (DESIGN §1, §2 rule 3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bmw.contracts.taxonomy import Role
from bmw.servicekit.auth import Principal, TokenVerifier, bearer_token
from bmw.servicekit.errors import Forbidden, Unauthorized
from bmw.servicekit.walls import TenantScope

ISSUER = "https://idp.test"
AUDIENCE = "bmw"
LEEWAY = 30
TENANT = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER_TENANT = uuid.UUID("22222222-2222-4222-8222-222222222222")
PORTFOLIO_TENANT = uuid.UUID("33333333-3333-4333-8333-333333333333")
REFUSAL = "invalid or expired token"


def _pem_private(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_public(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def public_pem(signing_key: rsa.RSAPrivateKey) -> str:
    return _pem_public(signing_key)


@pytest.fixture(scope="module")
def verifier(public_pem: str) -> TokenVerifier:
    return TokenVerifier(public_pem, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=LEEWAY)


def claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid client-contact token; ``None`` removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "iat": now,
        "exp": now + 600,
        "roles": ["client_contact"],
        "tenant_id": str(TENANT),
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())


@pytest.fixture(scope="module")
def mint(signing_key: rsa.RSAPrivateKey) -> Callable[..., str]:
    private_pem = _pem_private(signing_key)

    def mint_token(**overrides: Any) -> str:
        return jwt.encode(claims(**overrides), private_pem, algorithm="RS256")

    return mint_token


# -- accepted tokens ------------------------------------------------------------------------------


def test_a_valid_client_contact_token_becomes_a_principal_of_that_tenant(
    verifier: TokenVerifier, mint: Callable[..., str]
) -> None:
    token = mint()

    principal = verifier.verify(token)

    assert principal.subject == "user-42"
    assert principal.roles == frozenset({Role.CLIENT_CONTACT})
    assert principal.tenant_id == TENANT
    assert principal.portfolio == frozenset()
    assert principal.token == token


def test_an_account_manager_token_carries_the_portfolio(verifier: TokenVerifier, mint: Callable[..., str]) -> None:
    token = mint(roles=["account_manager"], tenant_id=None, portfolio=[str(PORTFOLIO_TENANT), str(OTHER_TENANT)])

    principal = verifier.verify(token)

    assert principal.roles == frozenset({Role.ACCOUNT_MANAGER})
    assert principal.tenant_id is None
    assert principal.portfolio == frozenset({PORTFOLIO_TENANT, OTHER_TENANT})


@pytest.mark.parametrize("scopes", [["referrals:write", "invoices:read"], "referrals:write invoices:read"])
def test_an_integration_token_carries_its_scopes_as_list_or_space_separated(
    verifier: TokenVerifier, mint: Callable[..., str], scopes: object
) -> None:
    principal = verifier.verify(mint(roles=["integration"], scopes=scopes))

    assert principal.roles == frozenset({Role.INTEGRATION})
    assert principal.tenant_id == TENANT
    assert principal.scopes == frozenset({"referrals:write", "invoices:read"})


def test_a_token_expired_within_the_leeway_is_still_accepted(verifier: TokenVerifier, mint: Callable[..., str]) -> None:
    principal = verifier.verify(mint(exp=int(time.time()) - LEEWAY // 2))

    assert principal.subject == "user-42"


# -- refused tokens: all with the same answer --------------------------------------------------


def _refused_tokens(signing_key: rsa.RSAPrivateKey, public_pem: str) -> dict[str, str]:
    private_pem = _pem_private(signing_key)
    other_rsa = _pem_private(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    other_ec = _pem_private(ec.generate_private_key(ec.SECP256R1()))

    def rs256(**overrides: Any) -> str:
        return jwt.encode(claims(**overrides), private_pem, algorithm="RS256")

    signing_input = _unsigned({"alg": "HS256", "typ": "JWT"}, claims())
    confused_signature = hmac.new(public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()

    return {
        "expired beyond the leeway": rs256(exp=int(time.time()) - LEEWAY - 60),
        "wrong issuer": rs256(iss="https://evil.test"),
        "wrong audience": rs256(aud="someone-else"),
        "missing exp": rs256(exp=None),
        "missing sub": rs256(sub=None),
        "alg none": _unsigned({"alg": "none", "typ": "JWT"}, claims()) + ".",
        "HS256 signed with the public key text": signing_input + "." + _b64(confused_signature),
        "unknown role": rs256(roles=["superuser"]),
        "no roles": rs256(roles=[]),
        "roles not a list": rs256(roles="provider_admin"),
        "tenant-bound role without tenant_id": rs256(roles=["employee"], tenant_id=None),
        "tenant_id not a uuid": rs256(tenant_id="acme"),
        "portfolio entry not a uuid": rs256(roles=["account_manager"], tenant_id=None, portfolio=["acme"]),
        "signed by another RSA key": jwt.encode(claims(), other_rsa, algorithm="RS256"),
        "ES256 signed by some EC key": jwt.encode(claims(), other_ec, algorithm="ES256"),
        "tampered payload": rs256().split(".")[0]
        + "."
        + _b64(json.dumps(claims(roles=["provider_admin"], tenant_id=None)).encode())
        + "."
        + rs256().split(".")[2],
        "not a jwt at all": "not-a-token",
    }


REFUSED_CASES = [
    "expired beyond the leeway",
    "wrong issuer",
    "wrong audience",
    "missing exp",
    "missing sub",
    "alg none",
    "HS256 signed with the public key text",
    "unknown role",
    "no roles",
    "roles not a list",
    "tenant-bound role without tenant_id",
    "tenant_id not a uuid",
    "portfolio entry not a uuid",
    "signed by another RSA key",
    "ES256 signed by some EC key",
    "tampered payload",
    "not a jwt at all",
]


@pytest.fixture(scope="module")
def refused_tokens(signing_key: rsa.RSAPrivateKey, public_pem: str) -> dict[str, str]:
    return _refused_tokens(signing_key, public_pem)


@pytest.mark.parametrize("case", REFUSED_CASES)
def test_a_bad_token_is_refused_without_saying_which_check_failed(
    verifier: TokenVerifier, refused_tokens: dict[str, str], case: str
) -> None:
    with pytest.raises(Unauthorized) as refused:
        verifier.verify(refused_tokens[case])

    assert refused.value.message == REFUSAL
    assert str(refused.value) == REFUSAL
    assert refused.value.details == {}
    assert refused.value.fields == []
    assert refused.value.status_code == 401


def test_every_refusal_case_is_covered(refused_tokens: dict[str, str]) -> None:
    assert sorted(refused_tokens) == sorted(REFUSED_CASES)


def test_a_verifier_without_a_public_key_refuses_even_a_well_signed_token(mint: Callable[..., str]) -> None:
    unconfigured = TokenVerifier("", issuer=ISSUER, audience=AUDIENCE)

    with pytest.raises(Unauthorized) as refused:
        unconfigured.verify(mint())

    assert refused.value.message == REFUSAL


# -- tenant and role checks ----------------------------------------------------------------------


def principal(
    *roles: Role, tenant_id: uuid.UUID | None = None, portfolio: frozenset[uuid.UUID] = frozenset()
) -> Principal:
    return Principal(subject="someone", roles=frozenset(roles), tenant_id=tenant_id, portfolio=portfolio)


CALLERS: dict[str, Principal] = {
    "provider_admin": principal(Role.PROVIDER_ADMIN),
    "social_worker": principal(Role.SOCIAL_WORKER),
    "account_manager": principal(Role.ACCOUNT_MANAGER, portfolio=frozenset({PORTFOLIO_TENANT})),
    "client_contact": principal(Role.CLIENT_CONTACT, tenant_id=TENANT),
    "employee": principal(Role.EMPLOYEE, tenant_id=TENANT),
    "integration": principal(Role.INTEGRATION, tenant_id=TENANT),
    "no role at all, but a tenant": principal(tenant_id=TENANT),
    "account manager whose token names a tenant outside the portfolio": principal(
        Role.ACCOUNT_MANAGER, tenant_id=TENANT, portfolio=frozenset({PORTFOLIO_TENANT})
    ),
}

#: Which of (own tenant, portfolio tenant, other tenant) each caller may act for.
EXPECTED_ACCESS: dict[str, tuple[bool, bool, bool]] = {
    "provider_admin": (True, True, True),
    "social_worker": (True, True, True),
    "account_manager": (False, True, False),
    "client_contact": (True, False, False),
    "employee": (True, False, False),
    "integration": (True, False, False),
    "no role at all, but a tenant": (False, False, False),
    "account manager whose token names a tenant outside the portfolio": (False, True, False),
}


@pytest.mark.parametrize("caller", list(EXPECTED_ACCESS))
@pytest.mark.parametrize(
    ("tenant", "column"), [(TENANT, 0), (PORTFOLIO_TENANT, 1), (OTHER_TENANT, 2)], ids=["own", "portfolio", "other"]
)
def test_who_may_act_for_which_tenant(caller: str, tenant: uuid.UUID, column: int) -> None:
    allowed = EXPECTED_ACCESS[caller][column]

    assert CALLERS[caller].may_act_for(tenant) is allowed
    if allowed:
        CALLERS[caller].require_tenant(tenant)
    else:
        with pytest.raises(Forbidden) as refused:
            CALLERS[caller].require_tenant(tenant)
        assert str(tenant) not in refused.value.message
        assert refused.value.status_code == 403


def test_require_role_accepts_any_one_of_the_roles() -> None:
    caller = principal(Role.SOCIAL_WORKER)

    caller.require_role(Role.PROVIDER_ADMIN, Role.SOCIAL_WORKER)


def test_require_role_refuses_and_names_the_roles_needed() -> None:
    caller = principal(Role.CLIENT_CONTACT, tenant_id=TENANT)

    with pytest.raises(Forbidden) as refused:
        caller.require_role(Role.PROVIDER_ADMIN, Role.ACCOUNT_MANAGER)

    assert "account_manager, provider_admin" in refused.value.message


# -- the Authorization header ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer abc.def.ghi", "abc.def.ghi"), ("BEARER  abc ", "abc")],
)
def test_bearer_token_takes_the_token_after_the_scheme(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwdw==", "abc.def.ghi"])
def test_bearer_token_refuses_a_missing_or_other_scheme(header: str | None) -> None:
    with pytest.raises(Unauthorized) as refused:
        bearer_token(header)

    assert refused.value.message == "missing bearer token"


# -- the organisations a social worker serves ----------------------------------------------------------------------


def test_a_social_worker_acts_only_for_the_organisations_their_token_says_they_serve(
    verifier: TokenVerifier, mint: Callable[..., str]
) -> None:
    principal = verifier.verify(mint(roles=["social_worker"], tenant_id=None, serves=[str(TENANT)]))

    assert principal.serves == frozenset({TENANT})
    assert principal.may_act_for(TENANT)
    assert not principal.may_act_for(OTHER_TENANT)
    with pytest.raises(Forbidden):
        principal.require_tenant(OTHER_TENANT)
    scope = TenantScope.of(principal)
    assert (scope.all_tenants, scope.tenant_ids, scope.caller) == (False, frozenset({TENANT}), principal.subject)
    assert scope.narrowed_to(OTHER_TENANT).tenant_ids == frozenset(), "a unit of work for another reaches nothing"


def test_a_social_worker_token_without_serves_reaches_every_organisation_outside_production(
    verifier: TokenVerifier, mint: Callable[..., str]
) -> None:
    principal = verifier.verify(mint(roles=["social_worker"], tenant_id=None))

    assert principal.serves is None
    assert principal.may_act_for(TENANT) and principal.may_act_for(OTHER_TENANT)
    assert TenantScope.of(principal).all_tenants


def test_production_refuses_a_social_worker_token_that_does_not_say_whom_they_serve(
    public_pem: str, mint: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    strict = TokenVerifier(public_pem, issuer=ISSUER, audience=AUDIENCE, require_serves=True)

    with caplog.at_level("INFO"), pytest.raises(Unauthorized, match=REFUSAL):
        strict.verify(mint(roles=["social_worker"], tenant_id=None))
    assert "serves claim" in caplog.text, "the log says which check failed"
    assert strict.verify(mint(roles=["social_worker"], tenant_id=None, serves=[])).serves == frozenset()
    assert strict.verify(mint(roles=["provider_admin"], tenant_id=None)).may_act_for(OTHER_TENANT)
    nobody = strict.verify(mint(roles=["social_worker"], tenant_id=None, serves=[]))
    assert not nobody.may_act_for(TENANT), "serving nobody, a social worker acts for nobody"
