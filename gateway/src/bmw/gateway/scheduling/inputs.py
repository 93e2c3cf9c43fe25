"""Checks and conversions of scheduling arguments the gateway makes before calling the service."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bmw.gateway.scheduling.client import IDEMPOTENCY_HEADER
from bmw.servicekit.errors import FieldError, InvalidInput

#: Times without an offset are read here: the clients' and workers' own time zone (DESIGN: Europe/Amsterdam
#: at the edges). Scheduling itself refuses a time without offset.
LOCAL_TIME = ZoneInfo("Europe/Amsterdam")

#: Bounds of scheduling's ``Idempotency-Key`` header.
IDEMPOTENCY_KEY_LENGTH = (8, 200)


def aware(moment: datetime) -> datetime:
    """``moment`` with its offset; a time without one is Europe/Amsterdam time."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TIME)


def check_idempotency_key(key: str | None, path: str, problems: list[FieldError]) -> dict[str, str]:
    """The header that carries ``key`` (none without a key), or a problem recorded under ``path``."""
    if key is None:
        return {}
    shortest, longest = IDEMPOTENCY_KEY_LENGTH
    if not shortest <= len(key) <= longest:
        problems.append(FieldError(path=path, message=f"{shortest} to {longest} characters"))
        return {}
    return {IDEMPOTENCY_HEADER: key}


def refuse(problems: list[FieldError]) -> None:
    """Raise the problems found, if any, as one ``InvalidInput`` naming every field."""
    if problems:
        names = ", ".join(problem.path for problem in problems)
        raise InvalidInput(f"invalid input: {names}", fields=problems)
