from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hookcast.domain.errors import ValidationFailed
from hookcast.domain.throttle import EndpointThrottle, endpoint_key, latency_limit, queue_bound

T0 = datetime(2024, 8, 27, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("max_limit", "steps", "limits"),
    [
        # a burst of 503s from one batch counts once per second
        (16, ["t0", "t0.5", "t0.99"], [8, 8, 8]),
        (16, ["t0", "t1", "t2", "t3", "t4", "t5"], [8, 4, 2, 1, 1, 1]),
        # additive increase, capped at max_limit
        (16, ["t0", "ok", "ok", "t1", "ok"], [8, 9, 10, 5, 6]),
        (4, ["ok", "ok"], [4, 4]),
        (1, ["t0", "t1", "ok"], [1, 1, 1]),
        (3, ["t0", "ok", "ok", "ok"], [1, 2, 3, 3]),
    ],
)
def test_limit_sequence(max_limit: int, steps: list[str], limits: list[int]) -> None:
    throttle = EndpointThrottle(max_limit)
    assert throttle.limit == max_limit
    seen = []
    for step in steps:
        if step == "ok":
            throttle.on_success()
        else:
            throttle.on_throttled(_at(float(step[1:])))
        seen.append(throttle.limit)
    assert seen == limits


def test_the_second_is_measured_from_the_last_cut() -> None:
    throttle = EndpointThrottle(64)
    for seconds in (0.0, 0.9, 1.0, 1.5, 2.0):
        throttle.on_throttled(_at(seconds))
    assert throttle.limit == 8  # cuts at 0, 1.0 and 2.0


def test_max_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EndpointThrottle(0)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://example.com/hooks?a=1", "https://example.com:443"),
        ("http://Example.COM/", "http://example.com:80"),
        ("HTTPS://example.com:8443/x", "https://example.com:8443"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("http://127.0.0.1/", "http://127.0.0.1:80"),
    ],
)
def test_endpoint_key(url: str, key: str) -> None:
    assert endpoint_key(url) == key


def test_endpoint_key_refuses_what_is_not_a_webhook_url() -> None:
    with pytest.raises(ValidationFailed):
        endpoint_key("ftp://example.com/")


@pytest.mark.parametrize(
    ("in_flight", "latency", "expected"),
    [
        (32, None, 64),  # nothing measured yet: the floor
        (32, 0.005, 4096),  # fast: capped at the ceiling
        (32, 0.5, 960),  # 32 at once, 2 a second each, for 15 s
        (32, 10.0, 64),  # slow: 48 would be below the floor
        (4, 0.2, 300),  # a worker sending only 4 at once
    ],
)
def test_queue_bound_is_what_the_endpoint_gets_through_in_the_horizon(
    in_flight: int, latency: float | None, expected: int
) -> None:
    bound = queue_bound(
        in_flight=in_flight, latency=latency, horizon_seconds=15.0, floor=64, ceiling=4096
    )
    assert bound == expected


def test_latency_is_a_moving_average_of_attempts() -> None:
    throttle = EndpointThrottle(32)
    assert throttle.latency is None
    throttle.on_attempt(1.0)
    assert throttle.latency == 1.0
    for _ in range(30):  # the endpoint got fast: the average follows within a few dozen
        throttle.on_attempt(0.01)
    assert throttle.latency is not None
    assert throttle.latency < 0.02


@pytest.mark.parametrize(
    ("latency", "limit"),
    [
        (None, 4),  # not measured yet: the start
        (0.01, 32),
        (1.0, 32),  # up to slow_seconds: the whole limit
        (2.0, 16),  # beyond, fewer in proportion
        (8.0, 4),
        (25.0, 1),
        (300.0, 1),  # never none
    ],
)
def test_a_slow_endpoint_may_have_fewer_requests_in_flight(
    latency: float | None, limit: int
) -> None:
    assert latency_limit(max_limit=32, latency=latency, slow_seconds=1.0, start=4) == limit


def test_the_start_is_never_above_the_limit() -> None:
    assert latency_limit(max_limit=2, latency=None, slow_seconds=1.0, start=4) == 2
