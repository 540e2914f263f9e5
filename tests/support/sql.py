"""SQL run straight on a test's database, SQLite's file or PostgreSQL alike: what a bad
migration or an operator's hand may leave, for tests of how HookCast takes it."""

from __future__ import annotations

import contextlib
import sqlite3

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
