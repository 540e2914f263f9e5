"""What claiming and recording write and read on PostgreSQL (migrations 0018, 0019): a claim
rewrites its rows beside themselves without touching an index (a HOT update), recording a
batch reads only its deliveries' day partitions, and a claim reads no past day before the
oldest pending delivery's (store/horizon.py) yet finds every delivery that becomes pending
in one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import ClaimedDelivery
from hookcast.store import SqlStore
from hookcast.store.partitions import PARTITIONED, create_sql, partition_name
from support import factories as make
from support.postgres import run_sql

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
    # Anything that read the other day would wait for this lock.
    lock = f"LOCK TABLE {other_day} IN ACCESS EXCLUSIVE MODE"
    await _record_while_locked(pg_store, postgres_database, lock, claimed)

    await _assert_succeeded(pg_store, account_id, claimed)


async def test_results_that_do_not_say_their_day_are_recorded_too(
    pg_store: SqlStore,
) -> None:
    account_id, _webhook_id = await _publish(pg_store, 1)
    (claimed,) = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)

    await pg_store.record_results([replace(make.succeeded(claimed, DAY), created=None)], [])

    record = await pg_store.get_delivery(account_id, claimed.delivery_id)
    assert record is not None
    assert record.delivery.status is DeliveryStatus.SUCCEEDED
    assert len(record.attempts) == 1


# A past day, given its partitions as the days retention keeps have them.
PAST = DAY - timedelta(days=4)


async def _past_day_claimed(store: SqlStore, url: str) -> ClaimedDelivery:
    """The past day's partitions and a delivery of that day, claimed on that day."""
    run_sql(url, *(sql for table in PARTITIONED for sql in create_sql(table, PAST.date())))
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    event = make.event(acme.id, created=PAST)
    await store.append_events(events=[event], fanout=make.fanout_to(hook.id))
    (old,) = await store.claim_due_deliveries(now=PAST, limit=10, lease_seconds=30)
    return old


async def _past_day_delivered(store: SqlStore, url: str) -> tuple[str, str, str]:
    """The past day's partitions, a delivery of that day sent and finished, and the
    horizon moved up past it (a worker's beat): (account, webhook, delivery) ids."""
    old = await _past_day_claimed(store, url)
    await store.record_results([make.succeeded(old, PAST)], [])
    await store.beat_worker("w1", DAY)
    return old.account_id, old.webhook_id, old.delivery_id


