"""DeliveryQueue, the worker's port: the same lease rules in memory and in every store, so
unit tests of the worker on MemoryDeliveryQueue say what happens on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.domain.leases import MAX_LEASE_LOSSES
from hookcast.domain.models import Delivery, DeliveryStatus, Event
from hookcast.ports import Beat, ClaimedDelivery, DeliveryQueue
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


# --- held deliveries ----------------------------------------------------------------------------
#
# The port has no held operations: a worker never sees held deliveries, and "deliver held" /
# "discard held" are the Store's (tests/contract/test_store_held.py). On the store they run
# for real; the memory queue has none, so its cases put in, by `add`, the rows those two
# operations leave (pending and due at their publish time, or discarded).


@dataclass
class HeldSeed:
    """Three deliveries held for one webhook (published at +0, +1, +2 s) and one pending
    delivery of another webhook of the account (+1.5 s); `decide` is a person's choice."""

    seed: Callable[[], Awaitable[tuple[list[Event], Event]]]
    decide: Callable[[str | None], Awaitable[None]]


def _held(events: Sequence[Event], webhook_id: str) -> list[Delivery]:
    # Due times out of publish order: delivering them must order them by publish time.
    return [
        make.delivery(
            event, webhook_id, status=DeliveryStatus.HELD, next_attempt_at=make.later(9 - n)
        )
        for n, event in enumerate(events)
    ]


def _memory_held() -> tuple[DeliveryQueue, HeldSeed]:
    queue = MemoryDeliveryQueue()
    acme = make.account()
    hooks = make.webhook(acme.id), make.webhook(acme.id)
    held: list[tuple[Delivery, Event]] = []

    async def seed() -> tuple[list[Event], Event]:
        events = [make.event(acme.id, created=make.later(n)) for n in range(3)]
        held.extend(zip(_held(events, hooks[0].id), events, strict=True))
        pending = make.event(acme.id, created=make.later(1.5))
        queue.add(delivery=make.delivery(pending, hooks[1].id), event=pending, webhook=hooks[1])
        for delivery, event in held:
            queue.add(delivery=delivery, event=event, webhook=hooks[0])
        return events, pending

    async def decide(decision: str | None) -> None:
        for delivery, event in held:
            if decision == "deliver":
                made = replace(
                    delivery, status=DeliveryStatus.PENDING, next_attempt_at=delivery.created
                )
            elif decision == "discard":
                made = replace(delivery, status=DeliveryStatus.DISCARDED, completed_at=make.NOW)
            else:
                continue
            queue.add(delivery=made, event=event, webhook=hooks[0])

    return queue, HeldSeed(seed, decide)


def _store_held(store: SqlStore) -> tuple[DeliveryQueue, HeldSeed]:
    acme = make.account()
    hooks = make.webhook(acme.id), make.webhook(acme.id)

    async def seed() -> tuple[list[Event], Event]:
        await store.create_account(acme)
        for hook in hooks:
            await store.create_webhook(hook)
        events = [make.event(acme.id, created=make.later(n)) for n in range(3)]
        await store.append_events(events=events, fanout=lambda evs: _held(evs, hooks[0].id))
        pending = make.event(acme.id, created=make.later(1.5))
        await store.append_events(events=[pending], fanout=make.fanout_to(hooks[1].id))
        return events, pending

    async def decide(decision: str | None) -> None:
        if decision == "deliver":
            await store.deliver_held(account_id=acme.id, webhook_id=hooks[0].id)
        elif decision == "discard":
            await store.discard_held(account_id=acme.id, webhook_id=hooks[0].id, now=make.NOW)

    return store, HeldSeed(seed, decide)


@pytest.fixture(params=["memory", "store"])
async def held_backend(
    request: pytest.FixtureRequest, database_url: str, secret_key: bytes
) -> AsyncIterator[tuple[DeliveryQueue, HeldSeed]]:
    """As `backend`, with held deliveries."""
    if request.param == "memory":
        if database_url.startswith("postgresql"):
            pytest.skip("the memory queue runs once, beside SQLite")
        yield _memory_held()
        return
    store = await open_store(database_url, secret_key=secret_key)
    try:
        yield _store_held(store)
    finally:
        await store.close()


