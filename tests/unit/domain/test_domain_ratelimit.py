"""The token bucket behind the per-key and per-account rate limits: bursts, refill, the wait
it reports, and taking from a key's and its account's bucket together (all or none)."""

from __future__ import annotations

import pytest

from hookcast.domain.ratelimit import Allowance, Refusal, TokenBucket, allowance, take_all


def test_a_full_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=1.0, burst=3)
    assert [bucket.take(0.0) for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(1.0)]


@pytest.mark.parametrize(
    ("rate", "elapsed", "allowed"),
    [
        (10.0, 0.1, 1),  # one token back after 1/rate seconds
        (10.0, 0.25, 2),
        (10.0, 60.0, 5),  # never more than the burst
        (0.5, 1.0, 0),
        (0.5, 2.0, 1),
    ],
)
def test_tokens_come_back_at_the_rate_up_to_the_burst(
    rate: float, elapsed: float, allowed: int
) -> None:
    bucket = TokenBucket(rate=rate, burst=5)
    while bucket.take(0.0) == 0.0:
        pass
    granted = 0
    while bucket.take(elapsed) == 0.0:
        granted += 1
    assert granted == allowed


def test_the_wait_is_until_the_next_token_and_a_refusal_takes_nothing() -> None:
    bucket = TokenBucket(rate=4.0, burst=1)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(10.0) == pytest.approx(0.25)
    assert bucket.take(10.1) == pytest.approx(0.15)
    assert bucket.take(10.25) == 0.0


def test_time_going_backwards_adds_no_tokens() -> None:
    bucket = TokenBucket(rate=1.0, burst=1)
    assert bucket.take(5.0) == 0.0
    assert bucket.take(1.0) > 0


def _refusal(refusal: Refusal | None) -> tuple[int, float]:
    assert refusal is not None
    return refusal.index, refusal.wait


def test_wait_says_when_a_token_comes_and_takes_nothing() -> None:
    bucket = TokenBucket(rate=2.0, burst=1)
    assert bucket.wait(0.0) == 0.0
    assert bucket.wait(0.0) == 0.0  # still there: wait took nothing
    assert bucket.take(0.0) == 0.0
    assert bucket.wait(0.0) == pytest.approx(0.5)
    assert bucket.wait(0.25) == pytest.approx(0.25)
    assert bucket.wait(0.5) == 0.0


def test_take_all_takes_one_token_from_each_bucket() -> None:
    key, account = TokenBucket(rate=1.0, burst=2), TokenBucket(rate=1.0, burst=3)
    assert take_all([key, account], 0.0) is None
    assert (key.tokens, account.tokens) == (1.0, 2.0)


def test_take_all_refused_by_one_bucket_takes_from_none_and_names_it() -> None:
    key, account = TokenBucket(rate=1.0, burst=5), TokenBucket(rate=4.0, burst=2)
    assert take_all([key, account], 0.0) is None
    assert take_all([key, account], 0.0) is None
    # The account's two are gone; the key has 3.
    assert _refusal(take_all([key, account], 0.0)) == pytest.approx((1, 0.25))
    assert key.tokens == 3.0  # the refused request cost the key nothing
    # The other way round: the key empty, the account full.
    key, account = TokenBucket(rate=0.5, burst=1), TokenBucket(rate=1.0, burst=10)
    assert take_all([key, account], 0.0) is None
    assert _refusal(take_all([key, account], 0.0)) == pytest.approx((0, 2.0))
    assert account.tokens == 9.0


def test_take_all_refused_by_both_names_the_longer_wait() -> None:
    key, account = TokenBucket(rate=2.0, burst=1), TokenBucket(rate=0.5, burst=1)
    assert take_all([key, account], 0.0) is None
    # The request may go only once both have a token: in 2 s, the account's.
    assert _refusal(take_all([key, account], 0.0)) == pytest.approx((1, 2.0))
    assert _refusal(take_all([key, account], 1.0)) == pytest.approx((1, 1.0))
    assert take_all([key, account], 2.0) is None


def test_take_all_of_no_buckets_always_allows() -> None:
    assert take_all([], 0.0) is None


def _bucket(rate: float, burst: int, tokens: float) -> TokenBucket:
    return TokenBucket(rate=rate, burst=burst, tokens=tokens)


@pytest.mark.parametrize(
    ("buckets", "expected"),
    [
        ([_bucket(1.0, 20, 19.0)], Allowance(limit=20, remaining=19, retry_after=0)),
        ([_bucket(1.0, 20, 0.5)], Allowance(limit=20, remaining=0, retry_after=1)),
        ([_bucket(0.25, 20, 0.0)], Allowance(limit=20, remaining=0, retry_after=4)),
        # the key's bucket has 150 left, its account's 7: the account's says it
        ([_bucket(100.0, 200, 150.0), _bucket(500.0, 1000, 7.2)], Allowance(1000, 7, 0)),
        # none left in either: the wait is for the slower of the two to have a token
        ([_bucket(0.5, 20, 0.0), _bucket(10.0, 1000, 0.5)], Allowance(20, 0, 2)),
    ],
)
def test_the_allowance_is_the_tightest_buckets(
    buckets: list[TokenBucket], expected: Allowance
) -> None:
    assert allowance(buckets) == expected


def test_each_take_shows_one_fewer_remaining_until_none() -> None:
    bucket = TokenBucket(rate=1.0, burst=3)
    shown = []
    while take_all([bucket], 0.0) is None:
        shown.append(allowance([bucket]).remaining)
    assert shown == [2, 1, 0]
    assert allowance([bucket]) == Allowance(limit=3, remaining=0, retry_after=1)
