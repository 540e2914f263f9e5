"""A worker's heartbeat in the database, and taking back the leases of dead workers.

A worker registers when it starts and beats every `beat_seconds` while it holds leases,
every other time while it holds none (thought dead then, it loses nothing, and its next
beat or claim registers it again: an idle deployment's beats were most of its
transactions); taking leases brings the next beat back within `beat_seconds` of the last.
On each beat it also takes back the leases of workers silent for `stale_after_seconds`,
so what a killed worker held is due again within a few seconds. A sole worker (SQLite: one
delivering process) forgets every other worker when it starts, but only once none of them
is alive: one that beat within `stale_after_seconds` is waited for until it would be stale,
and if it beat again meanwhile the start is refused (`AnotherDeliverer`) before anything was
taken back; one that stopped with SIGTERM said so (`resign`) and is not waited for. Without
that check a second `serve` started on the file by mistake made the first one's deliveries
in flight and queued due again, and sent them twice (docs/operations.md). The
check and the registration are one write, so of two starting at once the second sees the
first. It takes back the leases of a worker whose process is gone (kill -9: no process has
its pid in its boot and pid namespace; another boot: worker_ids.py) at once; those of one
whose process may still run (stopped, paused, in another container) it leaves to expire:
that one may be sending under them, and records what it sent while they hold (a
SIGSTOPped serve's 8 requests in flight were sent again at once). A
worker whose own beats have not reached the database lately (an outage) beats once before
it takes anything back: otherwise the first worker back would find every other one dead.

While the worker waits for work (`looking`), each beat also reads the next due time
(`DeliveryQueue.beat_and_read_due`: on PostgreSQL in the beat's own statement), which the
idle worker sleeps on (`read_after`) instead of reading it in a round trip of its own:
idle, one round trip a second instead of two. When the idle loop needs a due time read
after a moment and no beat read one since, it beats early, and the next beat is counted
from that one: beats come as often as before or more, never less. A busy worker's beats
read nothing more: with thousands of leases held the read walks their stretch of the due
index (a beat 0.26 ms of PostgreSQL's time on main, 0.6-1.1 ms with the read in every
beat, docs/benchmarks/postgres-low-rates.md "The idle look in the beat").

A worker whose loop stalls (held, starved of a CPU, SIGSTOPped) for `stale_after_seconds`
beats no more and looks dead to the others, which take its leases back and send those
deliveries; it cannot tell from within. So it starts deliveries only until `sure_until`:
the loop time at which a beat the database took stops vouching for it (sent at t, it keeps
the worker alive there until t + `stale_after_seconds`). Past it, the worker holds its
queued deliveries until the next beat answers (`on_beat`), which also says whether it was
found dead meanwhile: its registration (`Beat.registered`) began anew. Then the queued
deliveries whose leases were taken back are someone else's (worker.py `_confirm_leases`).
A sole worker too: found dead, another process started on the file while it stood still
and delivers; it stops (worker.py `_found_replaced`, `Replaced`) instead of delivering
beside it, doubling receivers' rates (each keeps its rate buckets in memory).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.outage import Outage
from hookcast.delivery.waiting import first_of
from hookcast.delivery.worker_ids import process_may_run
from hookcast.ports import Beat, Clock, DeliveryQueue

__all__ = ["AnotherDeliverer", "DueRead", "Liveness", "Replaced"]

_log = logging.getLogger("hookcast.worker")

# A sole worker that found another one's fresh beat waits until that beat is this much
# older than `stale_after_seconds` before it looks again: a live worker beats at least every
# 2 * `beat_seconds` (1 s), so one that did not beat by then is dead.
_STALE_MARGIN_SECONDS = 0.25
# How often a sole worker's start is tried while the database cannot be reached.
_START_RETRY_SECONDS = 1.0


class AnotherDeliverer(Exception):
    """A sole worker's start found another worker alive: nothing was taken back."""


class Replaced(AnotherDeliverer):
    """A sole worker found that another one started while it stood still, and stopped."""


