"""The delivery worker: claim due deliveries in batches, send them concurrently, record the
outcomes in batches. Each step is small; the loop only wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from hookcast.delivery.attempt import Concluded, conclude, prepare
from hookcast.delivery.gate import EndpointGate
from hookcast.delivery.logs import log_attempt
from hookcast.domain.health import summarize
from hookcast.domain.throttle import endpoint_key
from hookcast.heartbeat import Heartbeat
from hookcast.ports import (
    AttemptReport,
    ClaimedDelivery,
    Clock,
    DeliveryObserver,
    NoObserver,
    Sender,
    Store,
)

_log = logging.getLogger("hookcast.worker")


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 128  # requests in flight at once, across all endpoints
    endpoint_concurrency: int = 32  # at most this many to one endpoint (halved on 429/503)
    # Claimed deliveries held for an endpoint that is at its limit, sent as its requests
    # finish; beyond this many the leases go back (busy_endpoint_delay) for other workers.
    endpoint_queue: int = 64
    # A lease outlives the longest timeout (30 s) with room to record the outcome; a worker
    # that dies loses its leases when they expire and another worker sends them again.
    lease_seconds: float = 60.0
    idle_wait_seconds: float = 1.0
    flush_interval_seconds: float = 0.02
    flush_batch: int = 500
    busy_endpoint_delay: timedelta = timedelta(milliseconds=200)
    disable_after: timedelta = timedelta(days=5)
    shutdown_grace_seconds: float = 10.0


@dataclass
class _Buffers:
    results: list[Concluded] = field(default_factory=list)
    releases: list[tuple[str, str]] = field(default_factory=list)


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        *,
        clock: Clock,
        options: WorkerOptions = WorkerOptions(),
        jitter: Callable[[], float] = random.random,
        observer: DeliveryObserver | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self._options = options
        self._jitter = jitter
        self._gate = EndpointGate(options.endpoint_concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._waiting: dict[str, deque[ClaimedDelivery]] = {}  # per endpoint at its limit
        self._saturated: set[str] = set()  # endpoints whose claims last overflowed
        self._buffers = _Buffers()
        self._flushed = asyncio.Event()
        self._stopping = False  # set once run() is draining: the flusher's last turn
        self._slot_freed = asyncio.Event()
        self.delivered = 0  # attempts recorded; read by tests and metrics
        self._observer = observer or NoObserver()
        self.heartbeat = heartbeat or Heartbeat()  # read by /readyz

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until `stop` is set, then finishes or releases in-flight work."""
        flusher = asyncio.create_task(self._flush_loop(), name="hookcast-flusher")
        try:
            while not stop.is_set():
                self.heartbeat.beat()
                room = self._room()
                if room <= 0:
                    await self._wait_for_slot(stop)
                    continue
                claimed = await self._claim(room)
                for item in claimed:
                    self._start(item)
                if not claimed:
                    await self._idle(stop)
        finally:
            self._release_waiting()
            await self._drain()
            # Ask the flusher to finish rather than cancel it: a cancel landing inside its
            # write dropped the outcomes it carried, and those deliveries, already sent,
            # were sent again when their leases expired (found by chaos/ rolling restarts).
            self._stopping = True
            self._flushed.set()
            await flusher
            await self._flush()

    def _room(self) -> int:
        """How many deliveries to claim now.

        Every lease held (in flight or waiting) counts against `concurrency`. While an
        endpoint is at its limit, claims are only refills of its queue, and only once half of
        it has gone: claiming more would lease rows just to hand them back (measured: one
        fast endpoint drained ~280 deliveries/s when every claim overflowed and released).
        """
        waiting = sum(len(queue) for queue in self._waiting.values())
        room = self._options.concurrency - len(self._in_flight) - waiting
        self._saturated = {key for key in self._saturated if self._gate.is_full(key)}
        if not self._saturated:
            return room
        size = self._options.endpoint_queue
        free = sum(size - len(self._waiting.get(key, ())) for key in self._saturated)
        return min(room, free) if free >= size // 2 else 0

    async def _claim(self, room: int) -> list[ClaimedDelivery]:
        try:
            return list(
                await self._store.claim_due_deliveries(
                    now=self._clock(), limit=room, lease_seconds=self._options.lease_seconds
                )
            )
        except Exception:  # the database may be down for a while: log, back off, go on
            _log.exception("claiming deliveries failed; retrying shortly")
            await asyncio.sleep(1.0)
            return []

    def _start(self, claimed: ClaimedDelivery) -> None:
        url = claimed.webhook.webhook_url
        key = self._gate.try_enter(url)
        if key is not None:
            self._launch(claimed, key)
            return
        key = endpoint_key(url)
        self._saturated.add(key)
        queue = self._waiting.setdefault(key, deque())
        if len(queue) < self._options.endpoint_queue:
            # Held under its lease and sent as soon as the endpoint has a free slot: the
            # queue is short, so the wait stays far below the lease (a slow endpoint at 32
            # in flight and 10 s timeouts holds a delivery ~20 s at most).
            queue.append(claimed)
            return
        # The queue is full too: hand the lease back for a moment rather than hold room
        # that other endpoints could use (no attempt is counted).
        self._buffers.releases.append((claimed.delivery.id, claimed.lease_token))

    def _start_waiting(self, key: str) -> None:
        queue = self._waiting.get(key)
        if queue is None:
            return
        while queue:
            entered = self._gate.try_enter(queue[0].webhook.webhook_url)
            if entered is None:
                return
            self._launch(queue.popleft(), entered)
        del self._waiting[key]

    def _release_waiting(self) -> None:
        for queue in self._waiting.values():
            self._buffers.releases.extend((c.delivery.id, c.lease_token) for c in queue)
        self._waiting.clear()

    def _launch(self, claimed: ClaimedDelivery, key: str) -> None:
        task = asyncio.create_task(self._deliver(claimed, key))
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_freed.set()

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
        self._gate.leave(key, concluded.kind, now)
        self._start_waiting(key)
        log_attempt(concluded.report)
        self._buffers.results.append(concluded)
        if len(self._buffers.results) >= self._options.flush_batch:
            self._flushed.set()

    async def _idle(self, stop: asyncio.Event) -> None:
        timeout = await self._idle_timeout()
        waiters = [
            asyncio.ensure_future(self._store.wait_for_deliveries(timeout)),
            asyncio.ensure_future(stop.wait()),
        ]
        if self._in_flight:
            waiters.append(asyncio.ensure_future(self._slot_freed.wait()))
        self._slot_freed.clear()
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()

    async def _idle_timeout(self) -> float:
        try:
            next_due = await self._store.next_due_at()
        except Exception:
            return self._options.idle_wait_seconds
        if next_due is None:
            return self._options.idle_wait_seconds
        until = (next_due - self._clock()).total_seconds()
        return max(0.01, min(until, self._options.idle_wait_seconds))

    async def _wait_for_slot(self, stop: asyncio.Event) -> None:
        self._slot_freed.clear()
        if self._in_flight:
            stopper = asyncio.ensure_future(stop.wait())
            slot = asyncio.ensure_future(self._slot_freed.wait())
            # Bounded, so the loop (and its heartbeat) turns even while every slot is busy.
            _, pending = await asyncio.wait(
                [stopper, slot],
                timeout=self._options.idle_wait_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for waiter in pending:
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
            await self._store.record_results([item.result for item in results], health)
            self.delivered += len(results)
            self._report([item.report for item in results])
        if releases:
            await self._store.release_deliveries(
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
