"""Keys from the identity provider's JWKS URL: cached, rotated without a restart, never fetched in a flood."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from bmw.servicekit.auth import JwksKeys, TokenVerifier
from bmw.servicekit.errors import Unauthorized

ISSUER = "https://idp.test"
AUDIENCE = "bmw"
TENANT = uuid.UUID("11111111-1111-4111-8111-111111111111")


class Keypair:
    """A signing key of the identity provider with its key id."""

    def __init__(self, kid: str, *, curve: bool = False) -> None:
        self.kid = kid
        self.algorithm = "ES256" if curve else "RS256"
        self.private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            ec.generate_private_key(ec.SECP256R1()) if curve else rsa.generate_private_key(65537, 2048)
        )

    def jwk(self, **extra: Any) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            entry = json.loads(RSAAlgorithm.to_jwk(public))
        else:
            entry = json.loads(ECAlgorithm.to_jwk(public))
        return {**entry, "kid": self.kid, "alg": self.algorithm, "use": "sig", **extra}

    def token(self, *, kid: str | None = "own", **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "contact-1",
            "exp": now + 600,
            "roles": ["client_contact"],
            "tenant_id": str(TENANT),
            **claims,
        }
        headers = {"kid": self.kid if kid == "own" else kid} if kid is not None else {}
        return jwt.encode(payload, self.private, algorithm=self.algorithm, headers=headers)


class IdentityProvider:
    """A JWKS document that the test changes, and a clock it moves."""

    def __init__(self, *keys: Keypair) -> None:
        self.keys = list(keys)
        self.now = 1000.0
        self.fetches = 0
        self.failing = False

    def fetch(self, url: str) -> Mapping[str, Any]:
        self.fetches += 1
        if self.failing:
            raise ValueError("identity provider unreachable")
        return {"keys": [key.jwk() for key in self.keys]}

    def clock(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def first() -> Keypair:
    return Keypair("key-2026-01")


@pytest.fixture(scope="module")
def second() -> Keypair:
    return Keypair("key-2026-07")


def verifier_over(idp: IdentityProvider, **options: Any) -> TokenVerifier:
    keys = JwksKeys("https://idp.test/jwks", fetch=idp.fetch, clock=idp.clock, **options)
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=keys)


def test_a_token_signed_with_a_published_key_is_accepted_and_the_keys_are_cached(first: Keypair) -> None:
    idp = IdentityProvider(first)
    verifier = verifier_over(idp)

    for _ in range(5):
        assert verifier.verify(first.token()).tenant_id == TENANT
    assert idp.fetches == 1, "one fetch serves every token while the cache is fresh"
    assert verifier.fetches_keys


def test_a_rotated_key_is_picked_up_without_restart_and_a_withdrawn_one_dropped(
    first: Keypair, second: Keypair
) -> None:
    idp = IdentityProvider(first)
    verifier = verifier_over(idp, cache_seconds=300, min_refresh_seconds=30)
    verifier.verify(first.token())

    idp.keys = [first, second]  # the provider publishes its next key and starts signing with it
    idp.now += 31
    assert verifier.verify(second.token()).subject == "contact-1"
    assert idp.fetches == 2, "the unknown key id fetched the set again"

    idp.keys = [second]  # the old key is withdrawn; once the cache expires, its tokens are refused
    assert verifier.verify(first.token()).subject == "contact-1", "still cached"
    idp.now += 301
    with pytest.raises(Unauthorized):
        verifier.verify(first.token())
    assert verifier.verify(second.token()).subject == "contact-1"


def test_made_up_key_ids_cost_at_most_one_fetch_per_refresh_interval(first: Keypair) -> None:
    idp = IdentityProvider(first)
    verifier = verifier_over(idp, min_refresh_seconds=30)
    verifier.verify(first.token())
    attacker = Keypair("key-x")

    for _ in range(50):
        with pytest.raises(Unauthorized) as refused:
            verifier.verify(attacker.token(kid=f"kid-{uuid.uuid4()}"))
        assert refused.value.message == "invalid or expired token"
    assert idp.fetches == 1, "inside the refresh interval no unknown kid fetches again"
    idp.now += 30
    with pytest.raises(Unauthorized):
        verifier.verify(attacker.token(kid="kid-later"))
    assert idp.fetches == 2


def test_an_unreachable_provider_keeps_the_known_keys(first: Keypair) -> None:
    idp = IdentityProvider(first)
    verifier = verifier_over(idp, cache_seconds=60)
    verifier.verify(first.token())
    idp.failing = True
    idp.now += 61
    assert verifier.verify(first.token()).subject == "contact-1"
    assert idp.fetches == 2


def test_with_no_keys_at_all_every_token_is_refused(first: Keypair) -> None:
    idp = IdentityProvider(first)
    idp.failing = True
    with pytest.raises(Unauthorized):
        verifier_over(idp).verify(first.token())


def test_a_token_without_kid_is_checked_only_against_a_single_key(first: Keypair, second: Keypair) -> None:
    alone = verifier_over(IdentityProvider(first))
    assert alone.verify(first.token(kid=None)).subject == "contact-1"
    several = verifier_over(IdentityProvider(first, second))
    with pytest.raises(Unauthorized):
        several.verify(first.token(kid=None))


def test_a_key_is_used_only_for_its_own_algorithm_and_purpose() -> None:
    curve = Keypair("ec-1", curve=True)
    idp = IdentityProvider(curve)
    assert verifier_over(idp).verify(curve.token()).subject == "contact-1"

    encryption = Keypair("enc-1")
    idp_enc = IdentityProvider()
    idp_enc.fetch = lambda url: {"keys": [encryption.jwk(use="enc")]}  # type: ignore[method-assign]
    with pytest.raises(Unauthorized):
        verifier_over(idp_enc).verify(encryption.token())

    mislabelled = Keypair("rsa-1")
    idp_mislabelled = IdentityProvider()
    idp_mislabelled.fetch = lambda url: {"keys": [mislabelled.jwk(alg="PS256")]}  # type: ignore[method-assign]
    with pytest.raises(Unauthorized):
        verifier_over(idp_mislabelled).verify(mislabelled.token())


def test_a_token_naming_hs256_never_reaches_the_keys(first: Keypair) -> None:
    idp = IdentityProvider(first)
    forged = jwt.encode({"sub": "x"}, "secret-that-is-long-enough-for-hs256", algorithm="HS256")
    with pytest.raises(Unauthorized):
        verifier_over(idp).verify(forged)
    assert idp.fetches == 0


# -- over real HTTP ----------------------------------------------------------------------------------------------


@pytest.fixture
def jwks_server(first: Keypair) -> Iterator[tuple[str, IdentityProvider]]:
    """A real HTTP server publishing the identity provider's JWKS."""
    idp = IdentityProvider(first)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(idp.fetch(self.path)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", idp
    finally:
        server.shutdown()
        server.server_close()


def test_keys_come_from_the_jwks_url_over_http_and_rotate(
    jwks_server: tuple[str, IdentityProvider], first: Keypair, second: Keypair
) -> None:
    url, idp = jwks_server
    verifier = TokenVerifier.configured(
        public_key="",
        jwks_url=url,
        jwks_cache_seconds=300,
        issuer=ISSUER,
        audience=AUDIENCE,
        leeway_seconds=30,
        jwks_min_refresh_seconds=0,  # the production interval (30 s) is tested with a fake clock above
    )
    assert verifier.verify(first.token()).tenant_id == TENANT
    idp.keys.append(second)
    assert verifier.verify(second.token()).subject == "contact-1"
    assert idp.fetches == 2
