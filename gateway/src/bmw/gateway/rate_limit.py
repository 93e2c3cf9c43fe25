"""Per-identity rate limits: a token bucket per caller.

A caller is the verified token's subject, or the client address for a request without a valid
token (a forged or expired token gives no identity of its own, so it cannot dodge its address's
bucket). Each bucket holds up to ``burst`` requests and refills at ``per_minute / 60`` a second.

The buckets live in the memory of one process: with several gateway processes each keeps its own,
so a caller may make up to (processes × limit) requests a minute in total. That is enough for what
the limit is for (one runaway portal or integration cannot starve the others) without a shared
store in the request path. The client address is the ASGI server's view of it: behind a proxy,
run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips`` set to the proxy only.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bmw.gateway.errors import ErrorCode, RequestRefused
from bmw.servicekit.auth import Principal

#: Most buckets kept; beyond, the least recently used ones are dropped (a dropped bucket is full again).
MAX_BUCKETS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per caller key; not thread-safe, which one event loop per process does not need."""

    def __init__(
        self,
        *,
        per_minute: int,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError("per_minute and burst must be at least 1")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_buckets = max_buckets
        # Least recently used first, so idle buckets are found (and dropped) at the front.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, key: str) -> float | None:
        """Take one request from ``key``'s bucket: ``None`` if allowed, else seconds until it would be."""
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
        self._buckets[key] = bucket
        self._prune(now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self._rate

    def check(self, key: str) -> None:
        """Take one request from ``key``'s bucket or refuse with 429, ``Retry-After`` and a hint."""
        wait = self.acquire(key)
        if wait is None:
            return
        retry_after = max(1, math.ceil(wait))
        raise RequestRefused(
            ErrorCode.RATE_LIMITED,
            f"rate limit of {self.per_minute} requests a minute exceeded; retry in {retry_after} s",
            status=429,
            headers={"retry-after": str(retry_after)},
            extensions={"retryAfterSeconds": retry_after},
        )

    def _prune(self, now: float) -> None:
        # A bucket idle long enough to be full again is the same as no bucket: drop those first.
        refill_seconds = self.burst / self._rate
        while len(self._buckets) > 1:
            key, oldest = next(iter(self._buckets.items()))
            if now - oldest.updated < refill_seconds and len(self._buckets) <= self._max_buckets:
                break
            del self._buckets[key]


def caller_key(principal: Principal | None, client_host: str | None) -> str:
    """The bucket of a request: its verified subject, else its client address."""
    if principal is not None:
        return f"subject:{principal.subject}"
    return f"address:{client_host or 'unknown'}"
