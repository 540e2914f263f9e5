"""Schema migrations (Alembic, run programmatically) and opening a store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.ids import new_resource_id
from hookcast.store.crypto import SecretBox
from hookcast.store.engine import create_engines
from hookcast.store.errors import translate_errors
from hookcast.store.sql import is_postgres
from hookcast.store.sql_store import SqlStore
from hookcast.store.tables import accounts

__all__ = ["migrate", "open_store"]

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: serializes concurrent `migrate` runs (several processes starting at once).
_MIGRATION_LOCK = 0x686F6F6B63617374


def migrate(database_url: str) -> None:
    """Brings the schema to the latest version (a no-op when it is current), and gives a new
    database its "Default" account.

    Synchronous, and safe to call anywhere: it runs its own event loop in a private thread,
    so it works before a loop starts and from code that already runs one.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookcast-migrate") as pool:
        pool.submit(asyncio.run, _migrate(database_url)).result()


async def open_store(
    database_url: str, *, secret_key: bytes, previous_keys: Sequence[bytes] = ()
) -> SqlStore:
    """A store on a migrated database. `secret_key` encrypts webhook secrets at rest;
    secrets encrypted under one of `previous_keys` are still read."""
    return SqlStore(create_engines(database_url), SecretBox(secret_key, previous=previous_keys))


async def _migrate(database_url: str) -> None:
    engines = create_engines(database_url)
    try:
        with translate_errors():
            # One transaction (DDL is transactional on both databases): a failed upgrade
            # leaves the previous schema intact.
            async with engines.write.begin() as conn:
                if is_postgres(conn):
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                    )
                await conn.run_sync(_upgrade)
                await _ensure_an_account(conn)
    finally:
        await engines.dispose()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def _ensure_an_account(conn: AsyncConnection) -> None:
    if await conn.scalar(select(func.count()).select_from(accounts)):
        return
    await conn.execute(
        insert(accounts).values(id=new_resource_id(), name="Default", created=datetime.now(UTC))
    )
