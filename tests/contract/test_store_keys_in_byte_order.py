"""Migration 0021 on PostgreSQL: ids and keys compared as bytes (COLLATE "C"), on a database
that holds deliveries of every kind, keeping every row and every index valid both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import String, Table, insert
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.models import Account, DeliveryStatus, Webhook
from hookcast.ports import DeliveryQuery
from hookcast.store import migrate, open_store, to_async_url
from hookcast.store.crypto import SecretBox
from hookcast.store.migrate import upgrade_schema
from hookcast.store.partitions import create_sql
from hookcast.store.rows import attempt_values, delivery_values, event_values, webhook_values
from hookcast.store.tables import accounts, attempts, deliveries, events, metadata, webhooks
from support import factories as make
from support.migrations import downgrade_to, fetch_rows

pytestmark = pytest.mark.postgres

_BEFORE = "0020_site_ids_per_account"

# Every text column of the public tables and their partitions, with its collation
# ("default" where the column names none) and the table it belongs to or is a partition of.
_COLLATIONS = """
SELECT coalesce(parent.relname, c.relname), c.relname, a.attname, co.collname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class parent ON parent.oid = i.inhparent
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
    AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> 'alembic_version'
"""
# amcheck: each B-tree index (a partitioned index's partitions each) in key order, and
# every row of its table in it.
_CHECK_INDEXES = """
SELECT count(bt_index_check(c.oid, true))
FROM pg_class c JOIN pg_am am ON am.oid = c.relam
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'i' AND am.amname = 'btree'
"""


def _declared_in_bytes() -> dict[str, set[str]]:
    """The columns tables.py declares "C" on PostgreSQL (types.byte_ordered), by table."""
    declared: dict[str, set[str]] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            kind = column.type._variant_mapping.get("postgresql", column.type)
            if isinstance(kind, String) and kind.collation == "C":
                declared.setdefault(table.name, set()).add(column.name)
    return declared


async def _in_bytes(url: str) -> dict[str, set[str]]:
    """The "C" columns by table; asserts each partition has its parent's collations."""
    rows = await fetch_rows(url, _COLLATIONS)
    by_relation: dict[tuple[str, str], dict[str, str]] = {}
    for table, relation, column, collation in rows:
        by_relation.setdefault((table, relation), {})[column] = collation
    found: dict[str, set[str]] = {}
    for (table, relation), columns in by_relation.items():
        assert columns == by_relation[(table, table)], relation
        c_columns = {name for name, collation in columns.items() if collation == "C"}
        assert set(columns.values()) <= {"C", "default"}, relation
        if c_columns:
            found[table] = c_columns
    return found


async def test_a_fresh_schema_compares_every_declared_key_as_bytes(
    postgres_database: str,
) -> None:
    declared = _declared_in_bytes()
    assert "deliveries" in declared
    assert {"id", "event_id", "webhook_id"} <= declared["deliveries"]
    assert await _in_bytes(postgres_database) == declared


def _rows(
    account: Account, hook: Webhook, stopped: Webhook, box: SecretBox
) -> list[tuple[Table, dict[str, Any]]]:
    """The account and its two webhooks, with deliveries pending (today's and yesterday's: a
    day partition and the default one), leased, held (`stopped`'s), and finished with their
    attempts, 30 of each."""
    acme = account
    rows: list[tuple[Table, dict[str, Any]]] = [
        (accounts, {"id": acme.id, "name": acme.name, "created": acme.created}),
        (webhooks, webhook_values(hook, box)),
        (webhooks, webhook_values(stopped, box)),
    ]
    now = datetime.now(UTC)
    for number in range(120):
        created = now - timedelta(days=number % 2, seconds=number)
        published = make.event(acme.id, created=created)
        kind = number % 4
        if kind == 0:
            delivery = make.delivery(published, hook.id)
        elif kind == 1:
            delivery = make.delivery(published, hook.id, lease_token=f"t{number}")
        elif kind == 2:
            delivery = make.delivery(published, stopped.id, status=DeliveryStatus.HELD)
        else:
            delivery = make.delivery(
                published, hook.id, status=DeliveryStatus.SUCCEEDED, attempts=1
            )
        values = delivery_values(delivery)
        del values["lost_lease"]  # a column of a later revision (0023)
        if kind == 1:  # leased for another hour by a worker still beating
            later = now + timedelta(hours=1)
            values |= {"lease_worker": "w1", "lease_until": later, "next_attempt_at": created}
        rows += [(events, event_values(published)), (deliveries, values)]
        if kind == 3:
            rows.append((attempts, attempt_values(make.attempt(delivery.id, started_at=now))))
    return rows


async def _insert_at(url: str, revision: str, rows: list[tuple[Table, dict[str, Any]]]) -> None:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_schema, revision)
            for table, values in rows:
                await conn.execute(insert(table).values(**values))
    finally:
        await engine.dispose()


_COUNTS = (
    "SELECT status, lease_token IS NOT NULL, count(*) FROM deliveries GROUP BY 1, 2"
    " UNION ALL SELECT 'attempts', NULL, count(*) FROM attempts"
    " UNION ALL SELECT 'events', NULL, count(*) FROM events"
)


# Migration 0021's own DDL over every kind of row: the suite's, not test-lowest's (Alembic's
# and the driver's calls are every session's template migration, on the floors).
@pytest.mark.suite_only
async def test_upgrading_a_database_with_deliveries_keeps_every_row_and_index(
    empty_postgres_url: str, secret_key: bytes
) -> None:
    url = empty_postgres_url
    acme = make.account()
    hook = make.webhook(acme.id)
    stopped = make.webhook(acme.id, enabled=False, disabled_reason="410 Gone")
    await _insert_at(url, _BEFORE, _rows(acme, hook, stopped, SecretBox(secret_key)))
    await fetch_rows(url, "CREATE EXTENSION IF NOT EXISTS amcheck")
    counts = sorted(await fetch_rows(url, _COUNTS), key=str)
    assert await _in_bytes(url) == {}

    migrate(url)
    assert await _in_bytes(url) == _declared_in_bytes()
    assert (await fetch_rows(url, _CHECK_INDEXES))[0][0] > 20
    assert sorted(await fetch_rows(url, _COUNTS), key=str) == counts
    # A day partition made after it (as `migrate` and retention make them) takes the
    # parent's collations: ATTACH would refuse one that differs.
    day = datetime.now(UTC).date() + timedelta(days=40)
    for table in ("deliveries", "attempts"):
        for statement in create_sql(table, day):
            await fetch_rows(url, statement)
    assert await _in_bytes(url) == _declared_in_bytes()

    store = await open_store(url, secret_key=secret_key)
    try:
        # The pending ones are claimed, the leased ones stay leased, the held stay held.
        claimed = await store.claim_due_deliveries(
            now=datetime.now(UTC), limit=500, lease_seconds=30
        )
        held = await store.list_deliveries(
            DeliveryQuery(acme.id, stopped.id, status=DeliveryStatus.HELD)
        )
        await store.record_results([make.succeeded(one) for one in claimed], [])
    finally:
        await store.close()
    assert len(claimed) == 30
    assert held.total == 30
    assert (await fetch_rows(url, "SELECT count(*) FROM attempts"))[0][0] == 60

    await downgrade_to(url, _BEFORE)
    assert await _in_bytes(url) == {}
    assert (await fetch_rows(url, _CHECK_INDEXES))[0][0] > 20
    assert (await fetch_rows(url, "SELECT count(*) FROM deliveries WHERE status = 'succeeded'"))[0][
        0
    ] == 60
