"""A walk through one webhook's deliveries in the order of its (webhook_id, created) index,
a stretch at a time, a few stretches a write (SQLite: a change over a webhook's backlog
made in slices, store/slices.py): a pause, resume, a worker's disable, a recovery.

Each stretch starts after the last entry the one before it read, a moving lower bound
(`Position`: `created`, then the rowid the index's entries end in): no stretch reads again
the rows already walked (re-read, the walk would be quadratic), and rows tied on `created`
(a publish's) are walked by rowid, not scanned again per stretch. A walk ends at the
webhook's last delivery when it began: rows made after that are in the state the change
makes already (a publish to a paused webhook holds its deliveries), and a tenant publishing
to its webhook as fast as the walk goes kept it walking, every account's writes queued
behind each of its writes, for as long as it went on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import orjson
from sqlalchemy import TextClause, text

from hookcast.store.connector import Transaction
from hookcast.store.slices import SLICE_ROWS, Tally, write_in_slices
from hookcast.store.statement import IN_ORDER, Statement

__all__ = [
    "IN_STRETCH",
    "START",
    "Move",
    "Position",
    "Stretch",
    "last_position",
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


async def next_stretch(
    tx: Transaction, *, webhook_id: str, after: Position, limit: int, until: Position
) -> Stretch:
    """The webhook's next `limit` deliveries after `after` and up to `until`, in index
    order."""
    found = await tx.fetch_all(_NEXT, {IN_ORDER: (webhook_id, after.created, after.rowid, limit)})
    walked = [Position(created, rowid) for created, rowid in found]
    kept = [at for at in walked if (at.created, at.rowid) <= (until.created, until.rowid)]
    rowids = orjson.dumps([at.rowid for at in kept]).decode()
    if len(kept) < limit:
        return Stretch(rowids=rowids, size=len(kept), after=None)
    return Stretch(rowids=rowids, size=len(kept), after=kept[-1])


async def last_position(tx: Transaction, webhook_id: str) -> Position | None:
    """Where the webhook's last delivery is in the index (None: it has none)."""
    row = await tx.fetch_one(_LAST, {IN_ORDER: (webhook_id,)})
    return None if row is None else Position(row[0], row[1])


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
    until: Position | None = None
    total = 0
    tally = Tally(moved)

    async def step(tx: Transaction) -> bool:
        nonlocal after, until, total
        assert after is not None  # a step runs only while there is more
        if until is None:
            until = await last_position(tx, webhook_id)
            if until is None:
                return False
        stretch = await next_stretch(
            tx, webhook_id=webhook_id, after=after, limit=SLICE_ROWS, until=until
        )
        done = await move(tx, stretch.rowids) if stretch.size else None
        after = None if done is None else stretch.after
        total += done or 0
        tally.add(done or 0)
        return after is not None

    await write_in_slices(writing, step, committed=tally)
    return total


_LAST = Statement.written(
    "sqlite",
    "SELECT created, rowid FROM deliveries WHERE webhook_id = ?"
    " ORDER BY created DESC, rowid DESC LIMIT 1",
)
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
