"""Recording what a worker did: attempt outcomes and handed-back leases are buffered and
written in one transaction per interval (or per batch), by one flusher task.

How long they gather follows what recording them changes. Outcomes that may make another
delivery due (a retry, an ordered or coalescing webhook's next, a hand-back) or change a
webhook's standing (a failure, a failing webhook's success) are written within
`flush_interval_seconds`; successes alone may wait `quiet_flush_seconds`, for at a low rate
a write per interval was a transaction per two or three deliveries, each costing more than
the deliveries it recorded. While nothing is buffered the flusher sleeps without a timer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hookcast.delivery.attempt import Concluded
from hookcast.delivery.options import WorkerOptions, recording_batch
from hookcast.delivery.outage import Outage
from hookcast.delivery.scheduler import LeaseKey
from hookcast.domain.health import summarize
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import AttemptReport, Clock, DeliveryObserver, DeliveryQueue

_log = logging.getLogger("hookcast.worker")


@dataclass
class _Buffers:
    results: list[Concluded] = field(default_factory=list)
    releases: list[LeaseKey] = field(default_factory=list)


class OutcomeRecorder:
    """Buffers outcomes and releases; `start()` runs the flusher, `close()` records the
    rest and stops it."""

    def __init__(
        self,
        queue: DeliveryQueue,
        *,
        clock: Clock,
        options: WorkerOptions,
        observer: DeliveryObserver,
        on_recorded: Callable[[], None] = lambda: None,
        outage: Outage | None = None,
    ) -> None:
        self._outage = outage or Outage(_log)  # where failed writes are said
        self._queue = queue
        self._clock = clock
        self._options = options
        self._observer = observer
        self._on_recorded = on_recorded
        # A write's worth: at most half what the worker lets be in flight or unrecorded at once
        # (options.py `unrecorded_bound`), so one batch is written while the next fills.
        self._batch = recording_batch(options)
        self._writing = 0  # outcomes in the writes under way
        self._ahead: asyncio.Task[None] | None = None  # the write started by write_ahead
        self._buffers = _Buffers()
        self._flush_now = asyncio.Event()  # a full batch, or stopping: write at once
        self._hurry = asyncio.Event()  # something buffered must be written promptly
        self._buffered = asyncio.Event()  # something waits to be written
        self._stopping = False  # set once the worker is draining: the flusher's last turn
        self._flusher: asyncio.Task[None] | None = None
        self.retry_recorded = asyncio.Event()  # a retry was scheduled: it may be due soon
        self.delivered = 0  # attempts recorded; read by tests and metrics

    @property
    def unrecorded(self) -> int:
        """Outcomes added and not yet written: buffered, or in the write under way."""
        return len(self._buffers.results) + self._writing

    @property
    def holding(self) -> bool:
        """Whether outcomes or hand-backs wait to be written (their leases are held)."""
        return bool(self.unrecorded or self._buffers.releases)

    def add(self, concluded: Concluded, *, prompt: bool = False) -> None:
        """Buffers one attempt's outcome; a full batch is written at once. `prompt`:
        recording it may make another delivery due (an ordered or coalescing webhook's) or
        change its webhook's standing (a failing webhook's success), so it is written within
        `flush_interval_seconds` (as anything but a success is)."""
        self._buffers.results.append(concluded)
        self._buffered.set()
        if len(self._buffers.results) >= self._batch:
            self._flush_now.set()
            self._hurry.set()
        elif prompt or concluded.result.status is not DeliveryStatus.SUCCEEDED:
            self._hurry.set()

    def write_ahead(self) -> None:
        """The worker may start nothing until outcomes are recorded: with
        `options.write_ahead`, the buffered ones start their write now, beside the one under
        way (one such write at a time), instead of once it has ended. On SQLite the two then
        queue for the one writer together, ahead of the API's next group commit, where the
        buffered ones would wait for the first write and then for that group (measured with
        publishing saturated: ~140 outcomes a turn at the writer, the worker idle meanwhile)."""
        if not self._options.write_ahead or not self._writing or self._ahead is not None:
            return  # nothing under way: the flusher writes a full batch at once
        if self._buffers.results or self._buffers.releases:
            self._ahead = asyncio.create_task(self._write_ahead(), name="hookcast-write-ahead")

    def hand_back(self, leases: Iterable[LeaseKey]) -> None:
        """Buffers leases to release unattempted, due again after `busy_endpoint_delay`
        (written within `flush_interval_seconds`: another worker may send them)."""
        before = len(self._buffers.releases)
        self._buffers.releases.extend(leases)
        if len(self._buffers.releases) > before:
            self._buffered.set()
            self._hurry.set()

    def start(self) -> None:
        """Starts the flusher."""
        self._flusher = asyncio.create_task(self._flush_loop(), name="hookcast-flusher")

    async def close(self) -> None:
        """Records everything buffered, then stops the flusher."""
        # Ask the flusher to finish rather than cancel it: a cancel landing inside its
        # write dropped the outcomes it carried, and those deliveries, already sent,
        # were sent again when their leases expired (found by chaos/ rolling restarts).
        self._stopping = True
        for event in (self._flush_now, self._hurry, self._buffered):
            event.set()
        if self._flusher is not None:
            await self._flusher
        if self._ahead is not None:
            await self._ahead
        await self._flush()

    async def _flush_loop(self) -> None:
        options = self._options
        while not self._stopping:
            await self._buffered.wait()  # nothing to write: no timer runs
            await _wait(self._flush_now, options.flush_interval_seconds)
            if not self._hurry.is_set():  # successes alone so far: they may gather longer
                await _wait(
                    self._hurry, options.quiet_flush_seconds - options.flush_interval_seconds
                )
            await self._flush()

    async def _write_ahead(self) -> None:
        try:
            await self._flush()
        finally:
            self._ahead = None

    async def _flush(self) -> None:
        results, releases = self._buffers.results, self._buffers.releases
        # Cleared before the write: what is added meanwhile sets them again.
        for event in (self._flush_now, self._hurry, self._buffered):
            event.clear()
        if not results and not releases:
            return
        self._buffers = _Buffers()
        writing = len(results)
        self._writing += writing
        try:
            await self._record(results, releases)
        except Exception as error:
            # Keep them for the next flush; if this process dies first, the leases expire
            # and the deliveries are sent again (at-least-once). Tried every 0.5 s: said
            # once an outage, not each time.
            self._outage.failed(f"recording {len(results)} outcomes", error)
            self._writing -= writing  # they are buffered again: counted there
            writing = 0
            self._buffers.results[:0] = results
            self._buffers.releases[:0] = releases
            self._buffered.set()
            self._hurry.set()  # tried again after the pause below
            await asyncio.sleep(0.5)
        else:
            self._outage.worked()
        finally:
            self._writing -= writing
        self._on_recorded()

    async def _record(self, results: list[Concluded], releases: list[LeaseKey]) -> None:
        if results:
            # Lists, not generators: a generator is resumed (a call) per item.
            health = summarize([item.health for item in results if item.applies])
            recorded = [item.result for item in results]
            await self._queue.record_results(recorded, health)
            self.delivered += len(results)
            self._report([item.report for item in results])
            if DeliveryStatus.PENDING in [result.status for result in recorded]:
                self.retry_recorded.set()
        if releases:
            await self._queue.release_deliveries(
                releases, self._clock() + self._options.busy_endpoint_delay
            )

    def _report(self, reports: list[AttemptReport]) -> None:
        try:
            self._observer.on_attempts(reports)
        except Exception:  # metrics must never stop delivery
            _log.exception("the delivery observer failed")


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set, at most `seconds`."""
    if seconds > 0 and not event.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
