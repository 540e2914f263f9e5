"""Retention: deletes finished (and held) deliveries, their attempts and their events once they are
older than the configured age, and the e-mails sent or given up by then, in the background of
every delivering process.

Work is done in small batches (one short transaction each) with a pause between them, so
delivery, which shares the database (and on SQLite its single writer), never waits long.
Pending and paused deliveries are never deleted; held ones (published while their webhook
was disabled) are, once as old as finished ones are kept (see `Store.prune_before`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from hookcast.delivery.outage import Outage
from hookcast.ports import Clock, Pruned, Store

__all__ = ["Retention", "RetentionOptions"]

_log = logging.getLogger("hookcast.retention")


@dataclass(frozen=True, slots=True)
class RetentionOptions:
    max_age: timedelta
    batch_size: int = 1000  # rows of each kind per transaction
    pause_seconds: float = 0.2  # between batches: room for delivery's own writes
    interval_seconds: float = 3600.0  # between passes
    first_pass_after_seconds: float = 60.0  # let a starting worker catch up first


class Retention:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        options: RetentionOptions,
        on_pruned: Callable[[Pruned], None] = lambda _pruned: None,
        outage: Outage | None = None,
    ) -> None:
        """`outage`: where a failed pass is said (the worker's, shared with its claims: a
        database outage is one line for the whole process)."""
        self._outage = outage or Outage(_log)
        self._store = store
        self._clock = clock
        self._options = options
        self._on_pruned = on_pruned

    async def run(self, stop: asyncio.Event) -> None:
        """Prunes a pass at a time until `stop` is set."""
        if await _wait(stop, self._options.first_pass_after_seconds):
            return
        while not stop.is_set():
            try:
                await self.prune_pass(stop)
            except Exception as error:  # the database may be down: try again next pass
                self._outage.failed("pruning old deliveries", error)
            else:
                self._outage.worked()
            if await _wait(stop, self._options.interval_seconds):
                return

    async def prune_pass(self, stop: asyncio.Event | None = None) -> Pruned:
        """Deletes everything older than the cut-off, batch by batch. Returns the totals."""
        cutoff = self._clock() - self._options.max_age
        stop = stop or asyncio.Event()
        total = Pruned(deliveries=0, events=0)
        while True:
            pruned = await self._store.prune_before(cutoff, limit=self._options.batch_size)
            self._on_pruned(pruned)
            total = _added(total, pruned)
            full = max(pruned.deliveries, pruned.events, pruned.mails) >= self._options.batch_size
            if not full or await _wait(stop, self._options.pause_seconds):
                break
        if total.total:
            _log.info(
                "retention deleted %d deliveries, %d events and %d e-mails older than %s",
                total.deliveries,
                total.events,
                total.mails,
                cutoff.isoformat(),
                extra={"fields": _log_fields(total)},
            )
        return total


def _added(total: Pruned, batch: Pruned) -> Pruned:
    return Pruned(
        deliveries=total.deliveries + batch.deliveries,
        events=total.events + batch.events,
        mails=total.mails + batch.mails,
    )


def _log_fields(total: Pruned) -> dict[str, int]:
    return {
        "pruned_deliveries": total.deliveries,
        "pruned_events": total.events,
        "pruned_mails": total.mails,
    }


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleeps `seconds` unless `stop` is set first; True when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
