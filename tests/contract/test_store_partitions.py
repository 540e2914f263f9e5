"""PostgreSQL's day partitions of deliveries and attempts (store/partitions.py): retention
drops a finished day whole, keeps a day an unfinished delivery is in, and a deleted
delivery's attempts still go with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import Account, Event, Webhook
from hookcast.ports import DeliveryQuery, PageRequest
from hookcast.store import SqlStore, open_store
from hookcast.store.partitions import partition_name
from support import factories as make

pytestmark = pytest.mark.postgres

# Days the migration created ahead of today: the rows below are created in them.
TOMORROW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(1)


@pytest.fixture
def postgres_database(
    postgres_url: Callable[[str], str], _postgres_databases: Any
) -> Iterator[str]:
    """A freshly migrated PostgreSQL database (as `database_url`'s, on PostgreSQL alone)."""
    name = _postgres_databases.take()
    yield postgres_url(name)
    _postgres_databases.drop(name)


@pytest.fixture
async def pg_store(postgres_database: str, secret_key: bytes) -> AsyncIterator[SqlStore]:
    opened = await open_store(postgres_database, secret_key=secret_key)
    try:
        yield opened
    finally:
        await opened.close()


async def _tables(url: str, pattern: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT relname FROM pg_class WHERE relname LIKE $1", pattern)
        return {row[0] for row in rows}
    finally:
        await conn.close()


async def _scalar(url: str, sql: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def _webhook(store: SqlStore) -> tuple[Account, Webhook]:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    return acme, hook


async def _publish_and_send(store: SqlStore, acme: Account, hook: Webhook, day: datetime) -> Event:
    """An event created on `day`, delivered once (its attempt that day)."""
    (event,) = [make.event(acme.id, created=day)]
    await store.append_events(events=[event], fanout=make.fanout_to(hook.id))
    claimed = await store.claim_due_deliveries(now=day, limit=10, lease_seconds=30)
    await store.record_results([make.succeeded(c, day) for c in claimed], [])
    return event


async def test_retention_drops_a_finished_day_whole(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, TOMORROW)
    await _publish_and_send(pg_store, acme, hook, TOMORROW + timedelta(days=1))
    day = partition_name("deliveries", TOMORROW.date())

    pruned = await pg_store.prune_before(TOMORROW + timedelta(days=1, hours=6), limit=1000)

    assert (pruned.deliveries, pruned.events) == (1, 1)
    assert day not in await _tables(postgres_database, "deliveries_%")
    assert partition_name("attempts", TOMORROW.date()) not in await _tables(
        postgres_database, "attempts_%"
    )
    assert await _scalar(postgres_database, "SELECT count(*) FROM attempts") == 1
    left = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id, page=PageRequest()))
    assert [record.delivery.created.date() for record in left.items] == [
        (TOMORROW + timedelta(days=1)).date()
    ]


async def test_a_day_with_an_unfinished_delivery_is_kept(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, TOMORROW)
    pending = make.event(acme.id, created=TOMORROW)
    await pg_store.append_events(events=[pending], fanout=make.fanout_to(hook.id))

    pruned = await pg_store.prune_before(TOMORROW + timedelta(days=2), limit=1000)

    # The finished delivery goes one row at a time; the pending one and its day stay.
    assert (pruned.deliveries, pruned.events) == (1, 1)
    assert partition_name("deliveries", TOMORROW.date()) in await _tables(
        postgres_database, "deliveries_%"
    )
    left = await pg_store.list_deliveries(DeliveryQuery(acme.id, hook.id, page=PageRequest()))
    assert [record.delivery.event_id for record in left.items] == [pending.id]


async def test_deleting_a_webhook_deletes_its_attempts(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, TOMORROW)
    assert await _scalar(postgres_database, "SELECT count(*) FROM attempts") == 1

    assert await pg_store.delete_webhook(acme.id, hook.id)

    assert await _scalar(postgres_database, "SELECT count(*) FROM deliveries") == 0
    assert await _scalar(postgres_database, "SELECT count(*) FROM attempts") == 0


async def test_rows_of_a_day_without_a_partition_land_in_the_default_one(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, hook = await _webhook(pg_store)
    await _publish_and_send(pg_store, acme, hook, datetime(2020, 1, 1, tzinfo=UTC))
    count = "SELECT count(*) FROM deliveries_default"
    assert await _scalar(postgres_database, count) == 1
    pruned = await pg_store.prune_before(datetime(2021, 1, 1, tzinfo=UTC), limit=1000)
    assert (pruned.deliveries, pruned.events) == (1, 1)
    assert await _scalar(postgres_database, count) == 0
