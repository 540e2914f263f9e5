"""Deliveries and attempts: fan-out inserts, claims under lease, results, manual retries."""

from __future__ import annotations

import functools
import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    RowMapping,
    Select,
    String,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.models import Attempt, Delivery, DeliveryStatus
from hookcast.ports import DeliveryQuery, DeliveryRecord, DeliveryResult, Page
from hookcast.store import raw
from hookcast.store.events import load_events
from hookcast.store.rows import (
    attempt_from_row,
    attempt_values,
    delivery_from_row,
    delivery_values,
)
from hookcast.store.sql import IDS, count, insert_ignoring, is_postgres, paginate
from hookcast.store.tables import attempts, deliveries, events, webhooks
from hookcast.store.types import Timestamp, to_micros
from hookcast.store.webhooks import lock_webhooks

__all__ = [
    "claim_due",
    "get_delivery",
    "insert_deliveries",
    "list_deliveries",
    "next_due_at",
    "record_attempts",
    "recover_failed",
    "release_leases",
    "reschedule",
]

_PENDING = DeliveryStatus.PENDING.value
_PAUSED = DeliveryStatus.PAUSED.value
_FAILED = DeliveryStatus.FAILED.value


async def insert_deliveries(
    conn: AsyncConnection, batch: Sequence[Delivery], *, webhooks_exist: bool = False
) -> int:
    """Inserts deliveries, skipping (webhook, event) pairs that exist and webhooks deleted
    since fan-out read them. Returns how many rows were offered to the database.

    `webhooks_exist`: the caller checked, holding SQLite's write lock, that no webhook was
    deleted since fan-out read them (the account's configuration version), so the check
    here is skipped; PostgreSQL still share-locks them against a concurrent delete."""
    if webhooks_exist and not is_postgres(conn):
        rows = [delivery_values(d) for d in batch]
    else:
        live = await lock_webhooks(conn, {delivery.webhook_id for delivery in batch})
        rows = [delivery_values(d) for d in batch if d.webhook_id in live]
    if rows:
        # On PostgreSQL, RETURNING makes SQLAlchemy batch the rows into multi-row INSERTs
        # ("insertmanyvalues"); asyncpg's plain executemany runs one INSERT per row. SQLite's
        # own executemany is a loop in C, faster than either.
        returning = ["id"] if is_postgres(conn) else []
        statement = insert_ignoring(conn, deliveries, ["event_id", "webhook_id"], returning)
        await raw.execute_many(conn, statement, rows)
    return len(rows)


async def claim_due(
    conn: AsyncConnection, *, now: datetime, limit: int, lease_seconds: float
) -> tuple[str, list[Delivery]]:
    """Leases up to `limit` due pending deliveries: (lease token, deliveries oldest first).

    One statement: the lease is taken by moving next_attempt_at to the lease's expiry, so an
    unrecorded, unreleased delivery simply becomes due again.
    """
    token = secrets.token_hex(16)
    values = {
        "b_now": now,
        "b_limit": limit,
        "b_until": now + timedelta(seconds=lease_seconds),
        "b_token": token,
    }
    rows = await raw.fetch_mappings(conn, _claim_statement(is_postgres(conn)), values)
    claimed = [delivery_from_row(row) for row in rows]
    claimed.sort(key=lambda delivery: (delivery.created, delivery.id))
    return token, claimed


