"""Consumer retry backoff and which errors count as transient (DESIGN §5)."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from bmw.servicekit.messaging import RetryPolicy, is_transient

attempts = st.integers(min_value=1, max_value=64)
bases = st.floats(min_value=0.001, max_value=5.0, allow_nan=False, allow_infinity=False)
caps = st.floats(min_value=0.01, max_value=600.0, allow_nan=False, allow_infinity=False)


def ceiling(policy: RetryPolicy, attempt: int) -> float:
    return min(policy.backoff_max_seconds, policy.backoff_seconds * 2 ** (attempt - 1))


@given(attempt=attempts, base=bases, cap=caps)
def test_a_delay_lies_between_half_the_ceiling_and_the_ceiling(attempt: int, base: float, cap: float) -> None:
    policy = RetryPolicy(backoff_seconds=base, backoff_max_seconds=cap)

    delay = policy.delay(attempt)

    assert ceiling(policy, attempt) / 2 <= delay <= ceiling(policy, attempt)


@given(attempt=attempts, base=bases, cap=caps)
def test_a_delay_never_exceeds_the_maximum(attempt: int, base: float, cap: float) -> None:
    policy = RetryPolicy(backoff_seconds=base, backoff_max_seconds=cap)

    assert policy.delay(attempt) <= cap


@given(attempt=st.integers(min_value=1, max_value=20))
def test_each_retry_waits_at_least_as_long_as_the_one_before_until_the_cap(attempt: int) -> None:
    policy = RetryPolicy(backoff_seconds=0.001, backoff_max_seconds=10_000.0)

    earlier, later = policy.delay(attempt), policy.delay(attempt + 1)

    # The next delay's lower bound is this delay's upper bound: jitter cannot make it shorter.
    assert later >= earlier
    assert later >= policy.backoff_seconds * 2 ** (attempt - 1)


def test_the_delay_doubles_per_attempt() -> None:
    policy = RetryPolicy(backoff_seconds=1.0, backoff_max_seconds=1_000.0)

    assert [ceiling(policy, n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert 8.0 <= policy.delay(5) <= 16.0


def test_a_long_run_of_failures_waits_the_maximum() -> None:
    policy = RetryPolicy(backoff_seconds=0.2, backoff_max_seconds=10.0)

    assert 5.0 <= policy.delay(16) <= 10.0


def test_the_delay_is_jittered() -> None:
    policy = RetryPolicy(backoff_seconds=1.0, backoff_max_seconds=10.0)

    assert len({policy.delay(3) for _ in range(50)}) > 1


def test_no_backoff_means_no_wait() -> None:
    assert RetryPolicy(backoff_seconds=0).delay(7) == 0


class _Sqlstate(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        ConnectionError("broker went away"),
        ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
        TimeoutError("timed out"),
        DBAPIError("SELECT 1", {}, Exception("terminating connection"), connection_invalidated=True),
        DBAPIError("INSERT 1", {}, _Sqlstate("deadlock detected", "40P01")),
    ],
    ids=[
        "operational",
        "interface",
        "connection",
        "connection-refused",
        "timeout",
        "invalidated-connection",
        "deadlock",
    ],
)
def test_infrastructure_errors_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad data"),
        KeyError("missing"),
        RuntimeError("bug"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        DBAPIError("SELECT 1", {}, Exception("syntax error")),
    ],
    ids=["value", "key", "runtime", "integrity", "dbapi-without-invalidated-connection"],
)
def test_errors_about_the_message_or_the_code_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)
