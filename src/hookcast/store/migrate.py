"""Schema migrations (Alembic, run programmatically) and opening a store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, func, insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hookcast.domain.ids import new_resource_id
from hookcast.store.crypto import KeylessBox, SecretBox
from hookcast.store.database import (
    CONNECT_TIMEOUT_SECONDS,
    asyncpg_dsn,
    open_connector,
    to_async_url,
)
from hookcast.store.errors import IntegrityError, translate_errors
from hookcast.store.file_wakeup import FileWakeup
from hookcast.store.files import create_private_sqlite_file
from hookcast.store.partitions import AHEAD_DAYS, PARTITIONED, create_sql, partition_name
from hookcast.store.sql_store import SqlStore
from hookcast.store.tables import accounts

__all__ = ["Migration", "migrate", "open_store", "schema_revision"]

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: serializes concurrent `migrate` runs (several processes starting at once).
_MIGRATION_LOCK = 0x686F6F6B63617374
# On SQLite, how long a migration waits for another's write lock (seconds). Far longer than
# the store's 5 s: another process migrating a new database holds it for every revision, a
# few seconds on a loaded machine, and the one waiting has nothing else to do.
_MIGRATION_BUSY_TIMEOUT = 120.0
# Alembic's `context` and `op` are module-wide proxies: two upgrades in one process at once
# (threads: `migrate` runs its own loop in one) would each run on the other's connection.
_ALEMBIC = threading.Lock()


@dataclass(frozen=True, slots=True)
class Migration:
    """What `migrate` did: the schema revision before (None: there was no schema) and after."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def migrate(database_url: str, *, connect_timeout: float = CONNECT_TIMEOUT_SECONDS) -> Migration:
    """Brings the schema to the latest version (a no-op when it is current), and gives a new
    database its "Default" account. Returns the revisions before and after.

    Synchronous, and safe to call anywhere: it runs its own event loop in a private thread,
    so it works before a loop starts and from code that already runs one.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookcast-migrate") as pool:
        return pool.submit(asyncio.run, _migrate(database_url, connect_timeout)).result()


def schema_revision(
    database_url: str, *, connect_timeout: float = CONNECT_TIMEOUT_SECONDS
) -> str | None:
    """The schema's revision, None when the database has no HookCast schema (never
    migrated). Synchronous, like `migrate`; raises Unavailable when it cannot connect."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hookcast-migrate") as pool:
        return pool.submit(asyncio.run, _read_revision(database_url, connect_timeout)).result()


async def _read_revision(database_url: str, connect_timeout: float) -> str | None:
    engine = _migration_engine(database_url, connect_timeout)
    try:
        with translate_errors():
            async with engine.connect() as conn:
                return await conn.run_sync(_revision)
    finally:
        await engine.dispose()


async def open_store(
    database_url: str,
    *,
    secret_key: bytes | None,
    previous_keys: Sequence[bytes] = (),
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> SqlStore:
    """A store on a migrated database. `secret_key` encrypts webhook secrets at rest (None:
    the store reads and writes none, `KeylessBox`); secrets encrypted under one of
    `previous_keys` are still read; a PostgreSQL server that has not answered a new
    connection within `connect_timeout` seconds is Unreachable."""
    connector = open_connector(database_url, connect_timeout=connect_timeout)
    url = to_async_url(database_url)
    box = KeylessBox() if secret_key is None else SecretBox(secret_key, previous=previous_keys)
    if connector.database == "postgresql":
        return SqlStore(connector, box, listen_dsn=asyncpg_dsn(url))
    assert url.database is not None  # open_connector refuses SQLite without a file
    return SqlStore(connector, box, file_wakeup=FileWakeup(Path(url.database)))


async def _migrate(database_url: str, connect_timeout: float) -> Migration:
    engine = _migration_engine(database_url, connect_timeout)
    try:
        with translate_errors():
            # One transaction (DDL is transactional on both databases): a failed upgrade
            # leaves the previous schema intact.
            async with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                    )
                before = await conn.run_sync(_revision)
                await conn.run_sync(upgrade_schema)
                await _check_references(conn)
                after = await conn.run_sync(_revision)
                await _ensure_an_account(conn)
                if conn.dialect.name == "postgresql":
                    await _create_partitions_ahead(conn)
                    await _analyze_new_tables(conn)
    finally:
        await engine.dispose()
    return Migration(before=before, after=after or "")


