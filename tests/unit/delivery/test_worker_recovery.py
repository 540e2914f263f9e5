"""Crash recovery: a worker takes back the leases of workers that stopped beating (a sole
worker, all others' when it starts, once none is alive; refused while one is), and keeps
what it has sent but not recorded bounded, so that a kill -9 re-sends fewer than twice the
larger of its concurrency and its recording batch (delivery/options.py
`unrecorded_bound`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

import pytest

from hookcast.delivery.liveness import AnotherDeliverer, Replaced
from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.health import WebhookHealth
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import Beat, ClaimedDelivery, DeliveryResult
from support import factories as make
from support.senders import RecordingSender
from support.waiting import eventually

NOW = make.later(10)
WAIT = 10.0  # seconds a test waits for what it expects, far above what it takes
FAST = WorkerOptions(idle_wait_seconds=0.05, beat_seconds=0.01, stale_after_seconds=3.0)


class SlowRecordingQueue(MemoryDeliveryQueue):
    """Its writes of results wait until `open` is set: the database is slow."""

    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()
        self.writing = asyncio.Event()  # a write of results is under way

    async def record_results(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        self.writing.set()
        await self.open.wait()
        await super().record_results(results, health)


class BeatCountingQueue(MemoryDeliveryQueue):
    """Counts the workers' beats."""

    def __init__(self) -> None:
        super().__init__()
        self.beats = 0
        self._beaten = asyncio.Condition()

    async def beat_worker(
        self, worker_id: str, now: datetime, *, stale_before: datetime | None = None
    ) -> Beat:
        beat = await super().beat_worker(worker_id, now, stale_before=stale_before)
        async with self._beaten:
            self.beats += 1
            self._beaten.notify_all()
        return beat

    async def wait_for_beats(self, count: int) -> None:
        async with self._beaten:
            await asyncio.wait_for(self._beaten.wait_for(lambda: self.beats >= count), WAIT)


def _fill(queue: MemoryDeliveryQueue, count: int) -> list[str]:
    """`count` deliveries to a new webhook, due now: their ids."""
    account = make.account()
    hook = make.webhook(account.id)
    ids = []
    for number in range(count):
        event = make.event(account.id, created=make.later(number / 1000))
        delivery = make.delivery(event, hook.id)
        queue.add(delivery=delivery, event=event, webhook=hook)
        ids.append(delivery.id)
    return ids


async def _held_by(queue: MemoryDeliveryQueue, worker_id: str, count: int = 3) -> None:
    """`count` deliveries leased to `worker_id`, which beat at NOW."""
    _fill(queue, count)
    await queue.beat_worker(worker_id, NOW)
    await queue.claim_due_deliveries(now=NOW, limit=count, lease_seconds=60, worker_id=worker_id)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _settle(sender: RecordingSender) -> None:
    """Lets the loop run until the worker sends nothing more for a while (in loop turns:
    the sender answers at once, so a worker free to send does so within a few turns)."""
    quiet = 0
    seen = len(sender.requests)
    for _ in range(5000):
        await asyncio.sleep(0)
        quiet = quiet + 1 if len(sender.requests) == seen else 0
        seen = len(sender.requests)
        if quiet >= 200:
            return


@pytest.mark.parametrize(
    ("concurrency", "flush_batch"),
    # The bound: fewer than twice the larger of concurrency and the recording batch (the
    # flush batch, at most twice concurrency).
    [(4, 4), (4, 8), (4, 500)],
)
async def test_the_worker_stops_sending_while_sent_but_unrecorded_reach_their_bound(
    concurrency: int, flush_batch: int
) -> None:
    queue = SlowRecordingQueue()
    _fill(queue, 50)
    sender = RecordingSender()
    options = WorkerOptions(
        concurrency=concurrency, endpoint_concurrency=concurrency, flush_batch=flush_batch
    )
    worker = DeliveryWorker(queue, sender, clock=lambda: NOW, options=options)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(queue.writing.wait(), WAIT)
        await _settle(sender)

        # Sent, none recorded: a kill now re-sends all of these, and no more.
        most = max(concurrency, min(flush_batch, 2 * concurrency))
        assert most <= len(sender.requests) < 2 * most
        queue.open.set()
        await sender.wait_for(50)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
    assert len(queue.attempts) == 50