@dataclass(frozen=True, slots=True)
class DueRead:
    """The next due time a beat read (None: nothing pending), and the loop time the beat
    was sent; `failed`: the due time is unknown (the beat failed, or did not read it)."""

    sent_at: float
    next_due: datetime | None
    failed: bool = False


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
        on_beat: Callable[[bool], None] = lambda forgotten: None,
        running: Callable[[str], bool] = process_may_run,
    ) -> None:
        """`holding()`: whether the worker holds leases now (it then beats on time);
        `outage`: where failed beats are said (the worker's, shared with its claims);
        `on_beat(forgotten)`: after each beat the database took, whether this worker had
        been found dead since the one before (its leases were taken back); `running`: a
        sole worker's start, whether another worker's process may still run
        (`start_sole_worker`)."""
        self._running = running
        self._outage = outage or Outage(_log)
        self._queue = queue
        self._worker_id = worker_id
        self._clock = clock
        self._options = options
        self._holding = holding
        self._took = asyncio.Event()  # leases taken since the wait began (`took_leases`)
        self._beaten_at = float("-inf")  # loop time of the last beat tried
        self._last_beat: datetime | None = None  # the last beat the database took
        self._latest: DueRead | None = None  # what the last beat that read it read
        self._on_beat = on_beat
        self._registered: datetime | None = None  # when the store's registration began
        # Loop time until which no other worker can have found this one dead (see above).
        self.sure_until = float("-inf")
        self._one_at_a_time = asyncio.Lock()  # the beat loop's beats and early ones
        self.looking = False  # the worker waits for work: its beats read the next due time

    def took_leases(self) -> None:
        """The worker took leases: its next beat comes within `beat_seconds` of the last."""
        self._took.set()

    async def start(self, stop: asyncio.Event | None = None) -> None:
        """Registers this worker, then takes back the leases of workers found dead (all
        others' when this is the sole worker, or raises AnotherDeliverer if one is alive).
        Failures are logged: the beats retry; a sole worker's start is retried instead,
        every second until it gets through or `stop` is set."""
        now = self._clock()
        if not self._options.sole_worker:
            await self._beat(now, self._stale_before(now), read_due=False)
            return
        stop = stop or asyncio.Event()
        seen = await self._start_alone(stop)
        if seen is None:
            return
        # Killed (its beats stopped) or alive: asked again once it would be stale, at most
        # `stale_after_seconds` and the margin from now.
        stale_in = (seen - self._clock()).total_seconds() + self._options.stale_after_seconds
        await first_of(stop, seconds=max(0.0, stale_in) + _STALE_MARGIN_SECONDS)
        seen = await self._start_alone(stop)
        if seen is not None:
            raise AnotherDeliverer(f"another worker beat at {seen.isoformat()}")

    async def resign(self) -> None:
        """After the last beat, a sole worker that stopped says so (the beats have stopped):
        the next start on the file need not wait for its beat to go stale."""
        if not self._options.sole_worker:
            return  # others take back what it still holds only once it is stale, as before
        try:
            await self._queue.resign_worker(self._worker_id)
        except Exception as error:  # the next start waits for its beat to go stale instead
            _log.info("could not record that this worker stopped: %s", error)

    async def _start_alone(self, stop: asyncio.Event) -> datetime | None:
        """The sole worker's registration; another worker's beat since `stale_after_seconds`
        ago if one is alive (nothing done then). Tried every `_START_RETRY_SECONDS` while
        the database cannot be reached, until `stop` (None then): a start that went on
        without it registered at its first beat that got through, and looked for no other
        worker."""
        while not stop.is_set():
            now = self._clock()
            sent_at = self._beaten_at = asyncio.get_running_loop().time()
            try:
                started = await self._queue.start_sole_worker(
                    self._worker_id, now, alive_after=self._stale_before(now), running=self._running
                )
            except Exception as error:  # as a beat's: the database may be down for a while
                self._outage.failed("registering the worker", error)
                await first_of(stop, seconds=_START_RETRY_SECONDS)
                continue
            if isinstance(started, datetime):
                return started
            self._started_alone(started, now, sent_at)
            break
        return None

    def _started_alone(self, started: Beat, now: datetime, sent_at: float) -> None:
        if started.expiring:
            _log.warning(
                "took over delivery from a process that stopped beating but may still run "
                "(stopped or paused): its %d leased deliveries are sent again once their "
                "leases expire (at most %.0f s), unless it records them first",
                started.expiring,
                self._options.lease_seconds,
            )
        self._beat_taken(started, now, sent_at)

    async def run(self, stop: asyncio.Event) -> None:
        """Beats until `stop` is set: every `beat_seconds` while holding leases, twice as
        long apart while holding none, counted from the last beat sent (an early one too)."""
        while not stop.is_set():
            last = self._beaten_at
            await self._pause(stop, last)
            async with self._one_at_a_time:
                # An early beat (`read_after`) since the pause began moved the next one on.
                if not stop.is_set() and self._beaten_at == last:
                    await self._beat_now(read_due=self.looking)

    async def read_after(self, moment: float) -> DueRead:
        """The next due time as a beat sent after loop time `moment` read it: the last
        reading beat's if it was, else a beat's sent now (which counts as the beat loop's).
        Beats read it only while `looking`."""
        async with self._one_at_a_time:
            latest = self._latest
            if latest is not None and latest.sent_at > moment:
                return latest
            return await self._beat_now(read_due=True)

    async def _pause(self, stop: asyncio.Event, last: float) -> None:
        """Until the beat after the one sent at loop time `last` is due (run() skips it if
        an early beat was sent meanwhile, and waits from that one)."""
        beat = self._options.beat_seconds
        loop = asyncio.get_running_loop()
        self._took.clear()  # before `holding()` is asked: leases taken after it set it again
        if not self._holding():
            await first_of(stop, self._took, seconds=last + 2 * beat - loop.time())
        await first_of(stop, seconds=last + beat - loop.time())

    async def _beat_now(self, *, read_due: bool) -> DueRead:
        """A beat now (inside `_one_at_a_time`), taking back from the workers found dead
        unless this worker's own beats have not reached the database lately."""
        now = self._clock()
        stale_before = self._stale_before(now) if self._beating(now) else None
        return await self._beat(now, stale_before, read_due=read_due)

    def _stale_before(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self._options.stale_after_seconds)

    def _beating(self, now: datetime) -> bool:
        """Whether this worker's own beats reached the database lately. After an outage
        every worker looks dead to the first one back: it takes nothing back until it has
        beaten again, giving the others the time to beat too."""
        return self._last_beat is not None and self._last_beat >= self._stale_before(now)

    async def _beat(
        self, now: datetime, stale_before: datetime | None, *, read_due: bool
    ) -> DueRead:
        """Beats; then takes back the leases of workers silent since `stale_before`, if any.
        With `read_due` the beat reads the next due time too, kept for `read_after`; what
        it read is returned (`failed` when the beat failed, or read nothing)."""
        sent_at = self._beaten_at = asyncio.get_running_loop().time()
        next_due = None
        try:
            if read_due:
                beat = await self._queue.beat_and_read_due(
                    self._worker_id, now, stale_before=stale_before
                )
                next_due = beat.next_due
            else:
                beat = await self._queue.beat_worker(
                    self._worker_id, now, stale_before=stale_before
                )
        except Exception as error:  # the database may be down for a while: the next beat retries
            self._outage.failed("recording the worker's heartbeat", error)
            read = DueRead(sent_at=sent_at, next_due=None, failed=True)
        else:
            self._beat_taken(beat, now, sent_at)
            read = DueRead(sent_at=sent_at, next_due=next_due, failed=not read_due)
        if read_due:
            self._latest = read
        return read

    def _beat_taken(self, beat: Beat, now: datetime, sent_at: float) -> None:
        """The database took the beat sent at loop time `sent_at` for `now`."""
        self._outage.worked()
        self._last_beat = now
        if beat.taken:
            _log.warning("took back %d deliveries leased to workers that stopped", beat.taken)
        self._answered(beat.registered, sent_at)

    def _answered(self, registered: datetime, sent_at: float) -> None:
        """A beat sent at loop time `sent_at` was taken: it vouches for this worker until
        `stale_after_seconds` later; a registration begun since the last one's means the
        worker was found dead in between (`on_beat`)."""
        forgotten = self._registered is not None and registered != self._registered
        self._registered = registered
        self.sure_until = sent_at + self._options.stale_after_seconds
        if forgotten and not self._options.sole_worker:  # a sole one says it (worker.py)
            _log.warning(
                "this worker's beats did not reach the database for %.0f s or more (its loop "
                "stalled, or the database was out of its reach) and it was found dead: the "
                "deliveries it holds queued are another worker's now",
                self._options.stale_after_seconds,
            )
        self._on_beat(forgotten)
