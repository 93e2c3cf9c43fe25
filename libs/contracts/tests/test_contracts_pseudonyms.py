"""The login digest in events is keyed: without the services' key, a list of logins does not find anyone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from bmw.contracts import pseudonyms
from bmw.contracts.pseudonyms import DEV_LOGIN_DIGEST_KEY, login_digest, use_login_key


@pytest.fixture
def restored_key() -> Iterator[None]:
    yield
    use_login_key(DEV_LOGIN_DIGEST_KEY)


def test_the_digest_is_not_a_plain_hash_of_the_login(restored_key: None) -> None:
    login = "s.devries@vanderveen.example.nl"
    unkeyed = hashlib.sha256(pseudonyms._EMPLOYEE_LOGIN + login.encode()).hexdigest()
    assert login_digest(login) != unkeyed
    assert login_digest(login) != hashlib.sha256(login.encode()).hexdigest()


def test_the_same_key_recognises_a_login_and_another_key_does_not(restored_key: None) -> None:
    login = "employee-4711"
    with_dev_key = login_digest(login)
    assert login_digest(login) == with_dev_key
    assert login_digest("employee-4712") != with_dev_key
    use_login_key("production-secret-of-the-services")
    assert login_digest(login) != with_dev_key


def test_an_empty_key_is_refused(restored_key: None) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        use_login_key("")
