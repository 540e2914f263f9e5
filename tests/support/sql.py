"""SQL run straight on a test's database, SQLite's file or PostgreSQL alike: what a bad
migration or an operator's hand may leave, for tests of how HookCast takes it."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from hookcast.store.statement import Statement
from support.postgres import run_sql

SQLITE = "sqlite:///"


def execute_sql(database_url: str, *statements: str) -> None:
    """Runs `statements` in order, each committed, on the database at `database_url`."""
    if not database_url.startswith(SQLITE):
        run_sql(database_url, *statements)
        return
    with contextlib.closing(sqlite3.connect(database_url.removeprefix(SQLITE))) as connection:
        for statement in statements:
            with connection:
                connection.execute(statement)


async def generic_plan(url: str, statement: Statement, values: dict[str, Any]) -> str:
    """PostgreSQL: the plan a connection keeps for `statement` once it stops re-planning
    (after five runs of a prepared statement), explained without running it."""
    compiled = statement.compiled(PGDialect_asyncpg())  # type: ignore[no-untyped-call]
    # Prepared, then explained by EXECUTE: `EXPLAIN <statement>` given its parameters plans
    # it for their values (a custom plan), whatever plan_cache_mode says. A generic plan is
    # the same whatever the values: each given as NULL.
    count = len(compiled.parameters(values))
    return await explain_generic(url, compiled.sql, ", ".join(["NULL"] * count))


async def explain_generic(url: str, sql: str, arguments: str = "") -> str:
    """PostgreSQL: EXPLAIN of `sql` prepared under `force_generic_plan` and executed with
    `arguments` (SQL literals, comma-separated): the plan it keeps, whatever the values."""
    execute = f"EXECUTE explained({arguments})" if arguments else "EXECUTE explained"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE explained AS {sql}")
        rows = await conn.fetch(f"EXPLAIN {execute}")
        return "\n".join(row[0] for row in rows)
    finally:
        await conn.close()
