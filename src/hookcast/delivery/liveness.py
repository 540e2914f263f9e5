"""A worker's heartbeat in the database, and taking back the leases of dead workers.

A worker registers when it starts and beats every `beat_seconds`; on each beat it also
takes back the leases of workers silent for `stale_after_seconds`, so what a killed worker
held is due again within a few seconds. A sole worker (SQLite: one delivering process)
takes back every other worker's leases when it starts: none of them can be alive. A worker
whose own beats have not reached the database lately (an outage) beats once before it takes
anything back: otherwise the first worker back would find every other one dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from hookcast.delivery.options import WorkerOptions
from hookcast.ports import Clock, DeliveryQueue

__all__ = ["Liveness"]

_log = logging.getLogger("hookcast.worker")


class Liveness:
    """`start()` registers the worker and takes back what the dead held; `run(stop)` beats
    until `stop`."""

    def __init__(
        self, queue: DeliveryQueue, *, worker_id: str, clock: Clock, options: WorkerOptions
    ) -> None:
        self._queue = queue
        self._worker_id = worker_id
        self._clock = clock
        self._options = options
        self._last_beat: datetime | None = None  # the last beat the database took

    async def start(self) -> None:
        """Registers this worker, then takes back the leases of workers found dead (all
        others' when this is the sole worker). Failures are logged: the beats retry."""
        now = self._clock()
        stale_before = now if self._options.sole_worker else self._stale_before(now)
        await self._beat(now, stale_before)

    async def run(self, stop: asyncio.Event) -> None:
        """Beats every `beat_seconds` until `stop` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._options.beat_seconds)
            if not stop.is_set():
                now = self._clock()
                await self._beat(now, self._stale_before(now) if self._beating(now) else None)

    def _stale_before(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self._options.stale_after_seconds)

    def _beating(self, now: datetime) -> bool:
        """Whether this worker's own beats reached the database lately. After an outage
        every worker looks dead to the first one back: it takes nothing back until it has
        beaten again, giving the others the time to beat too."""
        return self._last_beat is not None and self._last_beat >= self._stale_before(now)

    async def _beat(self, now: datetime, stale_before: datetime | None) -> None:
        """Beats; then takes back the leases of workers silent since `stale_before`, if any."""
        try:
            taken = await self._queue.beat_worker(self._worker_id, now, stale_before=stale_before)
        except Exception:  # the database may be down for a while: the next beat retries
            _log.exception("recording the worker's heartbeat failed")
            return
        self._last_beat = now
        if taken:
            _log.warning("took back %d deliveries leased to workers that stopped", taken)
