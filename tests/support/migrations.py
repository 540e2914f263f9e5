"""Alembic's downgrade, for tests that take a database back to an older revision (HookCast
itself only upgrades: store/migrate.py), and plain statements for tests that look at the
schema a migration left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.store import migrate, to_async_url

MIGRATIONS = Path(migrate.__code__.co_filename).parent / "migrations"


async def downgrade_to(url: str, revision: str) -> None:
    """Alembic's downgrade of the database at `url` to `revision`, in one transaction."""

    def downgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
    finally:
        await engine.dispose()


async def fetch_rows(url: str, sql: str) -> list[Any]:
    """Runs one statement in its own transaction on the database at `url`: its rows, or []
    for a statement that returns none."""
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            return list(result) if result.returns_rows else []
    finally:
        await engine.dispose()
