"""The store's statements inside a transaction a caller began on its own SQLAlchemy
connection (`SqlStore.using`, the transactional outbox behind `Hub.publish`).

The caller's connection may use any driver SQLAlchemy supports, so the statements go
through SQLAlchemy here, built for the connection's database: what is stored and read back
is the same as through the store's own connectors (the contract tests check both).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.base import Executable

from hookcast.store.connector import NO_VALUES, Row
from hookcast.store.statement import Query, Statement

__all__ = ["CallerTransaction"]


class CallerTransaction:
    """`Transaction` on a caller's connection; it neither commits nor rolls back."""

    __slots__ = ("_connection",)

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @property
    def database(self) -> str:
        """See `Transaction.database`."""
        return self._connection.dialect.name

    def _construct(self, query: Query) -> Executable:
        return query.construct(self.database) if isinstance(query, Statement) else query

    async def execute(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> int:
        """See `Transaction.execute`."""
        result = await self._connection.execute(self._construct(query), dict(values))
        return int(result.rowcount)

    async def execute_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        """See `Transaction.execute_many`."""
        if rows:
            await self._connection.execute(self._construct(query), [dict(row) for row in rows])

    async def fetch_all(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> list[Row]:
        """See `Transaction.fetch_all`."""
        result = await self._connection.execute(self._construct(query), dict(values))
        return [tuple(row) for row in result]

    async def fetch_mappings(
        self, query: Query, values: Mapping[str, Any] = NO_VALUES
    ) -> list[dict[str, Any]]:
        """See `Transaction.fetch_mappings`."""
        result = await self._connection.execute(self._construct(query), dict(values))
        return [dict(row) for row in result.mappings()]

    async def fetch_one(self, query: Query, values: Mapping[str, Any] = NO_VALUES) -> Row | None:
        """See `Transaction.fetch_one`."""
        rows = await self.fetch_all(query, values)
        return rows[0] if rows else None

    async def fetch_each(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> list[Row]:
        """See `Transaction.fetch_each`."""
        found: list[Row] = []
        for values in rows:
            found.extend(await self.fetch_all(query, values))
        return found
