"""A long change on SQLite's writer made in slices, each write transaction bounded in time.

SQLite's one writer runs on the event loop's thread (store/sqlite_connector.py), so a
statement moving a webhook's whole backlog stood every tenant's requests and deliveries
still for as long as it took. A change over many rows is therefore a `Slice`, a small
step that says whether there is more, and `write_in_slices` runs as many of them in a
write transaction as fit in `seconds` of wall time, then commits and lets the loop and the
queued writers go before the next transaction.

Bounded by time rather than by a row count: a count chosen on a quiet machine held the
loop three times as long under the suite's load (a pause's 4,000 rows a write: 0.31-0.35 s
of a 1.05-1.17 s walk in CI), where the clock, read between slices, ends a transaction
sooner the slower the machine, a descheduled process included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from hookcast.store.connector import Transaction

__all__ = ["SLICE_ROWS", "WRITE_SECONDS", "Slice", "Tally", "write_in_slices"]

# Rows a slice reads (~3-6 ms on a quiet 2-core machine) and the wall time a write
# transaction goes on taking slices: docs/delivery.md, "Large backlogs on SQLite".
SLICE_ROWS = 250
WRITE_SECONDS = 0.025

Slice = Callable[[Transaction], Awaitable[bool]]
"""One step of a change in a write transaction: True while there is more to do."""


class Tally:
    """What a change's slices moved in the write under way, told to `tell` once that write
    has committed (pass it as `write_in_slices`'s `committed`): the workers are woken for
    deliveries made due only when they can claim them."""

    __slots__ = ("_tell", "_uncommitted")

    def __init__(self, tell: Callable[[int], None] | None) -> None:
        self._tell = tell
        self._uncommitted = 0

    def add(self, count: int) -> None:
        self._uncommitted += count

    def __call__(self) -> None:
        if self._tell is not None and self._uncommitted:
            self._tell(self._uncommitted)
        self._uncommitted = 0


async def write_in_slices(
    writing: Callable[[], AbstractAsyncContextManager[Transaction]],
    step: Slice,
    *,
    seconds: float = WRITE_SECONDS,
    committed: Callable[[], None] | None = None,
) -> None:
    """Runs `step` until it says it is done: in write transactions from `writing`, each
    taking steps until `seconds` have passed since its first, `committed` called after
    each commit, the loop's other tasks running between transactions. Each transaction
    commits what its steps did: a change cut short (the process stopped) keeps those."""
    more = True
    while more:
        async with writing() as tx:
            until = time.monotonic() + seconds
            more = await step(tx)
            while more and time.monotonic() < until:
                more = await step(tx)
        if committed is not None:
            committed()
        if more:
            await asyncio.sleep(0)  # the loop's other tasks, and queued writers, go now
