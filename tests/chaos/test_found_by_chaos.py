"""Regression tests for bugs the chaos runs found (docs/reliability.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from delivery_harness import Deployment, require_sqlite, with_options
from receivers import answer

from hookcast.ports import DeliveryResult, WebhookHealth
from support.waiting import DEADLINE


async def test_stopping_while_outcomes_are_being_written_still_records_them(
    database_url: str,
) -> None:
    """A worker told to stop while its flusher was writing outcomes used to cancel that
    write: the deliveries, already received, stayed leased and were sent again once the
    lease expired (duplicates after every graceful restart that hit the write)."""
    require_sqlite(database_url)
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver(answer(200))
        hook = await hookcast.hook_for(receiver)
        store = hookcast.runtime.store
        record = store.record_results
        writing = asyncio.Event()

        async def slow_record(
            results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
        ) -> None:
            writing.set()
            await asyncio.sleep(0.3)  # a slow disk or a busy database: the case under test
            await record(results, health)

        store.record_results = slow_record  # type: ignore[method-assign]
        worker = hookcast.start_worker(with_options(lease_seconds=60))
        await hookcast.publish_media(5)
        await receiver.wait_for(5)
        await asyncio.wait_for(writing.wait(), DEADLINE)  # the flusher is inside the slow write

        await worker.close()
        hookcast.workers.clear()

        succeeded = await hookcast.deliveries(hook["id"], status="succeeded")
        assert succeeded["total"] == 5
