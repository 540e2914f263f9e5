"""The worker and time-to-live: a delivery whose event is too old is concluded expired
without a request, its endpoint's slot is free again at once, and the endpoint's health is
untouched."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.models import DeliveryStatus
from support import factories as make
from support.senders import RecordingSender

NOW = make.later(3600)
# One request at a time: a slot the expired delivery kept would hold back the fresh one.
ONE_AT_A_TIME = WorkerOptions(endpoint_concurrency=1, idle_wait_seconds=0.05)


async def test_an_expired_delivery_is_not_sent_and_frees_its_slot() -> None:
    hook = make.webhook("acc", max_age_seconds={"channel_active": 600})
    queue = MemoryDeliveryQueue()
    deliveries = []
    for number, age in enumerate((1200, 5)):  # the old one is due first
        event = make.event(
            "acc",
            type="channel_active",
            resource_ids={"channel_id": "YijbmYHJ"},
            event_time=NOW - timedelta(seconds=age),
            created=make.later(number),
        )
        delivery = make.delivery(event, hook.id)
        queue.add(delivery=delivery, event=event, webhook=hook)
        deliveries.append(delivery)
    sender = RecordingSender()
    worker = DeliveryWorker(queue, sender, clock=lambda: NOW, options=ONE_AT_A_TIME)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.wait_for(sender.wait_for(1), 10)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)

    old, fresh = (queue.delivery(d.id) for d in deliveries)
    assert (old.status, fresh.status) == (DeliveryStatus.EXPIRED, DeliveryStatus.SUCCEEDED)
    assert sender.count() == 1
    assert all(health.failed_at is None for health in queue.health)
    (expired_attempt,) = [a for a in queue.attempts if a.delivery_id == old.id]
    assert expired_attempt.error is not None
    assert expired_attempt.error.startswith("expired, not sent: the event was 1200 s old")