def _migration_engine(database_url: str, connect_timeout: float) -> AsyncEngine:
    """An SQLAlchemy engine for Alembic. On SQLite, with the store's pragmas (WAL) and a
    BEGIN IMMEDIATE that waits for another process's write lock: concurrent migrations
    then take turns instead of deadlocking (see store/sqlite_connector.py)."""
    url = to_async_url(database_url)
    create_private_sqlite_file(url)
    # An error names its statement but not its parameters: they hold event data, response
    # bodies and names, and errors end up in logs (a traceback carries the error's text).
    if url.get_backend_name() == "postgresql":
        return create_async_engine(
            url, hide_parameters=True, connect_args={"timeout": connect_timeout}
        )
    engine = create_async_engine(url, hide_parameters=True)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver (SQLAlchemy's documented recipe) so the "begin"
        # hook below decides how each transaction starts.
        dbapi_connection.isolation_level = None
        for pragma in (
            f"PRAGMA busy_timeout={int(_MIGRATION_BUSY_TIMEOUT * 1000)}",  # first: WAL's waits
            "PRAGMA journal_mode=WAL",
            # Off while migrating, as SQLite's docs advise for schema changes: a batch
            # migration recreates a table (copy, drop, rename), and with foreign keys on the
            # drop cascades to every row that refers to it. Checked after the upgrade.
            "PRAGMA foreign_keys=OFF",
        ):
            dbapi_connection.cursor().execute(pragma)

    def on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine


def _revision(connection: Connection) -> str | None:
    """The schema's Alembic revision, None before the first migration. Read directly:
    a MigrationContext would log two INFO lines each time (`serve` shows INFO)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return None if revision is None else str(revision)


def upgrade_schema(connection: Connection, revision: str = "head") -> None:
    """Alembic's upgrade to `revision`, in `connection`'s transaction. `migrate` goes to the
    head; tests and benchmarks of an upgrade stop at an earlier revision first."""
    # Alembic (and Mako, Pygments under it) loads here: `open_store` is in this module too,
    # and a worker opening its store never upgrades a schema.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    with _ALEMBIC:
        command.upgrade(config, revision)


async def upgrade_to(database_url: str, revision: str) -> None:
    """The schema at `revision` (earlier than the head), for tests and benchmarks of
    upgrading a database that holds data; `migrate` then takes it the rest of the way."""
    engine = _migration_engine(database_url, CONNECT_TIMEOUT_SECONDS)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_schema, revision)
    finally:
        await engine.dispose()


async def _check_references(conn: AsyncConnection) -> None:
    """On SQLite (foreign keys off while migrating), fails the upgrade, rolling it back,
    if it left a row referring to one that does not exist."""
    if conn.dialect.name != "sqlite":
        return
    broken = (await conn.execute(text("PRAGMA foreign_key_check"))).first()
    if broken is not None:
        raise IntegrityError(
            f"the migration left table {broken[0]} referring to a missing row of {broken[2]}; "
            "nothing was changed"
        )


async def _ensure_an_account(conn: AsyncConnection) -> None:
    if await conn.scalar(select(func.count()).select_from(accounts)):
        return
    await conn.execute(
        insert(accounts).values(id=new_resource_id(), name="Default", created=datetime.now(UTC))
    )


# Tables PostgreSQL has never analyzed (a new database, or ones a migration just created).
_NEVER_ANALYZED = text(
    "SELECT format('%I', relname) FROM pg_stat_user_tables"
    " WHERE last_analyze IS NULL AND last_autoanalyze IS NULL"
)


async def _analyze_new_tables(conn: AsyncConnection) -> None:
    """Gives every never-analyzed table statistics. Without them the planner sizes a table
    by guesswork, and a statement planned then keeps its plan for its connection's life:
    an empty events table made the per-delivery foreign-key check read every event of the
    account (issue 19). Analyzing an empty table also tells the planner it is empty, so
    later plans size it by its real pages, and autovacuum re-analyzes it as it grows."""
    tables = (await conn.execute(_NEVER_ANALYZED)).scalars().all()
    if tables:
        await conn.execute(text(f"ANALYZE {', '.join(tables)}"))


async def _create_partitions_ahead(conn: AsyncConnection) -> None:
    """The coming days' delivery and attempt partitions (retention passes add more)."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    for table in PARTITIONED:
        for offset in range(AHEAD_DAYS):
            day = tomorrow + timedelta(days=offset)
            exists = await conn.scalar(
                text("SELECT to_regclass(:name)"), {"name": partition_name(table, day)}
            )
            if exists is None:
                for statement in create_sql(table, day):
                    await conn.execute(text(statement))
