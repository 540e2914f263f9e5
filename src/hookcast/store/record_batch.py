"""A worker's batch of delivery outcomes recorded on PostgreSQL in one statement.

One round trip and one executor start for the whole batch: the results and their attempts
travel as arrays (one per column), and one statement finds the rows whose lease the worker
still holds, updates them (a retry keeps the status, a final result sets it) and inserts
their attempts. Before, the same work took a locking SELECT, an UPDATE per kind of result
and an INSERT executed once per attempt: a statement per delivery
(docs/benchmarks/postgres-delivery.md, "PostgreSQL's work per delivery").

Every row is reached by its ctid whatever the statistics say: the UPDATE reaches the rows by
their ctid (a TID scan) and their id (a ctid is unique within one table only, and on
PostgreSQL deliveries is partitioned by day, migration 0016, so rows of two days can share a
ctid) and checks the lease's token on the version it finds there. A result carries the ctid
its claim left the row at (`DeliveryResult.row`); one without (a publish's hand-over) has
its row found by a primary-key probe. Joined by id instead, the planner hash-joined the
batch against a sequential scan of every delivery, once per batch (with and without
ANALYZE, 20,000 rows read to record 500); the probe for every result cost ~4.5 µs of the
recording's ~30 per delivery (docs/benchmarks/postgres-delivery.md, "PostgreSQL's work per delivery
in the drain").

Nothing is locked before the UPDATE: its own row lock is the only one taken (a locking probe
wrote a second row lock to the WAL for every delivery, docs/benchmarks/postgres-delivery.md). A row
another transaction changed since its claim, or after the statement's snapshot (a webhook paused at
that moment), has a new version at another ctid, so the UPDATE, at once or once that
transaction commits, finds its ctid no longer the row's and leaves it. The statement runs
again for exactly those results, each row found by its key and locked (in id order) this
time: a new statement's snapshot sees the committed version, and a version newer still is
locked for the run after. Without those runs the attempt that was sent would vanish from
the log, and a paused delivery would keep a lease nobody reclaims. Two recorders wait on
each other's rows only when a lease was lost and claimed again while the first still
recorded it; a cycle needs two leases swapped between them within one statement, and
PostgreSQL's deadlock detector ends it: the recording fails as an outage (`RolledBack`) and
the worker records the batch again. A result whose lease is no longer held changes nothing
and logs no attempt. An attempt's request headers are stored compactly
(store/stored_headers.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryResult
from hookcast.store.connector import Row, Transaction
from hookcast.store.horizon import DAY_MICROS, day_start
from hookcast.store.statement import Statement
from hookcast.store.stored_headers import compact
from hookcast.store.types import dump_json, to_micros

__all__ = ["Recorded", "record_on_postgres", "release_on_postgres"]


@dataclass(frozen=True, slots=True)
class Recorded:
    """A result applied (its lease was held): whether its delivery is ordered (it may head a
    chain) and whether it coalesces (a newer update may supersede its retry)."""

    delivery_id: str
    ordered: bool
    coalesces: bool


async def record_on_postgres(
    tx: Transaction, results: Sequence[DeliveryResult]
) -> dict[str, Recorded]:
    """Applies the results whose lease is held, with their attempts: those, by delivery id."""
    if not results:
        return {}
    rows = await _record(tx, results, locking=False)
    for _ in range(_LOCKING_RUNS):
        if len(rows) == len(results):
            break
        # Changed by another transaction meanwhile (module docstring), or a lease lost:
        # again for those, locking: that records the first kind and ignores the second.
        done = {row[0] for row in rows}
        missed = [r for r in results if r.delivery_id not in done]
        if not missed:
            # The rest name deliveries recorded under another lease of the same batch: a
            # worker found dead while a send was in flight claimed that delivery again and
            # sent it twice, the lapsed lease's outcome refused. Run again with no results,
            # the statement failed the whole batch (min() of none) for good: recorded again
            # and again, each time with more, and nothing that worker sent was recorded.
            break
        rows = [*rows, *await _record(tx, missed, locking=True)]
    return {id_: Recorded(id_, ordered, coalesces) for id_, ordered, coalesces in rows}


# A locking run locks the newest version of each row it finds, but when that version came
# after the run's snapshot its UPDATE misses it still: the next run (the row locked, a
# newer snapshot) records it for certain.
_LOCKING_RUNS = 2


async def _record(
    tx: Transaction, results: Sequence[DeliveryResult], *, locking: bool
) -> list[Row]:
    """One run of the recording statement. Each result's day, when all are known, has it
    read and update only those day partitions."""
    values: dict[str, Any] = _arrays(results)
    created = values["b_created"]
    days = None
    if None not in created:
        days = (day_start(min(created)), day_start(max(created)) + DAY_MICROS)
    return await tx.fetch_all(_record_statement(days, locking=locking), values)


def _arrays(results: Sequence[DeliveryResult]) -> dict[str, list[Any]]:
    """The statement's parameters: one list per column, a row per result."""
    columns: dict[str, list[Any]] = {name: [] for name, _ in _ARRAYS}
    for r in results:
        attempt = r.attempt
        final = r.status is not DeliveryStatus.PENDING
        row = (
            r.delivery_id,
            r.lease_token,
            r.status.value,
            to_micros(r.next_attempt_at or attempt.started_at),
            attempt.status_code,
            to_micros(r.completed_at) if final and r.completed_at else None,
            attempt.number,
            to_micros(attempt.started_at),
            dump_json(
                compact(
                    attempt.request_headers,
                    delivery_id=attempt.delivery_id,
                    started_at=attempt.started_at,
                )
            ),
            attempt.latency_ms,
            attempt.response_body,
            attempt.error,
            to_micros(r.created) if r.created else None,
            r.row,
        )
        for values, value in zip(columns.values(), row, strict=True):
            values.append(value)
    return columns


