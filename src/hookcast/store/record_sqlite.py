"""A worker's batch of delivery outcomes recorded on SQLite: each delivery's new state where
its lease is still held, then an attempt for each of those; and leases handed back
unattempted.

BEGIN IMMEDIATE already holds the database's write lock, so the update checks each lease
itself: one `UPDATE ... FROM (VALUES ...)` per kind of outcome (retried, finished) and up
to 128 results, RETURNING the deliveries whose lease was held, then their attempts in
multi-row INSERTs. A result whose lease is no longer held changes nothing and logs no
attempt.

A result whose claim named its row (`DeliveryResult.row`, the rowid SQLite's claim returns)
is reached at that rowid, a search of the table's own key, instead of through the id's
index (the id is text, which a rowid table keeps in an index of its own): the UPDATE cost
SQLite 2.7-3.3 µs per result that way against 3.6-3.8 by id (docs/benchmarks/embedded-delivery.md,
"Tenth pass: the SQLite recording by rowid"). The row found there must still carry the result's id
and lease token; one that does not (its lease lost, or the rowid now another row's: a
deletion's rowid reused, a VACUUM's renumbering) is looked up by its id as a publish's
hand-over, which has no rowid, always is.

Why this shape (docs/benchmarks/embedded-delivery.md, target 3): an attempt inserted `WHERE EXISTS`
(its lease held) and an UPDATE per result looked each delivery up by its text id three times (the
check, the attempt's foreign key, the update) and ran two statements per result: SQLite's
own work was 9.8-11.0 µs per result that way against 7.5-8.2 µs with the UPDATE and an
INSERT per attempt, 6.8-8.1 µs with the attempts in rows of VALUES too. The UPDATE's rows
and the attempts' are padded with rows of NULLs, which match no delivery and insert nothing,
to a power of two up to 8 rows and a multiple of 16 above (at most 15 rows of padding;
decomposing a batch into statements of a power of two rows each instead cost what the
multi-row statements saved, at batches of 100), so the writer connection prepares at most
twelve statements of each kind; they are written here as SQLite runs them, for compiling
hundreds of parameters through Core costs ~0.1 s apiece, and take their parameters in
order, for a name per parameter to make and look up cost ~1 µs more per result.

Each row's parameters are made directly, as stored (timestamps in microseconds, the request
headers as JSON text): built through the domain's column dicts, merged with the lease and
converted per bind, they cost ~3.4 µs per result against ~2.5 as dicts of stored values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import BigInteger, String, and_, bindparam, update
from sqlalchemy.sql import null

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryResult
from hookcast.store.connector import Transaction
from hookcast.store.statement import IN_ORDER, Statement
from hookcast.store.tables import ATTEMPT_COLUMNS, deliveries
from hookcast.store.types import dump_json, to_micros

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

__all__ = ["record_on_sqlite", "release_on_sqlite"]

_PENDING = DeliveryStatus.PENDING
_MOST_ROWS = 128  # rows per statement: 1,024 parameters at most, far below SQLite's 32,766

Row = tuple[Any, ...]
_FIRST = itemgetter(0)  # a returned row's id


async def record_on_sqlite(tx: Transaction, results: Sequence[DeliveryResult]) -> None:
    """Applies the results whose lease is held, with their attempts."""
    if len({result.delivery_id for result in results}) < len(results):
        # One delivery twice in a batch (not something a worker sends): one result at a
        # time, so a lease cleared by the first is seen by the second.
        for result in results:
            await record_on_sqlite(tx, [result])
        return
    # The outcomes' rows by kind (retried, finished): found by id, and at a rowid (the
    # same row with the claim's rowid first).
    retried: list[Row] = []
    finished: list[Row] = []
    retried_at: list[Row] = []
    finished_at: list[Row] = []
    attempts: dict[str, Row] = {}
    # One pass over the results makes every row of the batch (a function per row and per
    # kind of row was three calls per result, with the comprehensions' own).
    for result in results:
        attempt = result.attempt
        delivery_id = result.delivery_id
        token = result.lease_token
        code = attempt.status_code
        # to_micros written out (a naive datetime cannot be subtracted from _EPOCH either).
        started = (attempt.started_at - _EPOCH) // _MICROSECOND
        rowid = result.row
        if result.status is _PENDING:
            next_at = result.next_attempt_at
            due = started if next_at is None else to_micros(next_at)
            if rowid.__class__ is int:  # SQLite's claim named it (PostgreSQL's is text)
                retried_at.append((rowid, delivery_id, token, code, due))
            else:
                retried.append((delivery_id, token, code, due))
        else:
            done_at = result.completed_at
            status = str(result.status)  # its value: a StrEnum's str is its value
            completed = None if done_at is None else (done_at - _EPOCH) // _MICROSECOND
            if rowid.__class__ is int:
                finished_at.append((rowid, delivery_id, token, code, status, completed))
            else:
                finished.append((delivery_id, token, code, status, completed))
        # The attempt's values in ATTEMPT_COLUMNS' order.
        attempts[delivery_id] = (
            attempt.delivery_id,
            attempt.number,
            started,
            dump_json(attempt.request_headers),
            code,
            attempt.latency_ms,
            attempt.response_body,
            attempt.error,
        )
    held = await _held(
        tx,
        (
            (_RETRIED, retried, _RETRIED_AT, retried_at),
            (_FINISHED, finished, _FINISHED_AT, finished_at),
        ),
    )
    attempted = [row for id_, row in attempts.items() if id_ in held]
    for statement, values in _ATTEMPTS.chunks(attempted):
        await tx.execute(statement, values)


async def _held(
    tx: Transaction, kinds: Iterable[tuple[_Rows, list[Row], _Rows, list[Row]]]
) -> set[str]:
    """Applies each kind of outcome (by id, its rows; at a rowid, its rows) and returns the
    ids of the deliveries changed: those whose lease was held."""
    held: set[str] = set()
    for by_id, rows, at_rowid, rows_at in kinds:
        if rows_at and await _apply(tx, at_rowid, rows_at, held) < len(rows_at):
            # Not at its rowid with its lease held: its lease was lost, or the rowid names
            # another row now (the delivery deleted and its rowid reused, or renumbered by
            # a VACUUM): looked up by its id, as a hand-over is.
            rows = [*rows, *(row[1:] for row in rows_at if row[1] not in held)]
        await _apply(tx, by_id, rows, held)
    return held


async def _apply(tx: Transaction, outcomes: _Rows, rows: Sequence[Row], held: set[str]) -> int:
    """Runs `outcomes` over `rows`, adding the ids of the deliveries it changed (those
    whose lease was held) to `held`; returns how many it changed."""
    changed = 0
    for statement, values in outcomes.chunks(rows):
        found = await tx.fetch_all(statement, values)
        held.update(map(_FIRST, found))
        changed += len(found)
    return changed


async def release_on_sqlite(
    tx: Transaction, leases: Sequence[tuple[str, str]], *, due: int
) -> None:
    """Hands back leased deliveries unattempted, due again at `due` (microseconds)."""
    rows = [{"b_id": id_, "b_token": token, "b_due": due} for id_, token in leases]
    await tx.execute_many(_RELEASE, rows)


def _padded(count: int) -> int:
    """How many rows the statement for `count` rows (at most `_MOST_ROWS`) takes: a power
    of two up to 8, a multiple of 16 above; so at most 15 rows of padding, twelve sizes."""
    if count <= 8:
        return 1 << (count - 1).bit_length()
    return -(-count // 16) * 16


class _Rows:
    """A statement over rows of VALUES, `WITH <name> (<fields>) AS (VALUES ...) <rest>`,
    written once per size; a padding row is all NULLs, and `rest` must let it change
    nothing."""

    __slots__ = ("_fields", "_name", "_padding", "_rest", "_sized")

    def __init__(self, name: str, *, fields: tuple[str, ...], rest: str) -> None:
        self._name = name
        self._fields = fields
        self._rest = rest
        self._padding = [None] * len(fields)
        self._sized: dict[int, Statement] = {}

    def chunks(self, rows: Sequence[Row]) -> Iterator[tuple[Statement, dict[str, Any]]]:
        """The statements and values that apply `rows` (one tuple of `fields` each)."""
        for start in range(0, len(rows), _MOST_ROWS):
            chunk = rows[start : start + _MOST_ROWS]
            size = _padded(len(chunk))
            values = [value for row in chunk for value in row]
            values.extend(self._padding * (size - len(chunk)))
            yield self._of_size(size), {IN_ORDER: values}

    def _of_size(self, size: int) -> Statement:
        found = self._sized.get(size)
        if found is None:
            row = "(" + ", ".join("?" * len(self._fields)) + ")"
            fields, rows = ", ".join(self._fields), ", ".join([row] * size)
            # Only this module's constant names and placeholders: every value is bound.
            sql = f"WITH {self._name} ({fields}) AS (VALUES {rows}) {self._rest}"
            found = self._sized[size] = Statement.written("sqlite", sql)
        return found


def _outcomes(*, fields: tuple[str, ...], assignments: str, at_rowid: bool) -> _Rows:
    """`UPDATE deliveries SET <assignments> ...` for the rows whose lease (`id`, `token`)
    is held, RETURNING their ids (a padding row's NULL id matches none). `at_rowid`: each
    row is reached by the rowid its claim returned (`rid`, first), and is changed only if
    it is still that delivery's with its lease held."""
    found = "deliveries.id = outcome.id"
    if at_rowid:
        # The rowid reaches the row (its table's own key); the id, compared on the row
        # found, makes sure it is still the delivery's. Both in the WHERE: SQLite searches
        # by rowid (EXPLAIN QUERY PLAN: "USING INTEGER PRIMARY KEY"), not by the id's index.
        found = f"deliveries.rowid = outcome.rid AND {found}"
    key = ("rid", "id", "token") if at_rowid else ("id", "token")
    return _Rows(
        "outcome",
        fields=(*key, *fields),
        rest=(
            f"UPDATE deliveries SET {assignments}, "  # noqa: S608 (constant text: see _Rows)
            "attempts = deliveries.attempts + 1, "
            "lease_token = NULL, lease_worker = NULL FROM outcome "
            f"WHERE {found} AND deliveries.lease_token = outcome.token "
            "RETURNING deliveries.id"
        ),
    )


# A retry leaves the status alone: it is PENDING, or PAUSED if the webhook was disabled while
# the attempt was in flight, and a retry must not resume a paused delivery.
_RETRIED_SET = "next_attempt_at = outcome.due, last_status_code = outcome.code"
_FINISHED_SET = (
    "status = outcome.status, last_status_code = outcome.code, completed_at = outcome.completed"
)
_RETRIED = _outcomes(fields=("code", "due"), assignments=_RETRIED_SET, at_rowid=False)
_RETRIED_AT = _outcomes(fields=("code", "due"), assignments=_RETRIED_SET, at_rowid=True)
_FINISHED = _outcomes(
    fields=("code", "status", "completed"), assignments=_FINISHED_SET, at_rowid=False
)
_FINISHED_AT = _outcomes(
    fields=("code", "status", "completed"), assignments=_FINISHED_SET, at_rowid=True
)

_ATTEMPTS = _Rows(
    "attempt",
    fields=ATTEMPT_COLUMNS,
    rest=(
        f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "  # noqa: S608 (as above)
        f"SELECT {', '.join(ATTEMPT_COLUMNS)} FROM attempt WHERE delivery_id IS NOT NULL"
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