async def _claim_with_day_locked(
    store: SqlStore, url: str, *, now: datetime, fair: dict[str, Any]
) -> list[str]:
    """Claims at `now` (with `fair`: a fair claim's arguments) while the past day's
    partition is locked: a claim that planned or read that day would wait for the lock
    (and time out here)."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            locked = partition_name("deliveries", PAST.date())
            await conn.execute(f"LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE")
            claimed = await asyncio.wait_for(
                store.claim_due_deliveries(now=now, limit=10, lease_seconds=30, **fair),
                timeout=30,
            )
    finally:
        await conn.close()
    return [c.delivery_id for c in claimed]


@pytest.mark.parametrize(
    "fair",
    [{}, {"per_account": 4}, {"per_account": 4, "holding": ["AnotherA"]}],
    ids=["oldest", "fair", "others"],
)
async def test_a_claim_reads_no_past_day_without_a_pending_delivery(
    pg_store: SqlStore, postgres_database: str, fair: dict[str, Any]
) -> None:
    account_id, webhook_id = (await _past_day_delivered(pg_store, postgres_database))[:2]
    await pg_store.append_events(
        events=[make.event(account_id, created=DAY)], fanout=make.fanout_to(webhook_id)
    )

    claimed = await _claim_with_day_locked(pg_store, postgres_database, now=DAY, fair=fair)

    assert len(claimed) == 1


async def test_a_past_days_delivery_retried_by_hand_is_claimed(
    pg_store: SqlStore, postgres_database: str
) -> None:
    account_id, _, old_id = await _past_day_delivered(pg_store, postgres_database)

    assert await pg_store.reschedule_delivery(account_id=account_id, delivery_id=old_id, now=DAY)
    claimed = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)

    assert [c.delivery_id for c in claimed] == [old_id]


@pytest.mark.parametrize("beside", [0, 1], ids=["alone", "beside_todays"])
async def test_a_past_days_delivery_retried_after_a_claim_kept_the_horizon_is_claimed(
    pg_store: SqlStore, postgres_database: str, beside: int
) -> None:
    # The store keeps the horizon its last claim found (store/horizon.py KnownHorizon): here
    # today's, when the retry moves it down to the past day. The next claim plans from the
    # kept day, is told by its own rows (beside today's) or by a read after it brought
    # nothing (alone) that the horizon moved, and claims from the past day too.
    account_id, webhook_id, old_id = await _past_day_delivered(pg_store, postgres_database)
    await pg_store.append_events(
        events=[make.event(account_id, created=DAY)], fanout=make.fanout_to(webhook_id)
    )
    (today,) = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)
    fresh = [make.event(account_id, created=DAY) for _ in range(beside)]
    await pg_store.append_events(events=fresh, fanout=make.fanout_to(webhook_id))

    assert await pg_store.reschedule_delivery(account_id=account_id, delivery_id=old_id, now=DAY)
    claimed = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)

    assert today.delivery_id != old_id
    assert old_id in {c.delivery_id for c in claimed}
    assert len(claimed) == 1 + beside


async def test_a_delivery_published_into_a_past_day_is_claimed(
    pg_store: SqlStore, postgres_database: str
) -> None:
    account_id, webhook_id, _ = await _past_day_delivered(pg_store, postgres_database)
    late = make.event(account_id, created=PAST + timedelta(hours=1))

    await pg_store.append_events(events=[late], fanout=make.fanout_to(webhook_id))
    claimed = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)

    assert [c.event_id for c in claimed] == [late.id]


async def test_the_horizon_stays_at_a_past_day_with_a_retry_pending(
    pg_store: SqlStore, postgres_database: str
) -> None:
    sent = await _past_day_claimed(pg_store, postgres_database)
    await pg_store.record_results([make.retry_later(sent, DAY, PAST)], [])

    await pg_store.beat_worker("w1", DAY)
    claimed = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)

    assert [c.delivery_id for c in claimed] == [sent.delivery_id]


async def test_an_attempts_headers_are_stored_compactly_and_read_back_exactly(
    pg_store: SqlStore, postgres_database: str
) -> None:
    account_id, _webhook_id = await _publish(pg_store, 1)
    (claimed,) = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)
    sent = {
        "Content-Type": "application/json",
        "User-Agent": "HookCast/0.1 (+webhooks)",
        "Authorization": "[redacted]",
        "webhook-id": claimed.delivery_id,
        "webhook-timestamp": str(int(DAY.timestamp())),
        "webhook-signature": "[redacted]",
        "X-Hookcast-Signature": "[redacted]",
        "X-Api-Key": "[redacted]",
    }
    result = make.succeeded(claimed, DAY)
    logged = replace(result.attempt, request_headers=sent)

    await pg_store.record_results([replace(result, attempt=logged)], [])

    record = await pg_store.get_delivery(account_id, claimed.delivery_id)
    assert record is not None
    assert list(record.attempts[0].request_headers.items()) == list(sent.items())
    conn = await asyncpg.connect(postgres_database)
    try:
        stored = await conn.fetchval("SELECT octet_length(request_headers) FROM attempts")
    finally:
        await conn.close()
    assert stored < 60  # 273 bytes as a JSON object


async def test_recording_takes_no_row_lock_but_the_updates_own(
    pg_store: SqlStore, postgres_database: str
) -> None:
    # A key-share lock (what a foreign key check takes) conflicts with a FOR UPDATE lock but
    # not with the lock of an UPDATE that changes no key: recording does not wait for it
    # only if it locks nothing more than its UPDATE does (one row lock per delivery).
    account_id, _webhook_id = await _publish(pg_store, 2)
    claimed = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)
    lock = "SELECT 1 FROM deliveries FOR KEY SHARE"
    await _record_while_locked(pg_store, postgres_database, lock, claimed)

    await _assert_succeeded(pg_store, account_id, claimed)


async def _record_while_locked(
    store: SqlStore, url: str, lock: str, claimed: Sequence[ClaimedDelivery]
) -> None:
    """Records `claimed` as delivered while another connection holds what `lock` takes:
    within 30 s, or the recording waited for it."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(lock)
            await asyncio.wait_for(
                store.record_results([make.succeeded(c, DAY) for c in claimed], []),
                timeout=30,
            )
    finally:
        await conn.close()


async def _assert_succeeded(
    store: SqlStore, account_id: str, claimed: Sequence[ClaimedDelivery]
) -> None:
    for c in claimed:
        record = await store.get_delivery(account_id, c.delivery_id)
        assert record is not None
        assert record.delivery.status is DeliveryStatus.SUCCEEDED


async def test_an_attempt_enters_one_index_which_finds_a_deliverys_attempts(
    pg_store: SqlStore, postgres_database: str
) -> None:
    account_id, _webhook_id = await _publish(pg_store, 1)
    (claimed,) = await pg_store.claim_due_deliveries(now=DAY, limit=10, lease_seconds=30)
    await pg_store.record_results([make.succeeded(claimed, DAY)], [])

    conn = await asyncpg.connect(postgres_database)
    try:
        indexes = await conn.fetch(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = CAST('attempts' AS regclass)"
        )
    finally:
        await conn.close()
    record = await pg_store.get_delivery(account_id, claimed.delivery_id)
    assert [row[0].split(" USING btree ")[1] for row in indexes] == [
        "(delivery_id, id, started_at)"
    ]
    assert record is not None
    assert len(record.attempts) == 1
