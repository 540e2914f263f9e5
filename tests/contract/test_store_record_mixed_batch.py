"""A recorded batch mixing finished and retried outcomes with outcomes whose lease was
lost (it expired and another claim took the delivery) applies exactly the held ones, each
to its own delivery with its own attempt, in batches of one row, of a padded statement's
rows and of more than one statement carries (SQLite writes rows of VALUES, padded, up to 128
per statement)."""

from __future__ import annotations

import pytest

from hookcast.domain.models import DeliveryStatus
from hookcast.store import SqlStore
from support import factories as make

# Per kind: one row; a padded statement; a full statement of 128 and a short one.
COUNTS = (1, 17, 131)


@pytest.mark.parametrize("count", COUNTS)
async def test_only_the_held_outcomes_of_a_large_mixed_batch_are_applied(
    store: SqlStore, count: int
) -> None:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    # Leases lost: claimed, expired, and claimed again by another worker.
    await _publish(store, acme.id, count)
    lost = await store.claim_due_deliveries(now=make.NOW, limit=count, lease_seconds=30)
    again = await store.claim_due_deliveries(now=make.later(31), limit=count, lease_seconds=30)
    assert {c.delivery_id for c in again} == {c.delivery_id for c in lost}
    # Leases held, by the first worker.
    await _publish(store, acme.id, 2 * count)
    held = await store.claim_due_deliveries(now=make.later(31), limit=2 * count, lease_seconds=30)
    assert len(held) == 2 * count
    finished, retried = held[:count], held[count:]

    retry_at = make.later(600)
    results = [
        *(make.succeeded(c) for c in finished),
        *(make.retry_later(c, retry_at) for c in retried),
        *(make.gave_up(c) for c in lost),
    ]
    await store.record_results(results, [])

    for claimed, status in (
        *((c, DeliveryStatus.SUCCEEDED) for c in finished),
        *((c, DeliveryStatus.PENDING) for c in retried),
    ):
        found = await store.get_delivery(acme.id, claimed.delivery_id)
        assert found is not None
        assert (found.delivery.status, found.delivery.attempts) == (status, 1)
        assert [a.delivery_id for a in found.attempts] == [claimed.delivery_id]
        if status is DeliveryStatus.PENDING:
            assert found.delivery.next_attempt_at == retry_at
    for claimed in lost:
        found = await store.get_delivery(acme.id, claimed.delivery_id)
        assert found is not None
        assert (found.delivery.status, len(found.attempts)) == (DeliveryStatus.PENDING, 0)
    # The second claim still holds them: its own outcomes are applied.
    await store.record_results([make.succeeded(c, make.later(32)) for c in again], [])
    for claimed in again:
        found = await store.get_delivery(acme.id, claimed.delivery_id)
        assert found is not None
        assert (found.delivery.status, len(found.attempts)) == (DeliveryStatus.SUCCEEDED, 1)


async def _publish(store: SqlStore, account_id: str, count: int) -> None:
    hook_ids = [h.id for h in (await store.publish_webhooks(account_id))]
    events = [make.event(account_id) for _ in range(count)]
    await store.append_events(events=events, fanout=make.fanout_to(*hook_ids))
