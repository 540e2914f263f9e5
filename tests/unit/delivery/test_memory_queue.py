"""MemoryDeliveryQueue's wake-ups: what makes a waiting worker look for due deliveries again.
(Its lease rules are the store's: tests/contract/test_delivery_queue.py.)"""

from __future__ import annotations

import asyncio

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.domain.models import Delivery
from support import factories as make

LEASE = 30.0
WAIT = 10.0  # far longer than a wake-up takes; the waiter's own timeout is longer still


def _one_delivery() -> tuple[MemoryDeliveryQueue, Delivery]:
    queue = MemoryDeliveryQueue()
    hook = make.webhook("acct")
    event = make.event("acct")
    delivery = make.delivery(event, hook.id)
    queue.add(delivery=delivery, event=event, webhook=hook)
    return queue, delivery


async def _woken(queue: MemoryDeliveryQueue) -> asyncio.Future[bool]:
    """A waiter started after earlier wake-ups were consumed."""
    await queue.wait_for_deliveries(0)  # consumes the wake-up `add` left
    return asyncio.ensure_future(queue.wait_for_deliveries(10 * WAIT))


async def test_a_release_wakes_a_waiter() -> None:
    queue, _ = _one_delivery()
    (claimed,) = await queue.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)
    waiter = await _woken(queue)

    await queue.release_deliveries([(claimed.delivery_id, claimed.lease_token)], make.NOW)

    await asyncio.wait_for(waiter, WAIT)


async def test_a_recorded_retry_wakes_a_waiter() -> None:
    queue, _ = _one_delivery()
    (claimed,) = await queue.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)
    waiter = await _woken(queue)

    await queue.record_results([make.retry_later(claimed, make.later(60))], [])

    await asyncio.wait_for(waiter, WAIT)


async def test_a_waiter_with_nothing_new_waits_out_its_timeout() -> None:
    queue, _ = _one_delivery()
    (claimed,) = await queue.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)
    await queue.wait_for_deliveries(0)

    await queue.record_results([make.succeeded(claimed)], [])  # nothing new is due

    started = asyncio.get_running_loop().time()
    await queue.wait_for_deliveries(0.05)
    assert asyncio.get_running_loop().time() - started >= 0.04  # not woken at once
