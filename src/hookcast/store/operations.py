"""Queries for operating HookCast: the backlog for metrics, and retention's pruning batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryStats, Pruned
from hookcast.store.sql import is_postgres
from hookcast.store.tables import deliveries, events, webhooks

__all__ = ["delivery_stats", "prune_before"]

_PENDING = DeliveryStatus.PENDING.value
_DONE = (DeliveryStatus.SUCCEEDED.value, DeliveryStatus.FAILED.value)


async def delivery_stats(conn: AsyncConnection, now: datetime) -> DeliveryStats:
    # Both delivery aggregates read only the partial index on pending rows.
    pending = await conn.scalar(
        select(func.count()).select_from(deliveries).where(deliveries.c.status == _PENDING)
    )
    oldest_due: datetime | None = await conn.scalar(
        select(func.min(deliveries.c.next_attempt_at)).where(
            deliveries.c.status == _PENDING, deliveries.c.next_attempt_at <= now
        )
    )
    disabled = await conn.scalar(
        select(func.count()).select_from(webhooks).where(webhooks.c.enabled.is_(False))
    )
    age = (now - oldest_due).total_seconds() if oldest_due is not None else 0.0
    return DeliveryStats(
        pending=int(pending or 0),
        oldest_due_age_seconds=max(0.0, age),
        disabled_webhooks=int(disabled or 0),
    )


async def prune_before(conn: AsyncConnection, before: datetime, *, limit: int) -> Pruned:
    """One retention batch (see `Store.prune_before`). Deliveries go first: events are
    referenced by them, and an event is only deleted once it has no delivery left."""
    return Pruned(
        deliveries=await _prune_deliveries(conn, before, limit),
        events=await _prune_events(conn, before, limit),
    )


def _batch(conn: AsyncConnection, query: Select[Any], name: str) -> Select[Any]:
    """The rows of one batch, selected exactly once. On PostgreSQL, rows another transaction
    holds (a manual retry right now) are skipped for the next pass instead of waited for,
    and MATERIALIZED keeps the planner from running the locking LIMIT query more than once
    (each run would skip to different rows and the batch would outgrow its limit)."""
    if not is_postgres(conn):
        return query
    cte = query.with_for_update(skip_locked=True).cte(name).prefix_with("MATERIALIZED")
    return select(*cte.c)


async def _prune_deliveries(conn: AsyncConnection, before: datetime, limit: int) -> int:
    finished_before = and_(deliveries.c.status.in_(_DONE), deliveries.c.created < before)
    batch = _batch(conn, select(deliveries.c.id).where(finished_before).limit(limit), "old")
    # The condition is repeated on the DELETE itself: PostgreSQL re-checks it against a row
    # that a concurrent manual retry made pending again, and then leaves that row alone.
    # Attempts go with their delivery (ON DELETE CASCADE).
    result = await conn.execute(
        delete(deliveries).where(deliveries.c.id.in_(batch), finished_before)
    )
    return int(result.rowcount)


async def _prune_events(conn: AsyncConnection, before: datetime, limit: int) -> int:
    referenced = exists().where(
        deliveries.c.account_id == events.c.account_id, deliveries.c.event_id == events.c.id
    )
    unreferenced_before = and_(events.c.created < before, ~referenced)
    batch = _batch(
        conn,
        select(events.c.account_id, events.c.id).where(unreferenced_before).limit(limit),
        "orphans",
    )
    key = tuple_(events.c.account_id, events.c.id)
    result = await conn.execute(delete(events).where(key.in_(batch), unreferenced_before))
    return int(result.rowcount)
