"""The embedded database: sqlite3 run on the event loop's own thread.

A driver that runs each statement on a helper thread (aiosqlite) costs far more than the
statement inside a busy process: the helper needs the GIL back after every step that
released it, the event loop, busy with HTTP and signing, hands it over only when Python's
switch interval (5 ms) expires, and on a loaded machine each hop also waits for the OS to
schedule a thread. A claim of ~50 rows took ~100 ms that way against 9-18 ms alone, and a
point read 5-16 ms (docs/benchmarks/earlier-rounds.md). Here the sqlite3 calls of writes and short
reads run directly on the loop's thread, so a statement costs what SQLite needs and nothing else.

SQLite allows one writer at a time. A transaction that starts with a plain (deferred)
BEGIN, reads, and then writes must upgrade its lock; two such transactions deadlock and one
fails with "database is locked" whatever the busy timeout. Every write transaction
therefore runs on the one writer connection and starts with BEGIN IMMEDIATE: it takes the
write lock up front. In-process writers queue for that connection; reads use a plain BEGIN
on connections of their own and, under WAL, never block or get blocked by the writer.

Three waits must not block the loop:
- A write transaction's COMMIT waits for the disk (fsync of the WAL: 0.4 ms median, 3-4 ms
  at p99 on this machine) and now and then copies the WAL back into the database (an
  automatic checkpoint, longer still). On the loop's thread that wait stopped every request
  and delivery (~15% of the loop's time at 700 publishes/s, and the worst stalls); it runs
  on a helper thread, which the connection has to itself until the commit returns.
- Another process (a CLI command, a second worker) may hold the write lock. Statements run
  without SQLite's busy handler; one refused as locked (in practice BEGIN IMMEDIATE: once it
  succeeds this connection holds the write lock, and WAL readers are not blocked) is retried
  with `asyncio.sleep` until the busy timeout has passed, after which SQLite's own "database
  is locked" is raised (the store's 503).
- A scan (a page and its total, statistics) may count a large table: its statements run on
  a helper thread, beside the loop instead of stopping it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from hookcast.store.connector import NO_VALUES, Row
from hookcast.store.errors import note_statement, translate_errors
from hookcast.store.statement import Query, compile_query
from hookcast.store.writer_gate import writer_gate

__all__ = ["SQLiteConnector"]

_T = TypeVar("_T")

BUSY_TIMEOUT = 5.0  # seconds a write waits for another process's lock
_WRITER_QUEUE_TIMEOUT = 120.0  # seconds an in-process writer waits for the writer connection
_IDLE_READERS = 2  # reader (and scanner) connections kept open between transactions
_LOCK_WAIT_FIRST = 0.001  # seconds; doubled per retry up to _LOCK_WAIT_MAX
_LOCK_WAIT_MAX = 0.05
_LOCKED = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _pragmas(busy_timeout_ms: int) -> tuple[str, ...]:
    return (
        # First: switching a new database to WAL takes an exclusive lock, and a connection
        # opened at the same moment must wait for it rather than fail "database is locked".
        f"PRAGMA busy_timeout={busy_timeout_ms}",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA foreign_keys=ON",
    )


def is_locked(exc: sqlite3.Error) -> bool:
    """SQLite refused the statement because another connection holds a lock."""
    # An extended code (SQLITE_BUSY_SNAPSHOT, ...) keeps the primary one in its low byte.
    return (exc.sqlite_errorcode & 0xFF) in _LOCKED


class _Inline:
    """A transaction whose statements run on the loop's thread (writes and short reads)."""

    __slots__ = ("_busy_timeout", "_connection")

    database: ClassVar[str] = "sqlite"

    def __init__(self, connection: sqlite3.Connection, busy_timeout: float) -> None:
        self._connection = connection
        self._busy_timeout = busy_timeout

    async def _run(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[list[Row], int]:
        """The rows a statement returns and how many it changed."""
        try:
            return _rows_and_count(self._connection, sql, parameters)
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
        return await wait_for_lock(
            lambda: _rows_and_count(self._connection, sql, parameters), self._busy_timeout
        )

    async def begin(self, sql: str) -> None:
        """Starts the transaction with `sql` (BEGIN or BEGIN IMMEDIATE)."""
        await self._run(sql)

    async def execute(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> int:
        """See `Transaction.execute`."""
        compiled = compile_query(query, _DIALECT)
        return (await self._run(compiled.sql, compiled.parameters(values)))[1]

    async def execute_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        """See `Transaction.execute_many`; sqlite3's executemany is a loop in C."""
        if not rows:
            return
        compiled = compile_query(query, _DIALECT)
        try:
            self._connection.executemany(compiled.sql, [compiled.parameters(r) for r in rows])
        except sqlite3.Error as exc:
            note_statement(exc, compiled.sql)
            raise

    async def fetch_all(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> list[Row]:
        """See `Transaction.fetch_all`."""
        compiled = compile_query(query, _DIALECT)
        return compiled.rows((await self._run(compiled.sql, compiled.parameters(values)))[0])

    async def fetch_mappings(
        self, query: Query, values: Mapping[str, Any] = NO_VALUES
    ) -> list[dict[str, Any]]:
        """See `Transaction.fetch_mappings`."""
        compiled = compile_query(query, _DIALECT)
        fetched = (await self._run(compiled.sql, compiled.parameters(values)))[0]
        return compiled.mappings(fetched)

    async def fetch_one(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> Row | None:
        """See `Transaction.fetch_one`."""
        rows = await self.fetch_all(query, values)
        return rows[0] if rows else None

    async def fetch_each(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        """See `Transaction.fetch_each`: sqlite3's executemany refuses statements that
        return rows, so one execute per row."""
        compiled = compile_query(query, _DIALECT)
        found: list[Row] = []
        for values in rows:
            found.extend((await self._run(compiled.sql, compiled.parameters(values)))[0])
        return compiled.rows(found)


class _Scan(_Inline):
    """A transaction whose statements run on a helper thread (reads of many rows)."""

    __slots__ = ()

    async def _run(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[list[Row], int]:
        # The rows are read on the thread too: SQLite does its work while they are fetched.
        return await _on_thread(_rows_and_count, self._connection, sql, parameters)


def _rows_and_count(
    connection: sqlite3.Connection, sql: str, parameters: Sequence[Any]
) -> tuple[list[Row], int]:
    try:
        cursor = connection.execute(sql, parameters)
        return cursor.fetchall(), cursor.rowcount
    except sqlite3.Error as exc:
        note_statement(exc, sql)
        raise


async def wait_for_lock(attempt: Callable[[], _T], busy_timeout: float) -> _T:
    """Repeats `attempt`, a statement SQLite refused as locked, until it runs or
    `busy_timeout` (seconds) has passed (then SQLite's own error is raised)."""
    deadline = time.monotonic() + busy_timeout
    wait = _LOCK_WAIT_FIRST
    while True:
        await asyncio.sleep(wait)
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() + wait > deadline:
                raise
        wait = min(wait * 2, _LOCK_WAIT_MAX)


async def _on_thread(work: Callable[..., _T], *args: Any) -> _T:
    """`work(*args)` on a helper thread; a cancel waits for it to finish, then cancels."""
    running = asyncio.ensure_future(asyncio.to_thread(work, *args))
    cancelled = False
    while not running.done():
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            # The connection is the helper thread's until the statement (a commit, a scan's
            # query) returns: a rollback or close from here meanwhile would race it. Finish,
            # then cancel.
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return running.result()


class _Connections:
    """Idle connections of one kind, kept up to `_IDLE_READERS`."""

    def __init__(self, open_one: Callable[[], sqlite3.Connection]) -> None:
        self.open = open_one
        self._idle: list[sqlite3.Connection] = []

    def idle(self) -> sqlite3.Connection | None:
        return self._idle.pop() if self._idle else None

    def give_back(self, connection: sqlite3.Connection) -> None:
        """Keeps `connection` for the next transaction, or closes it."""
        if connection.in_transaction:  # the block raised
            try:
                connection.execute("ROLLBACK")
            except sqlite3.Error:  # not fit to be used again; the block's error goes on
                connection.close()
                return
        if len(self._idle) < _IDLE_READERS:
            self._idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


_DIALECT = SQLiteDialect_pysqlite()


class SQLiteConnector:
    """`Connector` on a SQLite file (see the module's docstring for how each kind of
    transaction runs). `busy_timeout` (seconds): how long a write waits for another
    process's write lock."""

    database: ClassVar[str] = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self._path = str(path)
        self._busy_timeout = busy_timeout
        self._writer: sqlite3.Connection | None = None
        # Shared by every connector on this file in the process (store/writer_gate.py).
        self._writer_free = writer_gate(self._path)
        self._readers = _Connections(lambda: self._connect(busy_timeout_ms=0))
        # Scans run on helper threads, where SQLite's own busy handler may block.
        self._scanners = _Connections(lambda: self._connect(int(busy_timeout * 1000)))

    def __repr__(self) -> str:
        return f"SQLiteConnector({self._path!r})"

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        # isolation_level=None: the connector, not the driver, begins each transaction.
        # check_same_thread=False: commits and scans run on helper threads.
        connection = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            for pragma in _pragmas(busy_timeout_ms):
                connection.execute(pragma)
        except BaseException:
            connection.close()
            raise
        return connection

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[_Inline]:
        """See `Connector.writing`: BEGIN IMMEDIATE on the one writer connection."""
        with translate_errors():
            await self._take_writer()
            try:
                if self._writer is None:
                    # The busy handler is off: `wait_for_lock` waits for other processes.
                    self._writer = self._connect(busy_timeout_ms=0)
                writer = self._writer
                transaction = _Inline(writer, self._busy_timeout)
                await transaction.begin("BEGIN IMMEDIATE")
                try:
                    yield transaction
                    await _on_thread(writer.execute, "COMMIT")
                finally:
                    if writer.in_transaction:  # the block or the commit raised
                        writer.execute("ROLLBACK")
            finally:
                self._writer_free.release()

    def committing(self) -> AbstractAsyncContextManager[_Inline]:
        """See `Connector.committing`: a write transaction (SQLite's writes take the one
        writer lock whether or not a transaction surrounds them)."""
        return self.writing()

    async def _take_writer(self) -> None:
        """Waits for the writer connection: in-process writers queue here instead of
        polling SQLite's busy handler."""
        if not self._writer_free.locked():  # the usual case: no timer to arm and cancel
            await self._writer_free.acquire()
            return
        async with asyncio.timeout(_WRITER_QUEUE_TIMEOUT):
            await self._writer_free.acquire()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[_Inline]:
        """See `Connector.reading`: on the loop's thread."""
        with translate_errors():
            connection = self._readers.idle() or self._readers.open()
            try:
                transaction = _Inline(connection, self._busy_timeout)
                await transaction.begin("BEGIN")
                yield transaction
                connection.execute("COMMIT")
            finally:
                self._readers.give_back(connection)

    @asynccontextmanager
    async def scanning(self) -> AsyncIterator[_Inline]:
        """See `Connector.scanning`: statements on a helper thread."""
        with translate_errors():
            connection = self._scanners.idle()
            if connection is None:  # opening may wait for SQLite: off the loop
                connection = await _on_thread(self._scanners.open)
            try:
                transaction = _Scan(connection, self._busy_timeout)
                await transaction.begin("BEGIN")
                yield transaction
                connection.execute("COMMIT")  # a read's commit only lets go of its snapshot
            finally:
                self._scanners.give_back(connection)

    async def close(self) -> None:
        """See `Connector.close`."""
        await self._writer_free.acquire()
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        finally:
            self._writer_free.release()
        self._readers.close()
        self._scanners.close()
