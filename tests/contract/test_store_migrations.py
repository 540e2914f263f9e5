"""migrate(): creates the schema the tables describe, once, from anywhere."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.store import migrate, open_store, to_async_url
from hookcast.store.crypto import SecretBox
from hookcast.store.rows import webhook_values
from hookcast.store.tables import (
    accounts,
    metadata,
    sites,
    webhook_events,
    webhook_sites,
    webhooks,
)
from support import factories as make
from support.postgres import run_sql

MIGRATIONS = Path(migrate.__code__.co_filename).parent / "migrations"

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
        == "0012_all_sites"
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


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


# Revisions an existing database may be at, and the webhook columns added after each.
_EARLIER = [
    pytest.param("0011_portal_settings", ("all_sites",), id="from-0011"),
    pytest.param(
        "0009_ordering", ("coalesce_updates", "max_age_seconds", "all_sites"), id="from-0009"
    ),
    pytest.param(
        "0008_webhook_state",
        ("ordering", "coalesce_updates", "max_age_seconds", "all_sites"),
        id="from-0008",
    ),
]


@pytest.mark.parametrize(("revision", "later_columns"), _EARLIER)
async def test_upgrading_keeps_every_webhooks_subscriptions(
    empty_database_url: str, secret_key: bytes, revision: str, later_columns: tuple[str, ...]
) -> None:
    acme, site = make.account(), make.site("")
    hook = make.webhook(acme.id, site_ids=(site.id,), events=("media_available",))
    engine = create_async_engine(to_async_url(empty_database_url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, revision)
            await conn.execute(
                insert(accounts).values(id=acme.id, name=acme.name, created=acme.created)
            )
            site_row = {"id": site.id, "account_id": acme.id, "name": site.name}
            await conn.execute(
                insert(sites).values(**site_row, created=site.created, last_modified=site.created)
            )
            row = webhook_values(hook, SecretBox(secret_key))
            await conn.execute(insert(webhooks).values(**without(row, later_columns)))
            subscribed = {"webhook_id": hook.id, "position": 0}
            await conn.execute(insert(webhook_sites).values(**subscribed, site_id=site.id))
            await conn.execute(insert(webhook_events).values(**subscribed, event="media_available"))
    finally:
        await engine.dispose()

    migrate(empty_database_url)  # with foreign keys on, as every deployment runs it
    store = await open_store(empty_database_url, secret_key=secret_key)
    try:
        kept = await store.get_webhook(acme.id, hook.id)
    finally:
        await store.close()
    assert kept is not None
    assert not kept.all_sites  # a list made before "*" existed stays that list
    assert kept.site_ids == (site.id,)
    assert kept.events == ("media_available",)


def without(row: dict[str, object], names: tuple[str, ...]) -> dict[str, object]:
    return {name: value for name, value in row.items() if name not in names}
