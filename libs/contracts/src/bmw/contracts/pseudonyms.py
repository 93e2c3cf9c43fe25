"""Opaque digests that let services recognise a login without passing the login itself around.

The digest is keyed (HMAC-SHA256 under ``BMW_LOGIN_DIGEST_KEY``, shared by the services that compare it and by
no one else): retained events are immutable facts and outlive an erasure, and an unkeyed hash of a login can be
reversed by anyone who holds a list of logins (an employer does). With the key, the digest in a retained event
links to no one for a reader of the topic; the key lives in the services' secrets, never in an event or a
table. The key is a process-wide setting, installed once at start-up by :func:`use_login_key` (the service's
settings do it); every service that compares digests must run with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from pydantic import StringConstraints

_EMPLOYEE_LOGIN = b"bmw:employee-login:v1:"

CLIENT_REF_PATTERN = r"^c_[A-Za-z0-9_-]{10,40}$"
"""A person's pseudonym as intake makes it (``c_`` and 10-40 URL-safe characters); anything else is bad input."""

ClientRef = Annotated[str, StringConstraints(pattern=CLIENT_REF_PATTERN)]
"""A path or body field holding a ``client_ref``: FastAPI refuses any other text with 422 naming the field."""

DEV_LOGIN_DIGEST_KEY = "dev-only-login-digest-key"
"""The development key: production refuses to start with it (``bmw.servicekit.settings``)."""

_key: bytes = DEV_LOGIN_DIGEST_KEY.encode()


def use_login_key(key: str) -> None:
    """Install the process's login-digest key (at start-up, from ``BMW_LOGIN_DIGEST_KEY``)."""
    global _key
    if not key:
        raise ValueError("the login digest key must not be empty")
    _key = key.encode()


def login_digest(subject: str) -> str:
    """The digest of an employee's login subject carried by ``intake.case.opened.v1`` (``employee_login``).

    Scheduling compares it with the digest of the caller's token subject to let employees see and cancel
    their own appointments. It is a pseudonym like ``client_ref`` and is forgotten on erasure.
    """
    return hmac.new(_key, _EMPLOYEE_LOGIN + subject.encode(), hashlib.sha256).hexdigest()