# A worker id naming no process (pids stay below 2**22): killed. A sole worker waits for the
# leases of a worker whose process may still run to expire (worker_ids.py).
KILLED = "999999999-killed"


async def test_a_sole_worker_sends_at_once_what_a_dead_worker_held() -> None:
    queue = MemoryDeliveryQueue()
    await _held_by(queue, KILLED)
    sender = RecordingSender()
    options = WorkerOptions(idle_wait_seconds=0.05, sole_worker=True)
    # "killed" beat 3 s ago (stale after 2 s), and its leases run 57 s more.
    worker = DeliveryWorker(
        queue, sender, clock=lambda: NOW + timedelta(seconds=3), options=options
    )

    await _run_until(worker, sender, requests=3)

    assert len(queue.attempts) == 3


async def test_a_sole_worker_another_took_over_from_stops_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another process's start forgot this one (its loop stood still): its next beat
    registers it anew, and it stops, raising Replaced, instead of delivering beside it."""
    queue = MemoryDeliveryQueue()
    _fill(queue, 2)
    clock = _running_clock()
    sender = RecordingSender()
    options = WorkerOptions(idle_wait_seconds=0.05, sole_worker=True)
    worker = DeliveryWorker(queue, sender, clock=clock, options=options)
    running = asyncio.create_task(worker.run(asyncio.Event()))
    await sender.wait_for(2)

    later = clock() + timedelta(hours=1)  # this one's beats are stale by then
    await queue.start_sole_worker(KILLED, clock(), alive_after=later)

    with pytest.raises(Replaced):
        await asyncio.wait_for(running, WAIT)
    assert "another process took over delivery" in caplog.text


def _running_clock() -> Callable[[], datetime]:
    """NOW, moving on with the loop's time from the call."""
    began = asyncio.get_running_loop().time()
    return lambda: NOW + timedelta(seconds=asyncio.get_running_loop().time() - began)


async def test_a_sole_worker_started_right_after_a_kill_sends_what_it_held_once_stale() -> None:
    """The killed worker beat just now: the sole worker waits until that beat is stale
    (`stale_after_seconds`), then takes its leases back."""
    queue = MemoryDeliveryQueue()
    await _held_by(queue, KILLED)
    sender = RecordingSender()
    options = WorkerOptions(idle_wait_seconds=0.05, stale_after_seconds=0.2, sole_worker=True)
    worker = DeliveryWorker(queue, sender, clock=_running_clock(), options=options)

    await _run_until(worker, sender, requests=3)

    assert len(queue.attempts) == 3


async def test_a_sole_worker_started_after_another_stopped_does_not_wait_for_its_beat() -> None:
    """A sole worker that stops says so: the next start (a restart after SIGTERM) need
    not wait `stale_after_seconds` for its last beat to go stale."""
    queue = MemoryDeliveryQueue()
    _fill(queue, 2)
    options = WorkerOptions(idle_wait_seconds=0.05, stale_after_seconds=60.0, sole_worker=True)
    sender = RecordingSender()
    first = DeliveryWorker(queue, sender, clock=_running_clock(), options=options)
    await _run_until(first, sender, requests=2)
    _fill(queue, 1)

    restarted = DeliveryWorker(queue, sender, clock=_running_clock(), options=options)
    await _run_until(restarted, sender, requests=3)  # WAIT, 10 s, is far below 60 s

    assert len(queue.attempts) == 3


