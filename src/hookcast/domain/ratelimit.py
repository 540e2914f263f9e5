"""A token bucket: `rate` requests per second on average, bursts of up to `burst`; and
taking from several buckets at once (a key's and its account's), all or none.

Pure: the caller passes the time (monotonic seconds), so tests walk it by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Allowance", "Refusal", "TokenBucket", "allowance", "take_all"]


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # the most tokens the bucket holds; a full bucket at the start
    tokens: float = -1.0  # -1: not used yet, start full
    updated: float = 0.0

    def take(self, now: float) -> float:
        """Takes one token if there is one and returns 0.0; otherwise returns how many
        seconds until one is available (nothing is taken)."""
        wait = self.wait(now)
        if wait == 0.0:
            self.tokens -= 1.0
        return wait

    def wait(self, now: float) -> float:
        """Seconds until a token is available, 0.0 if one is now; takes nothing."""
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        """Whether the bucket holds `burst` tokens at `now` (as an unused one does); takes
        nothing and changes nothing."""
        if self.tokens < 0:
            return True
        return self.tokens + max(0.0, now - self.updated) * self.rate >= self.burst

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens = self.burst
        else:
            elapsed = max(0.0, now - self.updated)
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int  # which of the buckets refused (the one with the longest wait)
    wait: float  # seconds until every bucket has a token


def take_all(buckets: Sequence[TokenBucket], now: float) -> Refusal | None:
    """Takes a token from each bucket if every one has a token, and returns None; otherwise
    takes none and says which bucket refused. A request refused by one limit then costs the
    other nothing: a key refused by its account's bucket keeps its own tokens, and the
    account's others are not spent by a key over its own limit."""
    longest, refused = 0.0, -1
    for index, bucket in enumerate(buckets):
        wait = bucket.wait(now)
        if wait > longest:
            longest, refused = wait, index
    if refused >= 0:
        return Refusal(index=refused, wait=longest)
    for bucket in buckets:
        bucket.tokens -= 1.0
    return None


@dataclass(frozen=True, slots=True)
class Allowance:
    """What a caller may still do, told by its tightest bucket: `limit` requests at once
    (that bucket's burst), `remaining` whole requests now, and `retry_after` seconds until
    every bucket has a token again (0 while one request more is allowed)."""

    limit: int
    remaining: int
    retry_after: int


def allowance(buckets: Sequence[TokenBucket]) -> Allowance:
    """The allowance left in `buckets` (at least one), as their last take or refusal left
    them: a request needs a token from each, so the emptiest bucket says how many remain,
    and the slowest to refill how long to wait."""
    tightest = min(buckets, key=lambda bucket: (math.floor(bucket.tokens), bucket.burst))
    remaining = max(0, math.floor(tightest.tokens))
    wait = max((1.0 - bucket.tokens) / bucket.rate for bucket in buckets)
    return Allowance(
        limit=math.floor(tightest.burst),
        remaining=remaining,
        retry_after=0 if remaining else math.ceil(wait),
    )
