"""A webhook's pause or resume on SQLite: its deliveries moved a stretch at a time.

SQLite's one writer runs on the event loop's thread, so a pause or resume moving all of a
webhook's deliveries in one statement held every writer, and the API's loop, for all of
them (attack 19: 100,000 deliveries, 0.53 s to pause, 0.77 s to resume, while one tenant
may toggle at its rate limit). The walk goes through the webhook's deliveries in the order
of the (webhook_id, created) index (store/webhook_walk.py), a few stretches per write
transaction (store/slices.py).

Each stretch reads the webhook's state first: a walk goes on only while the webhook is as
its save left it. A save that changed it since walks again from the start and finishes the
job (a resume's walk stops at a pause, and the pause's walk pauses what the resume had
made pending, and the other way round). Rows behind the walk made since it started are in
the state the walk makes: a publish to a disabled webhook holds its deliveries, to an
enabled one makes them pending. A save that neither pauses nor resumes the webhook walks
nothing (store/sql_store.py `_walk_needed`). PostgreSQL's writers do not queue: there a
resume stays one statement (store/webhooks.py `update_webhook`), and a pause goes in
stretches too, for the claims' sake (store/pause_postgres.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from hookcast.domain.models import DeliveryStatus, Ordering
from hookcast.store.connector import Transaction
from hookcast.store.pausable import WALK_MAY_PAUSE
from hookcast.store.statement import IN_ORDER, Statement
from hookcast.store.tables import webhooks
from hookcast.store.types import to_micros

__all__ = ["SavedState", "enabled", "pause_or_resume", "saved_state"]

_PENDING = DeliveryStatus.PENDING.value
_PAUSED = DeliveryStatus.PAUSED.value


@dataclass(frozen=True, slots=True)
class SavedState:
    """What of a webhook's stored settings a walk of its deliveries follows."""

    enabled: bool
    ordered: bool


async def saved_state(tx: Transaction, webhook_id: str) -> SavedState | None:
    """The webhook's stored state, read before a save changes it (None: no such webhook);
    on either database."""
    row = await tx.fetch_one(_SAVED, {"b_id": webhook_id})
    if row is None:
        return None
    return SavedState(enabled=bool(row[0]), ordered=row[1] != Ordering.NONE.value)


async def pause_or_resume(
    tx: Transaction, rowids: str, *, webhook_id: str, enabled: bool, now: datetime
) -> int | None:
    """A stretch of the walk (SQLite only; store/webhook_walk.py `Move`): of the deliveries
    with these `rowids`, pauses the pending ones a walk may pause (`enabled` False;
    store/pausable.py: not a person's test or example, which goes even while the webhook
    is disabled) or makes every paused one pending, due `now` (`enabled` True: a test
    stored paused before goes again), if the webhook is still in that state (else None:
    the walk stops). Leases are kept, as PostgreSQL's pause keeps them
    (store/pause_postgres.py). How many it moved."""
    state = await tx.fetch_one(_STATE, {IN_ORDER: (webhook_id,)})
    if state is None or bool(state[0]) is not enabled:
        return None
    if enabled:
        return await tx.execute(_RESUME, {IN_ORDER: (_PENDING, to_micros(now), rowids, _PAUSED)})
    return await tx.execute(_PAUSE, {IN_ORDER: (_PAUSED, None, rowids, _PENDING)})


async def enabled(tx: Transaction, webhook_id: str) -> bool | None:
    """Whether the webhook is enabled (None: there is no such webhook)."""
    state = await tx.fetch_one(_STATE, {IN_ORDER: (webhook_id,)})
    return None if state is None else bool(state[0])


_STATE = Statement.written("sqlite", "SELECT enabled FROM webhooks WHERE id = ?")
_SAVED = Statement(
    lambda _: select(webhooks.c.enabled, webhooks.c.ordering).where(
        webhooks.c.id == bindparam("b_id")
    )
)
# Status values bound, not written in: the statement's text is this module's alone.
_MOVE = (
    "UPDATE deliveries SET status = ?1, next_attempt_at = coalesce(?2, next_attempt_at)"
    " WHERE rowid IN (SELECT value FROM json_each(?3)) AND status = ?4"
)
_RESUME = Statement.written("sqlite", _MOVE)
# The walk's condition is store/pausable.py's constant, no input.
_PAUSE = Statement.written("sqlite", f"{_MOVE} AND {WALK_MAY_PAUSE}")
