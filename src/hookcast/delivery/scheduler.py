"""Which claimed delivery is sent next: a queue per endpoint, the accounts served in turn and
within each account its endpoints in turn, each endpoint held to its concurrency limit
(gate.py) and its queue to what it gets through in a fraction of a lease.

Fair share: while several accounts have deliveries waiting, each may have at most its share
of the worker's requests in flight (`concurrency` divided by their number); an account alone
may use the whole worker. Slow endpoints get fewer slots (gate.py), so one account's slow
endpoints cannot hold the worker while another account's deliveries wait.

Bytes under way: a delivery whose body is large (over 16 KB: an event's `data` may take
256 KB) starts only while the large bodies in flight stay within `bytes_in_flight`, or alone;
while several accounts wait, each may have at most its share of those bytes in flight, as of
requests. An account's first large body that does not fit reserves its size from the
account's other large ones, so smaller ones cannot pass it each time one ends. What waits
holds its claimed event, not a body: the body, its signatures and the request's bytes are
made once it starts (attempt.py, sender.py).

Pure bookkeeping on the event loop's thread: no I/O and no clock of its own (callers pass
the loop's time), so tests/unit/delivery drives it with tables.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Collection, Sequence

import orjson

from hookcast.delivery.gate import EndpointGate, Slot
from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.rotation import RoundRobin
from hookcast.domain.models import JSONObject, Webhook
from hookcast.domain.throttle import endpoint_key
from hookcast.ports import LARGE_BODY, ClaimedDelivery

LeaseKey = tuple[str, str]  # (delivery_id, lease_token): what a release hands back
# And the loop time after which it is not sent, and its body's bytes as the budget counts
# them (0: small, not counted).
_Queued = tuple[ClaimedDelivery, float, int]


Start = tuple[ClaimedDelivery, Slot, float]
"""A delivery to send now, holding its place in its endpoint's limit, and its latest start
(loop time): what delays its request further (its rate limit's check) must not pass it."""
Ready = tuple[list[Start], list[LeaseKey]]
"""What `EndpointScheduler.ready` decided: the deliveries to send now, and the leases of
those that waited too long, to hand back unattempted. Plain tuples: built for every send."""


# A delivery's body is its event's `data` and an envelope of a few hundred bytes (the
# format's fields, ids, times). Bodies up to LARGE_BODY are not counted in the byte budget:
# the usual event's is well under 1 KB, and at the default concurrency such bodies take at
# most 2 MB.
ENVELOPE_BYTES = 1024


def counted_size(data: JSONObject | None) -> int:
    """The bytes the byte budget counts for a delivery of an event with `data`: about its
    body's size, or 0 for a small one. orjson writes `data` as the formats do, once per run
    of one event's deliveries in a claim or publish (`enqueue`): 0.26 us for a usual
    event's, 8 us for a 254 KB string's."""
    if data is None:
        return 0
    try:
        size = len(orjson.dumps(data)) + ENVELOPE_BYTES
    except orjson.JSONEncodeError:  # not sendable either: the send's boundary says why
        return 0
    return size if size > LARGE_BODY else 0


@functools.lru_cache(maxsize=4096)
def _endpoint(account_id: str, url: str) -> str:
    """The unit held to one limit, latency and queue: an account's requests to one endpoint
    (`scheme://host:port`). Per account, as one host serves many owners' endpoints by path
    (hooks.zapier.com, Azure Logic Apps): keyed by the endpoint alone, one account's path
    answering in 25 s made the host slow for every account, and another account's 60
    deliveries to a 0.2 s path of it took 21 s instead of 0.5 (attack 10). Cached, as
    endpoint_key is: computed for every delivery queued, and webhooks reuse a few URLs."""
    return account_id + " " + endpoint_key(url)


class EndpointScheduler:
    """Claimed deliveries waiting for their endpoint, and the requests in flight."""

    def __init__(self, options: WorkerOptions) -> None:
        self._options = options
        self._gate = EndpointGate(
            options.endpoint_concurrency,
            slow_seconds=options.slow_endpoint_seconds,
            slow_slots=max(1, int(options.concurrency * options.slow_share)),
            start=options.new_endpoint_concurrency,
        )
        self._accounts: dict[str, RoundRobin[_Queued]] = {}  # each one's endpoints in turn
        self._turns: deque[str] = deque()  # the accounts with deliveries queued, next first
        self._queued: dict[str, int] = {}  # deliveries queued per endpoint, all accounts
        self._size = 0
        self._saturated: set[str] = set()  # endpoints whose queues overflowed
        self._measured = False  # some endpoint's latency is known (room() caches it)
        # Per account, the first of its large bodies that did not fit the byte budget, and
        # its size: the account's other large ones start only within what it leaves, until
        # it starts or leaves the queue. Without it, each body that ended let a smaller one
        # to another of its endpoints start in its place, and the larger waited until its
        # latest start passed, again after each claim (review16,
        # tests/unit/delivery/test_scheduler_bytes.py). Other accounts' are held to their
        # shares instead: one over its share reserving for all would hold back the others.
        self._reserved: dict[str, tuple[ClaimedDelivery, int]] = {}

    @property
    def held(self) -> int:
        """Leases held: requests in flight plus deliveries queued for their endpoint."""
        return self._gate.in_flight + self._size

    def room(self) -> int:
        """How many deliveries to claim now.

        None while more than half of `prefetch` is held: claims stay large. None either while
        the endpoints whose queues overflowed have less than half their queues free: a claim
        would mostly bring their rows again, only to hand them back (measured: one fast
        endpoint drained ~280 deliveries/s when every claim overflowed and released). Except
        endpoints measured slow: at a few requests per 10 s, half a queue takes minutes to
        free, and no other account's delivery would be claimed meanwhile (measured: another
        account's p99 40-51 s on PostgreSQL, docs/reliability.md, "Noisy neighbour").
        """
        held = self.held
        if held > self._options.prefetch // 2:
            return 0
        room = self._options.prefetch - held
        if not self._measured:
            # No request has ended yet: every endpoint's queue is `endpoint_queue` long
            # (throttle.py queue_bound), so a claim of `prefetch` handed back all the rest,
            # each a write and a claim again (a drain's first claims: 1,920 of 20,000).
            self._measured = self._gate.measured()
            if not self._measured:
                return max(0, min(room, self._options.endpoint_queue - held))
        self._saturated = {key for key in self._saturated if key in self._queued}
        holding = [key for key in self._saturated if not self._gate.is_slow(key)]
        if not holding:
            return room
        free = half = 0
        for key in holding:
            bound = self._queue_bound(key)
            free += bound - self._queued[key]
            half += bound // 2
        return min(room, free) if free >= half else 0

    def spare_room(self) -> int:
        """How many deliveries of accounts it holds none of to claim while `room()` is 0:
        a small claim, so a busy account's full queues do not keep the others' deliveries
        out of the worker. Its leases may exceed `prefetch` by one such claim, no more."""
        options = self._options
        return min(
            options.claim_per_account, options.prefetch + options.claim_per_account - self.held
        )

    def holding(self) -> set[str]:
        """The accounts with deliveries queued or in flight here."""
        return self._gate.accounts() | self._accounts.keys()

    def enqueue(
        self,
        claimed: Sequence[ClaimedDelivery],
        *,
        now: float,
        lease_ends: float | None = None,
        handed_over: bool = False,
    ) -> list[LeaseKey]:
        """Queues each delivery for its endpoint, to be sent by its latest start: within
        `queue_expiry` of a lease after `now`, and early enough that its webhook's timeout
        and then the recording of its outcome (`record_margin_seconds`) end before its
        lease does, at loop time `lease_ends` (by default a whole lease after `now`): sent
        later, it could be claimed and sent again meanwhile. Returns the leases to hand back
        (no attempt is counted) because their endpoint's queue is full. Deliveries
        `handed_over` by publishes in this process may fill it to twice its bound: the
        publishes under way took their leases before the worker had queued those of the
        publishes before them, and each one handed back would cost a write and a claim
        (measured: a fifth of them, publishing saturated)."""
        options = self._options
        if lease_ends is None:
            lease_ends = now + options.lease_seconds
        queued_until = now + options.lease_seconds * options.queue_expiry
        recorded_by = lease_ends - options.record_margin_seconds
        bounds: dict[str, int] = {}
        data, size = None, 0  # the latest delivery's event data, and what the budget counts
        overflow: list[LeaseKey] = []
        for item in claimed:
            webhook = item.webhook
            account = webhook.account_id
            key = _endpoint(account, webhook.webhook_url)
            bound = bounds.get(key)
            if bound is None:
                bound = bounds[key] = self._queue_bound(key) * (2 if handed_over else 1)
            queued = self._queued.get(key, 0)
            if queued >= bound:
                self._saturated.add(key)
                overflow.append((item.delivery_id, item.lease_token))
                continue
            self._queued[key] = queued + 1
            endpoints = self._accounts.get(account)
            if endpoints is None:
                endpoints = self._accounts[account] = RoundRobin()
                self._turns.append(account)
            timeout = webhook.timeout_seconds
            if item.data is not data:  # a fan-out's deliveries come one event together
                data = item.data  # (sharing its data: store/sql_store.py, memory_queue.py)
                size = counted_size(data)
            endpoints.push(key, (item, min(queued_until, recorded_by - timeout), size))
        self._size += len(claimed) - len(overflow)
        return overflow

    def ready(self, *, now: float, at_most: int | None = None) -> Ready:
        """Takes queued deliveries to send now, one account after another and within each
        account one endpoint after another, while the worker, each endpoint and (when others
        wait) each account have room for more requests; a delivery queued past its latest
        start (at loop time `now`) goes back instead: too little of its lease is left for
        the request, and claimed again it gets a fresh one. At most `at_most` start."""
        starts: list[Start] = []
        expired: list[LeaseKey] = []
        turns, gate, limit = self._turns, self._gate, self._options.concurrency
        budget = self._options.bytes_in_flight
        at_most = limit if at_most is None else at_most
        blocked = 0  # accounts in a row that could start nothing
        while (
            gate.in_flight < limit and len(starts) < at_most and blocked < len(turns)
        ):  # (none queued: none waits)
            account = turns[0]
            endpoints = self._accounts[account]
            waiting = len(turns)
            if waiting > 1 and (
                gate.account_in_flight(account) * waiting >= limit
                or gate.account_bytes(account) * waiting >= budget
            ):
                blocked += 1  # at its share (limit / waiting, rounded up): others go first
            elif self._start_one(account, endpoints, now=now, starts=starts, expired=expired):
                blocked = 0
            else:
                blocked += 1
            if endpoints:
                turns.rotate(-1)
            else:  # one fewer waits: the others' shares grow, so each may try again
                turns.popleft()
                del self._accounts[account]
                self._reserved.pop(account, None)
                blocked = 0
        return starts, expired

    def clear(self) -> list[LeaseKey]:
        """Takes every queued delivery (shutting down): their leases, to hand back."""
        leases = [
            (c.delivery_id, c.lease_token)
            for endpoints in self._accounts.values()
            for c, _, _ in endpoints.clear()
        ]
        self._accounts.clear()
        self._turns.clear()
        self._queued.clear()
        self._size = 0
        self._reserved.clear()
        return leases

    def drop_webhooks(self, webhook_ids: Collection[str]) -> list[LeaseKey]:
        """Takes these webhooks' queued deliveries (disabled, edited or deleted since they
        were claimed): their leases, to hand back unattempted, so nothing more is sent to
        them from here with what they were when claimed."""
        if not webhook_ids:
            return []
        return self._drop_where(lambda queued: queued[0].webhook.id in webhook_ids)

    def queued_leases(self) -> list[LeaseKey]:
        """The leases of every queued delivery."""
        return [
            (claimed.delivery_id, claimed.lease_token)
            for endpoints in self._accounts.values()
            for claimed, _, _ in endpoints.items()
        ]

    def keep_only(self, leases: Collection[LeaseKey]) -> list[LeaseKey]:
        """Takes the queued deliveries whose leases are not in `leases` (they were taken
        back, or may have been): their leases, to hand back unattempted. By lease, not by
        delivery: a worker found dead may have claimed a delivery again before it learnt
        so, and then holds it queued under its lapsed lease and its new one."""
        return self._drop_where(
            lambda queued: (queued[0].delivery_id, queued[0].lease_token) not in leases
        )

    def _drop_where(self, dropped: Callable[[_Queued], bool]) -> list[LeaseKey]:
        """Takes the queued deliveries `dropped` is true of: their leases."""
        self._reserved.clear()  # perhaps among them; the next pass reserves again if not
        leases: list[LeaseKey] = []
        for account in [a for a in self._turns if not self._drop(a, dropped, leases)]:
            self._turns.remove(account)
            del self._accounts[account]
        return leases

    def queued_webhooks(self) -> list[Webhook]:
        """The webhooks of the queued deliveries, as each was claimed: one object per
        claim that loaded it (deliveries of one claim share it)."""
        seen: dict[int, Webhook] = {}
        for endpoints in self._accounts.values():
            for claimed, _, _ in endpoints.items():
                seen.setdefault(id(claimed.webhook), claimed.webhook)
        return list(seen.values())

    def _drop(
        self, account: str, dropped: Callable[[_Queued], bool], leases: list[LeaseKey]
    ) -> bool:
        """Moves the account's queued deliveries `dropped` is true of into `leases`; whether
        any of its deliveries stay queued."""
        endpoints = self._accounts[account]
        for key, (claimed, _, _) in endpoints.take_where(dropped):
            self._dequeued(key)
            leases.append((claimed.delivery_id, claimed.lease_token))
        return bool(endpoints)

    def _start_one(
        self,
        account: str,
        endpoints: RoundRobin[_Queued],
        *,
        now: float,
        starts: list[Start],
        expired: list[LeaseKey],
    ) -> bool:
        """Starts the first delivery of `account` whose endpoint has room, its endpoints
        tried in turn (expired ones handed back on the way); False if none could start."""
        gate = self._gate
        blocked = 0  # endpoints in a row that are at their limit
        while blocked < endpoints.keys:
            key, (claimed, latest_start, size) = endpoints.head()
            if latest_start < now:
                endpoints.pop()
                self._dequeued(key)
                expired.append((claimed.delivery_id, claimed.lease_token))
                if size:
                    self._unreserve(account, claimed)
            elif size and not self._fits(account, claimed, size):
                endpoints.skip()  # its endpoint's next waits behind it: the others may go
                blocked += 1
            elif (slot := gate.try_slot(key, account, size)) is not None:
                endpoints.pop()
                # _dequeued written out: once per delivery sent.
                self._size -= 1
                left = self._queued[key] - 1
                if left:
                    self._queued[key] = left
                else:
                    del self._queued[key]
                starts.append((claimed, slot, latest_start))
                if size:
                    self._unreserve(account, claimed)
                return True
            else:
                endpoints.skip()
                blocked += 1
        return False

    def _unreserve(self, account: str, claimed: ClaimedDelivery) -> None:
        """Ends the account's reservation if `claimed` holds it (it starts or expires)."""
        reserved = self._reserved.get(account)
        if reserved is not None and reserved[0] is claimed:
            del self._reserved[account]

    def _fits(self, account: str, claimed: ClaimedDelivery, size: int) -> bool:
        """Whether `claimed`, a large body of `size` bytes, may start now: within the byte
        budget, less what its account's first that did not fit reserves, or alone (one
        always goes, however large). The account's first that does not fit reserves."""
        in_flight = self._gate.bytes_in_flight
        if not in_flight:
            return True
        budget = self._options.bytes_in_flight
        reserved = self._reserved.get(account)
        if reserved is None or reserved[0] is claimed:
            if in_flight + size <= budget:
                return True
            self._reserved[account] = (claimed, size)
            return False
        return in_flight + size <= budget - reserved[1]

    def _dequeued(self, key: str) -> None:
        self._size -= 1
        left = self._queued[key] - 1
        if left:
            self._queued[key] = left
        else:
            del self._queued[key]

    def _queue_bound(self, key: str) -> int:
        options = self._options
        return self._gate.queue_bound(
            key,
            max_in_flight=options.concurrency,
            horizon_seconds=options.lease_seconds * options.queue_horizon,
            floor=options.endpoint_queue,
            ceiling=options.prefetch,
        )