async def test_a_claim_leases_due_deliveries_oldest_first_until_the_lease_expires(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    events = await seed(3)

    claimed = await queue.claim_due_deliveries(now=make.later(1), limit=10, lease_seconds=LEASE)
    assert [c.event_id for c in claimed] == [e.id for e in events[:2]]  # the third is due at +2
    assert len({c.lease_token for c in claimed}) == 1
    again = await queue.claim_due_deliveries(now=make.later(2), limit=10, lease_seconds=LEASE)
    assert [c.event_id for c in again] == [events[2].id]
    assert await queue.next_due_at() == make.later(1 + LEASE)

    expired = await queue.claim_due_deliveries(
        now=make.later(1 + LEASE), limit=10, lease_seconds=LEASE
    )
    assert {c.delivery_id for c in expired} == {c.delivery_id for c in claimed}
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
    assert again.attempts == 1
    await queue.record_results([make.gave_up(again, at=retry_at)], [])
    assert await queue.next_due_at() is None


async def test_a_release_gives_held_leases_back_unattempted(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    queue, seed = backend
    await seed(2)
    one, two = await queue.claim_due_deliveries(now=make.later(1), limit=2, lease_seconds=LEASE)

    await queue.release_deliveries(
        [(one.delivery_id, one.lease_token), (two.delivery_id, "not-the-token")], make.later(5)
    )

    assert await queue.next_due_at() == make.later(5)
    (back,) = await queue.claim_due_deliveries(now=make.later(5), limit=5, lease_seconds=LEASE)
    assert (back.delivery_id, back.attempts) == (one.delivery_id, 0)


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
    assert again.delivery_id == lost.delivery_id
    await queue.record_results([make.succeeded(lost, at=make.later(6))], [])  # dropped
    await queue.record_results([make.succeeded(kept, at=make.later(6))], [])
    await queue.record_results([make.succeeded(again, at=make.later(6))], [])
    assert await queue.next_due_at() is None


async def test_a_sole_worker_starts_only_once_every_other_worker_is_silent(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """SQLite's one delivering process: a start that finds another worker's beat since
    `alive_after` changes nothing and says when that worker beat; one that finds none
    registers and takes back everything the others held."""
    queue, seed = backend
    await seed(2)
    await queue.beat_worker("first", make.later(1))
    await queue.claim_due_deliveries(
        now=make.later(1), limit=2, lease_seconds=LEASE, worker_id="first"
    )

    refused = await queue.start_sole_worker("second", make.later(2), alive_after=make.later(1))
    assert refused == make.later(1)
    assert await queue.next_due_at() == make.later(1 + LEASE)  # still leased to "first"

    started = await queue.start_sole_worker("second", make.later(4), alive_after=make.later(2))
    assert isinstance(started, Beat)
    assert (started.taken, started.registered) == (2, make.later(4))
    assert await queue.next_due_at() == make.later(4)
    # Registered: a third is refused by it, until it stops and says so.
    third = await queue.start_sole_worker("third", make.later(5), alive_after=make.later(3))
    assert third == make.later(4)
    await queue.resign_worker("second")
    third = await queue.start_sole_worker("third", make.later(5), alive_after=make.later(3))
    assert isinstance(third, Beat)


async def test_a_sole_worker_leaves_the_leases_of_a_worker_that_may_run_to_expire(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """A start after a worker stood still (its process may still run: `running`) takes
    back none of its leases: it may still be sending under them, and records what it sent;
    they are claimed again once they expire. Another worker's, gone, are taken back now."""
    queue, seed = backend
    await seed(3)
    await queue.beat_worker("stalled", make.later(2))
    stalled = await queue.claim_due_deliveries(
        now=make.later(2), limit=2, lease_seconds=LEASE, worker_id="stalled"
    )
    await queue.beat_worker("killed", make.later(2))
    await queue.claim_due_deliveries(
        now=make.later(2), limit=1, lease_seconds=LEASE, worker_id="killed"
    )

    started = await queue.start_sole_worker(
        "second", make.later(5), alive_after=make.later(3), running=lambda w: w == "stalled"
    )

    assert isinstance(started, Beat)
    assert (started.taken, started.expiring) == (1, 2)
    leases = [(c.delivery_id, c.lease_token) for c in stalled]
    assert set(await queue.still_leased(leases)) == set(leases)
    (taken,) = await queue.claim_due_deliveries(
        now=make.later(5), limit=5, lease_seconds=LEASE, worker_id="second"
    )  # the killed one's, taken back
    assert taken.delivery_id not in {c.delivery_id for c in stalled}
    assert await queue.next_due_at() == make.later(2 + LEASE)
    # Never named again: a later beat forgetting workers leaves them to expire too.
    await queue.beat_worker("stalled", make.later(6))
    await queue.resign_worker("stalled")
    await queue.beat_worker("second", make.later(7))
    assert await queue.take_back_leases(now=make.later(7), stale_before=make.later(7)) == 0
    again = await queue.claim_due_deliveries(
        now=make.later(2 + LEASE), limit=5, lease_seconds=LEASE, worker_id="second"
    )
    assert {c.delivery_id for c in again} == {c.delivery_id for c in stalled}


async def test_still_leased_names_the_leases_that_hold(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """What a worker found dead asks of its queued deliveries (worker.py `_confirm_leases`):
    a lease taken back, claimed again after it expired, or recorded no longer holds."""
    queue, seed = backend
    await seed(4)
    await queue.beat_worker("stalled", make.later(5))
    (taken,) = await queue.claim_due_deliveries(
        now=make.later(5), limit=1, lease_seconds=LEASE, worker_id="stalled"
    )
    assert await queue.take_back_leases(now=make.later(6), stale_before=make.later(6)) == 1
    (expired,) = await queue.claim_due_deliveries(now=make.later(6), limit=1, lease_seconds=LEASE)
    (recorded,) = await queue.claim_due_deliveries(now=make.later(6), limit=1, lease_seconds=LEASE)
    (held,) = await queue.claim_due_deliveries(now=make.later(6), limit=1, lease_seconds=10 * LEASE)
    await queue.record_results([make.succeeded(recorded, at=make.later(7))], [])
    again = await queue.claim_due_deliveries(
        now=make.later(6 + LEASE), limit=5, lease_seconds=LEASE
    )
    assert {c.delivery_id for c in again} == {taken.delivery_id, expired.delivery_id}
    leases = [(c.delivery_id, c.lease_token) for c in (taken, expired, recorded, held)]

    assert set(await queue.still_leased(leases)) == {(held.delivery_id, held.lease_token)}
    assert set(await queue.still_leased([(held.delivery_id, "not-the-token")])) == set()
    assert set(await queue.still_leased([])) == set()
    # Claimed again before its worker learnt it was found dead: queued under both leases.
    (retaken,) = [c for c in again if c.delivery_id == taken.delivery_id]
    both = [(taken.delivery_id, taken.lease_token), (taken.delivery_id, retaken.lease_token)]
    assert set(await queue.still_leased(both)) == {both[1]}
    assert set(await queue.still_leased(both[::-1])) == {both[1]}


async def test_a_beat_takes_back_what_workers_silent_since_its_stale_time_held(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """A worker's beat and its look for dead workers are one call (on PostgreSQL one
    statement, and a transaction for the taking back only when someone is stale)."""
    queue, seed = backend
    await seed(1)
    await queue.beat_worker("dead", make.later(1))
    (lost,) = await queue.claim_due_deliveries(
        now=make.later(1), limit=1, lease_seconds=LEASE, worker_id="dead"
    )

    assert (await queue.beat_worker("alive", make.later(2), stale_before=make.later(0))).taken == 0
    assert (await queue.beat_worker("alive", make.later(5), stale_before=make.later(3))).taken == 1

    assert await queue.next_due_at() == make.later(5)  # not at the lease's expiry, +31
    (again,) = await queue.claim_due_deliveries(
        now=make.later(5), limit=1, lease_seconds=LEASE, worker_id="alive"
    )
    assert again.delivery_id == lost.delivery_id


async def test_a_beat_that_comes_late_does_not_find_its_own_worker_dead(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """The beat's look for dead workers reads the rows as they were before it (on PostgreSQL
    one statement): a worker whose own last beat is older than the stale time is not one of
    the dead, and keeps its leases."""
    queue, seed = backend
    await seed(1)
    await queue.beat_worker("late", make.later(1))
    (held,) = await queue.claim_due_deliveries(
        now=make.later(1), limit=1, lease_seconds=LEASE, worker_id="late"
    )

    assert (await queue.beat_worker("late", make.later(5), stale_before=make.later(3))).taken == 0

    assert await queue.next_due_at() == make.later(1 + LEASE)  # still leased to "late"
    await queue.record_results([make.succeeded(held, at=make.later(6))], [])
    assert await queue.next_due_at() is None


async def test_a_beat_tells_a_worker_it_was_found_dead_since_its_last(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """A beat returns when the worker's registration began: the same while it beats in
    time, a later one once it was found dead and registered again, by its beat or by a
    claim before it (its queued deliveries' leases were taken back: liveness.py)."""
    queue, seed = backend
    await seed(1)
    first = (await queue.beat_worker("stalled", make.later(1))).registered
    assert first == make.later(1)
    assert (await queue.beat_and_read_due("stalled", make.later(2))).registered == first
    await queue.claim_due_deliveries(
        now=make.later(2), limit=1, lease_seconds=LEASE, worker_id="stalled"
    )

    taken = await queue.beat_worker("other", make.later(5), stale_before=make.later(3))
    assert taken.taken == 1
    # Registered again by a claim before its next beat (on the databases; the memory
    # queue registers on beats only).
    await queue.claim_due_deliveries(
        now=make.later(6), limit=1, lease_seconds=LEASE, worker_id="stalled"
    )
    again = await queue.beat_and_read_due("stalled", make.later(7))
    assert again.registered > first
    assert (await queue.beat_worker("stalled", make.later(8))).registered == again.registered


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


async def test_a_worker_found_dead_that_comes_back_disowns_the_losses_it_caused(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """A worker that was only stalled (worker.py `_confirm_leases`) drops its queued leases
    that were taken back and disowns each loss: found dead and back more times than
    MAX_LEASE_LOSSES, the delivery is still handed out, not failed unsent."""
    queue, seed = backend
    await seed(1)
    now = make.NOW
    for _ in range(MAX_LEASE_LOSSES + 1):
        claimed, now = await _claimed_by_a_worker_found_dead(queue, now)
        lease = (claimed.delivery_id, claimed.lease_token)
        await queue.disown_losses([lease])
        await queue.disown_losses([lease])  # once only: never below what others lost

    await _is_handed_out_and_delivered(queue, now)


async def _claimed_by_a_worker_found_dead(
    queue: DeliveryQueue, now: datetime
) -> tuple[ClaimedDelivery, datetime]:
    """The one due delivery, claimed by a worker that is then found dead a second later
    (its lease taken back, a loss counted), and that second."""
    (claimed,) = await queue.claim_due_deliveries(
        now=now, limit=1, lease_seconds=LEASE, worker_id="stalled"
    )
    now += timedelta(seconds=1)
    assert await queue.take_back_leases(now=now, stale_before=now) == 1
    return claimed, now


async def _is_handed_out_and_delivered(queue: DeliveryQueue, now: datetime) -> None:
    (claimed,) = await queue.claim_due_deliveries(now=now, limit=1, lease_seconds=LEASE)
    await queue.record_results([make.succeeded(claimed, at=now)], [])
    assert await queue.next_due_at() is None


async def test_a_delivery_dropped_under_a_lapsed_lease_and_a_newer_one_disowns_the_lapsed(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """A stalled worker may hold one delivery twice: queued under the lease taken back from
    it, and claimed again since under a new one. Dropping both disowns the loss of the one
    taken back (keyed by delivery, the newer lease hid it): found dead and back more times
    than MAX_LEASE_LOSSES, the delivery is still handed out."""
    queue, seed = backend
    await seed(1)
    now = make.NOW
    for _ in range(MAX_LEASE_LOSSES + 1):
        lapsed, now = await _claimed_by_a_worker_found_dead(queue, now)
        (newer,) = await queue.claim_due_deliveries(
            now=now, limit=1, lease_seconds=LEASE, worker_id="stalled"
        )
        leases = [(lapsed.delivery_id, lapsed.lease_token), (newer.delivery_id, newer.lease_token)]
        await queue.disown_losses(leases)
        await queue.release_deliveries([leases[1]], now)

    await _is_handed_out_and_delivered(queue, now)


async def test_only_a_losss_own_worker_disowns_it_and_only_while_it_is_the_last_loss(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """The disowning names the lease taken back: one lost by expiry, one that still holds,
    or one lost again by another worker since (that loss is the other's) keeps its count.
    So a delivery whose sending kills its worker, which never comes back, is failed after
    MAX_LEASE_LOSSES as before, whatever the workers stalled in between disown."""
    queue, seed = backend
    await seed(1)
    now = make.NOW
    (first,) = await queue.claim_due_deliveries(
        now=now, limit=1, lease_seconds=LEASE, worker_id="stalled"
    )
    now += timedelta(seconds=1)
    assert await queue.take_back_leases(now=now, stale_before=now) == 1  # 1 lost
    (second,) = await queue.claim_due_deliveries(
        now=now, limit=1, lease_seconds=LEASE, worker_id="killed"
    )
    await queue.disown_losses([(second.delivery_id, second.lease_token)])  # holds: no loss
    now += timedelta(seconds=1)
    assert await queue.take_back_leases(now=now, stale_before=now) == 1  # 2 lost
    await queue.disown_losses([(first.delivery_id, first.lease_token)])  # not the last: kept
    now += timedelta(seconds=1)
    lost = 2
    while lost < MAX_LEASE_LOSSES:  # killed while sending each time, by expiry or death
        (claimed,) = await queue.claim_due_deliveries(
            now=now, limit=1, lease_seconds=LEASE, worker_id=f"killed-{lost}"
        )
        if lost % 2:  # its lease expires (counted by the next claim): not disownable
            now += timedelta(seconds=LEASE)
            await queue.disown_losses([(claimed.delivery_id, claimed.lease_token)])
        else:  # its worker is found dead, and never comes back to disown it
            now += timedelta(seconds=1)
            assert await queue.take_back_leases(now=now, stale_before=now) == 1
        lost += 1

    assert await queue.claim_due_deliveries(now=now, limit=1, lease_seconds=LEASE) == []
    assert await queue.next_due_at() is None  # failed: lost by 5 workers


async def test_a_batch_with_a_lapsed_leases_outcome_beside_the_new_ones_records_the_new(
    backend: tuple[DeliveryQueue, Seed],
) -> None:
    """A worker found dead while a send was in flight claims that delivery again and sends
    it again: both outcomes may reach one recording. The lapsed lease's is refused, the
    new one's recorded; on PostgreSQL the batch failed whole, for good (record_batch.py)."""
    queue, seed = backend
    await seed(2)
    await queue.beat_worker("stalled", make.later(1))
    first = await queue.claim_due_deliveries(
        now=make.later(1), limit=2, lease_seconds=LEASE, worker_id="stalled"
    )
    assert await queue.take_back_leases(now=make.later(4), stale_before=make.later(4)) == 2
    again = await queue.claim_due_deliveries(
        now=make.later(4), limit=2, lease_seconds=LEASE, worker_id="stalled"
    )

    await queue.record_results([make.succeeded(c, at=make.later(5)) for c in [*first, *again]], [])

    assert await queue.next_due_at() is None
    assert await queue.claim_due_deliveries(now=make.later(99), limit=2, lease_seconds=1) == []


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
    assert claimed.attempts == MAX_LEASE_LOSSES + 1


@pytest.mark.parametrize(
    ("decision", "claimed_in_order"),
    [
        (None, ["pending"]),  # held: never claimed, however long it waits
        ("deliver", ["held 0", "held 1", "pending", "held 2"]),  # in publish order
        ("discard", ["pending"]),  # discarded: never claimed
    ],
)
async def test_held_deliveries_are_claimed_only_once_delivered_and_then_in_publish_order(
    held_backend: tuple[DeliveryQueue, HeldSeed], decision: str | None, claimed_in_order: list[str]
) -> None:
    queue, held = held_backend
    events, pending = await held.seed()
    names = {pending.id: "pending"} | {event.id: f"held {n}" for n, event in enumerate(events)}

    await held.decide(decision)

    # Every due time (+0 to +9 s) has passed; two claims of two show the order across claims.
    first = await queue.claim_due_deliveries(now=make.later(60), limit=2, lease_seconds=LEASE)
    rest = await queue.claim_due_deliveries(now=make.later(60), limit=10, lease_seconds=LEASE)
    assert [names[c.event_id] for c in [*first, *rest]] == claimed_in_order
    for claimed in [*first, *rest]:
        await queue.record_results([make.succeeded(claimed, at=make.later(61))], [])
    assert await queue.next_due_at() is None  # nothing held is waiting to become due


async def test_held_deliveries_are_neither_taken_back_nor_released_into_pending(
    held_backend: tuple[DeliveryQueue, HeldSeed],
) -> None:
    """The worker's other writes cannot turn a held delivery into a pending one either."""
    queue, held = held_backend
    await held.seed()
    (pending,) = await queue.claim_due_deliveries(
        now=make.later(60), limit=10, lease_seconds=LEASE, worker_id="gone"
    )
    await queue.release_deliveries([(pending.delivery_id, pending.lease_token)], make.later(61))
    (again,) = await queue.claim_due_deliveries(
        now=make.later(61), limit=10, lease_seconds=LEASE, worker_id="gone"
    )

    assert await queue.take_back_leases(now=make.later(62), stale_before=make.later(62)) == 1

    (last,) = await queue.claim_due_deliveries(now=make.later(62), limit=10, lease_seconds=LEASE)
    assert last.delivery_id == pending.delivery_id == again.delivery_id
