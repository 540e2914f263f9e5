"""A worker that loses the races for publishes to another worker stops claiming to look:
it reads the oldest due time instead, and claims once something has waited longer than
the others take (a claim costs PostgreSQL five times that read). Whatever nobody else
claims, it still sends promptly."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.ports import ClaimedDelivery
from support import factories as make
from support.senders import RecordingSender

WAIT = 10.0  # seconds a test waits for what it expects
OPTIONS = WorkerOptions(help_after_seconds=0.05)


class RacedQueue(MemoryDeliveryQueue):
    """Counts claims and due-time reads; `wake()` is a publish whose deliveries another
    worker already took."""

    def __init__(self) -> None:
        super().__init__()
        self.claims = 0
        self.reads = 0

    def wake(self) -> None:
        self._due.set()

    async def claim_due_deliveries(self, **kwargs: object) -> list[ClaimedDelivery]:
        self.claims += 1
        return list(await super().claim_due_deliveries(**kwargs))  # type: ignore[arg-type]

    async def next_due_at(self) -> datetime | None:
        self.reads += 1
        return await super().next_due_at()


async def _wakes(queue: RacedQueue, count: int, *, every: float) -> None:
    for _ in range(count):
        queue.wake()
        await asyncio.sleep(every)  # pacing the test's publishes, not synchronising


def _due_now(queue: MemoryDeliveryQueue) -> None:
    account = make.account()
    hook = make.webhook(account.id)
    event = make.event(account.id, created=datetime.now(UTC) - timedelta(seconds=1))
    due = datetime.now(UTC)
    queue.add(
        delivery=make.delivery(event, hook.id, next_attempt_at=due), event=event, webhook=hook
    )


async def test_a_worker_losing_every_race_reads_instead_of_claiming() -> None:
    """Fifty publishes in half a second, all taken by another worker: one claim finds
    nothing, the rest are reads (main's pacing claimed after each doubling wait, ten or
    so claims in that half second)."""
    queue = RacedQueue()
    worker = DeliveryWorker(
        queue, RecordingSender(), clock=lambda: datetime.now(UTC), options=OPTIONS
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await _wakes(queue, 50, every=0.01)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
    assert queue.claims <= 2, queue.claims
    assert queue.reads >= 3, queue.reads


async def test_a_losing_worker_sends_what_nobody_else_claims_soon_after_help_after() -> None:
    """The other worker stopped (or falls behind): a publish it would have taken waits
    help_after_seconds at most a few turns longer, then this worker claims and sends it."""
    queue = RacedQueue()
    sender = RecordingSender()
    worker = DeliveryWorker(queue, sender, clock=lambda: datetime.now(UTC), options=OPTIONS)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await _wakes(queue, 20, every=0.01)  # losing by now
        claims_before = queue.claims
        started = time.monotonic()
        _due_now(queue)
        await asyncio.wait_for(sender.wait_for(1), WAIT)
        took = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
    assert claims_before <= 2, claims_before
    assert took < 0.5, took
