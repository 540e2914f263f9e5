"""Ordered delivery and sequence numbers in the store (domain/ordering.py states the rules;
store/chains.py and store/sequences.py follow them), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pytest

from hookcast.domain.fanout import FanoutPlan, Subscribers
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.leases import MAX_LEASE_LOSSES
from hookcast.domain.models import Account, DeliveryStatus, Event, Ordering, Webhook
from hookcast.ports import ClaimedDelivery, DeliveryQuery, EventQuery, PageRequest, ReplayQuery
from hookcast.store import SqlStore, webhook_walk
from hookcast.store import sql_store as sql_store_module
from support import factories as make

LEASE = 30.0
ORDERED = {"ordering": Ordering.RESOURCE, "events": ("*",)}


@dataclass
class _Setup:
    account: Account
    site_id: str
    hook: Webhook


async def _setup(store: SqlStore, **webhook: object) -> _Setup:
    acme = make.account()
    await store.create_account(acme)
    site = make.site(acme.id)
    await store.create_site(site)
    hook = make.webhook(acme.id, site_ids=(site.id,), **(ORDERED | webhook))
    await store.create_webhook(hook)
    return _Setup(acme, site.id, hook)


def _media(setup: _Setup, media_id: str, type_: str = "media_updated", at: float = 0) -> Event:
    return make.event(
        setup.account.id,
        setup.site_id,
        type=type_,
        resource_ids={"media_id": media_id},
        created=make.later(at),
    )


async def _publish(store: SqlStore, setup: _Setup, events: Sequence[Event]) -> None:
    subscribers = Subscribers(await store.publish_webhooks(setup.account.id))
    now = events[0].created
    plan = FanoutPlan(subscribers, events, now=now, new_id=new_delivery_id)
    await store.append_events(events=events, fanout=plan)


async def _claim(store: SqlStore, at: float = 1) -> list[ClaimedDelivery]:
    return list(
        await store.claim_due_deliveries(now=make.later(at), limit=100, lease_seconds=LEASE)
    )


def _sent(claimed: Sequence[ClaimedDelivery]) -> list[tuple[str, int | None]]:
    return sorted((c.resource_ids["media_id"], c.sequence) for c in claimed)


async def _statuses(store: SqlStore, setup: _Setup) -> dict[int | None, DeliveryStatus]:
    """Delivery status by event sequence (one media)."""
    page = await store.list_deliveries(
        DeliveryQuery(setup.account.id, setup.hook.id, page=PageRequest(page_length=100))
    )
    return {record.event.sequence: record.delivery.status for record in page.items}


async def test_sequences_count_each_resource_without_gaps(store: SqlStore) -> None:
    setup = await _setup(store)
    first = [_media(setup, "A"), _media(setup, "B"), _media(setup, "A")]
    await _publish(store, setup, first)
    # A publisher's retry repeats an event id: it is not stored again and takes no number.
    await _publish(store, setup, [first[2], _media(setup, "A", at=1), _media(setup, "B", at=1)])

    page = await store.list_events(EventQuery(setup.account.id, PageRequest(page_length=10)))
    numbers = sorted(
        (summary.event.resource_ids["media_id"], summary.event.sequence) for summary in page.items
    )
    assert numbers == [("A", 1), ("A", 2), ("A", 3), ("B", 1), ("B", 2)]


async def test_a_retry_in_the_same_group_keeps_the_first_publish_order(store: SqlStore) -> None:
    setup = await _setup(store)
    first, second = _media(setup, "A"), _media(setup, "A")
    subscribers = Subscribers(await store.publish_webhooks(setup.account.id))

    def plan(events: list[Event]) -> FanoutPlan:
        return FanoutPlan(subscribers, events, now=make.NOW, new_id=new_delivery_id)

    # Published in the same turn of the loop, the two share a group (store/group_commit.py):
    # the retry of `first` behind them must not move it after `second`, published after it.
    await asyncio.gather(
        store.append_events(events=[first, second], fanout=plan([first, second])),
        store.append_events(events=[first], fanout=plan([first])),
    )

    page = await store.list_events(EventQuery(setup.account.id, PageRequest(page_length=10)))
    numbers = {summary.event.id: summary.event.sequence for summary in page.items}
    assert numbers == {first.id: 1, second.id: 2}


async def test_an_ordered_webhook_sends_one_delivery_per_resource_at_a_time(
    store: SqlStore,
) -> None:
    setup = await _setup(store)
    await _publish(store, setup, [_media(setup, m) for m in ("A", "A", "B", "A", "B")])

    first = await _claim(store)
    assert _sent(first) == [("A", 1), ("B", 1)]
    assert await _claim(store) == []  # the rest wait their turn
    by_media = {c.resource_ids["media_id"]: c for c in first}
    # A's head succeeds, B's is given up by its retry policy: both chains move on.
    await store.record_results(
        [make.succeeded(by_media["A"], make.later(2)), make.gave_up(by_media["B"], make.later(2))],
        [],
    )
    assert _sent(await _claim(store, at=3)) == [("A", 2), ("B", 2)]


async def test_a_later_publish_waits_behind_the_unfinished_head(store: SqlStore) -> None:
    setup = await _setup(store)
    await _publish(store, setup, [_media(setup, "A")])
    (head,) = await _claim(store)
    await _publish(store, setup, [_media(setup, "A", at=1), _media(setup, "A", at=1)])
    assert await _claim(store, at=2) == []

    # A retry keeps the head unfinished: still nothing else goes.
    await store.record_results([make.retry_later(head, make.later(3), make.later(2))], [])
    assert _sent(await _claim(store, at=4)) == [("A", 1)]


async def test_a_stale_result_does_not_move_the_chain(store: SqlStore) -> None:
    setup = await _setup(store)
    await _publish(store, setup, [_media(setup, "A"), _media(setup, "A")])
    (lost,) = await _claim(store)
    (again,) = await _claim(store, at=1 + LEASE + 1)  # the first lease expired: re-claimed
    assert again.delivery_id == lost.delivery_id

    await store.record_results([make.succeeded(lost, make.later(40))], [])  # dropped

    assert await _claim(store, at=41) == []  # sequence 2 still waits: the head is unfinished
    await store.record_results([make.succeeded(again, make.later(42))], [])
    assert _sent(await _claim(store, at=43)) == [("A", 2)]


async def test_a_head_failed_for_losing_its_workers_lets_the_next_go(store: SqlStore) -> None:
    """A delivery whose sending kills every worker is failed by the claim: its chain moves on."""
    setup = await _setup(store)
    await _publish(store, setup, [_media(setup, "A"), _media(setup, "A")])
    at = 1.0
    for _ in range(MAX_LEASE_LOSSES):  # claimed, never recorded, its lease lost each time
        (head,) = await _claim(store, at=at)
        assert head.sequence == 1
        at += LEASE + 1

    assert await _claim(store, at=at) == []  # lost once too often: failed, not handed out
    assert (await _statuses(store, setup))[1] is DeliveryStatus.FAILED
    assert _sent(await _claim(store, at=at)) == [("A", 2)]


async def test_unordered_webhooks_send_everything_at_once(store: SqlStore) -> None:
    setup = await _setup(store, ordering=Ordering.NONE)
    await _publish(store, setup, [_media(setup, "A") for _ in range(3)])
    assert _sent(await _claim(store)) == [("A", 1), ("A", 2), ("A", 3)]


async def test_held_deliveries_join_their_chains_in_publish_order(store: SqlStore) -> None:
    setup = await _setup(store, enabled=False, disabled_reason="410 Gone")
    await _publish(store, setup, [_media(setup, "A"), _media(setup, "A"), _media(setup, "B")])
    await store.update_webhook(replace(setup.hook, enabled=True), make.later(5))

    assert await store.deliver_held(account_id=setup.account.id, webhook_id=setup.hook.id) == 3

    first = await _claim(store, at=6)
    assert _sent(first) == [("A", 1), ("B", 1)]
    head = next(c for c in first if c.resource_ids["media_id"] == "A")
    await store.record_results([make.succeeded(head, make.later(7))], [])
    assert _sent(await _claim(store, at=8)) == [("A", 2)]


async def test_recovered_deliveries_rejoin_their_chain_in_sequence_order(
    store: SqlStore,
) -> None:
    setup = await _setup(store)
    await _publish(store, setup, [_media(setup, "A") for _ in range(3)])
    for at in (1, 3, 5):  # every one given up, in turn
        (head,) = await _claim(store, at=at)
        await store.record_results([make.gave_up(head, make.later(at + 1))], [])
    assert set((await _statuses(store, setup)).values()) == {DeliveryStatus.FAILED}

    recovered = await store.recover_deliveries(
        account_id=setup.account.id, webhook_id=setup.hook.id, since=make.NOW, now=make.later(10)
    )

    assert recovered == 3
    assert await _statuses(store, setup) == {
        1: DeliveryStatus.PENDING,
        2: DeliveryStatus.WAITING,
        3: DeliveryStatus.WAITING,
    }
    assert _sent(await _claim(store, at=11)) == [("A", 1)]


async def test_a_manual_retry_of_a_finished_delivery_waits_behind_the_head(
    store: SqlStore,
) -> None:
    setup = await _setup(store)
    await _publish(store, setup, [_media(setup, "A")])
    (done,) = await _claim(store)
    await store.record_results([make.succeeded(done, make.later(2))], [])
    await _publish(store, setup, [_media(setup, "A", at=3), _media(setup, "A", at=3)])
    (head,) = await _claim(store, at=4)

    for delivery_id in (done.delivery_id, head.delivery_id):
        await store.reschedule_delivery(
            account_id=setup.account.id, delivery_id=delivery_id, now=make.later(5)
        )

    # The resend of sequence 1 waits behind the head (2), then goes before 3.
    assert await _statuses(store, setup) == {
        1: DeliveryStatus.WAITING,
        2: DeliveryStatus.PENDING,
        3: DeliveryStatus.WAITING,
    }
    (head,) = await _claim(store, at=6)
    await store.record_results([make.succeeded(head, make.later(7))], [])
    assert _sent(await _claim(store, at=8)) == [("A", 1)]


async def test_turning_ordering_off_sends_what_was_waiting(store: SqlStore) -> None:
    setup = await _setup(store)
    await _publish(store, setup, [_media(setup, "A") for _ in range(3)])
    assert len(await _claim(store)) == 1

    await store.update_webhook(replace(setup.hook, ordering=Ordering.NONE), make.later(2))

    assert _sent(await _claim(store, at=3)) == [("A", 2), ("A", 3)]


async def test_a_publish_racing_the_heads_completion_never_strands_the_chain(
    store: SqlStore,
) -> None:
    """The head finishes while a publish adds to its chain: whichever commits first, the
    new delivery is either the new head or waits behind one, never waiting with no head.
    (On PostgreSQL these run in two transactions at once; SQLite's writer serializes them.)
    A race, so it is run three times: with the publish's upsert made DO NOTHING (no lock on
    an existing chain) a single run stranded a chain in 2 of 4 tries, not every time."""
    for run in range(3):
        setup = await _setup(store)
        media = [f"M{run}{i:06d}" for i in range(20)]
        await _publish(store, setup, [_media(setup, m, at=10 * run) for m in media])
        heads = await _claim(store, at=10 * run + 1)
        assert len(heads) == len(media)

        await asyncio.gather(
            *(
                store.record_results([make.succeeded(head, make.later(10 * run + 2))], [])
                for head in heads
            ),
            *(_publish(store, setup, [_media(setup, m, at=10 * run + 2)]) for m in media),
        )

        assert _sent(await _claim(store, at=10 * run + 3)) == [(m, 2) for m in media]


async def _all_given_up(store: SqlStore, setup: _Setup, count: int) -> None:
    """`count` deliveries about media A, each given up in turn: failed, no chain left."""
    await _publish(store, setup, [_media(setup, "A") for _ in range(count)])
    for at in range(1, 2 * count, 2):
        (head,) = await _claim(store, at=at)
        await store.record_results([make.gave_up(head, make.later(at + 1))], [])


async def _ordering_off(store: SqlStore, setup: _Setup, at: float, *, enable: bool = False) -> None:
    hook = replace(setup.hook, ordering=Ordering.NONE)
    if enable:
        hook = replace(hook, enabled=True, disabled_reason=None)
    await store.update_webhook(hook, make.later(at))
    setup.hook = hook


async def test_a_recovery_after_ordering_was_turned_off_sends_everything_at_once(
    store: SqlStore,
) -> None:
    """With ordering off, nothing waits in a chain: a recovered delivery of one made while
    the webhook ordered its deliveries is simply pending, as a new one would be."""
    setup = await _setup(store)
    await _all_given_up(store, setup, 3)
    await _ordering_off(store, setup, at=8)

    recovered = await store.recover_deliveries(
        account_id=setup.account.id, webhook_id=setup.hook.id, since=make.NOW, now=make.later(10)
    )

    assert recovered == 3
    assert set((await _statuses(store, setup)).values()) == {DeliveryStatus.PENDING}
    assert _sent(await _claim(store, at=11)) == [("A", 1), ("A", 2), ("A", 3)]


async def test_a_release_of_held_deliveries_after_ordering_was_turned_off_sends_them_at_once(
    store: SqlStore,
) -> None:
    setup = await _setup(store, enabled=False, disabled_reason="410 Gone")
    await _publish(store, setup, [_media(setup, "A") for _ in range(3)])
    await _ordering_off(store, setup, at=5, enable=True)

    assert await store.deliver_held(account_id=setup.account.id, webhook_id=setup.hook.id) == 3

    assert set((await _statuses(store, setup)).values()) == {DeliveryStatus.PENDING}
    assert _sent(await _claim(store, at=6)) == [("A", 1), ("A", 2), ("A", 3)]


async def test_a_manual_retry_and_a_replay_after_ordering_was_turned_off_go_at_once(
    store: SqlStore,
) -> None:
    setup = await _setup(store)
    await _all_given_up(store, setup, 3)
    await _ordering_off(store, setup, at=8)
    page = await store.list_deliveries(
        DeliveryQuery(setup.account.id, setup.hook.id, page=PageRequest(page_length=100))
    )
    first = next(r.delivery.id for r in page.items if r.event.sequence == 1)

    assert await store.reschedule_delivery(
        account_id=setup.account.id, delivery_id=first, now=make.later(9)
    )
    replay = ReplayQuery(setup.account.id, setup.hook.id, since=make.NOW)
    assert await store.replay_deliveries(replay, now=make.later(10), limit=10, dry_run=False) == 2

    assert set((await _statuses(store, setup)).values()) == {DeliveryStatus.PENDING}
    assert _sent(await _claim(store, at=11)) == [("A", 1), ("A", 2), ("A", 3)]


async def _published_with_the_clock_stepped_back(store: SqlStore, setup: _Setup) -> None:
    """Media A's sequence 1 published at +5 s, its sequence 2 at +0 s (the publisher's
    clock stepped back between them): creation order is not sequence order."""
    await _publish(store, setup, [_media(setup, "A", at=5)])
    await _publish(store, setup, [_media(setup, "A", at=0)])


async def test_a_recovery_walked_in_stretches_starts_the_chain_by_sequence(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite walks a recovery a stretch of the webhook's deliveries at a time, in creation
    order; the chain must start with its lowest sequence all the same, never with the
    delivery that happens to be walked first."""
    monkeypatch.setattr(webhook_walk, "SLICE_ROWS", 1)
    setup = await _setup(store)
    await _published_with_the_clock_stepped_back(store, setup)
    for at in (10, 12):
        (head,) = await _claim(store, at=at)
        await store.record_results([make.gave_up(head, make.later(at + 1))], [])

    recovered = await store.recover_deliveries(
        account_id=setup.account.id, webhook_id=setup.hook.id, since=make.NOW, now=make.later(20)
    )

    assert recovered == 2
    assert await _statuses(store, setup) == {1: DeliveryStatus.PENDING, 2: DeliveryStatus.WAITING}
    assert _sent(await _claim(store, at=21)) == [("A", 1)]


async def test_a_release_of_held_deliveries_in_batches_starts_the_chain_by_sequence(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_store_module, "SLICE_ROWS", 1)
    setup = await _setup(store, enabled=False, disabled_reason="410 Gone")
    await _published_with_the_clock_stepped_back(store, setup)
    await store.update_webhook(replace(setup.hook, enabled=True), make.later(8))

    assert await store.deliver_held(account_id=setup.account.id, webhook_id=setup.hook.id) == 2

    assert await _statuses(store, setup) == {1: DeliveryStatus.PENDING, 2: DeliveryStatus.WAITING}
    assert _sent(await _claim(store, at=21)) == [("A", 1)]
