"""A worker whose claims bring few deliveries gathers: it claims again no sooner than
`claim_gather_seconds` after a small claim, so that single publishes trickling in share a
claim (each costs PostgreSQL ~0.75 ms whatever it brings). A claim of a good size or a full
one, and a sole worker, never wait."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.ports import ClaimedDelivery
from support import factories as make
from support.senders import RecordingSender

WAIT = 10.0  # seconds a test waits for what it expects
GATHER = 0.05


class TimedQueue(MemoryDeliveryQueue):
    """Notes each claim's loop time and what it brought."""

    def __init__(self) -> None:
        super().__init__()
        self.claims: list[tuple[float, int]] = []

    async def claim_due_deliveries(self, **kwargs: object) -> list[ClaimedDelivery]:
        at = asyncio.get_running_loop().time()
        claimed = list(await super().claim_due_deliveries(**kwargs))  # type: ignore[arg-type]
        self.claims.append((at, len(claimed)))
        return claimed


def _publish(queue: MemoryDeliveryQueue, count: int = 1) -> None:
    """`count` deliveries due now, as a publish commits them (add() wakes the worker)."""
    account = make.account()
    hook = make.webhook(account.id)
    for _ in range(count):
        event = make.event(account.id, created=datetime.now(UTC) - timedelta(seconds=1))
        delivery = make.delivery(event, hook.id, next_attempt_at=datetime.now(UTC))
        queue.add(delivery=delivery, event=event, webhook=hook)


def _worker(
    queue: MemoryDeliveryQueue, sender: RecordingSender, **options: object
) -> DeliveryWorker:
    return DeliveryWorker(
        queue,
        sender,
        clock=lambda: datetime.now(UTC),
        options=WorkerOptions(**options),  # type: ignore[arg-type]
    )


async def test_single_publishes_trickling_in_share_claims_at_least_the_gather_apart() -> None:
    """Forty publishes of one delivery, 2 ms apart: claimed a few at a time, each claim
    the gather after the one before (main claimed after every publish, ~40 claims)."""
    queue, sender = TimedQueue(), RecordingSender()
    worker = _worker(queue, sender, claim_gather_seconds=GATHER, claim_gather_below=64)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    began = time.monotonic()
    try:
        for _ in range(40):
            _publish(queue)
            await asyncio.sleep(0.002)  # pacing the test's publishes, not synchronising
        await asyncio.wait_for(sender.wait_for(40), WAIT)
        took = time.monotonic() - began
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
    found = [(at, count) for at, count in queue.claims if count]
    assert sum(count for _, count in found) == 40
    assert len(found) <= 2 + took / GATHER, (queue.claims, took)
    for (at, count), (next_at, _) in itertools.pairwise(found):
        assert next_at - at >= GATHER * 0.99, (count, next_at - at)


async def test_after_a_claim_of_a_good_size_the_next_publish_is_claimed_at_once() -> None:
    """A backlog of 40 comes in one claim (not fewer than claim_gather_below): the publish
    after it is claimed on its wake-up, not a gather (of 5 s here) later."""
    queue = TimedQueue()
    await _next_publish_sent_at_once(
        queue, first=40, claim_gather_seconds=5.0, claim_gather_below=32
    )
    assert queue.claims[0][1] == 40


async def test_a_sole_worker_never_gathers() -> None:
    """`serve` on SQLite: nothing else claims, a small claim is followed at once."""
    await _next_publish_sent_at_once(
        TimedQueue(), first=1, claim_gather_seconds=5.0, sole_worker=True
    )


async def _next_publish_sent_at_once(queue: TimedQueue, *, first: int, **options: object) -> None:
    """A worker with `options` sends `first` deliveries published together, then one
    published after them within 2 s: not a gather (of 5 s in these tests) later."""
    sender = RecordingSender()
    worker = _worker(queue, sender, **options)
    _publish(queue, first)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(sender.wait_for(first), WAIT)
        _publish(queue)
        await asyncio.wait_for(sender.wait_for(first + 1), 2.0)
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
