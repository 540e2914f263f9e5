"""The connector port: how the store reaches its database, one implementation per driver.

    async with connector.writing() as tx:       # a transaction that writes
        await tx.execute(STATEMENT, {"id": ...})

`SQLiteConnector` (store/sqlite_connector.py) runs sqlite3 on the event loop's thread,
`AsyncpgConnector` (store/asyncpg_connector.py) an asyncpg pool; `CallerTransaction`
(store/caller_transaction.py) runs the same statements inside a caller's own SQLAlchemy
transaction. Each translates its driver's errors into the store's (store/errors.py), so no
driver exception leaves a connector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from hookcast.store.statement import Query

__all__ = ["NO_VALUES", "Connector", "Row", "Transaction"]

Row = tuple[Any, ...]
NO_VALUES: Mapping[str, Any] = {}


class Transaction(Protocol):
    """One transaction, open until its connector's block ends (committed on success)."""

    @property
    def database(self) -> str:
        """ "sqlite" or "postgresql": which variant of a statement runs."""
        ...

    async def execute(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> int:
        """Runs a statement without results; returns how many rows it changed."""
        ...

    async def execute_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        """Runs a statement without results once per row of values (nothing for none)."""
        ...

    async def fetch_all(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> list[Row]:
        """The rows a query returns, each value as Python sees it (store/types.py)."""
        ...

    async def fetch_mappings(
        self, query: Query, values: Mapping[str, Any] = NO_VALUES
    ) -> list[dict[str, Any]]:
        """As `fetch_all`, each row as a dict keyed by column name."""
        ...

    async def fetch_one(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> Row | None:
        """The first row a query returns, or None."""
        ...

    async def fetch_each(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        """The rows a statement with RETURNING gives, run once per row of values."""
        ...


class Connector(Protocol):
    """Transactions on one database. Each block commits when it ends normally and rolls
    back when it raises; driver errors leave it as the store's (store/errors.py)."""

    @property
    def database(self) -> str:
        """ "sqlite" or "postgresql"."""
        ...

    def writing(self) -> AbstractAsyncContextManager[Transaction]:
        """A transaction that may write (on SQLite: holding the database's write lock)."""
        ...

    def reading(self) -> AbstractAsyncContextManager[Transaction]:
        """A short read-only transaction (a few rows by key)."""
        ...

    def committing(self) -> AbstractAsyncContextManager[Transaction]:
        """Writes that need no transaction around them: on PostgreSQL each statement commits
        as it runs (no BEGIN and COMMIT), on SQLite a write transaction as `writing`."""
        ...

    def scanning(self) -> AbstractAsyncContextManager[Transaction]:
        """A read that may cover many rows (a page and its total, statistics) or runs
        several statements that must see one snapshot (a delivery and its attempts)."""
        ...

    async def close(self) -> None:
        """Closes every connection; the connector is not used afterwards."""
        ...
