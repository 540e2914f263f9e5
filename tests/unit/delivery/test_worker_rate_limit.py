"""A rate-limited webhook's deliveries in the worker: those its bucket refuses wait (their
lease back, due when the bucket lets them through, no attempt counted), and the ones started
together are admitted in one decision."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.rate_gate import _KEPT, RateGate
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
        claimed.append(ClaimedDelivery.of(delivery, f"lease-{number}", event, hook))
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
        states = [queue.delivery(c.delivery_id) for c in claimed]
        soon = NOW + timedelta(seconds=3)
        return sum(1 for d in states if NOW < d.next_attempt_at < soon) == 2

    try:
        await asyncio.wait_for(sender.wait_for(2), 10)
        await eventually(held_back, timeout=10, message=lambda: "none was handed back")
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)

    assert sender.count() == 2  # the clock stands still: the bucket never refills
    states = [queue.delivery(c.delivery_id) for c in claimed]
    waiting = [d for d in states if d.status is DeliveryStatus.PENDING]
    assert len(waiting) == 2
    assert all(d.attempts == 0 for d in waiting)
    assert sorted(d.next_attempt_at for d in waiting)[1] - NOW >= timedelta(seconds=2)


async def test_a_sole_workers_buckets_stay_bounded_however_many_limits_and_webhooks() -> None:
    """Keyed by (webhook, limit) and kept while still filling, an editor changing a limit
    in a loop grew them without end, and each new one scanned them all on the event loop:
    10,000 changes cost the loop 43 s, the next 10,000 99 s (attack 10)."""
    gate = RateGate(MemoryDeliveryQueue(), clock=lambda: NOW, shared=False)
    hook = make.webhook("acc", rate_limit=DeliveryRateLimit(per_second=0.001, burst=1))
    event = make.event("acc")
    delivery = make.delivery(event, hook.id)

    async def ask(webhook: Webhook) -> datetime | None:
        return await gate.hold_until(ClaimedDelivery.of(delivery, "lease", event, webhook))

    for number in range(2 * _KEPT):  # one webhook, a new limit each time: one bucket
        slower = DeliveryRateLimit(per_second=0.001 + number * 1e-9, burst=1)
        assert await ask(replace(hook, rate_limit=slower)) is None  # a new limit: full
    assert gate.kept() == 1
    for number in range(2 * _KEPT):  # as many webhooks, each bucket emptied for 1,000 s
        assert await ask(replace(hook, id=f"H{number:07d}")) is None
    assert gate.kept() <= _KEPT
    last = replace(hook, id=f"H{2 * _KEPT - 1:07d}")
    assert await ask(last) is not None  # the newest are kept: still refused
