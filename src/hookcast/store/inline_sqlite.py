"""SQLite run on the event loop's own thread: the driver behind the embedded store.

aiosqlite runs each statement on a helper thread. Inside a busy process that costs far more
than the statement: the helper needs the GIL back after every step that released it, the
event loop, busy with HTTP and signing, hands it over only when Python's switch interval
(5 ms) expires, and on a loaded machine each hop also waits for the OS to schedule a thread.
A claim of ~50 rows took ~100 ms that way against 9-18 ms alone, and a point read 5-16 ms
(docs/benchmarks.md). Here the same sqlite3 calls run directly on the loop's thread, so a
statement costs what SQLite needs and nothing else.

A write transaction's COMMIT is the exception (`commit_in_thread`): it waits for the disk
(fsync of the WAL: 0.4 ms median, 3-4 ms at p99 on this machine) and now and then copies the
WAL back into the database (an automatic checkpoint, longer still). On the loop's thread
that wait stopped every request and delivery (~15% of the loop's time at 700 publishes/s,
and the worst stalls); on a helper thread, which the connection has to itself until the
commit returns, the loop goes on meanwhile.

The one wait that must not block the loop is SQLite's lock: another process (a CLI command,
a second worker) may hold the write lock. Statements run without SQLite's busy handler;
one refused as locked (in practice `BEGIN IMMEDIATE`: once it succeeds this connection holds
the write lock, and WAL readers are not blocked) is retried with `asyncio.sleep` until
`busy_timeout` has passed, after which SQLite's own "database is locked" is raised (the
store's 503).

The classes are the asynchronous DBAPI shape SQLAlchemy's adapters expect (what aiosqlite
provides); each coroutine completes without suspending, except the lock wait and the
commit above.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.util.concurrency import await_

__all__ = ["InlineSQLite"]

_LOCK_WAIT_FIRST = 0.001  # seconds; doubled per retry up to _LOCK_WAIT_MAX
_LOCK_WAIT_MAX = 0.05


class _Cursor:
    __slots__ = ("_connection", "_cursor")

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self._cursor = connection.raw.cursor()

    async def __aenter__(self) -> _Cursor:
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Cursor:
        try:
            self._cursor.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
            await self._connection.wait_for_lock(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Sequence[Sequence[Any]]) -> _Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class _Connection:
    """An aiosqlite-shaped connection whose coroutines run sqlite3 inline."""

    def __init__(
        self, raw: sqlite3.Connection, busy_timeout: float, commit_in_thread: bool
    ) -> None:
        self.raw = raw
        self._busy_timeout = busy_timeout
        self._commit_in_thread = commit_in_thread

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    async def wait_for_lock(self, attempt: Callable[[], object]) -> None:
        """Repeats `attempt`, a statement SQLite refused as locked, until it runs or
        busy_timeout has passed (then SQLite's own error is raised)."""
        deadline = time.monotonic() + self._busy_timeout
        wait = _LOCK_WAIT_FIRST
        while True:
            await asyncio.sleep(wait)
            try:
                attempt()
                return
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc) or time.monotonic() + wait > deadline:
                    raise
            wait = min(wait * 2, _LOCK_WAIT_MAX)

    async def commit(self) -> None:
        if not (self._commit_in_thread and self.raw.in_transaction):
            self.raw.commit()
            return
        committing = asyncio.ensure_future(asyncio.to_thread(self.raw.commit))
        cancelled = False
        while not committing.done():
            try:
                await asyncio.shield(committing)
            except asyncio.CancelledError:
                # The connection is the helper thread's until the commit returns: a
                # rollback or close from here meanwhile would race it. Finish, then cancel.
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        committing.result()

    async def rollback(self) -> None:
        self.raw.rollback()

    async def close(self) -> None:
        self.raw.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.raw.create_function(*args, **kwargs)


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class _AdaptedConnection(AsyncAdapt_dbapi_connection):
    """SQLAlchemy's side of the connection (the same base the aiosqlite adapter uses)."""

    __slots__ = ()
    _connection: _Connection  # type: ignore[assignment]

    @property
    def isolation_level(self) -> str | None:
        return self._connection.raw.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._connection.raw.isolation_level = value

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        await_(self._connection.create_function(*args, **kwargs))

    def terminate(self) -> None:
        """What the pool calls for a connection it throws away (e.g. after a cancel)."""
        self._connection.raw.close()


class InlineSQLite(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module to hand `create_async_engine(..., module=InlineSQLite())` for a
    SQLite URL: SQLAlchemy's aiosqlite dialect, connecting through `_Connection`.

    `busy_timeout` (seconds) is how long `BEGIN IMMEDIATE` waits for another process's
    write lock; SQLite's own busy handler is switched off on these connections.
    `commit_in_thread`: commit write transactions on a helper thread (see above).
    """

    runs_inline = True  # read by Engines.begin

    def __init__(self, busy_timeout: float = 5.0, *, commit_in_thread: bool = False) -> None:
        super().__init__(aiosqlite, sqlite3)
        self._busy_timeout = busy_timeout
        self._commit_in_thread = commit_in_thread

    def connect(self, *args: Any, **kwargs: Any) -> _AdaptedConnection:  # type: ignore[override]
        kwargs.pop("async_creator_fn", None)
        # The pool may close a connection from a garbage collector run on another thread.
        kwargs["check_same_thread"] = False
        raw = sqlite3.connect(*args, **kwargs)
        # aiosqlite's shape, duck-typed
        connection: Any = _Connection(raw, self._busy_timeout, self._commit_in_thread)
        return _AdaptedConnection(self, connection)
