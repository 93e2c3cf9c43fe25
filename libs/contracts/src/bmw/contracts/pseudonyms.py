"""Opaque digests that let services recognise a login without passing the login itself around."""

from __future__ import annotations

import hashlib

_EMPLOYEE_LOGIN = b"bmw:employee-login:v1:"


def login_digest(subject: str) -> str:
    """The digest of an employee's login subject carried by ``intake.case.opened.v1`` (``employee_login``).

    Scheduling compares it with the digest of the caller's token subject to let employees see and cancel
    their own appointments. It is a pseudonym like ``client_ref`` and is forgotten on erasure.
    """
    return hashlib.sha256(_EMPLOYEE_LOGIN + subject.encode()).hexdigest()
