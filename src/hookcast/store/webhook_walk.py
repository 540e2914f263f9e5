"""A walk through one webhook's deliveries in the order of its (webhook_id, created) index,
a stretch at a time, a few stretches a write (SQLite: a change over a webhook's backlog
made in slices, store/slices.py): a pause, resume, a worker's disable, a recovery.

Each stretch starts after the last entry the one before it read, a moving lower bound
(`Position`: `created`, then the rowid the index's entries end in): no stretch reads again
the rows already walked (re-read, the walk would be quadratic), and rows tied on `created`
(a publish's) are walked by rowid, not scanned again per stretch. Rows made behind the walk
after it started are not walked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import orjson
from sqlalchemy import TextClause, text

from hookcast.store.connector import Transaction
from hookcast.store.slices import SLICE_ROWS, write_in_slices
from hookcast.store.statement import IN_ORDER, Statement

__all__ = [
    "IN_STRETCH",
    "START",
    "Move",
    "Position",
    "Stretch",
    "next_stretch",
    "walk_deliveries",
]


@dataclass(frozen=True, slots=True)
class Position:
    """The last delivery a walk passed: its `created` (microseconds) and its rowid."""

    created: int
    rowid: int


START = Position(created=-(2**63), rowid=0)  # before every delivery


@dataclass(frozen=True, slots=True)
class Stretch:
    """The next deliveries of a walk: their rowids (a JSON array, for `json_each`), how many
    there are, and where the stretch after them starts (None: the webhook has no more)."""

    rowids: str
    size: int
    after: Position | None


async def next_stretch(tx: Transaction, *, webhook_id: str, after: Position, limit: int) -> Stretch:
    """The webhook's next `limit` deliveries after `after`, in index order."""
    found = await tx.fetch_all(_NEXT, {IN_ORDER: (webhook_id, after.created, after.rowid, limit)})
    rowids = orjson.dumps([rowid for _, rowid in found]).decode()
    if len(found) < limit:
        return Stretch(rowids=rowids, size=len(found), after=None)
    last_created, last_rowid = found[-1]
    return Stretch(rowids=rowids, size=len(found), after=Position(last_created, last_rowid))


# A statement's condition: the deliveries of a stretch (its rowids bound as `b_rowids`).
IN_STRETCH: TextClause = text("deliveries.rowid IN (SELECT value FROM json_each(:b_rowids))")

Move = Callable[[Transaction, str], Awaitable[int | None]]
"""A change to a stretch's deliveries, given their rowids (a JSON array): how many it
moved, or None if the walk is to stop (its webhook changed since it began)."""


async def walk_deliveries(
    writing: Callable[[], AbstractAsyncContextManager[Transaction]],
    *,
    webhook_id: str,
    move: Move,
    start: Position = START,
    moved: Callable[[int], None] | None = None,
) -> int:
    """Walks the webhook's deliveries from after `start` to its last, `move` applied to
    each stretch of `SLICE_ROWS`, in write transactions from `writing` as long as
    store/slices.py allows each; `moved` is told how many each write moved once it has
    committed. How many were moved in all."""
    after: Position | None = start
    total = uncommitted = 0

    async def step(tx: Transaction) -> bool:
        nonlocal after, total, uncommitted
        assert after is not None  # a step runs only while there is more
        stretch = await next_stretch(tx, webhook_id=webhook_id, after=after, limit=SLICE_ROWS)
        done = await move(tx, stretch.rowids) if stretch.size else None
        after = None if done is None else stretch.after
        total += done or 0
        uncommitted += done or 0
        return after is not None

    def committed() -> None:
        nonlocal uncommitted
        if moved is not None and uncommitted:
            moved(uncommitted)
        uncommitted = 0

    await write_in_slices(writing, step, committed=committed)
    return total


# The two halves are each one range of the index (the rest of the last `created` by rowid,
# then the later ones), merged in index order: one `(created, rowid) > (?, ?)` condition
# ranges on `created` alone and scans every row tied with the bound again.
_NEXT = Statement.written(
    "sqlite",
    "SELECT created, at_row FROM ("
    " SELECT created, rowid AS at_row FROM deliveries"
    " WHERE webhook_id = ?1 AND created = ?2 AND rowid > ?3"
    " UNION ALL"
    " SELECT created, rowid AS at_row FROM deliveries WHERE webhook_id = ?1 AND created > ?2"
    ") ORDER BY created, at_row LIMIT ?4",
)
