"""Migration 0022 on PostgreSQL: the documents tables.py marks UNANALYZED (events' data and
resource ids, attempts' headers, bodies and errors) get no planner statistics, on every
partition, those made later included; and a downgrade gives them back. Migration 0024: every
column of deliveries gets the sampled target tables.py declares (DELIVERY_STATISTICS: 3,000
rows a sample, not 30,000), on every day partition too, and a downgrade gives back the
server's default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.store import migrate, to_async_url
from hookcast.store.migrate import upgrade_schema
from hookcast.store.partitions import create_sql
from hookcast.store.rows import event_values
from hookcast.store.tables import (
    DELIVERY_STATISTICS,
    accounts,
    deliveries,
    events,
    metadata,
    statistics_targets,
    unanalyzed,
)
from support import factories as make
from support.migrations import downgrade_to, fetch_rows

pytestmark = pytest.mark.postgres

_BEFORE = "0021_keys_in_byte_order"

# Every column of the public tables and their partitions whose statistics target is 0, with
# the table it belongs to or is a partition of.
_UNANALYZED = """
SELECT coalesce(parent.relname, c.relname), c.relname, a.attname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class parent ON parent.oid = i.inhparent
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
    AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget = 0
"""
_PARTITIONS = """
SELECT parent.relname, count(*) FROM pg_inherits
JOIN pg_class parent ON parent.oid = pg_inherits.inhparent GROUP BY 1
"""


def _declared() -> dict[str, set[str]]:
    """The columns tables.py marks UNANALYZED, by table."""
    return {
        table.name: set(unanalyzed(table))
        for table in metadata.tables.values()
        if unanalyzed(table)
    }


async def _unanalyzed(url: str) -> dict[str, set[str]]:
    """The columns without statistics by table, each partition's counted with its parent's;
    asserts that every partition has exactly its parent's."""
    by_relation: dict[tuple[str, str], set[str]] = {}
    for table, relation, column in await fetch_rows(url, _UNANALYZED):
        by_relation.setdefault((table, relation), set()).add(column)
    partitions = dict(await fetch_rows(url, _PARTITIONS))
    found: dict[str, set[str]] = {}
    for (table, relation), columns in by_relation.items():
        assert columns == by_relation.get((table, table)), relation
        found[table] = columns
    for table in found:
        held = sum(1 for (parent, relation) in by_relation if parent == table != relation)
        assert held == partitions.get(table, 0), table
    return found


async def test_a_fresh_schema_gathers_no_statistics_on_the_declared_documents(
    postgres_database: str,
) -> None:
    declared = _declared()
    assert declared == {
        "events": {"data", "resource_ids"},
        "attempts": {"request_headers", "response_body", "error"},
    }
    assert await _unanalyzed(postgres_database) == declared


async def _store_events_at(url: str, revision: str, count: int) -> None:
    acme = make.account()
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_schema, revision)
            await conn.execute(
                insert(accounts).values(id=acme.id, name=acme.name, created=acme.created)
            )
            for number in range(count):
                published = make.event(acme.id, data={"title": f"Clip {number}"})
                await conn.execute(insert(events).values(**event_values(published)))
    finally:
        await engine.dispose()


async def _analyzed_columns(url: str) -> set[str]:
    """The events' columns ANALYZE gives statistics (pg_stats) after their old ones are
    forgotten."""
    await fetch_rows(url, "DELETE FROM pg_statistic WHERE starelid = 'events'::regclass")
    await fetch_rows(url, "ANALYZE events")
    rows = await fetch_rows(url, "SELECT attname FROM pg_stats WHERE tablename = 'events'")
    return {column for (column,) in rows}


async def test_upgrading_leaves_documents_unanalyzed_and_downgrading_analyzes_them(
    empty_postgres_url: str,
) -> None:
    url = empty_postgres_url
    await _store_events_at(url, _BEFORE, 50)
    assert await _unanalyzed(url) == {}
    assert {"data", "resource_ids", "type"} <= await _analyzed_columns(url)

    migrate(url)
    assert await _unanalyzed(url) == _declared()
    analyzed = await _analyzed_columns(url)
    assert "type" in analyzed  # filtered by the event list: its statistics stay
    assert not analyzed & {"data", "resource_ids"}
    # A day partition made after it (as `migrate` and retention make them) gathers none
    # either: a partition does not take its parent's targets.
    day = datetime.now(UTC).date() + timedelta(days=40)
    for table in ("deliveries", "attempts"):
        for statement in create_sql(table, day):
            await fetch_rows(url, statement)
    assert await _unanalyzed(url) == _declared()

    await downgrade_to(url, _BEFORE)
    assert await _unanalyzed(url) == {}
    assert {"data", "resource_ids"} <= await _analyzed_columns(url)


# Each deliveries relation's (the table's and its partitions') columns and their statistics
# targets (-1: the server's default).
_DELIVERY_TARGETS = """
SELECT c.relname, a.attname, a.attstattarget FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
WHERE (c.oid = 'deliveries'::regclass
       OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'deliveries'::regclass))
    AND a.attnum > 0 AND NOT a.attisdropped
"""
_SAMPLED = DELIVERY_STATISTICS["statistics"]


async def _delivery_targets(url: str) -> set[int]:
    """The statistics targets found on the deliveries' columns, every partition's included
    (at least today's and the week ahead's: asserted)."""
    rows = await fetch_rows(url, _DELIVERY_TARGETS)
    assert len({relation for relation, _, _ in rows}) > 7
    return {target for _, _, target in rows}


async def test_every_delivery_column_is_analyzed_from_a_small_sample(
    postgres_database: str,
) -> None:
    assert statistics_targets(deliveries) == {column.name: _SAMPLED for column in deliveries.c}
    assert _SAMPLED == 10
    assert await _delivery_targets(postgres_database) == {_SAMPLED}


async def test_upgrading_samples_deliveries_and_downgrading_restores_the_default(
    empty_postgres_url: str,
) -> None:
    url = empty_postgres_url
    before = "0023_lost_lease"
    await _store_events_at(url, before, 1)
    assert await _delivery_targets(url) == {-1}

    migrate(url)
    assert await _delivery_targets(url) == {_SAMPLED}
    # A day partition made after it gets the target too (a partition does not take its
    # parent's).
    day = datetime.now(UTC).date() + timedelta(days=40)
    for statement in create_sql("deliveries", day):
        await fetch_rows(url, statement)
    assert await _delivery_targets(url) == {_SAMPLED}

    await downgrade_to(url, before)
    assert await _delivery_targets(url) == {-1}
