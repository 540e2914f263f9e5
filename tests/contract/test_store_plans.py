"""PostgreSQL plans on a young database (issue 19): statistics exist from `migrate` on, and
are renewed as the store's publishes grow the tables, so a lookup of events by key uses
the primary key, not an index on the account that reads all its events."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.store import SqlStore
from support import factories as make

pytestmark = pytest.mark.postgres

_LOAD_BY_KEY = "SELECT * FROM events WHERE account_id = $1 AND id = ANY($2::varchar[])"


async def _generic_plan(url: str, account_id: str, event_id: str) -> str:
    """The plan a connection keeps for the claim's event load once it stops re-planning."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE load AS {_LOAD_BY_KEY}")
        rows = await conn.fetch(f"EXPLAIN EXECUTE load('{account_id}', ARRAY['{event_id}'])")
        return "\n".join(row[0] for row in rows)
    finally:
        await conn.close()


async def _never_analyzed(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        # reltuples -1: the planner guesses the table's size (a copy of a template database
        # keeps its statistics but not the record of when they were taken).
        rows = await conn.fetch(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples < 0 "
            "AND relnamespace = 'public'::regnamespace"
        )
        return [row[0] for row in rows]
    finally:
        await conn.close()


async def test_a_migrated_database_has_statistics_for_every_table(postgres_database: str) -> None:
    assert await _never_analyzed(postgres_database) == []


async def test_events_are_loaded_by_primary_key_as_the_table_grows(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme = make.account()
    await pg_store.create_account(acme)
    hook = make.webhook(acme.id)
    await pg_store.create_webhook(hook)
    for _ in range(30):  # past the store's re-analyses at 1,000 and 2,000 events
        batch = [make.event(acme.id) for _ in range(100)]
        await pg_store.append_events(events=batch, fanout=make.fanout_to(hook.id))
    await pg_store.close()  # waits for the re-analysis under way

    plan = await _generic_plan(postgres_database, acme.id, batch[0].id)

    assert "pk_events" in plan, plan
    assert "ix_events_account_id_created" not in plan, plan
