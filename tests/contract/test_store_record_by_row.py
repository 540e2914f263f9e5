"""A recording reaches each delivery's row where its claim left it (`ClaimedDelivery.row`:
the ctid PostgreSQL's claim returned, the rowid SQLite's did), not through the primary key's
index. Where the row is no longer there, or the ctid or rowid names another row, the
delivery's own row is still the one recorded, found by its key, and the other row is left
alone (store/record_batch.py, store/record_sqlite.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import Account, DeliveryStatus
from hookcast.ports import ClaimedDelivery, DeliveryResult, StoredRow
from hookcast.store import SqlStore
from support import factories as make

LEASE = 30.0


async def _claimed(store: SqlStore, events: int) -> tuple[Account, list[ClaimedDelivery]]:
    """An account with one webhook and `events` events: their deliveries, claimed."""
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    published = [make.event(acme.id) for _ in range(events)]
    await store.append_events(events=published, fanout=make.fanout_to(hook.id))
    claimed = await store.claim_due_deliveries(now=make.later(1), limit=events, lease_seconds=LEASE)
    return acme, sorted(claimed, key=lambda c: c.delivery_id)


async def _row_of(database_url: str, delivery_id: str) -> StoredRow:
    """Where the delivery's row is now: its ctid (PostgreSQL) or its rowid (SQLite)."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as lite:
            query = "SELECT rowid FROM deliveries WHERE id = ?"
            rowid: int = lite.execute(query, (delivery_id,)).fetchone()[0]
        return rowid
    conn = await asyncpg.connect(database_url)
    try:
        query = "SELECT ctid::text FROM deliveries WHERE id = $1"
        ctid: str = await conn.fetchval(query, delivery_id)
    finally:
        await conn.close()
    return ctid


async def _execute(database_url: str, sql: str, *args: object) -> None:
    """`sql` with `$1`-style parameters, outside the store."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as lite:
            lite.execute(sql.replace("$1", "?"), args)
        return
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def _state(store: SqlStore, account_id: str, delivery_id: str) -> tuple[DeliveryStatus, int]:
    record = await store.get_delivery(account_id, delivery_id)
    assert record is not None
    return record.delivery.status, len(record.attempts)


async def test_a_claim_names_where_it_left_each_row(store: SqlStore, database_url: str) -> None:
    _, claimed = await _claimed(store, 3)

    for item in claimed:
        assert item.row is not None
        assert item.row == await _row_of(database_url, item.delivery_id)


async def test_a_delivery_changed_since_its_claim_is_recorded_all_the_same(
    store: SqlStore, database_url: str
) -> None:
    acme, (claimed,) = await _claimed(store, 1)
    # Another transaction changes the row (as a pause does), keeping the lease. On
    # PostgreSQL its new version is at another ctid than the one the claim returned; on
    # SQLite the rowid stays.
    await _execute(
        database_url, "UPDATE deliveries SET status = 'paused' WHERE id = $1", claimed.delivery_id
    )
    moved = claimed.row != await _row_of(database_url, claimed.delivery_id)
    assert moved == database_url.startswith("postgres")

    await store.record_results([make.succeeded(claimed, make.later(2))], [])

    assert await _state(store, acme.id, claimed.delivery_id) == (DeliveryStatus.SUCCEEDED, 1)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (lambda c: make.succeeded(c, make.later(2)), DeliveryStatus.SUCCEEDED),
        (lambda c: make.retry_later(c, make.later(60), make.later(2)), DeliveryStatus.PENDING),
    ],
    ids=["finished", "retried"],
)
async def test_a_row_naming_another_delivery_of_the_claim_records_only_its_own(
    store: SqlStore,
    outcome: Callable[[ClaimedDelivery], DeliveryResult],
    status: DeliveryStatus,
) -> None:
    # The other delivery holds the same lease (one claim): only its id tells it apart.
    acme, (mine, other) = await _claimed(store, 2)
    result = replace(outcome(mine), row=other.row)

    await store.record_results([result], [])

    assert await _state(store, acme.id, mine.delivery_id) == (status, 1)
    assert await _state(store, acme.id, other.delivery_id) == (DeliveryStatus.PENDING, 0)
    # Its lease is still held: its own result is recorded.
    await store.record_results([make.succeeded(other, make.later(3))], [])
    assert await _state(store, acme.id, other.delivery_id) == (DeliveryStatus.SUCCEEDED, 1)


async def test_a_result_whose_lease_was_lost_records_nothing_at_its_row(
    store: SqlStore,
) -> None:
    acme, (claimed,) = await _claimed(store, 1)
    (again,) = await store.claim_due_deliveries(
        now=make.later(LEASE + 2), limit=1, lease_seconds=LEASE
    )
    # The first lease expired and the delivery was claimed again: the first worker's
    # outcome, carrying the row of the first claim, is dropped.
    await store.record_results([make.succeeded(claimed, make.later(LEASE + 3))], [])

    assert await _state(store, acme.id, claimed.delivery_id) == (DeliveryStatus.PENDING, 0)
    assert again.delivery_id == claimed.delivery_id


async def test_a_rowid_reused_by_a_newer_delivery_is_left_alone(
    store: SqlStore, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's rowids: PostgreSQL's ctids are test_a_row_naming_another...")
    acme, (gone,) = await _claimed(store, 1)
    # Its webhook deleted, the delivery with it; the next delivery made takes its rowid
    # (SQLite gives a new row the largest rowid plus one), and is claimed.
    await store.delete_webhook(acme.id, gone.webhook_id)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    await store.append_events(events=[make.event(acme.id)], fanout=make.fanout_to(hook.id))
    (newer,) = await store.claim_due_deliveries(now=make.later(2), limit=1, lease_seconds=LEASE)
    assert newer.row == gone.row

    await store.record_results([make.succeeded(gone, make.later(3))], [])

    assert await _state(store, acme.id, newer.delivery_id) == (DeliveryStatus.PENDING, 0)
    assert await store.get_delivery(acme.id, gone.delivery_id) is None
    await store.record_results([make.succeeded(newer, make.later(4))], [])
    assert await _state(store, acme.id, newer.delivery_id) == (DeliveryStatus.SUCCEEDED, 1)
