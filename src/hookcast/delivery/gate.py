"""Per-endpoint concurrency: how many requests may be in flight to one endpoint right now,
and how many claimed deliveries may wait for it.

The rules are pure, in domain.throttle; this keeps the in-flight counts. Endpoints are
`throttle.endpoint_key` strings. A request's place is a `Slot`: taken with `try_slot`, given
back exactly once when its `with` block ends, however it ends.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from hookcast.domain.retry import OutcomeKind
from hookcast.domain.throttle import EndpointThrottle, queue_bound


class EndpointGate:
    def __init__(self, max_per_endpoint: int) -> None:
        self._max = max_per_endpoint
        self._throttles: dict[str, EndpointThrottle] = {}
        self._in_flight: dict[str, int] = {}
        self.in_flight = 0  # requests in flight to every endpoint together

    def try_slot(self, key: str) -> Slot | None:
        """A place for one request to the endpoint `key` now, or None if it is at its limit."""
        throttle = self._throttle(key)
        in_flight = self._in_flight.get(key, 0)
        if in_flight >= throttle.limit:
            return None
        self._in_flight[key] = in_flight + 1
        self.in_flight += 1
        return Slot(self, key)

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

    def _leave(self, key: str) -> None:
        self.in_flight -= 1
        self._in_flight[key] -= 1
        if self._in_flight[key] == 0:
            del self._in_flight[key]

    def _throttle(self, key: str) -> EndpointThrottle:
        throttle = self._throttles.get(key)
        if throttle is None:
            throttle = self._throttles[key] = EndpointThrottle(self._max)
        return throttle


class Slot:
    """One request's place in its endpoint's limit. `with slot:` gives it back when the block
    ends, returning or raising; `close()` does the same for a block that never ran (a task
    cancelled before its first step). Either way, only once."""

    __slots__ = ("_gate", "_key", "_open", "_throttle")

    def __init__(self, gate: EndpointGate, key: str) -> None:
        self._gate = gate
        self._key = key
        self._throttle = gate._throttles[key]
        self._open = True

    def learn(self, kind: OutcomeKind, *, now: datetime, seconds: float) -> None:
        """The request ended after `seconds` with an outcome of `kind`: the endpoint's limit
        and measured latency follow."""
        throttle = self._throttle
        throttle.on_attempt(seconds)
        if kind is OutcomeKind.THROTTLED:
            throttle.on_throttled(now)
        elif kind is OutcomeKind.SUCCESS:
            throttle.on_success()

    def close(self) -> bool:
        """Gives the place back; False if it was back already."""
        if not self._open:
            return False
        self._open = False
        self._gate._leave(self._key)
        return True

    def __enter__(self) -> Slot:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
