"""The API's rate limiter: a key's bucket and its account's, which one refused and with what
message and Retry-After; the clock walked by hand."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException

from hookcast.api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _refused(limiter: RateLimiter, key: str, account: str) -> HTTPException:
    with pytest.raises(HTTPException) as refused:
        limiter.check(key, account=account)
    assert refused.value.status_code == 429
    return refused.value


def test_many_keys_of_one_account_are_refused_at_the_accounts_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(
        per_second=1, burst=2, account_per_second=2, account_burst=5, monotonic=clock
    )
    for key in ("k1", "k1", "k2", "k2", "k3"):  # each key within its own 2
        limiter.check(key, account="a")
    refused = _refused(limiter, "k3", "a")
    assert refused.detail == (
        "too many requests for this account: at most 2 per second (bursts of 5) across all "
        "its API keys and sessions; retry after the Retry-After delay"
    )
    assert refused.headers == {"Retry-After": "1"}  # a token back in 0.5 s, rounded up
    limiter.check("k4", account="b")  # another account: its own buckets
    clock.now += 0.5
    limiter.check("k3", account="a")  # k3 kept the token the refusal did not take


def test_a_key_over_its_own_limit_is_refused_as_before_and_spends_no_account_token() -> None:
    clock = Clock()
    limiter = RateLimiter(
        per_second=0.5, burst=2, account_per_second=1, account_burst=3, monotonic=clock
    )
    limiter.check("k1", account="a")
    limiter.check("k1", account="a")
    for _ in range(5):  # refused by the key's bucket: the account's last token stays
        refused = _refused(limiter, "k1", "a")
    assert refused.detail == (
        "too many requests for this API key: at most 0.5 per second (bursts of 2); retry "
        "after the Retry-After delay"
    )
    assert refused.headers == {"Retry-After": "2"}
    limiter.check("k2", account="a")
    assert "for this account" in str(_refused(limiter, "k3", "a").detail)


def test_refused_by_both_the_longer_wait_is_named_and_sent() -> None:
    clock = Clock()
    limiter = RateLimiter(
        per_second=1, burst=1, account_per_second=0.25, account_burst=1, monotonic=clock
    )
    limiter.check("k1", account="a")
    refused = _refused(limiter, "k1", "a")
    assert "for this account" in str(refused.detail)
    assert refused.headers == {"Retry-After": "4"}


@pytest.mark.parametrize(
    ("per_second", "account_per_second", "allowed"),
    [(0, 1, 2), (1, 0, 1)],  # burst 1 per key, 2 per account; 0 disables that limit only
    ids=["no-key-limit", "no-account-limit"],
)
def test_a_rate_of_zero_disables_only_that_limit(
    per_second: float, account_per_second: float, allowed: int
) -> None:
    limiter = RateLimiter(
        per_second=per_second,
        burst=1,
        account_per_second=account_per_second,
        account_burst=2,
        monotonic=Clock(),
    )
    granted = 0
    for _ in range(10):
        try:
            limiter.check("k1", account="a")
        except HTTPException:
            continue
        granted += 1
    assert granted == allowed


def test_buckets_full_again_are_forgotten_and_spent_ones_kept() -> None:
    """A full bucket is what a first request finds, so the limiter forgets those it holds
    once its map has doubled: an admin minting, using and revoking keys in a loop left one
    bucket per revoked key for the life of the process (attack 19: +0.9 MB in 2,000
    turns). A key that spent its tokens is still refused however many keys came after."""
    clock = Clock()
    limiter = RateLimiter(
        per_second=10, burst=2, account_per_second=1000, account_burst=10**6, monotonic=clock
    )
    for turn in range(20_000):  # each key used once, full again 0.1 s later
        limiter.check(f"revoked{turn}", account="a")
        clock.now += 0.001
    assert limiter.buckets_kept < 3_000
    limiter.check("spent", account="a")
    limiter.check("spent", account="a")
    for turn in range(5_000):  # sweeps, the clock standing still: nothing new is full
        limiter.check(f"new{turn}", account="a")
    _refused(limiter, "spent", "a")
    assert limiter.buckets_kept > 5_000
