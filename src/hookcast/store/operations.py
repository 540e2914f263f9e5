"""Queries for operating HookCast: the backlog for metrics, and retention's pruning batches."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, and_, bindparam, delete, exists, func, or_, select, tuple_
from sqlalchemy.sql.dml import Delete

from hookcast.domain.models import FINISHED_STATUSES, DeliveryStatus
from hookcast.ports import DeliveryStats, Pruned
from hookcast.ports.records import WORKER_ALIVE_SECONDS
from hookcast.store import partitions
from hookcast.store.connector import Transaction
from hookcast.store.fair_claim import not_leased
from hookcast.store.mail import MAIL_LIMIT_PERIOD
from hookcast.store.statement import Statement
from hookcast.store.tables import deliveries, events, mail_outbox, webhooks, workers
from hookcast.store.types import Timestamp

__all__ = ["delivery_stats", "drop_old_days", "prune_before"]

_PENDING = DeliveryStatus.PENDING.value
_HELD = DeliveryStatus.HELD.value
# Pruned once old: finished deliveries, and held ones nobody delivered or discarded in time.
_DONE = tuple(status.value for status in (*FINISHED_STATUSES, DeliveryStatus.HELD))


async def delivery_stats(tx: Transaction, now: datetime) -> DeliveryStats:
    alive_since = now - timedelta(seconds=WORKER_ALIVE_SECONDS)
    row = await tx.fetch_one(_STATS, {"b_now": now, "b_alive_since": alive_since})
    pending, oldest_due, disabled, held, alive = row or (0, None, 0, 0, 0)
    age = (now - oldest_due).total_seconds() if oldest_due is not None else 0.0
    return DeliveryStats(
        pending=int(pending or 0),
        oldest_due_age_seconds=max(0.0, age),
        disabled_webhooks=int(disabled or 0),
        held=int(held or 0),
        workers_alive=int(alive or 0),
    )


def _stats(_database: str) -> Select[Any]:
    # The pending aggregates read only the partial index on pending rows, `held` the one on
    # held rows; the workers table holds a row per delivering process.
    pending = select(func.count()).select_from(deliveries).where(deliveries.c.status == _PENDING)
    now = bindparam("b_now", type_=Timestamp)
    oldest_due = select(func.min(deliveries.c.next_attempt_at)).where(
        deliveries.c.status == _PENDING,
        deliveries.c.next_attempt_at <= now,
        not_leased(deliveries, now),  # waiting, not in flight
    )
    disabled = select(func.count()).select_from(webhooks).where(webhooks.c.enabled.is_(False))
    held = select(func.count()).select_from(deliveries).where(deliveries.c.status == _HELD)
    alive = (
        select(func.count())
        .select_from(workers)
        .where(workers.c.last_seen >= bindparam("b_alive_since", type_=Timestamp))
    )
    return select(
        pending.scalar_subquery().label("pending"),
        oldest_due.scalar_subquery().label("oldest_due"),
        disabled.scalar_subquery().label("disabled"),
        held.scalar_subquery().label("held"),
        alive.scalar_subquery().label("alive"),
    )


_STATS = Statement(_stats)


async def drop_old_days(
    writing: Callable[[], AbstractAsyncContextManager[Transaction]], before: datetime
) -> int:
    """PostgreSQL's part of a retention pass: the coming days' partitions, then the finished
    days wholly before `before`'s day (store/partitions.py), each day in a transaction of
    its own from `writing`. Creating and dropping a partition locks its parent, and a DROP's
    lock on `deliveries` stops every publish and claim until its commit: with every due day
    in one transaction that lock, taken at the first day, was held through each later day's
    count and checks, the sum of a backlog (10 days of 100,000 deliveries:
    docs/benchmarks/postgres-delivery.md, "Retention by day, a transaction per day"); now for one
    day's second check. Each of these transactions takes the days' lock first (`take_the_days`); a
    pass finding it taken leaves the rest to the one holding it. Returns the deliveries dropped."""
    cut = partitions.day_start(before)
    async with writing() as tx:
        if not await partitions.take_the_days(tx):
            return 0
        await partitions.create_ahead(tx, now=datetime.now(UTC))
        days = await partitions.due_days(tx, "deliveries", before=cut)
        attempt_days = await partitions.due_days(tx, "attempts", before=cut)
    dropped = 0
    for day in days:
        async with writing() as tx:
            if not await partitions.take_the_days(tx):
                return dropped
            dropped += await partitions.drop_delivery_day(tx, day)
    for day in attempt_days:
        async with writing() as tx:
            if not await partitions.take_the_days(tx) or not await partitions.drop_attempts_day(
                tx, day
            ):
                break
    return dropped


async def prune_before(tx: Transaction, before: datetime, *, limit: int) -> Pruned:
    """One retention batch (see `Store.prune_before`). Deliveries go first: events are
    referenced by them, and an event is only deleted once it has no delivery left.

    On PostgreSQL the delivery log goes a day at a time (`drop_old_days`): the cut-off
    moves back to the start of its day, and only rows of a day kept for an unfinished
    delivery (or in the default partition) are deleted here, one by one."""
    if tx.database == "postgresql":
        before = partitions.day_start(before)
    values = {"b_before": before, "b_limit": limit}
    return Pruned(
        deliveries=await tx.execute(_PRUNE_DELIVERIES, values),
        events=await tx.execute(_PRUNE_EVENTS, values),
        mails=await tx.execute(_PRUNE_MAILS, {**values, "b_before": before - MAIL_LIMIT_PERIOD}),
    )


def _batch(database: str, query: Select[Any], name: str) -> Select[Any]:
    """The rows of one batch, selected exactly once. On PostgreSQL, rows another transaction
    holds (a manual retry right now) are skipped for the next pass instead of waited for,
    and MATERIALIZED keeps the planner from running the locking LIMIT query more than once
    (each run would skip to different rows and the batch would outgrow its limit)."""
    if database != "postgresql":
        return query
    cte = query.with_for_update(skip_locked=True).cte(name).prefix_with("MATERIALIZED")
    return select(*cte.c)


_BEFORE = bindparam("b_before", type_=Timestamp)
_LIMIT = bindparam("b_limit", type_=Integer)


def _prune_deliveries(database: str) -> Delete:
    finished = or_(*(deliveries.c.status == status for status in _DONE))
    finished_before = and_(finished, deliveries.c.created < _BEFORE)
    batch = _batch(database, select(deliveries.c.id).where(finished_before).limit(_LIMIT), "old")
    # The condition is repeated on the DELETE itself: PostgreSQL re-checks it against a row
    # that a concurrent manual retry made pending again, and then leaves that row alone.
    # Attempts go with their delivery (ON DELETE CASCADE).
    return delete(deliveries).where(deliveries.c.id.in_(batch), finished_before)


def _prune_events(database: str) -> Delete:
    referenced = exists().where(
        deliveries.c.account_id == events.c.account_id, deliveries.c.event_id == events.c.id
    )
    unreferenced_before = and_(events.c.created < _BEFORE, ~referenced)
    batch = _batch(
        database,
        select(events.c.account_id, events.c.id).where(unreferenced_before).limit(_LIMIT),
        "orphans",
    )
    key = tuple_(events.c.account_id, events.c.id)
    return delete(events).where(key.in_(batch), unreferenced_before)


def _prune_mails(database: str) -> Delete:
    # Sent or given up: next_attempt_at is NULL (store/mail.py).
    done_before = and_(mail_outbox.c.next_attempt_at.is_(None), mail_outbox.c.created < _BEFORE)
    batch = _batch(database, select(mail_outbox.c.id).where(done_before).limit(_LIMIT), "mails")
    return delete(mail_outbox).where(mail_outbox.c.id.in_(batch), done_before)


_PRUNE_DELIVERIES = Statement(_prune_deliveries)
_PRUNE_EVENTS = Statement(_prune_events)
_PRUNE_MAILS = Statement(_prune_mails)
