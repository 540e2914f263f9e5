"""The delivery worker: claim due deliveries in large batches, queue them per endpoint, send
them concurrently, record the outcomes in batches. Each step is small; the loop only wires
them together. In `hookcast serve`, publishes also hand it their deliveries directly (the
worker is their `Handoff`): created leased to it, they skip the claim."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from hookcast.delivery.attempt import Concluded, conclude, prepare
from hookcast.delivery.gate import EndpointGate
from hookcast.delivery.logs import log_attempt
from hookcast.domain.health import summarize
from hookcast.domain.models import DeliveryStatus
from hookcast.domain.throttle import endpoint_key
from hookcast.heartbeat import Heartbeat
from hookcast.ports import (
    AttemptReport,
    ClaimedDelivery,
    Clock,
    DeliveryObserver,
    DeliveryQueue,
    Lease,
    NoObserver,
    Sender,
)

_log = logging.getLogger("hookcast.worker")


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 128  # requests in flight at once, across all endpoints
    endpoint_concurrency: int = 32  # at most this many to one endpoint (halved on 429/503)
    # Leases held at once: requests in flight plus claimed deliveries waiting their turn.
    # A claim is made once no more than half are held, so each claim is one transaction of
    # hundreds of rows rather than many of a few. Keep it at least twice `concurrency`.
    prefetch: int = 1024
    # Deliveries should wait for their endpoint at most about lease_seconds * queue_horizon:
    # each endpoint's queue holds what it gets through in that time at its measured latency
    # (at least endpoint_queue). What a claim brings beyond that goes back for
    # busy_endpoint_delay, so other workers and endpoints go first. A delivery still queued
    # after lease_seconds * queue_expiry is handed back the same way instead of sent: its
    # lease must outlast the request.
    endpoint_queue: int = 64
    queue_horizon: float = 0.25
    queue_expiry: float = 0.5
    # A lease outlives the longest timeout (30 s) with room to record the outcome; a worker
    # that dies loses its leases when they expire and another worker sends them again.
    lease_seconds: float = 60.0
    idle_wait_seconds: float = 1.0
    # Outcomes are recorded in one write per interval (or per flush_batch): each write costs
    # ~1.2 ms of the loop's time whatever its size, ~6% of a core at 50 writes/s. An outcome
    # recorded later is only re-sent if the process dies meanwhile (at-least-once).
    flush_interval_seconds: float = 0.05
    flush_batch: int = 500
    busy_endpoint_delay: timedelta = timedelta(milliseconds=200)
    disable_after: timedelta = timedelta(days=5)
    shutdown_grace_seconds: float = 10.0


_Queued = tuple[ClaimedDelivery, float]  # and the loop time after which it is not sent


@dataclass
class _Buffers:
    results: list[Concluded] = field(default_factory=list)
    releases: list[tuple[str, str]] = field(default_factory=list)


class DeliveryWorker:
    def __init__(
        self,
        queue: DeliveryQueue,
        sender: Sender,
        *,
        clock: Clock,
        options: WorkerOptions = WorkerOptions(),
        jitter: Callable[[], float] = random.random,
        observer: DeliveryObserver | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._queue = queue
        self._sender = sender
        self._clock = clock
        self._options = options
        self._jitter = jitter
        self._gate = EndpointGate(options.endpoint_concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        # Claimed deliveries not yet started, per endpoint, and the endpoints that have some,
        # in the round-robin order they are started in.
        self._queues: dict[str, deque[_Queued]] = {}
        self._rotation: deque[str] = deque()
        self._queued = 0
        self._saturated: set[str] = set()  # endpoints whose queues overflowed
        self._buffers = _Buffers()
        self._flushed = asyncio.Event()
        self._stopping = False  # set once run() is draining: the flusher's last turn
        self._room_freed = asyncio.Event()  # the claim loop may claim again
        self._waiting_for_room = False
        self._retry_recorded = asyncio.Event()  # a retry was scheduled: it may be due soon
        self._taking = False  # run() is running: publishes may hand deliveries over
        # One token for every delivery handed over by a publish: a lease is a claim on rows
        # by this worker, and a delivery claimed again after its lease expired gets the
        # claimer's fresh token, so this one no longer records anything on it.
        self._handoff_token = secrets.token_hex(16)
        self.delivered = 0  # attempts recorded; read by tests and metrics
        self._observer = observer or NoObserver()
        self.heartbeat = heartbeat or Heartbeat()  # read by /readyz

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until `stop` is set, then finishes or releases in-flight work."""
        flusher = asyncio.create_task(self._flush_loop(), name="hookcast-flusher")
        self._taking = True
        try:
            while not stop.is_set():
                self.heartbeat.beat()
                room = self._room()
                if room <= 0:
                    await self._wait_for_room(stop)
                    continue
                claimed = await self._claim(room)
                self._enqueue(claimed)
                self._pump()
                if len(claimed) < room:  # nothing more is due now: no need to ask again
                    await self._idle(stop)
        finally:
            self._taking = False
            self._release_queued()
            await self._drain()
            # Ask the flusher to finish rather than cancel it: a cancel landing inside its
            # write dropped the outcomes it carried, and those deliveries, already sent,
            # were sent again when their leases expired (found by chaos/ rolling restarts).
            self._stopping = True
            self._flushed.set()
            await flusher
            await self._flush()

    # Handoff: deliveries from publishes in this process

    def lease(self) -> Lease | None:
        """A lease for one publish's deliveries while this worker runs and holds fewer than
        `prefetch`: they are then sent as soon as they are committed, with no claim."""
        room = self._options.prefetch - self._held()
        if not self._taking or room <= 0:
            return None
        until = self._clock() + timedelta(seconds=self._options.lease_seconds)
        return Lease(token=self._handoff_token, until=until, room=room)

    def take(self, leased: Sequence[ClaimedDelivery]) -> None:
        """Queues committed deliveries created under a lease from `lease()`. If the worker
        stopped in between, their leases expire and a worker claims them then."""
        if self._taking:
            self._enqueue(list(leased))
            self._pump()

    def _room(self) -> int:
        """How many deliveries to claim now.

        None while more than half of `prefetch` is held: claims stay large. None either while
        the endpoints whose queues overflowed have less than half their queues free: a claim
        would mostly bring their rows again, only to hand them back (measured: one fast
        endpoint drained ~280 deliveries/s when every claim overflowed and released).
        """
        held = self._held()
        if held > self._options.prefetch // 2:
            return 0
        room = self._options.prefetch - held
        self._saturated = {key for key in self._saturated if key in self._queues}
        if not self._saturated:
            return room
        free = half = 0
        for key in self._saturated:
            bound = self._queue_bound(key)
            free += bound - len(self._queues[key])
            half += bound // 2
        return min(room, free) if free >= half else 0

    def _held(self) -> int:
        """Leases held: requests in flight plus deliveries queued for their endpoint."""
        return len(self._in_flight) + self._queued

    def _queue_bound(self, key: str) -> int:
        options = self._options
        return self._gate.queue_bound(
            key,
            max_in_flight=options.concurrency,
            horizon_seconds=options.lease_seconds * options.queue_horizon,
            floor=options.endpoint_queue,
            ceiling=options.prefetch,
        )

    async def _claim(self, room: int) -> list[ClaimedDelivery]:
        try:
            return list(
                await self._queue.claim_due_deliveries(
                    now=self._clock(), limit=room, lease_seconds=self._options.lease_seconds
                )
            )
        except Exception:  # the database may be down for a while: log, back off, go on
            _log.exception("claiming deliveries failed; retrying shortly")
            await asyncio.sleep(1.0)
            return []

    def _enqueue(self, claimed: list[ClaimedDelivery]) -> None:
        """Queues each delivery for its endpoint, or hands its lease back if that queue is
        full (no attempt is counted)."""
        bounds: dict[str, int] = {}
        options = self._options
        latest_start = (
            asyncio.get_running_loop().time() + options.lease_seconds * options.queue_expiry
        )
        for item in claimed:
            key = endpoint_key(item.webhook.webhook_url)
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = deque()
                self._rotation.append(key)
            bound = bounds.get(key)
            if bound is None:
                bound = bounds[key] = self._queue_bound(key)
            if len(queue) >= bound:
                self._saturated.add(key)
                self._buffers.releases.append((item.delivery.id, item.lease_token))
                continue
            queue.append((item, latest_start))
            self._queued += 1
        for key in bounds:
            if not self._queues[key]:  # everything it brought went back
                del self._queues[key]
                self._rotation.remove(key)

    def _pump(self) -> None:
        """Starts queued deliveries, one endpoint after another, while the worker and each
        endpoint have room for more requests."""
        rotation, limit = self._rotation, self._options.concurrency
        now = asyncio.get_running_loop().time()
        blocked = 0  # endpoints in a row that are at their limit
        while rotation and blocked < len(rotation) and len(self._in_flight) < limit:
            key = rotation[0]
            queue = self._queues[key]
            claimed, latest_start = queue[0]
            if latest_start < now:
                # Waited too long: too little of its lease is left for the request. Handed
                # back, it is claimed again with a fresh lease.
                queue.popleft()
                self._queued -= 1
                self._buffers.releases.append((claimed.delivery.id, claimed.lease_token))
            elif self._gate.try_enter(key):
                blocked = 0
                queue.popleft()
                self._queued -= 1
                self._launch(claimed, key)
            else:
                rotation.rotate(-1)
                blocked += 1
                continue
            if queue:
                rotation.rotate(-1)
            else:
                rotation.popleft()
                del self._queues[key]

    def _release_queued(self) -> None:
        for queue in self._queues.values():
            self._buffers.releases.extend((c.delivery.id, c.lease_token) for c, _ in queue)
        self._queues.clear()
        self._rotation.clear()
        self._queued = 0

    def _launch(self, claimed: ClaimedDelivery, key: str) -> None:
        task = asyncio.create_task(self._deliver(claimed, key))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._pump()
        if self._waiting_for_room and self._room() > 0:
            self._room_freed.set()

    async def _deliver(self, claimed: ClaimedDelivery, key: str) -> None:
        started_at = self._clock()
        request = prepare(claimed, started_at)
        try:
            outcome = await self._sender.send(request)
        except asyncio.CancelledError:
            # Shutting down mid-send: give the lease back so it is sent again at once.
            self._buffers.releases.append((claimed.delivery.id, claimed.lease_token))
            raise
        now = self._clock()
        concluded = conclude(
            claimed,
            request,
            outcome,
            started_at=started_at,
            now=now,
            jitter_sample=self._jitter(),
            disable_after=self._options.disable_after,
        )
        self._gate.leave(key, concluded.kind, now, outcome.latency_ms / 1000)
        log_attempt(concluded.report)
        self._buffers.results.append(concluded)
        if len(self._buffers.results) >= self._options.flush_batch:
            self._flushed.set()

    async def _idle(self, stop: asyncio.Event) -> None:
        """Nothing was due: wait for a publish or release (the queue's wake-up), a retry
        recorded by this worker, the next due time, or `stop`."""
        self._retry_recorded.clear()  # before the next due time is read: none is missed
        timeout = await self._idle_timeout()
        waiters = [
            asyncio.ensure_future(self._queue.wait_for_deliveries(timeout)),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._retry_recorded.wait()),
        ]
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()

    async def _idle_timeout(self) -> float:
        try:
            next_due = await self._queue.next_due_at()
        except Exception:
            return self._options.idle_wait_seconds
        if next_due is None:
            return self._options.idle_wait_seconds
        until = (next_due - self._clock()).total_seconds()
        return max(0.01, min(until, self._options.idle_wait_seconds))

    async def _wait_for_room(self, stop: asyncio.Event) -> None:
        """Until requests finish and leave room to claim (see _finished), bounded so that the
        loop, and its heartbeat, turn even while every slot stays busy."""
        self._room_freed.clear()
        self._waiting_for_room = True
        stopper = asyncio.ensure_future(stop.wait())
        freed = asyncio.ensure_future(self._room_freed.wait())
        try:
            await asyncio.wait(
                [stopper, freed],
                timeout=self._options.idle_wait_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            self._waiting_for_room = False
        for waiter in (stopper, freed):
            waiter.cancel()

    async def _flush_loop(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flushed.wait(), self._options.flush_interval_seconds)
            self._flushed.clear()
            await self._flush()

    async def _flush(self) -> None:
        results, releases = self._buffers.results, self._buffers.releases
        if not results and not releases:
            return
        self._buffers = _Buffers()
        try:
            await self._record(results, releases)
        except Exception:
            # Keep them for the next flush; if this process dies first, the leases expire
            # and the deliveries are sent again (at-least-once).
            _log.exception("recording %d outcomes failed; will retry", len(results))
            self._buffers.results[:0] = results
            self._buffers.releases[:0] = releases
            await asyncio.sleep(0.5)

    async def _record(self, results: list[Concluded], releases: list[tuple[str, str]]) -> None:
        if results:
            health = summarize(item.health for item in results)
            await self._queue.record_results([item.result for item in results], health)
            self.delivered += len(results)
            self._report([item.report for item in results])
            if any(item.result.status is DeliveryStatus.PENDING for item in results):
                self._retry_recorded.set()
        if releases:
            await self._queue.release_deliveries(
                releases, self._clock() + self._options.busy_endpoint_delay
            )

    def _report(self, reports: list[AttemptReport]) -> None:
        try:
            self._observer.on_attempts(reports)
        except Exception:  # metrics must never stop delivery
            _log.exception("the delivery observer failed")

    async def _drain(self) -> None:
        """On shutdown: give in-flight sends a grace period, then cancel the rest; their
        leases are released so another worker sends them at once."""
        if not self._in_flight:
            return
        _, still_running = await asyncio.wait(
            set(self._in_flight), timeout=self._options.shutdown_grace_seconds
        )
        for task in still_running:
            task.cancel()
        await asyncio.gather(*still_running, return_exceptions=True)
