"""Per-endpoint concurrency: how many requests may be in flight to one endpoint right now,
and how many claimed deliveries may wait for it.

The rules are pure, in domain.throttle; this keeps the in-flight counts. Endpoints are
`throttle.endpoint_key` strings.
"""

from __future__ import annotations

from datetime import datetime

from hookcast.domain.retry import OutcomeKind
from hookcast.domain.throttle import EndpointThrottle, queue_bound


class EndpointGate:
    def __init__(self, max_per_endpoint: int) -> None:
        self._max = max_per_endpoint
        self._throttles: dict[str, EndpointThrottle] = {}
        self._in_flight: dict[str, int] = {}

    def try_enter(self, key: str) -> bool:
        """Whether a request to the endpoint `key` may start now; if so, it is counted."""
        throttle = self._throttle(key)
        in_flight = self._in_flight.get(key, 0)
        if in_flight >= throttle.limit:
            return False
        self._in_flight[key] = in_flight + 1
        return True

    def leave(self, key: str, kind: OutcomeKind, now: datetime, seconds: float) -> None:
        """A request to `key` ended after `seconds`, with an outcome of `kind`."""
        self._in_flight[key] -= 1
        if self._in_flight[key] == 0:
            del self._in_flight[key]
        throttle = self._throttles[key]
        throttle.on_attempt(seconds)
        if kind is OutcomeKind.THROTTLED:
            throttle.on_throttled(now)
        elif kind is OutcomeKind.SUCCESS:
            throttle.on_success()

    def queue_bound(
        self, key: str, *, max_in_flight: int, horizon_seconds: float, floor: int, ceiling: int
    ) -> int:
        """How many claimed deliveries may wait for `key` (see throttle.queue_bound), when
        the worker as a whole sends at most `max_in_flight` requests at once."""
        throttle = self._throttle(key)
        return queue_bound(
            in_flight=min(throttle.limit, max_in_flight),
            latency=throttle.latency,
            horizon_seconds=horizon_seconds,
            floor=floor,
            ceiling=ceiling,
        )

    def _throttle(self, key: str) -> EndpointThrottle:
        throttle = self._throttles.get(key)
        if throttle is None:
            throttle = self._throttles[key] = EndpointThrottle(self._max)
        return throttle
