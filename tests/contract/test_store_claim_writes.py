"""What claiming and recording write on PostgreSQL (migration 0018): a claim rewrites its rows
beside themselves without touching an index (a HOT update), and recording a batch reads only
its deliveries' day partitions."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import DeliveryStatus
from hookcast.store import SqlStore
from hookcast.store.partitions import partition_name
from support import factories as make

pytestmark = pytest.mark.postgres

# A day the migration created ahead of today: the rows below are created in it.
DAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(1)
_HEAP_ONLY_TUPLE = 0x8000  # t_infomask2: a row version no index points at


async def _publish(store: SqlStore, count: int) -> tuple[str, str]:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    events = [make.event(acme.id, created=DAY) for _ in range(count)]
    await store.append_events(events=events, fanout=make.fanout_to(hook.id))
    return acme.id, hook.id


async def _versions(url: str, table: str) -> tuple[int, int]:
    """The row versions on the first page of `table`: (all, heap-only)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        row = await conn.fetchrow(
            "SELECT count(*), count(*) FILTER (WHERE t_infomask2 & $1 <> 0) "
            "FROM heap_page_items(get_raw_page($2, 0)) WHERE t_infomask2 IS NOT NULL",
            _HEAP_ONLY_TUPLE,
            table,
        )
        return int(row[0]), int(row[1])
    finally:
        await conn.close()


async def test_a_claim_is_a_hot_update(pg_store: SqlStore, postgres_database: str) -> None:
    await _publish(pg_store, 10)
    day = partition_name("deliveries", DAY.date())
    assert await _versions(postgres_database, day) == (10, 0)

    claimed = await pg_store.claim_due_deliveries(
        now=DAY, limit=10, lease_seconds=30, worker_id="w1", per_account=4
    )

    assert len(claimed) == 10
    # Each claimed row's leased version is on its page and in no index.
    assert await _versions(postgres_database, day) == (20, 10)


async def test_recording_reads_only_its_deliveries_day(
    pg_store: SqlStore, postgres_database: str
) -> None:
    account_id, _webhook_id = await _publish(pg_store, 2)
    claimed = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)
    other_day = partition_name("deliveries", (DAY + timedelta(days=1)).date())
    conn = await asyncpg.connect(postgres_database)
    try:
        async with conn.transaction():
            # Anything that read the other day would wait for this lock.
            await conn.execute(f"LOCK TABLE {other_day} IN ACCESS EXCLUSIVE MODE")
            await asyncio.wait_for(
                pg_store.record_results([make.succeeded(c, DAY) for c in claimed], []),
                timeout=30,
            )
    finally:
        await conn.close()

    for c in claimed:
        record = await pg_store.get_delivery(account_id, c.delivery.id)
        assert record is not None
        assert record.delivery.status is DeliveryStatus.SUCCEEDED


async def test_results_that_do_not_say_their_day_are_recorded_too(
    pg_store: SqlStore,
) -> None:
    account_id, _webhook_id = await _publish(pg_store, 1)
    (claimed,) = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)

    await pg_store.record_results([replace(make.succeeded(claimed, DAY), created=None)], [])

    record = await pg_store.get_delivery(account_id, claimed.delivery.id)
    assert record is not None
    assert record.delivery.status is DeliveryStatus.SUCCEEDED
    assert len(record.attempts) == 1
