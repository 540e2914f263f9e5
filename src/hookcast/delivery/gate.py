"""Per-endpoint concurrency: how many requests may be in flight to one endpoint right now,
and how many claimed deliveries may wait for it; and the counts fair share needs (requests in
flight per account, and to slow endpoints).

The rules are pure, in domain.throttle; this keeps the in-flight counts. Endpoints are
`throttle.endpoint_key` strings. A request's place is a `Slot`: taken with `try_slot`, given
back exactly once when its `with` block ends, however it ends.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime
from types import TracebackType

from hookcast.domain.retry import OutcomeKind
from hookcast.domain.throttle import EndpointThrottle, latency_limit, queue_bound

# Endpoints whose limit and latency are kept. Past it, those idle longest (nothing in flight
# since the longest time) are forgotten (one comes back as a new endpoint: 4 at once until
# its first answer). Unbounded, a tenant pointing webhooks at new host names grew them for
# the worker's life (one per account and host it was sent to; review finding 16, attack 10).
# Forgotten in the order they were first met instead, such a tenant made the gate forget
# the endpoints it had known longest, another tenant's busy or throttled one first
# (review12).
KEPT_ENDPOINTS = 10_000
# An account's endpoints beyond this many are forgotten first, its idle longest first: an
# account sending to ever new hosts forgets its own before it can make the gate forget any
# other account's, however long that one is idle (a failing endpoint between retries hours
# apart). Endpoint keys are "<account> <endpoint>" (delivery/scheduler.py `_endpoint`).
ACCOUNT_SHARE = KEPT_ENDPOINTS // 10


class EndpointGate:
    """Requests in flight: per endpoint, per account, to slow endpoints, and in all."""

    def __init__(
        self, max_per_endpoint: int, *, slow_seconds: float, slow_slots: int, start: int
    ) -> None:
        self._max = max_per_endpoint
        self._slow_seconds = slow_seconds
        # At once: an account's requests to slow or new endpoints, and all accounts'
        # requests to endpoints measured slow.
        self._slow_slots = slow_slots
        self._start = start
        self._throttles: dict[str, EndpointThrottle] = {}
        self._in_flight: dict[str, int] = {}
        self._accounts: dict[str, int] = {}  # requests in flight per account
        self._unhurried: dict[str, int] = {}  # of which to slow or new endpoints, per account
        self.in_flight = 0  # requests in flight to every endpoint together
        self.slow_in_flight = 0  # of which to endpoints measured slow, all accounts
        # The bodies of the large requests in flight (scheduler.py's byte budget), in all
        # and per account; small ones are not counted (`try_slot`'s `size` 0).
        self.bytes_in_flight = 0
        self._account_bytes: dict[str, int] = {}

    def kept(self) -> int:
        """How many endpoints' limits and latencies are kept."""
        return len(self._throttles)

    def account_in_flight(self, account: str) -> int:
        """Requests in flight for `account`'s deliveries."""
        return self._accounts.get(account, 0)

    def account_bytes(self, account: str) -> int:
        """The bytes of `account`'s large bodies in flight."""
        return self._account_bytes.get(account, 0)

    def accounts(self) -> set[str]:
        """The accounts with requests in flight."""
        return set(self._accounts)

    def try_slot(self, key: str, account: str, size: int = 0) -> Slot | None:
        """A place for one request to the endpoint `key` for `account` now, or None if the
        endpoint is at its limit, or it is slow (or not measured yet) and such requests
        fill their share: `slow_slots` per account, and of measured-slow ones in all.
        `size`: its body's bytes, counted in `bytes_in_flight` while it holds the place
        (0: a small body, not counted)."""
        throttle = self._throttle(key)
        in_flight = self._in_flight.get(key, 0)
        if in_flight >= throttle.limit:
            return None
        latency = throttle.latency
        unhurried = latency is None or latency > self._slow_seconds
        slow = False
        if unhurried:  # (a fast endpoint, the usual case, skips all of this)
            if in_flight >= self._latency_limit(throttle):
                return None
            if self._unhurried.get(account, 0) >= self._slow_slots:
                return None
            slow = latency is not None
            if slow and self.slow_in_flight >= self._slow_slots:
                return None
            self._unhurried[account] = self._unhurried.get(account, 0) + 1
            if slow:
                self.slow_in_flight += 1
        self._in_flight[key] = in_flight + 1
        self._accounts[account] = self._accounts.get(account, 0) + 1
        self.in_flight += 1
        if size:
            self.bytes_in_flight += size
            self._account_bytes[account] = self._account_bytes.get(account, 0) + size
        return Slot(self, key, account, unhurried=unhurried, slow=slow, size=size)

    def measured(self) -> bool:
        """Whether any endpoint's latency is known (one request to it has ended)."""
        return any(throttle.latency is not None for throttle in self._throttles.values())

    def is_slow(self, key: str) -> bool:
        """Whether `key`'s requests are measured to take longer than the slow threshold."""
        throttle = self._throttles.get(key)
        latency = None if throttle is None else throttle.latency
        return latency is not None and latency > self._slow_seconds

    def queue_bound(
        self, key: str, *, max_in_flight: int, horizon_seconds: float, floor: int, ceiling: int
    ) -> int:
        """How many claimed deliveries may wait for `key` (see throttle.queue_bound), when
        the worker as a whole sends at most `max_in_flight` requests at once."""
        throttle = self._throttle(key)
        return queue_bound(
            in_flight=min(throttle.limit, self._latency_limit(throttle), max_in_flight),
            latency=throttle.latency,
            horizon_seconds=horizon_seconds,
            floor=floor,
            ceiling=ceiling,
        )

    def _latency_limit(self, throttle: EndpointThrottle) -> int:
        return latency_limit(
            max_limit=self._max,
            latency=throttle.latency,
            slow_seconds=self._slow_seconds,
            start=self._start,
        )

    def _leave(self, key: str, account: str, *, unhurried: bool, slow: bool, size: int) -> None:
        self.in_flight -= 1
        if size:
            self.bytes_in_flight -= size
            left = self._account_bytes[account] - size
            if left:
                self._account_bytes[account] = left
            else:
                del self._account_bytes[account]
        if unhurried:
            if slow:
                self.slow_in_flight -= 1
            left = self._unhurried[account] - 1
            if left:
                self._unhurried[account] = left
            else:
                del self._unhurried[account]
        self._in_flight[key] -= 1
        if self._in_flight[key] == 0:
            del self._in_flight[key]
            # Last in the order `_forget_idle` forgets in (a dict keeps insertion order):
            # the endpoints first in it are those idle longest.
            self._throttles[key] = self._throttles.pop(key)
        self._accounts[account] -= 1
        if self._accounts[account] == 0:
            del self._accounts[account]

    def _throttle(self, key: str) -> EndpointThrottle:
        throttle = self._throttles.get(key)
        if throttle is None:
            if len(self._throttles) >= KEPT_ENDPOINTS:
                self._forget_idle()
            throttle = self._throttles[key] = EndpointThrottle(self._max)
        return throttle

    def _forget_idle(self) -> None:
        """Forgets endpoints with nothing in flight, down to half the bound: first those of
        accounts holding more than ACCOUNT_SHARE, then any, idle longest first each time.
        One scan per KEPT_ENDPOINTS / 2 new endpoints. A slot keeps its own throttle."""
        excess = len(self._throttles) - KEPT_ENDPOINTS // 2
        idle = [key for key in self._throttles if key not in self._in_flight]
        held = Counter(key.partition(" ")[0] for key in self._throttles)
        over = {account: n - ACCOUNT_SHARE for account, n in held.items() if n > ACCOUNT_SHARE}
        forgotten: list[str] = []
        if over:
            for key in idle:
                account = key.partition(" ")[0]
                if over.get(account, 0) > 0:
                    over[account] -= 1
                    forgotten.append(key)
                    if len(forgotten) >= excess:
                        break
        if len(forgotten) < excess:
            chosen = set(forgotten)
            rest = (key for key in idle if key not in chosen)
            forgotten += itertools.islice(rest, excess - len(forgotten))
        for key in forgotten:
            del self._throttles[key]


class Slot:
    """One request's place in its endpoint's limit. `with slot:` gives it back when the block
    ends, returning or raising; `close()` does the same for a block that never ran (a task
    cancelled before its first step). Either way, only once."""

    __slots__ = (
        "_account",
        "_gate",
        "_key",
        "_open",
        "_size",
        "_slow",
        "_throttle",
        "_unhurried",
    )

    def __init__(
        self,
        gate: EndpointGate,
        key: str,
        account: str,
        *,
        unhurried: bool,
        slow: bool,
        size: int = 0,
    ) -> None:
        self._gate = gate
        self._key = key
        self._account = account
        self._unhurried = unhurried  # counted in its account's slow-or-new requests
        self._slow = slow  # counted in the worker's measured-slow requests
        self._size = size  # counted in the bytes in flight (a large body)
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
        self._gate._leave(
            self._key, self._account, unhurried=self._unhurried, slow=self._slow, size=self._size
        )
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