@functools.cache
def _claim_statement(postgres: bool) -> Update:
    """Built once per database: it runs for every claim. On PostgreSQL, SKIP LOCKED lets
    concurrent claimers take disjoint rows without waiting for each other, and MATERIALIZED
    makes the planner evaluate the locked selection exactly once."""
    due = (
        select(deliveries.c.id)
        .where(
            deliveries.c.status == _PENDING,
            deliveries.c.next_attempt_at <= bindparam("b_now", type_=Timestamp),
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(bindparam("b_limit", type_=Integer))
    )
    if postgres:
        due_cte = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
    else:
        due_cte = due.cte("due")
    return (
        update(deliveries)
        .where(deliveries.c.id.in_(select(due_cte.c.id)))
        .values(
            next_attempt_at=bindparam("b_until", type_=Timestamp),
            lease_token=bindparam("b_token", type_=String),
        )
        .returning(*deliveries.c)
    )


async def record_attempts(conn: AsyncConnection, results: Sequence[DeliveryResult]) -> None:
    """Applies results whose lease is still held; drops the others entirely.

    The check and the writes are one unit, and attempts are inserted for held leases only:
    a worker whose lease expired and was re-claimed must not log an attempt against someone
    else's lease, nor move the delivery's state.

    PostgreSQL: the held rows are selected FOR UPDATE, so no claim or release slips in, then
    updated from arrays and their attempts inserted. SQLite: BEGIN IMMEDIATE already holds
    the database's write lock, so each statement checks the lease itself, the attempt first
    (before the update clears the lease); all three run on the raw connection (store/raw.py).
    """
    if is_postgres(conn):
        held = await _held_leases(conn, results)
        await _update_from_arrays(
            conn,
            [r for r in held if r.status is DeliveryStatus.PENDING],
            [r for r in held if r.status is not DeliveryStatus.PENDING],
        )
        if held:
            rows = [attempt_values(r.attempt) for r in held]
            await conn.execute(insert(attempts).returning(attempts.c.id), rows)  # batched, as above
        return
    attempt_rows = [{**attempt_values(r.attempt), "b_token": r.lease_token} for r in results]
    await raw.execute_many(conn, _ATTEMPT_IF_HELD, attempt_rows)
    retries = [_result_params(r) for r in results if r.status is DeliveryStatus.PENDING]
    finals = [_result_params(r) for r in results if r.status is not DeliveryStatus.PENDING]
    await raw.execute_many(conn, _RETRY, retries)
    await raw.execute_many(conn, _COMPLETE, finals)


async def _held_leases(
    conn: AsyncConnection, results: Sequence[DeliveryResult]
) -> list[DeliveryResult]:
    if not results:
        return []
    params = {"ids": [r.delivery_id for r in results]}
    tokens = {row.id: row.lease_token for row in await conn.execute(_LEASES, params)}
    return [r for r in results if tokens.get(r.delivery_id) == r.lease_token]


_LEASES = (  # built once: it runs for every batch of results
    select(deliveries.c.id, deliveries.c.lease_token)
    .where(deliveries.c.id.in_(IDS))
    .order_by(deliveries.c.id)  # one lock order for every recorder: no deadlocks
    .with_for_update()
)


async def _update_from_arrays(
    conn: AsyncConnection, retries: list[DeliveryResult], finals: list[DeliveryResult]
) -> None:
    """PostgreSQL: one UPDATE ... FROM unnest(arrays) per kind, instead of one statement per
    row (asyncpg's executemany); several times fewer round trips and executor start-ups."""
    for statement, batch in ((_PG_RETRY, retries), (_PG_COMPLETE, finals)):
        if batch:
            params = [_result_params(r) for r in batch]
            columns = {key: [p[key] for p in params] for key in params[0]}
            columns["b_next"] = [to_micros(value) for value in columns["b_next"]]
            columns["b_completed"] = [_micros_or_none(v) for v in columns["b_completed"]]
            await conn.execute(statement, columns)


def _micros_or_none(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


_PG_ARRAY_TYPES = (
    bindparam("b_id", type_=ARRAY(String)),
    bindparam("b_token", type_=ARRAY(String)),
    bindparam("b_status", type_=ARRAY(String)),
    bindparam("b_next", type_=ARRAY(BigInteger)),
    bindparam("b_code", type_=ARRAY(Integer)),
    bindparam("b_completed", type_=ARRAY(BigInteger)),
)
_PG_RETRY = text("""
    UPDATE deliveries
    SET attempts = deliveries.attempts + 1, next_attempt_at = r.next_at,
        last_status_code = r.code, lease_token = NULL
    FROM unnest(:b_id, :b_token, :b_status, :b_next, :b_code, :b_completed)
        AS r(id, token, status, next_at, code, completed_at)
    WHERE deliveries.id = r.id AND deliveries.lease_token = r.token
""").bindparams(*_PG_ARRAY_TYPES)
_PG_COMPLETE = text("""
    UPDATE deliveries
    SET status = r.status, attempts = deliveries.attempts + 1, last_status_code = r.code,
        completed_at = r.completed_at, lease_token = NULL
    FROM unnest(:b_id, :b_token, :b_status, :b_next, :b_code, :b_completed)
        AS r(id, token, status, next_at, code, completed_at)
    WHERE deliveries.id = r.id AND deliveries.lease_token = r.token
""").bindparams(*_PG_ARRAY_TYPES)


def _result_params(result: DeliveryResult) -> dict[str, Any]:
    return {
        "b_id": result.delivery_id,
        "b_token": result.lease_token,
        "b_status": result.status.value,
        "b_next": result.next_attempt_at or result.attempt.started_at,
        "b_code": result.attempt.status_code,
        "b_completed": result.completed_at,
    }


_HELD = and_(
    deliveries.c.id == bindparam("b_id"),
    deliveries.c.lease_token == bindparam("b_token"),
)

# A retry leaves the status alone: it is PENDING, or PAUSED if the webhook was disabled while
# the attempt was in flight, and a retry must not resume a paused delivery.
_RETRY = (
    update(deliveries)
    .where(_HELD)
    .values(
        attempts=deliveries.c.attempts + 1,
        next_attempt_at=bindparam("b_next", type_=Timestamp),
        last_status_code=bindparam("b_code"),
        lease_token=None,
    )
)

_COMPLETE = (
    update(deliveries)
    .where(_HELD)
    .values(
        status=bindparam("b_status", type_=String),
        attempts=deliveries.c.attempts + 1,
        last_status_code=bindparam("b_code"),
        completed_at=bindparam("b_completed", type_=Timestamp),
        lease_token=None,
    )
)


_ATTEMPT_COLUMNS = [
    "delivery_id",
    "number",
    "started_at",
    "request_headers",
    "status_code",
    "latency_ms",
    "response_body",
    "error",
]
_ATTEMPT_VALUES = {name: bindparam(name, type_=attempts.c[name].type) for name in _ATTEMPT_COLUMNS}
# INSERT INTO attempts (...) SELECT :delivery_id, ... WHERE EXISTS (the lease is held)
_ATTEMPT_IF_HELD = insert(attempts).from_select(
    _ATTEMPT_COLUMNS,
    select(*_ATTEMPT_VALUES.values()).where(
        exists().where(
            deliveries.c.id == _ATTEMPT_VALUES["delivery_id"],
            deliveries.c.lease_token == bindparam("b_token", type_=String),
        )
    ),
)


async def release_leases(
    conn: AsyncConnection, leases: Sequence[tuple[str, str]], now: datetime
) -> None:
    if not leases:
        return
    rows = [{"b_id": id_, "b_token": token, "b_now": now} for id_, token in leases]
    await raw.execute_many(conn, _RELEASE, rows)


_RELEASE = (
    update(deliveries)
    .where(_HELD)
    .values(next_attempt_at=bindparam("b_now", type_=Timestamp), lease_token=None)
)


async def next_due_at(conn: AsyncConnection) -> datetime | None:
    # MIN over the partial index on pending rows: one index probe.
    query = select(func.min(deliveries.c.next_attempt_at)).where(deliveries.c.status == _PENDING)
    value: datetime | None = await conn.scalar(query)
    return value


def _status_for_webhook() -> ColumnElement[str]:
    """PENDING, or PAUSED when the delivery's webhook is disabled."""
    enabled = (
        select(webhooks.c.enabled).where(webhooks.c.id == deliveries.c.webhook_id)
    ).scalar_subquery()
    return case((enabled.is_(True), _PENDING), else_=_PAUSED)


async def reschedule(
    conn: AsyncConnection, account_id: str, delivery_id: str, now: datetime
) -> bool:
    # Clearing the lease makes an attempt still in flight stale: the manual retry wins.
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.account_id == account_id, deliveries.c.id == delivery_id)
        .values(
            status=_status_for_webhook(),
            next_attempt_at=now,
            completed_at=None,
            lease_token=None,
        )
    )
    return result.rowcount > 0


