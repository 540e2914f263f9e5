"""Per-endpoint concurrency as AIMD numbers: halve when the endpoint pushes back, grow by one
on each success (additive increase, multiplicative decrease, as TCP does).

Pure arithmetic over injected times; the worker owns one `EndpointThrottle` per
`endpoint_key` and keeps at most `limit` requests in flight to that endpoint.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Final

from hookcast.domain.addresses import check_webhook_url

__all__ = ["EndpointThrottle", "endpoint_key", "latency_limit", "queue_bound"]

# One batch of concurrent requests can bring back many 503s at once; they are one signal.
_CUT_INTERVAL: Final = timedelta(seconds=1)
_LATENCY_WEIGHT: Final = 0.2  # of the newest attempt in the moving average


class EndpointThrottle:
    """The number of concurrent requests one endpoint is allowed right now."""

    __slots__ = ("_last_cut", "latency", "limit", "max_limit")

    def __init__(self, max_limit: int) -> None:
        if max_limit < 1:
            raise ValueError(f"max_limit must be at least 1, not {max_limit}")
        self.max_limit = max_limit
        self.limit = max_limit
        self.latency: float | None = None  # seconds per attempt, moving average
        self._last_cut: datetime | None = None

    def on_attempt(self, seconds: float) -> None:
        """Any attempt, however it ended: its duration enters the moving average."""
        previous = self.latency
        self.latency = (
            seconds if previous is None else previous + _LATENCY_WEIGHT * (seconds - previous)
        )

    def __repr__(self) -> str:
        return f"EndpointThrottle(limit={self.limit}, max_limit={self.max_limit})"

    def on_throttled(self, now: datetime) -> int:
        """The endpoint answered 429/502/503/504: halve the limit (at least 1), at most once
        per second of `now`. Returns the new limit."""
        if self._last_cut is None or now - self._last_cut >= _CUT_INTERVAL:
            self.limit = max(1, self.limit // 2)
            self._last_cut = now
        return self.limit

    def on_success(self) -> int:
        """The endpoint took a delivery: allow one more concurrent request, up to max_limit."""
        self.limit = min(self.max_limit, self.limit + 1)
        return self.limit


def latency_limit(*, max_limit: int, latency: float | None, slow_seconds: float, start: int) -> int:
    """How many requests may be in flight to one endpoint given how long its requests take:
    `max_limit` while they take at most `slow_seconds`, fewer in proportion beyond (a 25 s
    endpoint gets max_limit * slow_seconds / 25, at least 1), so that a slow endpoint cannot
    hold many of a worker's slots for long. Before its first attempt the latency is unknown
    (None): `start` requests at most, until one comes back and tells.
    """
    if latency is None:
        return min(start, max_limit)
    if latency <= slow_seconds:
        return max_limit
    return max(1, min(max_limit, int(max_limit * slow_seconds / latency)))


@functools.lru_cache(maxsize=4096)
def endpoint_key(url: str) -> str:
    """The unit throttled together: "scheme://host:port", e.g. "https://example.com:443".

    Cached because it is computed for every send and webhooks reuse a handful of URLs.
    """
    parsed = check_webhook_url(url)
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{parsed.scheme}://{host}:{parsed.port}"


def queue_bound(
    *, in_flight: int, latency: float | None, horizon_seconds: float, floor: int, ceiling: int
) -> int:
    """How many claimed deliveries may wait for one endpoint: as many as it gets through in
    `horizon_seconds` with `in_flight` requests at once taking `latency` seconds each,
    within [floor, ceiling].

    A fast endpoint (10 ms, 32 at once, 15 s) may have thousands queued, a slow one only a
    few dozen, so no delivery waits long enough for its lease to expire. Before the first
    attempt the latency is unknown (None) and the bound is `floor`.
    """
    if latency is None:
        return floor
    expected = in_flight * horizon_seconds / max(latency, 0.001)
    return max(floor, min(ceiling, int(expected)))
