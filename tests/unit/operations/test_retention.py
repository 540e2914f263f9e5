"""Retention's background loop: batch after batch until a short one, the cut-off from the
configured age, a pause between batches, and a prompt stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hookcast.delivery.retention import Retention, RetentionOptions
from hookcast.ports import Pruned

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class PruningStore:
    """Holds `deliveries` old deliveries and as many events; deletes them batch by batch."""

    def __init__(self, deliveries: int) -> None:
        self.left = deliveries
        self.calls: list[tuple[datetime, int]] = []
        self.stop_after: tuple[int, asyncio.Event] | None = None  # sets the event at call N

    async def prune_before(self, before: datetime, *, limit: int) -> Pruned:
        self.calls.append((before, limit))
        if self.stop_after is not None and len(self.calls) == self.stop_after[0]:
            self.stop_after[1].set()
        taken = min(self.left, limit)
        self.left -= taken
        return Pruned(deliveries=taken, events=taken)


def retention(store: PruningStore, **options: float) -> tuple[Retention, list[Pruned]]:
    seen: list[Pruned] = []
    # Options arrive as floats by name; the fakes implement only the Store methods pruning uses.
    chosen = RetentionOptions(max_age=timedelta(days=30), **options)  # type: ignore[arg-type]
    return Retention(store, clock=lambda: NOW, options=chosen, on_pruned=seen.append), seen  # type: ignore[arg-type]


async def test_a_pass_prunes_in_batches_until_one_comes_back_short() -> None:
    store = PruningStore(deliveries=2500)
    pruner, seen = retention(store, batch_size=1000, pause_seconds=0)

    total = await pruner.prune_pass()

    assert total == Pruned(deliveries=2500, events=2500)
    assert [batch.deliveries for batch in seen] == [1000, 1000, 500]
    assert {call for call in store.calls} == {(NOW - timedelta(days=30), 1000)}


async def test_an_exactly_full_last_batch_is_followed_by_an_empty_one() -> None:
    store = PruningStore(deliveries=2000)
    pruner, seen = retention(store, batch_size=1000, pause_seconds=0)
    await pruner.prune_pass()
    assert [batch.deliveries for batch in seen] == [1000, 1000, 0]


async def test_the_background_loop_stops_promptly_between_batches() -> None:
    store = PruningStore(deliveries=10**9)
    pruner, _ = retention(store, batch_size=10, pause_seconds=0.01, first_pass_after_seconds=0)
    stop = asyncio.Event()
    store.stop_after = (3, stop)
    await asyncio.wait_for(pruner.run(stop), timeout=2)
    assert len(store.calls) == 3
    assert store.left > 0


class DownStore:
    def __init__(self, stop: asyncio.Event) -> None:
        self.calls = 0
        self._stop = stop

    async def prune_before(self, before: datetime, *, limit: int) -> Pruned:
        self.calls += 1
        if self.calls == 2:
            self._stop.set()
        raise ConnectionError("database down")


async def test_a_failing_pass_does_not_end_the_loop() -> None:
    stop = asyncio.Event()
    store = DownStore(stop)
    options = RetentionOptions(
        max_age=timedelta(days=1), interval_seconds=0.01, first_pass_after_seconds=0
    )
    # DownStore implements only the Store method pruning uses.
    pruner = Retention(store, clock=lambda: NOW, options=options)  # type: ignore[arg-type]
    await asyncio.wait_for(pruner.run(stop), timeout=2)
    assert store.calls == 2  # the first pass failed, the loop went on to a second


class MailPruningStore:
    """Holds `mails` old sent e-mails and nothing else."""

    def __init__(self, mails: int) -> None:
        self.left = mails

    async def prune_before(self, before: datetime, *, limit: int) -> Pruned:
        taken = min(self.left, limit)
        self.left -= taken
        return Pruned(deliveries=0, events=0, mails=taken)


async def test_a_pass_goes_on_while_e_mails_fill_the_batches() -> None:
    store = MailPruningStore(mails=1500)
    pruner, seen = retention(store, batch_size=1000, pause_seconds=0)  # type: ignore[arg-type]

    total = await pruner.prune_pass()

    assert total == Pruned(deliveries=0, events=0, mails=1500)
    assert [batch.mails for batch in seen] == [1000, 500]
