"""Per-API-key rate limiting: a token bucket per key, in this process's memory.

Several API servers each keep their own buckets, so a key's real limit is the per-server
limit times the number of servers (documented in docs/operations.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException

from hookcast.domain.ratelimit import TokenBucket

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(
        self,
        *,
        per_second: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = per_second
        self._burst = float(max(burst, 1))
        self._monotonic = monotonic
        # Keyed by API key id (and by "portal:<account id>" for the dashboard's portal
        # sessions, dashboard/deps.py): only authenticated callers get a bucket, so the map
        # is bounded by the number of keys and accounts (unauthenticated requests cannot
        # grow it).
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, key: str) -> None:
        """Raises a 429 with Retry-After when `key` is over its limit."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate=self._rate, burst=self._burst)
        wait = bucket.take(self._monotonic())
        if wait > 0:
            raise HTTPException(
                429,
                detail=f"too many requests for this API key: at most {self._rate:g} per "
                f"second (bursts of {self._burst:g}); retry after the Retry-After delay",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
