"""A worker's batch of delivery outcomes recorded on SQLite: each delivery's new state where
its lease is still held, then an attempt for each of those; and leases handed back
unattempted.

BEGIN IMMEDIATE already holds the database's write lock, so the update checks each lease
itself: one `UPDATE ... FROM (VALUES ...)` per kind of outcome (retried, finished) and up
to 128 results, RETURNING the deliveries whose lease was held, then their attempts in
multi-row INSERTs. A result whose lease is no longer held changes nothing and logs no
attempt.

Why this shape (docs/benchmarks.md, target 3): an attempt inserted `WHERE EXISTS` (its lease
held) and an UPDATE per result looked each delivery up by its text id three times (the
check, the attempt's foreign key, the update) and ran two statements per result: SQLite's
own work was 9.8-11.0 µs per result that way against 7.5-8.2 µs with the UPDATE and an
INSERT per attempt, 6.8-8.1 µs with the attempts in rows of VALUES too. The UPDATE's rows
are padded with rows of NULLs, which match no delivery, to a power of two, and the attempts
go in statements of a power of two rows each, so the writer connection prepares at most
eight statements of each kind; they are written here as SQLite runs them, for compiling
hundreds of parameters through Core costs ~0.1 s apiece, and take their parameters in
order, for a name per parameter to make and look up cost ~1 µs more per result.

Each row's parameters are made directly, as stored (timestamps in microseconds, the request
headers as JSON text): built through the domain's column dicts, merged with the lease and
converted per bind, they cost ~3.4 µs per result against ~2.5 as dicts of stored values.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, String, and_, bindparam, update
from sqlalchemy.sql import null

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryResult
from hookcast.store.connector import Transaction
from hookcast.store.statement import IN_ORDER, Statement
from hookcast.store.tables import deliveries
from hookcast.store.types import dump_json, to_micros

__all__ = ["record_on_sqlite", "release_on_sqlite"]

_PENDING = DeliveryStatus.PENDING
_MOST_ROWS = 128  # rows per statement: 1,024 parameters at most, far below SQLite's 32,766

Row = tuple[Any, ...]


async def record_on_sqlite(tx: Transaction, results: Sequence[DeliveryResult]) -> None:
    """Applies the results whose lease is held, with their attempts."""
    if len({result.delivery_id for result in results}) < len(results):
        # One delivery twice in a batch (not something a worker sends): one result at a
        # time, so a lease cleared by the first is seen by the second.
        for result in results:
            await record_on_sqlite(tx, [result])
        return
    held = await _RETRIED.apply(tx, [_retry_row(r) for r in results if r.status is _PENDING])
    held |= await _FINISHED.apply(tx, [_final_row(r) for r in results if r.status is not _PENDING])
    if held:
        await _insert_attempts(tx, [_attempt_row(r) for r in results if r.delivery_id in held])


async def release_on_sqlite(
    tx: Transaction, leases: Sequence[tuple[str, str]], *, due: int
) -> None:
    """Hands back leased deliveries unattempted, due again at `due` (microseconds)."""
    rows = [{"b_id": id_, "b_token": token, "b_due": due} for id_, token in leases]
    await tx.execute_many(_RELEASE, rows)


async def _insert_attempts(tx: Transaction, rows: Sequence[Row]) -> None:
    """Inserts `rows` (`_ATTEMPT_COLUMNS` each) in statements of a power of two rows each,
    largest first: at most eight statements to prepare."""
    start = 0
    while start < len(rows):
        size = min(_MOST_ROWS, 1 << ((len(rows) - start).bit_length() - 1))
        values = [value for row in rows[start : start + size] for value in row]
        await tx.execute(_attempts_of_size(size), {IN_ORDER: values})
        start += size


def _attempt_row(result: DeliveryResult) -> Row:
    attempt = result.attempt
    return (
        attempt.delivery_id,
        attempt.number,
        to_micros(attempt.started_at),
        dump_json(attempt.request_headers),
        attempt.status_code,
        attempt.latency_ms,
        attempt.response_body,
        attempt.error,
    )


_ATTEMPT_COLUMNS = (
    "delivery_id",
    "number",
    "started_at",
    "request_headers",
    "status_code",
    "latency_ms",
    "response_body",
    "error",
)


@functools.cache
def _attempts_of_size(size: int) -> Statement:
    row = "(" + ", ".join("?" * len(_ATTEMPT_COLUMNS)) + ")"
    columns, rows = ", ".join(_ATTEMPT_COLUMNS), ", ".join([row] * size)
    sql = f"INSERT INTO attempts ({columns}) VALUES {rows}"  # noqa: S608 (as _Outcomes')
    return Statement.written("sqlite", sql)


def _retry_row(result: DeliveryResult) -> Row:
    due = result.next_attempt_at or result.attempt.started_at
    return (result.delivery_id, result.lease_token, result.attempt.status_code, to_micros(due))


def _final_row(result: DeliveryResult) -> Row:
    completed = result.completed_at
    return (
        result.delivery_id,
        result.lease_token,
        result.attempt.status_code,
        result.status.value,
        None if completed is None else to_micros(completed),
    )


class _Outcomes:
    """`UPDATE deliveries SET <assignments> ... FROM (VALUES <rows of fields>)` where each
    row's lease (`id`, `token`) is held, RETURNING their ids: written once per size."""

    __slots__ = ("_assignments", "_fields", "_padding", "_sized")

    def __init__(self, *, fields: tuple[str, ...], assignments: str) -> None:
        self._fields = ("id", "token", *fields)
        self._assignments = assignments
        self._padding = [None] * len(self._fields)  # a row that matches no delivery
        self._sized: dict[int, Statement] = {}

    async def apply(self, tx: Transaction, rows: Sequence[Row]) -> set[str]:
        """Applies `rows` (one tuple of `fields` each); returns the ids of the held ones."""
        held: set[str] = set()
        for start in range(0, len(rows), _MOST_ROWS):
            chunk = rows[start : start + _MOST_ROWS]
            size = 1 << (len(chunk) - 1).bit_length()  # the power of two at or above
            values = [value for row in chunk for value in row]
            values.extend(self._padding * (size - len(chunk)))
            found = await tx.fetch_all(self._of_size(size), {IN_ORDER: values})
            held.update(id_ for (id_,) in found)
        return held

    def _of_size(self, size: int) -> Statement:
        found = self._sized.get(size)
        if found is None:
            found = self._sized[size] = self._written(size)
        return found

    def _written(self, size: int) -> Statement:
        row = "(" + ", ".join("?" * len(self._fields)) + ")"
        fields, rows = ", ".join(self._fields), ", ".join([row] * size)
        # Only this module's constant names and placeholders: every value is bound.
        sql = (
            f"WITH outcome ({fields}) AS (VALUES {rows}) "  # noqa: S608
            f"UPDATE deliveries SET {self._assignments}, attempts = deliveries.attempts + 1, "
            "lease_token = NULL, lease_worker = NULL FROM outcome "
            "WHERE deliveries.id = outcome.id AND deliveries.lease_token = outcome.token "
            "RETURNING deliveries.id"
        )
        return Statement.written("sqlite", sql, keys=("id",))


# A retry leaves the status alone: it is PENDING, or PAUSED if the webhook was disabled while
# the attempt was in flight, and a retry must not resume a paused delivery.
_RETRIED = _Outcomes(
    fields=("code", "due"),
    assignments="next_attempt_at = outcome.due, last_status_code = outcome.code",
)
_FINISHED = _Outcomes(
    fields=("code", "status", "completed"),
    assignments=(
        "status = outcome.status, last_status_code = outcome.code, completed_at = outcome.completed"
    ),
)


_HELD = and_(
    deliveries.c.id == bindparam("b_id", type_=String),
    deliveries.c.lease_token == bindparam("b_token", type_=String),
)
_RELEASE = Statement(
    lambda _: (
        update(deliveries)
        .where(_HELD)
        .values(
            next_attempt_at=bindparam("b_due", type_=BigInteger),
            lease_token=null(),
            lease_worker=null(),
        )
    )
)