_ARRAYS = (
    ("b_id", String),
    ("b_token", String),
    ("b_status", String),
    ("b_next", BigInteger),
    ("b_code", Integer),
    ("b_completed", BigInteger),
    ("b_number", Integer),
    ("b_started", BigInteger),
    ("b_headers", String),
    ("b_latency", Float),
    ("b_body", String),
    ("b_error", String),
    ("b_created", BigInteger),
    ("b_row", String),
)


# A retry (status 'pending': DeliveryStatus.PENDING) keeps the delivery's status: PENDING,
# or PAUSED if its webhook was disabled while the attempt was in flight (a retry must not
# resume it), and its completion time; a final result sets both and keeps the due time.
# Each pair of days is a statement of its own, prepared and planned apart: a handful at a
# time (a batch's results are usually of one or two days), the least recently used dropped
# beyond that, as the claims' (store/deliveries.py `_pg_claim`).
@functools.lru_cache(maxsize=12)
def _record_statement(days: tuple[int, int] | None, *, locking: bool) -> Statement:
    """The recording statement for results created within `days`, from the start of the
    first result's day to the end of the last one's (µs since the epoch; None: some
    result's day is not known, every day is read); `locking`: each row is found by its key
    and locked, in id order (the runs after the first, module docstring).

    The days are written into the SQL as constants, as a claim's are (store/fair_claim.py
    `ClaimDays`), so the planner leaves every other day partition out of the plan it keeps:
    with the two ends bound instead, the generic plan held every partition (today's, the
    week made ahead, the default one), pruned only at execution, and each execution still
    locked and opened all of them (in process, recordings of 128: 33.7-36.9 µs per delivery
    with the eight other partitions, 30.3-34.5 without, docs/benchmarks/postgres-delivery.md)."""
    day = target = ""
    if days is not None:
        since, until = (int(end) for end in days)  # integers: safe to write into SQL
        day = (
            "AND deliveries.created = r.created"
            f" AND deliveries.created >= {since} AND deliveries.created < {until}"
        )
        target = f"AND d.created >= {since} AND d.created < {until}"
    held = (_LOCKING_HELD if locking else _HELD).format(day=day)
    sql = _RECORD_SQL.format(held=held, target=target)
    return Statement(
        lambda _: text(sql).bindparams(
            *(bindparam(name, type_=ARRAY(type_)) for name, type_ in _ARRAYS)
        )
    )