class AliveElsewhereQueue(MemoryDeliveryQueue):
    """Another delivering process beats "other" whenever this one's worker looks; while
    `down` is set, the database refuses the look."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refused = asyncio.Event()

    async def start_sole_worker(
        self,
        worker_id: str,
        now: datetime,
        *,
        alive_after: datetime,
        running: Callable[[str], bool] | None = None,
    ) -> Beat | datetime:
        if self.down:
            self.refused.set()
            raise ConnectionError("the database is down")
        await self.beat_worker("other", now)
        return await super().start_sole_worker(
            worker_id, now, alive_after=alive_after, running=running
        )


async def test_a_sole_worker_is_refused_while_another_worker_beats_and_takes_nothing() -> None:
    queue = AliveElsewhereQueue()
    await _held_by(queue, "other")
    sender = RecordingSender()
    options = WorkerOptions(idle_wait_seconds=0.05, stale_after_seconds=0.2, sole_worker=True)
    worker = DeliveryWorker(queue, sender, clock=_running_clock(), options=options)

    with pytest.raises(AnotherDeliverer):
        await asyncio.wait_for(worker.run(asyncio.Event()), WAIT)

    assert sender.requests == []
    assert set(queue.workers) == {"other"}  # not registered
    assert await queue.claim_due_deliveries(now=NOW, limit=3, lease_seconds=60) == []


async def test_a_sole_worker_that_cannot_reach_the_database_at_start_still_looks_first() -> None:
    """Its start is tried again once the database answers, and is refused while another
    worker beats: it went on before, and registered at its first beat, looking for no one."""
    queue = AliveElsewhereQueue()
    queue.down = True
    await _held_by(queue, "other")
    sender = RecordingSender()
    options = WorkerOptions(idle_wait_seconds=0.05, stale_after_seconds=0.2, sole_worker=True)
    worker = DeliveryWorker(queue, sender, clock=_running_clock(), options=options)
    running = asyncio.create_task(worker.run(asyncio.Event()))
    await asyncio.wait_for(queue.refused.wait(), WAIT)

    queue.down = False

    with pytest.raises(AnotherDeliverer):
        await asyncio.wait_for(running, WAIT)
    assert sender.requests == []


async def test_a_worker_takes_back_the_leases_of_a_worker_that_stopped_beating() -> None:
    queue = BeatCountingQueue()
    await _held_by(queue, "killed")
    sender = RecordingSender()
    clock = Clock(NOW + timedelta(seconds=1))
    worker = DeliveryWorker(queue, sender, clock=clock, options=FAST)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await queue.wait_for_beats(3)  # the start's beat and take-back, then another beat
        assert sender.requests == []  # "killed" beat a second ago: it may be alive
        clock.now = NOW + timedelta(seconds=4)  # silent for more than stale_after_seconds

        await sender.wait_for(3)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
    assert "killed" not in queue.workers


async def _run_until(worker: DeliveryWorker, sender: RecordingSender, *, requests: int) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await sender.wait_for(requests)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)


class OutageQueue(BeatCountingQueue):
    """Its database refuses the workers' beats while `down` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refused = asyncio.Event()

    async def beat_worker(
        self, worker_id: str, now: datetime, *, stale_before: datetime | None = None
    ) -> Beat:
        if self.down:
            self.refused.set()
            raise ConnectionError("the database is down")
        return await super().beat_worker(worker_id, now, stale_before=stale_before)


async def test_after_an_outage_a_worker_beats_again_before_it_takes_anything_back() -> None:
    queue = OutageQueue()
    await _held_by(queue, "other")
    sender = RecordingSender()
    clock = Clock(NOW)
    worker = DeliveryWorker(queue, sender, clock=clock, options=FAST)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await queue.wait_for_beats(2)
        queue.down = True
        await asyncio.wait_for(queue.refused.wait(), WAIT)
        clock.now = NOW + timedelta(seconds=10)  # both silent for 10 s: the database was down
        queue.down = False
        beats = queue.beats
        await queue.wait_for_beats(beats + 1)  # the first beat back takes nothing
        assert await queue.next_due_at() == NOW + timedelta(seconds=60)

        await sender.wait_for(3)  # "other" did not beat again: taken back at a later beat
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)


