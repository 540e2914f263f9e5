"""Per-endpoint concurrency: how many requests may be in flight to one endpoint right now.

The limit itself is the pure AIMD rule in domain.throttle; this keeps the in-flight counts.
"""

from __future__ import annotations

from datetime import datetime

from hookcast.domain.retry import OutcomeKind
from hookcast.domain.throttle import EndpointThrottle, endpoint_key


class EndpointGate:
    def __init__(self, max_per_endpoint: int) -> None:
        self._max = max_per_endpoint
        self._throttles: dict[str, EndpointThrottle] = {}
        self._in_flight: dict[str, int] = {}

    def try_enter(self, url: str) -> str | None:
        """The endpoint key if a request may start now, else None (the endpoint is busy)."""
        key = endpoint_key(url)
        throttle = self._throttles.setdefault(key, EndpointThrottle(self._max))
        if self._in_flight.get(key, 0) >= throttle.limit:
            return None
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return key

    def leave(self, key: str, kind: OutcomeKind, now: datetime) -> None:
        self._in_flight[key] -= 1
        if self._in_flight[key] == 0:
            del self._in_flight[key]
        throttle = self._throttles[key]
        if kind is OutcomeKind.THROTTLED:
            throttle.on_throttled(now)
        elif kind is OutcomeKind.SUCCESS:
            throttle.on_success()

    def is_full(self, key: str) -> bool:
        """Whether the endpoint `key` (as try_enter returns it) is at its limit now."""
        throttle = self._throttles.get(key)
        return throttle is not None and self._in_flight.get(key, 0) >= throttle.limit

    def limit(self, url: str) -> int:
        throttle = self._throttles.get(endpoint_key(url))
        return throttle.limit if throttle else self._max
