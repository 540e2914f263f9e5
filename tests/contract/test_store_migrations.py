"""migrate(): creates the schema the tables describe, once, from anywhere."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.store import migrate, open_store, to_async_url
from hookcast.store.tables import metadata
from support.postgres import run_sql

_numbers = itertools.count(1)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    postgres_url: Callable[[str], str] = request.getfixturevalue("postgres_url")
    name = f"hookcast_empty_{next(_numbers)}"
    run_sql(postgres_url("postgres"), f"CREATE DATABASE {name}")
    yield postgres_url(name)
    run_sql(postgres_url("postgres"), f"DROP DATABASE {name} WITH (FORCE)")


async def _scalar(database_url: str, sql: str) -> object:
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(sql))
    finally:
        await engine.dispose()


async def test_migrate_creates_the_schema_once(empty_database_url: str, secret_key: bytes) -> None:
    # Called while this test's event loop runs: migrate() brings its own loop and thread.
    migrate(empty_database_url)
    await asyncio.to_thread(migrate, empty_database_url)  # current: a no-op

    assert (
        await _scalar(empty_database_url, "SELECT version_num FROM alembic_version")
        == "0013_operational_events"
    )
    store = await open_store(empty_database_url, secret_key=secret_key)
    try:
        (default,) = await store.list_accounts()
        assert default.name == "Default"
    finally:
        await store.close()


async def test_concurrent_migrations_agree(empty_database_url: str) -> None:
    await asyncio.gather(*(asyncio.to_thread(migrate, empty_database_url) for _ in range(3)))
    assert await _scalar(empty_database_url, "SELECT count(*) FROM accounts") == 1


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_table_definitions(database_url: str) -> None:
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_schema_differences)
    finally:
        await engine.dispose()
    assert differences == []
