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
        self._rate = per_second
        self._burst = float(max(burst, 1))
        self._account_rate = account_per_second
        self._account_burst = float(max(account_burst, 1))
        self._monotonic = monotonic
        # Keyed by API key id (and by "portal:<account id>" for the dashboard's portal
        # sessions, dashboard/deps.py), and by account id: only authenticated callers get a
        # bucket, so the maps are bounded by the number of keys and accounts
        # (unauthenticated requests cannot grow them).
        self._buckets: dict[str, TokenBucket] = {}
        self._accounts: dict[str, TokenBucket] = {}

    def check_caller(self, caller: Caller) -> None:
        """`check` for an API caller: its key's bucket (its account's own for a caller with
        no key) and its account's."""
        self.check(_key_of(caller), account=caller.account_id)

    def allowance(self, caller: Caller) -> Allowance | None:
        """What `caller`'s buckets have left, as `check_caller` left them (None when both
        limits are off). Apart from `check`: only api.video's API shows it (X-RateLimit-*),
        and every other request is spared the work."""
        buckets = [
            bucket
            for bucket in (
                self._buckets.get(_key_of(caller)),
                self._accounts.get(caller.account_id),
            )
            if bucket is not None
        ]
        return allowance(buckets) if buckets else None

    def check(self, key: str, *, account: str) -> None:
        """Takes a token from `key`'s bucket and from `account`'s, or from neither: raises
        a 429 with Retry-After, naming the limit, when either is over it."""
        buckets: list[TokenBucket] = []
        shared: TokenBucket | None = None
        if self._rate > 0:
            buckets.append(_bucket(self._buckets, key, self._rate, self._burst))
        if self._account_rate > 0:
            shared = _bucket(self._accounts, account, self._account_rate, self._account_burst)
            buckets.append(shared)
        refusal = take_all(buckets, self._monotonic())
        if refusal is None:
            return
        if buckets[refusal.index] is not shared:
            detail = (
                f"too many requests for this API key: at most {self._rate:g} per "
                f"second (bursts of {self._burst:g}); retry after the Retry-After delay"
            )
        else:
            detail = (
                f"too many requests for this account: at most {self._account_rate:g} per "
                f"second (bursts of {self._account_burst:g}) across all its API keys and "
                "sessions; retry after the Retry-After delay"
            )
        raise HTTPException(
            429, detail=detail, headers={"Retry-After": str(max(1, math.ceil(refusal.wait)))}
        )


def _key_of(caller: Caller) -> str:
    """The name of `caller`'s own bucket: its key's, or its account's for a caller with none."""
    return caller.key_id or caller.account_id


def _bucket(buckets: dict[str, TokenBucket], name: str, rate: float, burst: float) -> TokenBucket:
    """`name`'s bucket in `buckets`, made full on its first request."""
    bucket = buckets.get(name)
    if bucket is None:
        bucket = buckets[name] = TokenBucket(rate=rate, burst=burst)
    return bucket
