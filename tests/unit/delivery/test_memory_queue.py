"""MemoryDeliveryQueue's wake-ups: what makes a waiting worker look for due deliveries again.
(Its lease rules are the store's: tests/contract/test_delivery_queue.py.)"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.domain.models import Delivery, DeliveryStatus
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


async def test_a_webhook_enabled_again_has_its_paused_deliveries_claimed_and_a_waiter_woken() -> (
    None
):
    """As the store's resume: a disable pauses the pending deliveries, an enable makes them
    pending again, due at the enable (a paused one had stayed paused for good)."""
    queue = MemoryDeliveryQueue()
    hook, event = make.webhook("acct"), make.event("acct")
    delivery = make.delivery(event, hook.id)
    queue.add(delivery=delivery, event=event, webhook=hook)
    queue.edit_webhook(replace(hook, enabled=False))
    assert queue.delivery(delivery.id).status is DeliveryStatus.PAUSED
    assert await queue.claim_due_deliveries(now=make.later(5), limit=1, lease_seconds=LEASE) == []
    waiter = await _woken(queue)

    queue.edit_webhook(replace(hook, enabled=True), now=make.later(5))

    await asyncio.wait_for(waiter, WAIT)
    (claimed,) = await queue.claim_due_deliveries(now=make.later(5), limit=1, lease_seconds=LEASE)
    assert claimed.delivery_id == delivery.id
