"""Alembic's downgrade, for tests that take a database back to an older revision (HookCast
itself only upgrades: store/migrate.py)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
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
