"""PostgreSQL: a worker's outcome is kept when another transaction changes its delivery
while the outcome is being recorded (a webhook disabled by another delivery's 410 pauses
deliveries that are in flight). The worker still holds the lease, so its attempt happened
and must be recorded, not dropped and the delivery left paused with no attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import asyncpg  # type: ignore[import-untyped]
import pytest

from hookcast.domain.models import Account, DeliveryStatus
from hookcast.ports import ClaimedDelivery, DeliveryResult
from hookcast.store import SqlStore
from support import factories as make
from support.publishing import account_with_webhook, waiting_on_a_lock
from support.waiting import eventually

pytestmark = pytest.mark.postgres

LEASE = 30.0


async def _lease(url: str, delivery_id: str) -> str | None:
    conn = await asyncpg.connect(url)
    try:
        token: str | None = await conn.fetchval(
            "SELECT lease_token FROM deliveries WHERE id = $1", delivery_id
        )
        return token
    finally:
        await conn.close()


async def _one_claimed(store: SqlStore) -> tuple[Account, ClaimedDelivery]:
    """An account with one webhook and one event: its delivery, claimed."""
    acme, hook = await account_with_webhook(store)
    await store.append_events(events=[make.event(acme.id)], fanout=make.fanout_to(hook.id))
    (claimed,) = await store.claim_due_deliveries(now=make.later(1), limit=1, lease_seconds=LEASE)
    return acme, claimed


async def _while_paused_by_another(url: str, delivery_id: str, record: Awaitable[None]) -> None:
    """Runs `record` while another transaction pauses the delivery and commits only once
    `record` waits for that transaction's row lock: the race, forced, not slept on."""
    pauser = await asyncpg.connect(url)
    try:
        pausing = pauser.transaction()
        await pausing.start()
        await pauser.execute("UPDATE deliveries SET status = 'paused' WHERE id = $1", delivery_id)
        recording = asyncio.ensure_future(record)
        await eventually(
            lambda: waiting_on_a_lock(url),
            message="the recording never waited for the pausing transaction",
        )
        await pausing.commit()
        await recording
    finally:
        await pauser.close()


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (lambda claimed: make.gave_up(claimed, at=make.later(2)), DeliveryStatus.FAILED),
        (
            lambda claimed: make.retry_later(claimed, make.later(60), at=make.later(2)),
            DeliveryStatus.PAUSED,
        ),
    ],
    ids=["final", "retry"],
)
async def test_an_outcome_recorded_while_its_delivery_is_paused_is_kept(
    pg_store: SqlStore, postgres_database: str, outcome: object, status: DeliveryStatus
) -> None:
    acme, claimed = await _one_claimed(pg_store)
    result: DeliveryResult = outcome(claimed)  # type: ignore[operator]

    await _while_paused_by_another(
        postgres_database, claimed.delivery_id, pg_store.record_results([result], [])
    )

    record = await pg_store.get_delivery(acme.id, claimed.delivery_id)
    assert record is not None
    assert len(record.attempts) == 1  # the request that was sent is in the log
    assert record.delivery.status is status  # a 410 is final; a retry stays paused
    assert await _lease(postgres_database, claimed.delivery_id) is None


async def test_a_lease_released_while_its_delivery_is_paused_is_released(
    pg_store: SqlStore, postgres_database: str
) -> None:
    acme, claimed = await _one_claimed(pg_store)

    await _while_paused_by_another(
        postgres_database,
        claimed.delivery_id,
        pg_store.release_deliveries([(claimed.delivery_id, claimed.lease_token)], make.later(2)),
    )

    record = await pg_store.get_delivery(acme.id, claimed.delivery_id)
    assert record is not None
    assert record.delivery.status is DeliveryStatus.PAUSED
    # Handed back: enabling the webhook makes it claimable again at once, not after a lease.
    assert await _lease(postgres_database, claimed.delivery_id) is None
