"""The hot statements (every publish's, the worker's claims and results), run straight on
SQLite's connection when they can be.

Through SQLAlchemy's async layer a statement costs ~250-450 µs of Python (an execution
context, bind and result processing, a greenlet) around the 10-50 µs SQLite spends on it,
and a publish runs three; an executemany adds parameter processing per row on top
(recording a batch of results cost ~90 µs per delivery that way, ~55 µs here). On the
embedded database (store/inline_sqlite.py: the sqlite3 connection lives on the loop's
thread) these helpers compile each Core statement once, then run it on the raw sqlite3
connection of the caller's transaction, with the column types' own bind processors and
loaders; elsewhere (PostgreSQL) they are plain `conn.execute`. One statement definition, two
ways to run it: what is stored and read back is the same either way (checked by the
contract tests, which run on both databases).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import TypeEngine

__all__ = ["execute_many", "fetch_all", "fetch_each", "fetch_mappings"]


@dataclass(frozen=True, slots=True)
class _Compiled:
    statement: Executable  # kept alive: the cache is keyed by its id
    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    fixed: Mapping[str, Any]  # values fixed when the statement was built
    keys: tuple[str, ...]  # of the result columns
    # (position, loader) of each result column whose stored value needs converting
    loads: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        if self.fixed:
            values = {**self.fixed, **values}
        return tuple(
            values[name] if process is None else process(values[name])
            for name, process in self.binds
        )

    def rows(self, fetched: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not self.loads:
            return fetched
        loaded = []
        for row in fetched:
            values = list(row)
            for position, load in self.loads:
                value = values[position]
                if value is not None:
                    values[position] = load(value)
            loaded.append(tuple(values))
        return loaded

    def mappings(self, fetched: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        keys = self.keys
        return [dict(zip(keys, row, strict=True)) for row in self.rows(fetched)]


_compiled: dict[int, _Compiled] = {}


async def execute_many(
    conn: AsyncConnection, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Runs a statement without results once per row."""
    if not rows:
        return
    raw = await _sqlite(conn)
    if raw is None:
        await conn.execute(statement, list(rows))
        return
    compiled = _compile(statement, conn.dialect)
    with _translated(compiled):
        raw.executemany(compiled.sql, [compiled.parameters(row) for row in rows])


async def fetch_all(
    conn: AsyncConnection, statement: Executable, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of one execution, each value through its column type's result processor."""
    raw = await _sqlite(conn)
    if raw is None:
        return [tuple(row) for row in await conn.execute(statement, dict(values))]
    compiled = _compile(statement, conn.dialect)
    with _translated(compiled):
        return compiled.rows(raw.execute(compiled.sql, compiled.parameters(values)).fetchall())


async def fetch_mappings(
    conn: AsyncConnection, statement: Executable, values: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """As `fetch_all`, each row as a dict keyed by column name."""
    raw = await _sqlite(conn)
    if raw is None:
        result = await conn.execute(statement, dict(values))
        return [dict(row) for row in result.mappings()]
    compiled = _compile(statement, conn.dialect)
    with _translated(compiled):
        fetched = raw.execute(compiled.sql, compiled.parameters(values)).fetchall()
    return compiled.mappings(fetched)


async def fetch_each(
    conn: AsyncConnection, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """The rows a statement with RETURNING gives, run once per row."""
    raw = await _sqlite(conn)
    if raw is None:
        return [tuple(row) for row in await conn.execute(statement, list(rows))]
    compiled = _compile(statement, conn.dialect)
    found: list[tuple[Any, ...]] = []
    with _translated(compiled):
        for row in rows:  # sqlite3's executemany refuses statements that return rows
            found.extend(raw.execute(compiled.sql, compiled.parameters(row)).fetchall())
    return compiled.rows(found)


async def _sqlite(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The sqlite3 connection under `conn`, if it runs on this thread (InlineSQLite)."""
    if conn.dialect.name != "sqlite":
        return None
    driver = (await conn.get_raw_connection()).driver_connection
    raw = getattr(driver, "raw", None)
    return raw if isinstance(raw, sqlite3.Connection) else None


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    found = _compiled.get(id(statement))
    if found is None or found.statement is not statement:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        names = compiled.positiontup or ()
        binds = tuple((name, compiled.binds[name].type.bind_processor(dialect)) for name in names)
        # Such as SQLite's OFFSET 0 beside a bound LIMIT: sent as built.
        fixed = {
            name: bind.value
            for name in names
            if not (bind := compiled.binds[name]).required and bind.callable is None
        }
        columns = list(getattr(statement, "exported_columns", ()))
        loads = [
            (position, _loader(column.type, dialect)) for position, column in enumerate(columns)
        ]
        found = _compiled[id(statement)] = _Compiled(
            statement,
            compiled.string,
            binds,
            fixed,
            tuple(column.key for column in columns),
            tuple((position, load) for position, load in loads if load is not None),
        )
    return found


def _loader(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What turns a stored value of `type_` into Python's: the type's own `load_value` (see
    store/types.py) or else its result processor, None when the value is used as it is."""
    load: Callable[[Any], Any] | None = getattr(type_, "load_value", None)
    return load or type_.result_processor(dialect, None)


@contextmanager
def _translated(compiled: _Compiled) -> Iterator[None]:
    """sqlite3's errors as SQLAlchemy raises them, for store/errors.translate_errors."""
    try:
        yield
    except sqlite3.Error as error:
        raise sa_exc.DBAPIError.instance(compiled.sql, None, error, sqlite3.Error) from error
