"""DeliveryQueue, the worker's port: the same lease rules in memory and in every store, so
unit tests of the worker on MemoryDeliveryQueue say what happens on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.domain.leases import MAX_LEASE_LOSSES
from hookcast.domain.models import Event
from hookcast.ports import DeliveryQueue
from hookcast.store import SqlStore, open_store
from support import factories as make

LEASE = 30.0

Seed = Callable[[int], Awaitable[list[Event]]]  # publishes n events one second apart


@pytest.fixture(params=["memory", "store"])
async def backend(
    request: pytest.FixtureRequest, database_url: str, secret_key: bytes
) -> AsyncIterator[tuple[DeliveryQueue, Seed]]:
    """Each test runs on the memory queue once (beside SQLite) and on each database's store."""
    if request.param == "memory":
        if database_url.startswith("postgresql"):
            pytest.skip("the memory queue runs once, beside SQLite")
        yield _memory()
        return
    store = await open_store(database_url, secret_key=secret_key)
    try:
        yield _in_store(store)
    finally:
        await store.close()


def _memory() -> tuple[DeliveryQueue, Seed]:
    queue = MemoryDeliveryQueue()
    acme = make.account()
    hook = make.webhook(acme.id)

    async def seed(count: int) -> list[Event]:
        events = [make.event(acme.id, created=make.later(i)) for i in range(count)]
        for event in events:
            queue.add(delivery=make.delivery(event, hook.id), event=event, webhook=hook)
        return events

    return queue, seed


def _in_store(store: SqlStore) -> tuple[DeliveryQueue, Seed]:
    async def seed(count: int) -> list[Event]:
        acme = make.account()
        await store.create_account(acme)
        hook = make.webhook(acme.id)
        await store.create_webhook(hook)
        events = [make.event(acme.id, created=make.later(i)) for i in range(count)]
        await store.append_events(events=events, fanout=make.fanout_to(hook.id))
        return events

    return store, seed


async def test_a_claim_leases_due_deliveries_oldest_first_until_the_lease_expires(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    events = await seed(3)

    claimed = await queue.claim_due_deliveries(now=make.later(1), limit=10, lease_seconds=LEASE)
    assert [c.event.id for c in claimed] == [e.id for e in events[:2]]  # the third is due at +2
    assert len({c.lease_token for c in claimed}) == 1
    again = await queue.claim_due_deliveries(now=make.later(2), limit=10, lease_seconds=LEASE)
    assert [c.event.id for c in again] == [events[2].id]
    assert await queue.next_due_at() == make.later(1 + LEASE)

    expired = await queue.claim_due_deliveries(
        now=make.later(1 + LEASE), limit=10, lease_seconds=LEASE
    )
    assert {c.delivery.id for c in expired} == {c.delivery.id for c in claimed}
    assert {c.lease_token for c in expired}.isdisjoint(c.lease_token for c in claimed)


async def test_results_apply_only_under_the_lease_still_held(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    await seed(1)
    (stale,) = await queue.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)
    (current,) = await queue.claim_due_deliveries(
        now=make.later(LEASE), limit=1, lease_seconds=LEASE
    )

    await queue.record_results([make.succeeded(stale)], [])
    assert await queue.next_due_at() == make.later(2 * LEASE)  # still leased to `current`
    await queue.record_results([make.succeeded(current, at=make.later(LEASE))], [])
    assert await queue.next_due_at() is None


async def test_a_retry_is_due_at_its_time_with_the_attempt_counted(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    await seed(1)
    (claimed,) = await queue.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)
    retry_at = make.later(300)

    await queue.record_results([make.retry_later(claimed, retry_at)], [])

    assert await queue.next_due_at() == retry_at
    (again,) = await queue.claim_due_deliveries(now=retry_at, limit=1, lease_seconds=LEASE)
    assert again.delivery.attempts == 1
    await queue.record_results([make.gave_up(again, at=retry_at)], [])
    assert await queue.next_due_at() is None


async def test_a_release_gives_held_leases_back_unattempted(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    await seed(2)
    one, two = await queue.claim_due_deliveries(now=make.later(1), limit=2, lease_seconds=LEASE)

    await queue.release_deliveries(
        [(one.delivery.id, one.lease_token), (two.delivery.id, "not-the-token")], make.later(5)
    )

    assert await queue.next_due_at() == make.later(5)
    (back,) = await queue.claim_due_deliveries(now=make.later(5), limit=5, lease_seconds=LEASE)
    assert (back.delivery.id, back.delivery.attempts) == (one.delivery.id, 0)


async def test_the_leases_of_a_worker_that_stopped_beating_are_taken_back_due_now(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    await seed(2)
    await queue.beat_worker("dead", make.later(1))
    await queue.beat_worker("alive", make.later(1))
    (lost,) = await queue.claim_due_deliveries(
        now=make.later(1), limit=1, lease_seconds=LEASE, worker_id="dead"
    )
    (kept,) = await queue.claim_due_deliveries(
        now=make.later(1), limit=1, lease_seconds=LEASE, worker_id="alive"
    )
    await queue.beat_worker("alive", make.later(4))

    # "dead" has not beaten since +1: stale before +3; "alive" beat at +4.
    assert await queue.take_back_leases(now=make.later(5), stale_before=make.later(3)) == 1

    assert await queue.next_due_at() == make.later(5)  # not at the lease's expiry, +31
    (again,) = await queue.claim_due_deliveries(
        now=make.later(5), limit=5, lease_seconds=LEASE, worker_id="alive"
    )
    assert again.delivery.id == lost.delivery.id
    await queue.record_results([make.succeeded(lost, at=make.later(6))], [])  # dropped
    await queue.record_results([make.succeeded(kept, at=make.later(6))], [])
    await queue.record_results([make.succeeded(again, at=make.later(6))], [])
    assert await queue.next_due_at() is None


async def test_a_lease_naming_no_worker_is_only_lost_when_it_expires(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    await seed(1)
    await queue.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)

    assert await queue.take_back_leases(now=make.later(5), stale_before=make.later(5)) == 0
    assert await queue.next_due_at() == make.later(LEASE)


async def test_a_delivery_lost_five_times_is_failed_instead_of_handed_out_again(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    await seed(1)
    now = make.NOW
    for loss in range(MAX_LEASE_LOSSES):
        claimed = await queue.claim_due_deliveries(
            now=now, limit=1, lease_seconds=LEASE, worker_id=f"w{loss}"
        )
        assert len(claimed) == 1
        if loss % 2:  # lost by expiry
            now += timedelta(seconds=LEASE)
        else:  # lost by its worker's death (it never beat)
            now += timedelta(seconds=1)
            assert await queue.take_back_leases(now=now, stale_before=now) == 1

    assert await queue.claim_due_deliveries(now=now, limit=1, lease_seconds=LEASE) == []
    assert await queue.next_due_at() is None  # concluded, not pending


async def test_a_lease_recorded_in_time_is_not_lost(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    await seed(1)
    now = make.NOW
    for _ in range(MAX_LEASE_LOSSES + 1):
        (claimed,) = await queue.claim_due_deliveries(now=now, limit=1, lease_seconds=LEASE)
        now += timedelta(seconds=60)
        await queue.record_results([make.retry_later(claimed, now)], [])

    (claimed,) = await queue.claim_due_deliveries(now=now, limit=1, lease_seconds=LEASE)
    assert claimed.delivery.attempts == MAX_LEASE_LOSSES + 1
