"""PostgreSQL plans on a young database (issue 19): statistics exist from `migrate` on, and
are renewed as the store's publishes grow the tables, so a lookup of events by key uses
the primary key, not an index on the account that reads all its events."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from hookcast.store import SqlStore
from hookcast.store.deliveries import ATTEMPTS_OF
from support import factories as make
from support.publishing import account_with_webhook
from support.sql import explain_generic

pytestmark = pytest.mark.postgres

_LOAD_BY_KEY = "SELECT * FROM events WHERE account_id = $1 AND id = ANY($2::varchar[])"


async def _generic_plan(url: str, account_id: str, event_id: str) -> str:
    """The plan a connection keeps for the claim's event load once it stops re-planning."""
    return await explain_generic(url, _LOAD_BY_KEY, f"'{account_id}', ARRAY['{event_id}']")


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


async def test_a_delivery_reads_its_newest_attempts_by_index_as_attempts_grow(
    pg_store: SqlStore, postgres_database: str
) -> None:
    # Every GET of a delivery and every page of a delivery log reads its newest attempts:
    # a scan of every attempt (each with its response body) grew them with the table.
    acme, hook = await account_with_webhook(pg_store)
    await pg_store.append_events(
        events=[make.event(acme.id) for _ in range(200)], fanout=make.fanout_to(hook.id)
    )
    await pg_store.close()
    one, filled = await _with_attempts(postgres_database, per_delivery=100)

    plan = await _generic_attempts_plan(postgres_database, one)

    assert filled, "no attempts partition holds rows"
    for partition in filled:
        assert f"Seq Scan on {partition} " not in plan, plan
    assert "Index Cond: ((delivery_id)::text = ANY (($1)" in plan, plan


async def _with_attempts(url: str, *, per_delivery: int) -> tuple[str, list[str]]:
    """Gives every delivery `per_delivery` attempts (then analyzed): one delivery's id and
    the attempts partitions holding them."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO attempts (delivery_id, number, started_at, request_headers,"
            " status_code, latency_ms, response_body, error)"
            " SELECT d.id, n, d.created, '{}', 500, 1.0, repeat('x', 200), NULL"
            f" FROM deliveries d, generate_series(1, {per_delivery}) n"
        )
        await conn.execute("ANALYZE attempts")
        one = await conn.fetchval("SELECT min(id) FROM deliveries")
        rows = await conn.fetch("SELECT DISTINCT tableoid::regclass::text FROM attempts")
        return one, [row[0] for row in rows]
    finally:
        await conn.close()


async def _generic_attempts_plan(url: str, delivery_id: str) -> str:
    """The plan a connection keeps for reading a delivery's attempts once it stops
    re-planning (parameters stay parameters: no partition or value known when planned)."""
    compiled = ATTEMPTS_OF.compiled(PGDialect_asyncpg())  # type: ignore[no-untyped-call]
    values = compiled.parameters({"ids": [delivery_id]})  # (ids, ATTEMPTS_READ)
    return await explain_generic(url, compiled.sql, ", ".join(map(_literal, values)))


def _literal(value: object) -> str:
    """`value` (a list of ids or a number) written into SQL: EXECUTE takes no parameters."""
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(f"'{item}'" for item in value) + "]"
    return str(int(str(value)))
