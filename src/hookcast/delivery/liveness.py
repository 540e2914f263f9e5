"""A worker's heartbeat in the database, and taking back the leases of dead workers.

A worker registers when it starts and beats every `beat_seconds` while it holds leases,
every other time while it holds none (thought dead then, it loses nothing, and its next
beat or claim registers it again: an idle deployment's beats were most of its
transactions); taking leases brings the next beat back within `beat_seconds` of the last.
On each beat it also takes back the leases of workers silent for `stale_after_seconds`,
so what a killed worker held is due again within a few seconds. A sole worker (SQLite: one
delivering process) takes back every other worker's leases when it starts: none of them
can be alive. A worker whose own beats have not reached the database lately (an outage)
beats once before it takes anything back: otherwise the first worker back would find
every other one dead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.outage import Outage
from hookcast.ports import Clock, DeliveryQueue

__all__ = ["Liveness"]

_log = logging.getLogger("hookcast.worker")


class Liveness:
    """`start()` registers the worker and takes back what the dead held; `run(stop)` beats
    until `stop`."""

    def __init__(
        self,
        queue: DeliveryQueue,
        *,
        worker_id: str,
        clock: Clock,
        options: WorkerOptions,
        holding: Callable[[], bool] = lambda: True,
        outage: Outage | None = None,
    ) -> None:
        """`holding()`: whether the worker holds leases now (it then beats on time);
        `outage`: where failed beats are said (the worker's, shared with its claims)."""
        self._outage = outage or Outage(_log)
        self._queue = queue
        self._worker_id = worker_id
        self._clock = clock
        self._options = options
        self._holding = holding
        self._took = asyncio.Event()  # leases taken since the wait began (`took_leases`)
        self._beaten_at = float("-inf")  # loop time of the last beat tried
        self._last_beat: datetime | None = None  # the last beat the database took

    def took_leases(self) -> None:
        """The worker took leases: its next beat comes within `beat_seconds` of the last."""
        self._took.set()

    async def start(self) -> None:
        """Registers this worker, then takes back the leases of workers found dead (all
        others' when this is the sole worker). Failures are logged: the beats retry."""
        now = self._clock()
        stale_before = now if self._options.sole_worker else self._stale_before(now)
        await self._beat(now, stale_before)

    async def run(self, stop: asyncio.Event) -> None:
        """Beats until `stop` is set: every `beat_seconds` while holding leases, twice as
        long apart while holding none."""
        while not stop.is_set():
            await self._pause(stop)
            if not stop.is_set():
                now = self._clock()
                await self._beat(now, self._stale_before(now) if self._beating(now) else None)

    async def _pause(self, stop: asyncio.Event) -> None:
        beat = self._options.beat_seconds
        loop = asyncio.get_running_loop()
        self._took.clear()  # before `holding()` is asked: leases taken after it set it again
        if not self._holding():
            await _first_of(stop, self._took, seconds=2 * beat)
        await _first_of(stop, seconds=self._beaten_at + beat - loop.time())

    def _stale_before(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self._options.stale_after_seconds)

    def _beating(self, now: datetime) -> bool:
        """Whether this worker's own beats reached the database lately. After an outage
        every worker looks dead to the first one back: it takes nothing back until it has
        beaten again, giving the others the time to beat too."""
        return self._last_beat is not None and self._last_beat >= self._stale_before(now)

    async def _beat(self, now: datetime, stale_before: datetime | None) -> None:
        """Beats; then takes back the leases of workers silent since `stale_before`, if any."""
        self._beaten_at = asyncio.get_running_loop().time()
        try:
            taken = await self._queue.beat_worker(self._worker_id, now, stale_before=stale_before)
        except Exception as error:  # the database may be down for a while: the next beat retries
            self._outage.failed("recording the worker's heartbeat", error)
            return
        self._outage.worked()
        self._last_beat = now
        if taken:
            _log.warning("took back %d deliveries leased to workers that stopped", taken)


async def _first_of(*events: asyncio.Event, seconds: float) -> None:
    """Until one of `events` is set, at most `seconds` (none if not above 0)."""
    if seconds <= 0 or any(event.is_set() for event in events):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
