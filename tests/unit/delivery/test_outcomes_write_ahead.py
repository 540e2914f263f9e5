"""A worker at its bound of unrecorded outcomes writes the buffered ones beside the write under
way (`WorkerOptions.write_ahead`, SQLite), instead of once that write has ended."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hookcast.delivery.attempt import Concluded, conclude, prepare
from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.outcomes import OutcomeRecorder
from hookcast.ports import ClaimedDelivery, NoObserver, SendOutcome
from support import factories as make

NOW = make.later(10)
_BOUNDED = 5.0  # seconds any wait here may take


class _HeldWrites:
    """Records results only once let go: the writes begun and not let go are under way."""

    def __init__(self) -> None:
        self.let_go = asyncio.Event()
        self.recorded: list[int] = []  # outcomes per write, in the order the writes began
        self.under_way = 0
        self.most_at_once = 0
        self._begun = asyncio.Condition()

    async def record_results(self, results: Sequence[Any], health: Sequence[Any]) -> None:
        self.recorded.append(len(results))
        self.under_way += 1
        self.most_at_once = max(self.most_at_once, self.under_way)
        async with self._begun:
            self._begun.notify_all()
        await self.let_go.wait()
        self.under_way -= 1

    async def release_deliveries(self, leases: Sequence[tuple[str, str]], now: datetime) -> None:
        """Not reached: nothing is handed back here."""

    async def begun(self, writes: int) -> None:
        async with asyncio.timeout(_BOUNDED), self._begun:
            await self._begun.wait_for(lambda: len(self.recorded) >= writes)


def _concluded() -> Concluded:
    hook = make.webhook("acc")
    event = make.event("acc")
    claimed = ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)
    return conclude(
        claimed,
        request=prepare(claimed, NOW),
        outcome=SendOutcome(status_code=200, latency_ms=1.0),
        started_at=NOW,
        now=NOW,
        jitter_sample=0.5,
        disable_after=timedelta(days=5),
    )


async def _at_the_bound(*, write_ahead: bool) -> _HeldWrites:
    """Two outcomes in a write that is held, a third buffered, and the worker at its bound
    (2 * concurrency - 1 = 3 unrecorded) asking for the write ahead; then the held write
    is let go and the recorder closed."""
    writes = _HeldWrites()
    options = WorkerOptions(concurrency=2, flush_batch=2, write_ahead=write_ahead)
    # Only the two methods the recorder calls: a DeliveryQueue in what it is asked.
    queue: Any = writes
    recorder = OutcomeRecorder(queue, clock=lambda: NOW, options=options, observer=NoObserver())
    recorder.start()
    recorder.add(_concluded())
    recorder.add(_concluded())  # a full batch: written at once
    await writes.begun(1)
    recorder.add(_concluded())
    assert recorder.unrecorded == 3
    recorder.write_ahead()
    if write_ahead:
        await writes.begun(2)
    writes.let_go.set()
    async with asyncio.timeout(_BOUNDED):
        await recorder.close()
    assert recorder.delivered == 3
    return writes


async def test_at_its_bound_the_worker_writes_what_is_buffered_beside_the_write_under_way() -> None:
    writes = await _at_the_bound(write_ahead=True)

    assert writes.recorded == [2, 1]
    assert writes.most_at_once == 2


async def test_without_write_ahead_the_buffered_outcomes_wait_for_the_write_under_way() -> None:
    writes = await _at_the_bound(write_ahead=False)

    assert writes.recorded == [2, 1]
    assert writes.most_at_once == 1
