"""A rate-limited webhook's deliveries in the worker: those its bucket refuses wait (their
lease back, due when the bucket lets them through, no attempt counted), and the ones started
together are admitted in one decision."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta

import pytest

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.rate_gate import RateGate
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.models import DeliveryRateLimit, DeliveryStatus, Webhook
from hookcast.ports import ClaimedDelivery
from support import factories as make
from support.senders import RecordingSender
from support.waiting import eventually

NOW = make.later(3600)
LIMIT = DeliveryRateLimit(per_second=1.0, burst=2)


class CountingQueue(MemoryDeliveryQueue):
    """Remembers how many requests each admission asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int] = []

    async def admit_requests(
        self, webhook_id: str, *, limit: DeliveryRateLimit, now: datetime, count: int = 1
    ) -> tuple[int, datetime]:
        self.asked.append(count)
        return await super().admit_requests(webhook_id, limit=limit, now=now, count=count)


def _queued(queue: MemoryDeliveryQueue, hook: Webhook, count: int) -> list[ClaimedDelivery]:
    claimed = []
    for number in range(count):
        event = make.event("acc", created=make.later(number))
        delivery = make.delivery(event, hook.id)
        queue.add(delivery=delivery, event=event, webhook=hook)
        claimed.append(ClaimedDelivery(delivery, f"lease-{number}", event, hook))
    return claimed


@pytest.mark.parametrize("shared", [True, False])
async def test_deliveries_asking_together_are_admitted_in_one_decision(shared: bool) -> None:
    queue = CountingQueue()
    hook = make.webhook("acc", rate_limit=LIMIT)
    gate = RateGate(queue, clock=lambda: NOW, shared=shared)

    answers = await asyncio.gather(*(gate.hold_until(c) for c in _queued(queue, hook, 5)))

    # Shared: one transaction for the five; a sole worker (SQLite) asks nobody.
    assert queue.asked == ([5] if shared else [])
    assert answers[:2] == [None, None]  # the burst
    later = [answer for answer in answers[2:] if answer is not None]
    assert len(later) == 3
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(later)]
    assert gaps == [1.0, 1.0]  # spread at the rate, not all back at once
    assert NOW + timedelta(seconds=1) <= later[0] < NOW + timedelta(seconds=1.1)


async def test_the_refused_wait_and_no_attempt_is_counted_for_waiting() -> None:
    queue = MemoryDeliveryQueue()
    hook = make.webhook("acc", rate_limit=LIMIT)
    claimed = _queued(queue, hook, 4)
    sender = RecordingSender()
    worker = DeliveryWorker(
        queue, sender, clock=lambda: NOW, options=WorkerOptions(idle_wait_seconds=0.05)
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))

    def held_back() -> bool:
        # Handed back due when the bucket refills (1 and 2 s on), not at the lease's end.
        states = [queue.delivery(c.delivery.id) for c in claimed]
        soon = NOW + timedelta(seconds=3)
        return sum(1 for d in states if NOW < d.next_attempt_at < soon) == 2

    try:
        await asyncio.wait_for(sender.wait_for(2), 10)
        await eventually(held_back, timeout=10, message=lambda: "none was handed back")
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)

    assert sender.count() == 2  # the clock stands still: the bucket never refills
    states = [queue.delivery(c.delivery.id) for c in claimed]
    waiting = [d for d in states if d.status is DeliveryStatus.PENDING]
    assert len(waiting) == 2
    assert all(d.attempts == 0 for d in waiting)
    assert sorted(d.next_attempt_at for d in waiting)[1] - NOW >= timedelta(seconds=2)