_RECORD_SQL = """
    WITH r AS (
        SELECT * FROM unnest(
            :b_id, :b_token, :b_status, :b_next, :b_code, :b_completed,
            :b_number, :b_started, :b_headers, :b_latency, :b_body, :b_error, :b_created,
            :b_row
        ) AS r(id, token, status, next_at, code, completed_at,
               number, started_at, request_headers, latency_ms, response_body, error, created,
               row_tid)
    ), held AS ({held}
    ), recorded AS (
        UPDATE deliveries AS d
        SET status = CASE WHEN r.status = 'pending' THEN d.status ELSE r.status END,
            attempts = d.attempts + 1,
            next_attempt_at = CASE WHEN r.status = 'pending' THEN r.next_at
                                   ELSE d.next_attempt_at END,
            last_status_code = r.code,
            completed_at = CASE WHEN r.status = 'pending' THEN d.completed_at
                                ELSE r.completed_at END,
            lease_token = NULL,
            lease_worker = NULL,
            lease_until = NULL
        FROM held AS r
        WHERE d.ctid = ANY(ARRAY(SELECT tid FROM held)) AND d.ctid = r.tid AND d.id = r.id
            AND d.lease_token = r.token {target}
        RETURNING d.id, d.resource_key IS NOT NULL AS ordered,
                  d.coalesce_key IS NOT NULL AS coalesces, r.number, r.started_at,
                  r.request_headers, r.code, r.latency_ms, r.response_body, r.error
    ), attempted AS (
        INSERT INTO attempts (delivery_id, number, started_at, request_headers, status_code,
                              latency_ms, response_body, error)
        SELECT id, number, started_at, request_headers, code, latency_ms, response_body, error
        FROM recorded
    )
    SELECT id, ordered, coalesces FROM recorded
"""
# The first run's held rows: where the claim left them (`b_row`, a ctid), else found by a
# primary-key probe. Finding each row by its key cost ~4.5 µs per delivery of a recording's
# ~30 (docs/benchmarks/postgres-delivery.md, "The floor"); a row that moved since its claim (another
# transaction updated it) is not at its ctid any more, and the UPDATE, which checks the id
# and the token of the version it finds there, leaves it to the locking runs. (COALESCE
# evaluates the probe only for a result without a ctid.)
_HELD = """
        SELECT r.*, coalesce(r.row_tid::tid, (
            SELECT ctid FROM deliveries
            WHERE deliveries.id = r.id AND deliveries.lease_token = r.token {day}
            LIMIT 1
        )) AS tid
        FROM r"""
# The locking runs' held rows: each found by its key and locked, in id order.
_LOCKING_HELD = """
        SELECT r.*, d.tid FROM (SELECT * FROM r ORDER BY id) AS r
        CROSS JOIN LATERAL (
            SELECT ctid AS tid FROM deliveries
            WHERE deliveries.id = r.id AND deliveries.lease_token = r.token {day}
            FOR UPDATE
        ) AS d"""


async def release_on_postgres(
    tx: Transaction, leases: Sequence[tuple[str, str]], *, due: int
) -> None:
    """Hands back leased deliveries unattempted, due again at `due` (microseconds): one
    statement for the batch, its rows reached and locked as a locking run of the recording
    reaches them."""
    if leases:
        ids, tokens = zip(*leases, strict=True)
        values = {"b_id": list(ids), "b_token": list(tokens), "b_due": due}
        if await tx.execute(_RELEASE, values) < len(leases):
            # As for the recording: a row changed under the lock is released by a second run;
            # the rows already released no longer carry their token and are left alone.
            await tx.execute(_RELEASE, values)


_RELEASE = Statement(
    lambda _: text("""
    WITH held AS (
        SELECT r.id, d.tid
        FROM (SELECT * FROM unnest(:b_id, :b_token) AS r(id, token) ORDER BY id) AS r
        CROSS JOIN LATERAL (
            SELECT ctid AS tid FROM deliveries
            WHERE deliveries.id = r.id AND deliveries.lease_token = r.token
            FOR UPDATE
        ) AS d
    )
    UPDATE deliveries AS d
    SET next_attempt_at = :b_due, lease_token = NULL, lease_worker = NULL, lease_until = NULL
    FROM held
    WHERE d.ctid = ANY(ARRAY(SELECT tid FROM held)) AND d.ctid = held.tid AND d.id = held.id
""").bindparams(
        bindparam("b_id", type_=ARRAY(String)),
        bindparam("b_token", type_=ARRAY(String)),
        bindparam("b_due", type_=BigInteger),
    )
)
