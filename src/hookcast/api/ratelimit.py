"""Rate limiting, in this process's memory: a token bucket per API key (or per account's
portal sessions) and one per account, each request taking a token from both.

The key's bucket bounds one client; the account's bounds one tenant however many keys and
sessions it spreads its requests over (an account's admins may hold 100 keys, so without it
one tenant could make 100 times a key's rate and take a server's CPU from the others).
Several API servers each keep their own buckets, so the real limits are the per-server ones
times the number of servers (documented in docs/operations.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.exceptions import HTTPException

from hookcast.domain.ratelimit import Allowance, TokenBucket, allowance, take_all
from hookcast.services import Caller

__all__ = ["RateLimiter"]

_FIRST_SWEEP = 1024  # buckets a map holds before its first sweep


class RateLimiter:
    def __init__(
        self,
        *,
        per_second: float,
        burst: int,
        account_per_second: float = 0.0,
        account_burst: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # A rate of 0 disables that limit (the key's or the account's), not the other.
        self._monotonic = monotonic
        # Keyed by API key id (and by "portal:<account id>" for the dashboard's portal
        # sessions, dashboard/deps.py), and by account id: only authenticated callers get a
        # bucket, so unauthenticated requests cannot grow the maps.
        self._keys = _Buckets(rate=per_second, burst=burst)
        self._accounts = _Buckets(rate=account_per_second, burst=account_burst)

    @property
    def buckets_kept(self) -> int:
        """How many buckets the limiter holds, keys' and accounts'."""
        return len(self._keys) + len(self._accounts)

    def check_caller(self, caller: Caller) -> None:
        """`check` for an API caller: its key's bucket (its account's own for a caller with
        no key) and its account's."""
        self.check(_key_of(caller), account=caller.account_id)

    def allowance(self, caller: Caller) -> Allowance | None:
        """What `caller`'s buckets have left, as `check_caller` left them (None when both
        limits are off). Apart from `check`: only api.video's API shows it (X-RateLimit-*),
        and every other request is spared the work."""
        found = (self._keys.find(_key_of(caller)), self._accounts.find(caller.account_id))
        buckets = [bucket for bucket in found if bucket is not None]
        return allowance(buckets) if buckets else None

    def check(self, key: str, *, account: str) -> None:
        """Takes a token from `key`'s bucket and from `account`'s, or from neither: raises
        a 429 with Retry-After, naming the limit, when either is over it."""
        now = self._monotonic()
        buckets: list[TokenBucket] = []
        shared: TokenBucket | None = None
        if self._keys.rate > 0:
            buckets.append(self._keys.get(key, now))
        if self._accounts.rate > 0:
            shared = self._accounts.get(account, now)
            buckets.append(shared)
        refusal = take_all(buckets, now)
        if refusal is None:
            return
        if buckets[refusal.index] is not shared:
            detail = (
                f"too many requests for this API key: at most {self._keys.rate:g} per "
                f"second (bursts of {self._keys.burst:g}); retry after the Retry-After delay"
            )
        else:
            detail = (
                f"too many requests for this account: at most {self._accounts.rate:g} per "
                f"second (bursts of {self._accounts.burst:g}) across all its API keys and "
                "sessions; retry after the Retry-After delay"
            )
        raise HTTPException(
            429, detail=detail, headers={"Retry-After": str(max(1, math.ceil(refusal.wait)))}
        )


def _key_of(caller: Caller) -> str:
    """The name of `caller`'s own bucket: its key's, or its account's for a caller with none."""
    return caller.key_id or caller.account_id


class _Buckets:
    """Buckets of one limit by name, each made full on its first request.

    Keys come and go, so the map is swept of its full buckets whenever it has doubled since
    the last sweep (amortised: each sweep costs its size): a full bucket is what a first
    request finds, so forgetting one changes no answer. Unswept, an admin minting, using
    and revoking keys in a loop left a bucket per revoked key for the life of the process
    (attack 19: +0.9 MB in 2,000 turns)."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self._by_name: dict[str, TokenBucket] = {}
        self._sweep_at = _FIRST_SWEEP

    def __len__(self) -> int:
        return len(self._by_name)

    def find(self, name: str) -> TokenBucket | None:
        """`name`'s bucket if it has one (a swept one is full: None reads as full)."""
        return self._by_name.get(name)

    def get(self, name: str, now: float) -> TokenBucket:
        bucket = self._by_name.get(name)
        if bucket is None:
            if len(self._by_name) >= self._sweep_at:
                self._sweep(now)
            bucket = self._by_name[name] = TokenBucket(rate=self.rate, burst=self.burst)
        return bucket

    def _sweep(self, now: float) -> None:
        full = [name for name, bucket in self._by_name.items() if bucket.full(now)]
        for name in full:
            del self._by_name[name]
        self._sweep_at = max(_FIRST_SWEEP, 2 * len(self._by_name))
