"""The worker with fair share: one account's endpoints that never answer do not hold back
another account's deliveries."""

from __future__ import annotations

import asyncio

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.models import Webhook
from hookcast.ports import OutboundRequest, SendOutcome
from support import factories as make
from support.senders import RecordingSender

NOW = make.later(1000)  # every delivery below is due
WAIT = 10.0  # seconds a test waits for what it expects, far above what it takes


def _add(queue: MemoryDeliveryQueue, hook: Webhook, count: int, *, first: int = 0) -> None:
    for number in range(first, first + count):
        event = make.event(hook.account_id, created=make.later(number))
        queue.add(delivery=make.delivery(event, hook.id), event=event, webhook=hook)


async def test_another_accounts_deliveries_go_out_while_one_accounts_endpoints_hang() -> None:
    slow = [make.webhook("A", webhook_url=f"https://slow{n}.example/hook") for n in range(5)]
    fast = make.webhook("B", webhook_url="https://fast.example/hook")
    slow_urls = {hook.webhook_url for hook in slow}
    release = asyncio.Event()

    async def answer(request: OutboundRequest) -> SendOutcome:
        if request.url in slow_urls:
            await release.wait()  # A's endpoints never answer while the test runs
        return SendOutcome(status_code=200, latency_ms=1.0)

    sender = RecordingSender(answer)
    queue = MemoryDeliveryQueue()
    for hook in slow:
        _add(queue, hook, 60)
    worker = DeliveryWorker(
        queue,
        sender,
        clock=lambda: NOW,
        options=WorkerOptions(idle_wait_seconds=0.05, shutdown_grace_seconds=0.0),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await sender.wait_for(5, urls=slow_urls)  # A's requests are out, and none comes back
        _add(queue, fast, 20, first=100)

        await sender.wait_for(20, urls={fast.webhook_url})  # B's are all sent meanwhile

        assert sender.count(slow_urls) < WorkerOptions().concurrency  # A holds only its part
        assert not release.is_set()
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
        release.set()
    recorded = [a for a in queue.attempts if a.status_code == 200]
    assert len(recorded) == 20  # B's, recorded; A's went back unattempted on shutdown


async def test_a_worker_whose_queues_one_account_fills_still_takes_another_accounts() -> None:
    # A's backlog of 5,000 goes to one endpoint that never answers: the worker holds all it
    # may queue for it and claims no more of A's. B's delivery, published later (newer than
    # all of A's), is still claimed and sent.
    stuck = make.webhook("A", webhook_url="https://stuck.example/hook")
    fast = make.webhook("B", webhook_url="https://fast.example/hook")
    release = asyncio.Event()

    async def answer(request: OutboundRequest) -> SendOutcome:
        if request.url == stuck.webhook_url:
            await release.wait()
        return SendOutcome(status_code=200, latency_ms=1.0)

    sender = RecordingSender(answer)
    queue = MemoryDeliveryQueue()
    _add(queue, stuck, 5_000, first=-5_000)
    worker = DeliveryWorker(
        queue,
        sender,
        clock=lambda: NOW,
        options=WorkerOptions(idle_wait_seconds=60.0, shutdown_grace_seconds=0.0),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await sender.wait_for(WorkerOptions().new_endpoint_concurrency, urls={stuck.webhook_url})
        _add(queue, fast, 1, first=900)

        await sender.wait_for(1, urls={fast.webhook_url})  # at once: no wait of 60 s

        assert not release.is_set()
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT)
        release.set()
