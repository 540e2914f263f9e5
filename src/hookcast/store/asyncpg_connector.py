"""PostgreSQL through an asyncpg pool: the scale-out database.

Statements are compiled with SQLAlchemy's `postgresql+asyncpg` dialect, so their parameters
are asyncpg's `$1, $2, ...`; asyncpg prepares each once per connection and keeps it. Writes,
reads and scans share one pool: row locks make a separate writer unnecessary and reads wait
on the network, not the loop. Scans run in REPEATABLE READ: a page and its total, or a
delivery and its attempts, must see one snapshot (under READ COMMITTED a worker's commit
between them gave a page with total 1 and no items).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, ClassVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url

from hookcast.store.connector import NO_VALUES, Row
from hookcast.store.errors import note_statement, translate_errors
from hookcast.store.statement import Compiled, Query, compile_query

__all__ = ["AsyncpgConnector"]

_POOL_SIZE = 20
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)
_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


class _Transaction:
    """Statements on one pooled connection, inside its transaction."""

    __slots__ = ("_connection",)

    database: ClassVar[str] = "postgresql"

    def __init__(self, connection: Any) -> None:
        self._connection = connection  # asyncpg.Connection

    async def _records(self, compiled: Compiled, values: Mapping[str, Any]) -> list[Row]:
        try:
            records = await self._connection.fetch(compiled.sql, *compiled.parameters(values))
        except _DRIVER_ERRORS as exc:
            note_statement(exc, compiled.sql)
            raise
        return [tuple(record) for record in records]

    async def _each(self, compiled: Compiled, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        """The statement run once per row of values, pipelined in one round trip."""
        try:
            records = await self._connection.fetchmany(
                compiled.sql, [compiled.parameters(values) for values in rows]
            )
        except _DRIVER_ERRORS as exc:
            note_statement(exc, compiled.sql)
            raise
        return [tuple(record) for record in records]

    async def execute(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> int:
        """See `Transaction.execute`."""
        compiled = compile_query(query, _DIALECT)
        try:
            status: str = await self._connection.execute(compiled.sql, *compiled.parameters(values))
        except _DRIVER_ERRORS as exc:
            note_statement(exc, compiled.sql)
            raise
        return _changed(status)

    async def execute_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        """See `Transaction.execute_many`: asyncpg pipelines the rows in one round trip."""
        if rows:
            await self._each(compile_query(query, _DIALECT), rows)

    async def fetch_all(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> list[Row]:
        """See `Transaction.fetch_all`."""
        compiled = compile_query(query, _DIALECT)
        return compiled.rows(await self._records(compiled, values))

    async def fetch_mappings(
        self, query: Query, values: Mapping[str, Any] = NO_VALUES
    ) -> list[dict[str, Any]]:
        """See `Transaction.fetch_mappings`."""
        compiled = compile_query(query, _DIALECT)
        return compiled.mappings(await self._records(compiled, values))

    async def fetch_one(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> Row | None:
        """See `Transaction.fetch_one`."""
        rows = await self.fetch_all(query, values)
        return rows[0] if rows else None

    async def fetch_each(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        """See `Transaction.fetch_each`: asyncpg pipelines the rows in one round trip."""
        if not rows:
            return []
        compiled = compile_query(query, _DIALECT)
        return compiled.rows(await self._each(compiled, rows))


def _changed(status: str) -> int:
    """The row count of a command's status ("UPDATE 3", "INSERT 0 1"), 0 if it has none."""
    count = status.rpartition(" ")[2]
    return int(count) if count.isdigit() else 0


async def _reset(connection: Any) -> None:
    """What the pool does to a connection handed back: every block ends its transaction,
    and no session state is set, so only a transaction left open (a cancel in flight) is
    rolled back; asyncpg's default reset would cost a round trip per transaction."""
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


class AsyncpgConnector:
    """`Connector` on PostgreSQL. The pool is created on first use, so opening a store on
    an unreachable server succeeds and its first statement raises `Unavailable`."""

    database: ClassVar[str] = "postgresql"

    def __init__(self, dsn: str, *, connect_timeout: float = 60.0) -> None:
        self._dsn = dsn
        self._connect_timeout = connect_timeout  # seconds, for each new connection
        self._pool: Any = None  # asyncpg.Pool once created
        self._creating = asyncio.Lock()

    def __repr__(self) -> str:
        shown = make_url(self._dsn).render_as_string(hide_password=True)
        return f"AsyncpgConnector({shown!r})"

    async def _connected(self) -> Any:
        if self._pool is None:
            async with self._creating:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=0,
                        max_size=_POOL_SIZE,
                        reset=_reset,
                        timeout=self._connect_timeout,
                    )
        return self._pool

    @asynccontextmanager
    async def _transaction(self, isolation: str | None) -> AsyncIterator[_Transaction]:
        with translate_errors():
            pool = await self._connected()
            async with pool.acquire() as connection, connection.transaction(isolation=isolation):
                yield _Transaction(connection)

    def writing(self) -> AbstractAsyncContextManager[_Transaction]:
        """See `Connector.writing` (READ COMMITTED; row locks order the writers)."""
        return self._transaction(None)

    def reading(self) -> AbstractAsyncContextManager[_Transaction]:
        """See `Connector.reading`. Without BEGIN and COMMIT, two round trips fewer: under
        READ COMMITTED each statement of a transaction sees its own snapshot anyway, so a
        read block sees exactly what it would inside one."""
        return self._statements()

    def committing(self) -> AbstractAsyncContextManager[_Transaction]:
        """See `Connector.committing`: each statement its own transaction, two round trips
        fewer than `writing`, as for reads."""
        return self._statements()

    @asynccontextmanager
    async def _statements(self) -> AsyncIterator[_Transaction]:
        """A pooled connection outside any transaction: each statement commits as it ends."""
        with translate_errors():
            pool = await self._connected()
            async with pool.acquire() as connection:
                yield _Transaction(connection)

    def scanning(self) -> AbstractAsyncContextManager[_Transaction]:
        """See `Connector.scanning`: REPEATABLE READ."""
        return self._transaction("repeatable_read")

    async def close(self) -> None:
        """See `Connector.close`."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