@pytest.mark.parametrize("sole_worker", [False, True])
async def test_a_worker_whose_beats_do_not_get_through_starts_nothing_until_one_does(
    sole_worker: bool,
) -> None:
    """Without a beat taken within `stale_after_seconds`, others may have found the worker
    dead and taken its leases: it sends none of what it claims until a beat gets through
    (liveness.py `sure_until`). A sole worker too: another process may have started on
    the file meanwhile and taken over (found dead, it stops)."""
    queue = OutageQueue()
    queue.down = True  # from its first beat on
    _fill(queue, 3)
    sender = RecordingSender()
    options = WorkerOptions(idle_wait_seconds=0.05, beat_seconds=0.01, sole_worker=sole_worker)
    worker = DeliveryWorker(queue, sender, clock=lambda: NOW, options=options)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(queue.refused.wait(), WAIT)

        async def claimed() -> bool:  # the next due time is the leases' expiry
            return await queue.next_due_at() != NOW

        await eventually(claimed, timeout=WAIT)
        await _settle(sender)
        assert sender.requests == []

        queue.down = False
        await sender.wait_for(3)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)


class RegisteringQueue(OutageQueue):
    """Its claims register their worker, as the databases' do (store/workers.py
    `register_claimer`); the ids of the deliveries handed back are kept."""

    def __init__(self) -> None:
        super().__init__()
        self.released: list[str] = []

    async def claim_due_deliveries(
        self,
        *,
        now: datetime,
        limit: int,
        lease_seconds: float,
        worker_id: str | None = None,
        per_account: int = 0,
        holding: Collection[str] | None = None,
    ) -> Sequence[ClaimedDelivery]:
        if worker_id is not None and worker_id not in self.workers:
            self.workers[worker_id] = self.registered[worker_id] = now
        return await super().claim_due_deliveries(
            now=now,
            limit=limit,
            lease_seconds=lease_seconds,
            worker_id=worker_id,
            per_account=per_account,
            holding=holding,
        )

    async def release_deliveries(self, leases: Sequence[tuple[str, str]], now: datetime) -> None:
        self.released += [delivery_id for delivery_id, _ in leases]
        await super().release_deliveries(leases, now)


async def test_a_worker_found_dead_drops_only_what_was_leased_before_it_was_again() -> None:
    """Found dead while its beats did not get through, the worker's leases were taken back;
    a claim then registered it again and leased it more. Its next beat tells it it was
    found dead: it drops what was taken back, and sends what it leased since, without
    handing those back to be claimed again (liveness.py, worker.py `_confirm_leases`)."""
    queue = RegisteringQueue()
    sender = RecordingSender()
    clock = Clock(NOW)
    options = WorkerOptions(idle_wait_seconds=0.05, beat_seconds=0.01, stale_after_seconds=0.05)
    worker = DeliveryWorker(queue, sender, clock=clock, options=options)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await queue.wait_for_beats(2)  # registered
        queue.down = True
        await asyncio.wait_for(queue.refused.wait(), WAIT)
        loop = asyncio.get_running_loop()
        await eventually(lambda: worker._liveness.sure_until < loop.time(), timeout=WAIT)
        before = _fill(queue, 3)  # claimed, held: no beat vouches for the worker
        await eventually(lambda: queue.claimed == 3, timeout=WAIT)
        clock.now = NOW + timedelta(seconds=10)
        # Another worker finds it dead and takes its leases back, then claims them.
        assert await queue.take_back_leases(now=clock.now, stale_before=NOW + timedelta(1)) == 3
        assert len(await queue.claim_due_deliveries(now=clock.now, limit=3, lease_seconds=60)) == 3
        since = _fill(queue, 3)  # claimed by the worker, which that claim registers again
        await eventually(lambda: queue.claimed == 9, timeout=WAIT)
        await _settle(sender)
        assert sender.requests == []

        queue.down = False

        def sent_or_handed_back() -> bool:
            return len(sender.requests) >= 3 or bool(set(queue.released) & set(since))

        await eventually(sent_or_handed_back, timeout=WAIT)
        await _settle(sender)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
    assert not set(queue.released) & set(since), "leases held were handed back"
    assert len(sender.requests) == 3
    assert [queue.delivery(i).status for i in since] == [DeliveryStatus.SUCCEEDED] * 3
    assert [queue.delivery(i).attempts for i in before] == [0] * 3  # the other's to send
    assert queue.claimed == 9  # none claimed twice
