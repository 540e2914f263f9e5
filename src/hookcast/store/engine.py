"""Engines per database: URL translation, SQLite pragmas and SQLite's write locking.

SQLite allows one writer at a time. A transaction that starts with a plain (deferred) BEGIN,
reads, and then writes must upgrade its lock; two such transactions deadlock and one fails
with "database is locked" regardless of busy_timeout. Every write transaction therefore goes
through a separate engine whose BEGIN is BEGIN IMMEDIATE: it takes the write lock up front and
waits (busy_timeout) instead of failing. Reads use a plain BEGIN and, under WAL, never block
or get blocked by the writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hookcast.store.files import create_private_sqlite_file
from hookcast.store.inline_sqlite import InlineSQLite

__all__ = ["Engines", "create_engines", "to_async_url"]

_BUSY_TIMEOUT_MS = 5000
# An error names its statement but not its parameters: they hold event data, response
# bodies and names, and errors end up in logs (a traceback carries the error's text).
_HIDE_PARAMETERS = True


def _pragmas(busy_timeout_ms: int) -> tuple[str, ...]:
    return (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        f"PRAGMA busy_timeout={busy_timeout_ms}",
        "PRAGMA foreign_keys=ON",
    )


def to_async_url(database_url: str) -> URL:
    """`sqlite:///path` → aiosqlite, `postgresql://` / `postgres://` → asyncpg."""
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url.removeprefix("postgres://")
    url = make_url(database_url)
    if url.drivername == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    elif url.drivername == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
    if url.drivername == "sqlite+aiosqlite" and url.database in (None, "", ":memory:"):
        # Readers and the writer use separate connections, which would each see their own
        # private in-memory database.
        raise ValueError("in-memory SQLite is not supported: give a file path")
    if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
        raise ValueError(f"unsupported database URL scheme {url.drivername!r}")
    return url


def asyncpg_dsn(url: URL) -> str:
    """The libpq-style DSN asyncpg.connect() takes, for the raw LISTEN connection."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Engines:
    """`read` serves short read-only transactions, `scan` the long ones (pages with their
    totals, statistics), `write` every transaction that writes.

    On SQLite, `read` and `write` run on the event loop's thread (inline_sqlite) and `scan`
    on aiosqlite's threads, where a count over a large table runs beside the loop instead of
    stopping it. On PostgreSQL all three share one pool: row locks make a separate writer
    unnecessary, reads wait on the network, not the loop, and `scan` is REPEATABLE READ.
    """

    read: AsyncEngine
    scan: AsyncEngine
    write: AsyncEngine
    url: URL

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def begin(self, engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
        """A transaction on `engine` (one of this bundle's), committed on success."""
        if getattr(engine.sync_engine.dialect.dbapi, "runs_inline", False):
            return _inline_begin(engine)
        return engine.begin()

    async def dispose(self) -> None:
        await self.write.dispose()
        if not self.is_postgres:  # on PostgreSQL the others share `write`'s pool
            await self.read.dispose()
            await self.scan.dispose()


@asynccontextmanager
async def _inline_begin(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()` without the task SQLAlchemy starts to close the connection (so that
    a cancel cannot interrupt it): closing an inline connection never suspends, and that
    task handed the connection back only after the next request had taken another, so a
    pool of 2 opened and closed ~2 connections per API request (933 for 500 publishes)."""
    conn = await engine.connect()
    try:
        async with conn.begin():
            yield conn
    finally:
        await conn.close()


def _sqlite_engine(url: URL, begin: str, *, inline: bool = False, **kwargs: Any) -> AsyncEngine:
    if inline:
        writes = begin == "BEGIN IMMEDIATE"  # its commits wait for the disk
        kwargs["module"] = InlineSQLite(_BUSY_TIMEOUT_MS / 1000, commit_in_thread=writes)
    # Every transaction ends in COMMIT or ROLLBACK (Engines.begin): the pool's own ROLLBACK
    # on return would be one more statement per transaction.
    engine = create_async_engine(
        url, pool_reset_on_return=None, hide_parameters=_HIDE_PARAMETERS, **kwargs
    )
    # InlineSQLite waits for another process's lock itself, without blocking the loop, so
    # SQLite's own busy handler is off on its connections.
    pragmas = _pragmas(0 if inline else _BUSY_TIMEOUT_MS)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver (SQLAlchemy's documented recipe) so the "begin"
        # hook below decides how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)

    def on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    event.listen(engine.sync_engine, "begin", on_begin)
    return engine


def create_engines(database_url: str) -> Engines:
    url = to_async_url(database_url)
    create_private_sqlite_file(url)
    if url.get_backend_name() == "postgresql":
        engine = create_async_engine(
            url, pool_size=10, max_overflow=10, hide_parameters=_HIDE_PARAMETERS
        )
        # A scan runs several statements (a page and its total, a delivery and its attempts)
        # that must see one snapshot: under READ COMMITTED a worker's commit between them gave
        # a page with total 1 and no items. Short reads stay READ COMMITTED: the isolation
        # level is set on checkout and reset on return, two more round trips per publish's
        # read. Same pool, so closing `write` is enough.
        scan = engine.execution_options(isolation_level="REPEATABLE READ")
        return Engines(read=engine, scan=scan, write=engine, url=url)
    # One writer connection: in-process writers queue on the pool instead of polling SQLite's
    # busy handler; other processes' locks are waited for by InlineSQLite.
    write = _sqlite_engine(
        url, "BEGIN IMMEDIATE", inline=True, pool_size=1, max_overflow=0, pool_timeout=120
    )
    read = _sqlite_engine(url, "BEGIN", inline=True, pool_size=2, max_overflow=8)
    scan = _sqlite_engine(url, "BEGIN", pool_size=3, max_overflow=5)
    return Engines(read=read, scan=scan, write=write, url=url)