async def recover_failed(
    conn: AsyncConnection, account_id: str, webhook_id: str, since: datetime, now: datetime
) -> int:
    result = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.account_id == account_id,
            deliveries.c.webhook_id == webhook_id,
            deliveries.c.status == _FAILED,
            deliveries.c.created >= since,
        )
        .values(status=_status_for_webhook(), next_attempt_at=now, completed_at=None)
    )
    return result.rowcount


def _delivery_filters(query: DeliveryQuery) -> list[ColumnElement[bool]]:
    filters = [
        deliveries.c.account_id == query.account_id,
        deliveries.c.webhook_id == query.webhook_id,
    ]
    if query.status is not None:
        filters.append(deliveries.c.status == query.status.value)
    if query.event_type is not None:
        of_type = select(events.c.id).where(
            events.c.account_id == query.account_id, events.c.type == query.event_type
        )
        filters.append(deliveries.c.event_id.in_(of_type))
    return filters


async def list_deliveries(conn: AsyncConnection, query: DeliveryQuery) -> Page[DeliveryRecord]:
    filters = _delivery_filters(query)
    newest_first = (
        select(deliveries)
        .where(*filters)
        .order_by(deliveries.c.created.desc(), deliveries.c.id.desc())
    )
    items = await _records(conn, paginate(newest_first, query.page))
    return Page(items=items, total=await count(conn, deliveries, *filters))


async def get_delivery(
    conn: AsyncConnection, account_id: str, delivery_id: str
) -> DeliveryRecord | None:
    query = select(deliveries).where(
        deliveries.c.account_id == account_id, deliveries.c.id == delivery_id
    )
    found = await _records(conn, query)
    return found[0] if found else None


async def _records(conn: AsyncConnection, query: Select[Any]) -> list[DeliveryRecord]:
    """Deliveries with their events and attempts: three queries for any number of rows."""
    rows: list[RowMapping] = list((await conn.execute(query)).mappings())
    found = [delivery_from_row(row) for row in rows]
    if not found:
        return []
    by_key = await load_events(conn, {(d.account_id, d.event_id) for d in found})
    tried = await _attempts(conn, [d.id for d in found])
    return [
        DeliveryRecord(delivery=d, event=by_key[(d.account_id, d.event_id)], attempts=tried[d.id])
        for d in found
    ]


async def _attempts(conn: AsyncConnection, delivery_ids: list[str]) -> dict[str, list[Attempt]]:
    query = (
        select(attempts)
        .where(attempts.c.delivery_id.in_(delivery_ids))
        .order_by(attempts.c.delivery_id, attempts.c.number, attempts.c.id)
    )
    by_delivery: defaultdict[str, list[Attempt]] = defaultdict(list)
    for row in (await conn.execute(query)).mappings():
        by_delivery[row["delivery_id"]].append(attempt_from_row(row))
    return by_delivery
