"""The token bucket behind per-key rate limits: bursts, refill, and the wait it reports."""

from __future__ import annotations

import pytest

from hookcast.domain.ratelimit import TokenBucket


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
