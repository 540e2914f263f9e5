"""Outcomes written beside the write under way (`WorkerOptions.write_ahead`, serve on SQLite)
when that write fails: what the two writes carried reaches the store in the order the
attempts were made, as far as anyone reading the webhook can tell."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hookcast.delivery.attempt import Concluded, conclude, prepare
from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.outcomes import OutcomeRecorder
from hookcast.domain.errors import Unreachable
from hookcast.ports import (
    ClaimedDelivery,
    DeliveryResult,
    EventQuery,
    NoObserver,
    SendOutcome,
    WebhookHealth,
)
from hookcast.store import SqlStore
from support import factories as make

_BOUNDED = 10.0  # seconds any wait here may take


class _FirstWriteFailsAfterTheSecond:
    """The store, except that the first write of outcomes fails once the second has been
    written: as a write refused after waiting its turn (SQLite's "database is locked" once
    another process held the file for the busy timeout) while the write begun beside it
    went through."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._writes = 0
        self.first_begun = asyncio.Event()
        self._second_written = asyncio.Event()

    async def record_results(
        self, results: Sequence[DeliveryResult], health: Sequence[WebhookHealth]
    ) -> None:
        self._writes += 1
        if self._writes == 1:
            self.first_begun.set()
            async with asyncio.timeout(_BOUNDED):
                await self._second_written.wait()
            raise Unreachable("database is locked")
        await self._store.record_results(results, health)
        self._second_written.set()

    async def release_deliveries(self, leases: Sequence[tuple[str, str]], now: datetime) -> None:
        await self._store.release_deliveries(leases, now)


def _answered(claimed: ClaimedDelivery, status: int, at: datetime) -> Concluded:
    return conclude(
        claimed,
        request=prepare(claimed, at),
        outcome=SendOutcome(status_code=status, latency_ms=1.0),
        started_at=at,
        now=at,
        jitter_sample=0.5,
        disable_after=timedelta(days=5),
    )


async def test_a_failed_write_does_not_land_an_older_failure_after_a_newer_success(
    store: SqlStore,
) -> None:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    events = [make.event(acme.id) for _ in range(3)]
    await store.append_events(events=events, fanout=make.fanout_to(hook.id))
    first, second, third = await store.claim_due_deliveries(now=make.NOW, limit=3, lease_seconds=60)
    queue = _FirstWriteFailsAfterTheSecond(store)
    options = WorkerOptions(concurrency=2, flush_batch=2, write_ahead=True)
    # The two methods the recorder calls: a DeliveryQueue in what it is asked.
    writes: Any = queue
    recorder = OutcomeRecorder(
        writes, clock=lambda: make.NOW, options=options, observer=NoObserver()
    )
    recorder.start()

    # Two answers, a full batch: its write begins at once (and will fail).
    recorder.add(_answered(first, 503, make.NOW))
    recorder.add(_answered(second, 503, make.NOW))
    async with asyncio.timeout(_BOUNDED):
        await queue.first_begun.wait()
    # A later success, written beside it: the worker is at its bound.
    recorder.add(_answered(third, 200, make.later(1)))
    recorder.write_ahead()
    async with asyncio.timeout(_BOUNDED):
        await recorder.close()

    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert found.last_success == make.later(1)
    # Its latest attempt succeeded: the webhook is not failing, and no one was told it was.
    assert found.failing_since is None
    told = await store.list_events(EventQuery(acme.id, type="webhook_failing"))
    assert told.items == []
