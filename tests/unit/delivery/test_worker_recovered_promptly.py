"""A failing webhook's first success changes its standing: recording it clears "failing" on
every page and publishes webhook_recovered to the account's subscribers (store/operational.py).
So it is recorded within the flush interval like a failure, however long successes that
change nothing but the log may gather."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.health import WebhookHealth
from hookcast.ports import DeliveryResult
from support import factories as make
from support.senders import WAIT, RecordingSender


class RecordedQueue(MemoryDeliveryQueue):
    """Says when outcomes were recorded, and the health they carried."""

    def __init__(self) -> None:
        super().__init__()
        self.health: list[WebhookHealth] = []
        self.recorded = asyncio.Event()

    async def record_results(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        await super().record_results(results, health)
        self.health.extend(health)
        self.recorded.set()


def _options(**values: Any) -> WorkerOptions:
    """Options with `values` this version of the worker has (a longer wait for successes
    alone is not in every version: without it, every outcome waits the flush interval)."""
    known = {field.name for field in fields(WorkerOptions)}
    return WorkerOptions(**{name: value for name, value in values.items() if name in known})


async def test_a_failing_webhooks_first_success_is_recorded_within_the_flush_interval() -> None:
    now = datetime.now(UTC)
    account = make.account()
    failing = make.webhook(account.id, failing_since=now - timedelta(hours=1))
    event = make.event(account.id, created=now - timedelta(seconds=1))
    queue = RecordedQueue()
    queue.add(
        delivery=make.delivery(event, failing.id, next_attempt_at=now), event=event, webhook=failing
    )
    options = _options(flush_interval_seconds=0.01, quiet_flush_seconds=3 * WAIT)
    sender = RecordingSender()
    worker = DeliveryWorker(queue, sender, clock=lambda: datetime.now(UTC), options=options)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        # Well before the successes' longer wait: that wait would hold the recovery too.
        await asyncio.wait_for(queue.recorded.wait(), WAIT)
    finally:
        stop.set()
        await asyncio.wait_for(running, 4 * WAIT)
    assert len(sender.requests) == 1
    assert {h.webhook_id for h in queue.health if h.succeeded_at} == {failing.id}
