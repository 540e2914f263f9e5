"""Which claimed delivery is sent next: a queue per endpoint, the endpoints served in turn,
each held to its concurrency limit (gate.py) and its queue to what it gets through in a
fraction of a lease.

Pure bookkeeping on the event loop's thread: no I/O and no clock of its own (callers pass
the loop's time), so tests/unit/delivery drives it with tables. Fair share between accounts
would be one more level of the same shape: accounts taking turns (a `RoundRobin` keyed by
account), each with its endpoints taking turns as they do here.
"""

from __future__ import annotations

from collections.abc import Sequence

from hookcast.delivery.gate import EndpointGate, Slot
from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.rotation import RoundRobin
from hookcast.domain.throttle import endpoint_key
from hookcast.ports import ClaimedDelivery

LeaseKey = tuple[str, str]  # (delivery_id, lease_token): what a release hands back
_Queued = tuple[ClaimedDelivery, float]  # and the loop time after which it is not sent


Start = tuple[ClaimedDelivery, Slot]
"""A delivery to send now, holding its place in its endpoint's limit."""
Ready = tuple[list[Start], list[LeaseKey]]
"""What `EndpointScheduler.ready` decided: the deliveries to send now, and the leases of
those that waited too long, to hand back unattempted. Plain tuples: built for every send."""


class EndpointScheduler:
    """Claimed deliveries waiting for their endpoint, and the requests in flight."""

    def __init__(self, options: WorkerOptions) -> None:
        self._options = options
        self._gate = EndpointGate(options.endpoint_concurrency)
        self._waiting: RoundRobin[_Queued] = RoundRobin()
        self._saturated: set[str] = set()  # endpoints whose queues overflowed

    @property
    def held(self) -> int:
        """Leases held: requests in flight plus deliveries queued for their endpoint."""
        return self._gate.in_flight + len(self._waiting)

    def room(self) -> int:
        """How many deliveries to claim now.

        None while more than half of `prefetch` is held: claims stay large. None either while
        the endpoints whose queues overflowed have less than half their queues free: a claim
        would mostly bring their rows again, only to hand them back (measured: one fast
        endpoint drained ~280 deliveries/s when every claim overflowed and released).
        """
        held = self.held
        if held > self._options.prefetch // 2:
            return 0
        room = self._options.prefetch - held
        self._saturated = {key for key in self._saturated if key in self._waiting}
        if not self._saturated:
            return room
        free = half = 0
        for key in self._saturated:
            bound = self._queue_bound(key)
            free += bound - self._waiting.length(key)
            half += bound // 2
        return min(room, free) if free >= half else 0

    def enqueue(self, claimed: Sequence[ClaimedDelivery], *, now: float) -> list[LeaseKey]:
        """Queues each delivery for its endpoint, to be sent before `now` plus the queue
        expiry; returns the leases to hand back (no attempt is counted) because their
        endpoint's queue is full."""
        options = self._options
        latest_start = now + options.lease_seconds * options.queue_expiry
        bounds: dict[str, int] = {}
        overflow: list[LeaseKey] = []
        for item in claimed:
            key = endpoint_key(item.webhook.webhook_url)
            bound = bounds.get(key)
            if bound is None:
                bound = bounds[key] = self._queue_bound(key)
            if self._waiting.length(key) >= bound:
                self._saturated.add(key)
                overflow.append((item.delivery.id, item.lease_token))
            else:
                self._waiting.push(key, (item, latest_start))
        return overflow

    def ready(self, *, now: float) -> Ready:
        """Takes queued deliveries to send now, one endpoint after another, while the worker
        and each endpoint have room for more requests; a delivery queued past its latest
        start (at loop time `now`) goes back instead: too little of its lease is left for
        the request, and claimed again it gets a fresh one."""
        starts: list[Start] = []
        expired: list[LeaseKey] = []
        waiting, gate, limit = self._waiting, self._gate, self._options.concurrency
        blocked = 0  # endpoints in a row that are at their limit
        while gate.in_flight < limit and blocked < waiting.keys:  # (no keys: none waits)
            key, (claimed, latest_start) = waiting.head()
            if latest_start < now:
                waiting.pop()
                expired.append((claimed.delivery.id, claimed.lease_token))
            elif (slot := gate.try_slot(key)) is not None:
                blocked = 0
                waiting.pop()
                starts.append((claimed, slot))
            else:
                waiting.skip()
                blocked += 1
        return starts, expired

    def clear(self) -> list[LeaseKey]:
        """Takes every queued delivery (shutting down): their leases, to hand back."""
        return [(c.delivery.id, c.lease_token) for c, _ in self._waiting.clear()]

    def _queue_bound(self, key: str) -> int:
        options = self._options
        return self._gate.queue_bound(
            key,
            max_in_flight=options.concurrency,
            horizon_seconds=options.lease_seconds * options.queue_horizon,
            floor=options.endpoint_queue,
            ceiling=options.prefetch,
        )
