"""PostgreSQL: a recording reaches each delivery's row where its claim left it (the ctid the
claim returned, `ClaimedDelivery.row`), not through a probe of the primary key. Where the
row is no longer there, or the ctid names another row, the delivery's own row is still the
one recorded, found by its key (store/record_batch.py)."""

from __future__ import annotations

from dataclasses import replace

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import Account, DeliveryStatus
from hookcast.ports import ClaimedDelivery
from hookcast.store import SqlStore
from support import factories as make

pytestmark = pytest.mark.postgres

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
    return acme, list(claimed)


async def _ctid(url: str, delivery_id: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        found: str = await conn.fetchval(
            "SELECT ctid::text FROM deliveries WHERE id = $1", delivery_id
        )
        return found
    finally:
        await conn.close()


async def _execute(url: str, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_a_claim_names_where_it_left_each_row(
    pg_store: SqlStore, postgres_database: str
) -> None:
    _, claimed = await _claimed(pg_store, 3)

    for item in claimed:
        assert item.row == await _ctid(postgres_database, item.delivery.id)


async def test_a_delivery_changed_since_its_claim_is_recorded_all_the_same(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, (claimed,) = await _claimed(pg_store, 1)
    # Another transaction changes the row (as a pause does), keeping the lease: its new
    # version is at another ctid than the one the claim returned.
    await _execute(
        postgres_database,
        "UPDATE deliveries SET status = 'paused' WHERE id = $1",
        claimed.delivery.id,
    )
    assert claimed.row != await _ctid(postgres_database, claimed.delivery.id)

    await pg_store.record_results([make.succeeded(claimed, make.later(2))], [])

    record = await pg_store.get_delivery(acme.id, claimed.delivery.id)
    assert record is not None
    assert (record.delivery.status, len(record.attempts)) == (DeliveryStatus.SUCCEEDED, 1)


async def test_a_ctid_naming_another_delivery_records_only_its_own(
    pg_store: SqlStore,
) -> None:
    acme, (mine, other) = await _claimed(pg_store, 2)
    result = replace(make.succeeded(mine, make.later(2)), row=other.row)

    await pg_store.record_results([result], [])

    recorded = await pg_store.get_delivery(acme.id, mine.delivery.id)
    untouched = await pg_store.get_delivery(acme.id, other.delivery.id)
    assert recorded is not None
    assert untouched is not None
    assert (recorded.delivery.status, len(recorded.attempts)) == (DeliveryStatus.SUCCEEDED, 1)
    assert (untouched.delivery.status, len(untouched.attempts)) == (DeliveryStatus.PENDING, 0)


async def test_a_result_whose_lease_was_lost_records_nothing_at_its_ctid(
    pg_store: SqlStore,
) -> None:
    acme, (claimed,) = await _claimed(pg_store, 1)
    (again,) = await pg_store.claim_due_deliveries(
        now=make.later(LEASE + 2), limit=1, lease_seconds=LEASE
    )
    # The first lease expired and the delivery was claimed again: the first worker's
    # outcome, carrying the ctid of the first claim, is dropped.
    await pg_store.record_results([make.succeeded(claimed, make.later(LEASE + 3))], [])

    record = await pg_store.get_delivery(acme.id, claimed.delivery.id)
    assert record is not None
    assert (record.delivery.status, len(record.attempts)) == (DeliveryStatus.PENDING, 0)
    assert again.delivery.id == claimed.delivery.id
