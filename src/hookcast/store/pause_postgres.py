"""A pause on PostgreSQL: the webhook's pending deliveries paused after its save commits
(all but a person's tests and examples, store/pausable.py),
a stretch at a time, in short write transactions (store/slices.py).

In the save's one statement a pause locked every pending delivery of the webhook until
it committed, and a claim, which takes the oldest due rows with SKIP LOCKED, stepped over
each locked one: a tenant pausing a webhook with 100,000 deliveries due held every
worker's claims at 0.6-1.3 s each for the 10-20 s of its transaction, and another
account's deliveries waited up to 12 s, against 0.3 s with the same backlog due and no
pause (attack 21, a tenant toggling pause and resume in a loop). Locked a stretch at a
time, a claim steps over one stretch's rows at most.

What the save's commit leaves pending is sent by no worker (a person's test or example
aside, store/pausable.py): a worker claiming one parks it, paused
(delivery/worker.py `_sendable`), as on SQLite while its walk goes (store/pause_walk.py).
A publish after the commit reads the webhook disabled and holds its deliveries. Each
stretch share-locks the webhook's row and goes on only while it is disabled: a resume
waits for the stretch under way, and then the walk stops, so no delivery is paused behind
the resume's statement. Cut short (the process stopped), the walk is done again when a
worker starts (store/cut_short.py, sql_store.py `finish_walks`); until then a claim parks
what it reaches.
Leases are kept: a worker sending one of these right now still records its attempt
(record_results leaves a paused delivery paused unless the attempt completes it).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Integer, bindparam, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from hookcast.domain.models import DeliveryStatus
from hookcast.store.connector import Transaction
from hookcast.store.pausable import walk_may_pause
from hookcast.store.slices import write_in_slices
from hookcast.store.sql import in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, webhooks

__all__ = ["STRETCH_ROWS", "pause_in_stretches"]

STRETCH_ROWS = 500  # deliveries a stretch reads, of every status (the webhook's history)

_PENDING = DeliveryStatus.PENDING.value
_PAUSED = DeliveryStatus.PAUSED.value


async def pause_in_stretches(
    writing: Callable[[], AbstractAsyncContextManager[Transaction]],
    *,
    webhook_id: str,
    going: Callable[[], bool] = lambda: True,
) -> int:
    """Pauses the disabled webhook's pending deliveries, walking its deliveries in the order
    of its (webhook_id, created) index, STRETCH_ROWS at a time; stops once the webhook is
    enabled again, or before a stretch when `going()` is false (a later walk of it begun,
    the store closing). How many it paused."""
    after: dict[str, Any] = {"b_created": None, "b_after": ""}
    paused = 0

    async def step(tx: Transaction) -> bool:
        nonlocal paused
        if not going():
            return False
        state = await tx.fetch_one(_STATE, {"b_id": webhook_id})
        if state is None or state[0]:
            return False
        first = after["b_created"] is None
        rows = await tx.fetch_all(
            _FIRST if first else _NEXT, {"b_id": webhook_id, "b_limit": STRETCH_ROWS, **after}
        )
        if not rows:
            return False
        stretch = {"b_ids": [row[1] for row in rows], "b_from": rows[0][0], "b_to": rows[-1][0]}
        paused += await tx.execute(_PAUSE, {"b_id": webhook_id, **stretch})
        after.update(b_created=rows[-1][0], b_after=rows[-1][1])
        return len(rows) == STRETCH_ROWS

    await write_in_slices(writing, step)
    return paused


def _stretch(*after: ColumnElement[bool]) -> Statement:
    """The webhook's next STRETCH_ROWS deliveries (created, id) in index order, ties on
    `created` by id, from the first or after (`b_created`, `b_after`)."""
    return Statement(
        lambda _: (
            select(deliveries.c.created, deliveries.c.id)
            .where(deliveries.c.webhook_id == bindparam("b_id"), *after)
            .order_by(deliveries.c.created, deliveries.c.id)
            .limit(bindparam("b_limit", type_=Integer))
        )
    )


# FOR SHARE: a resume's save (its UPDATE of the row) waits for this stretch's commit, and a
# stretch begun after the resume committed reads the webhook enabled and stops.
_STATE = Statement(
    lambda _: (
        select(webhooks.c.enabled)
        .where(webhooks.c.id == bindparam("b_id"))
        .with_for_update(read=True)
    )
)
_FIRST = _stretch()
# `created >= b_created` bounds the index range: with the OR alone the planner read the
# webhook's whole history for each stretch (a pause of 100,000 took 100 s).
_NEXT = _stretch(
    deliveries.c.created >= bindparam("b_created"),
    or_(deliveries.c.created > bindparam("b_created"), deliveries.c.id > bindparam("b_after")),
)
# The stretch's range of `created` prunes the day partitions its ids are looked up in.
_PAUSE = Statement(
    lambda database: (
        update(deliveries)
        .where(
            deliveries.c.webhook_id == bindparam("b_id"),
            in_list(database, column=deliveries.c.id, name="b_ids"),
            deliveries.c.created.between(bindparam("b_from"), bindparam("b_to")),
            deliveries.c.status == _PENDING,
            walk_may_pause(),
        )
        .values(status=_PAUSED)
    )
)
