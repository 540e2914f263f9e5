"""Latest wins, time-to-live and replay in the store (domain/freshness.py states the rules;
store/coalesce.py and store/replay.py follow them), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from test_store_ordering import _claim, _media, _publish, _sent, _Setup, _setup, _statuses

from hookcast.domain.models import DeliveryStatus, Ordering
from hookcast.ports import ClaimedDelivery, DeliveryQuery, PageRequest, ReplayQuery
from hookcast.store import SqlStore
from support import factories as make

COALESCING = {"ordering": Ordering.NONE, "coalesce": True}
ORDERED_COALESCING = {"ordering": Ordering.RESOURCE, "coalesce": True}
S, U = DeliveryStatus.SUPERSEDED, DeliveryStatus.SUCCEEDED


def _types(claimed: Sequence[ClaimedDelivery]) -> list[tuple[str, str, int | None]]:
    return sorted((c.resource_ids["media_id"], c.type, c.sequence) for c in claimed)


async def test_a_newer_update_supersedes_the_older_unsent_ones(store: SqlStore) -> None:
    setup = await _setup(store, **COALESCING)
    for at in range(3):  # three publishes while nothing was claimed (the endpoint was down)
        await _publish(store, setup, [_media(setup, "A", at=at), _media(setup, "B", at=at)])
    await _publish(store, setup, [_media(setup, "A", "media_available", at=3)])

    claimed = await _claim(store, at=4)

    # The newest update of each media, and what is not an update.
    assert _types(claimed) == [
        ("A", "media_available", 4),
        ("A", "media_updated", 3),
        ("B", "media_updated", 3),
    ]
    page = await store.list_deliveries(
        DeliveryQuery(setup.account.id, setup.hook.id, page=PageRequest(page_length=100))
    )
    by_status = sorted(r.delivery.status for r in page.items)
    assert by_status.count(S) == 4  # A 1-2, B 1-2: kept in the log


async def test_within_one_publish_only_the_newest_update_goes(store: SqlStore) -> None:
    setup = await _setup(store, **COALESCING)
    await _publish(store, setup, [_media(setup, "A") for _ in range(3)])

    assert _sent(await _claim(store)) == [("A", 3)]
    assert await _statuses(store, setup) == {1: S, 2: S, 3: DeliveryStatus.PENDING}


async def test_an_update_in_flight_goes_but_gives_way_instead_of_a_retry(store: SqlStore) -> None:
    setup = await _setup(store, **COALESCING)
    await _publish(store, setup, [_media(setup, "A")])
    (first,) = await _claim(store)
    await _publish(store, setup, [_media(setup, "A", at=1)])  # while the first is being sent

    assert await _statuses(store, setup) == {1: DeliveryStatus.PENDING, 2: DeliveryStatus.PENDING}
    # The first fails and would be retried: the newer one exists, so it is superseded.
    await store.record_results([make.retry_later(first, make.later(60), make.later(2))], [])
    assert await _statuses(store, setup) == {1: S, 2: DeliveryStatus.PENDING}
    assert _sent(await _claim(store, at=3)) == [("A", 2)]


async def test_without_coalesce_every_update_goes(store: SqlStore) -> None:
    setup = await _setup(store, ordering=Ordering.NONE)
    for at in range(3):
        await _publish(store, setup, [_media(setup, "A", at=at)])

    assert _sent(await _claim(store, at=4)) == [("A", 1), ("A", 2), ("A", 3)]


async def test_an_ordered_chain_moves_past_superseded_updates(store: SqlStore) -> None:
    setup = await _setup(store, **ORDERED_COALESCING)
    await _publish(store, setup, [_media(setup, "A", "media_created")])
    (created,) = await _claim(store)
    for at in (1, 2, 3):  # wait behind the head; each supersedes the one before
        await _publish(store, setup, [_media(setup, "A", at=at)])
    assert await _statuses(store, setup) == {
        1: DeliveryStatus.PENDING,
        2: S,
        3: S,
        4: DeliveryStatus.WAITING,
    }

    await store.record_results([make.succeeded(created, make.later(4))], [])

    assert _sent(await _claim(store, at=5)) == [("A", 4)]


async def test_a_superseded_head_hands_the_chain_to_the_newer_update(store: SqlStore) -> None:
    setup = await _setup(store, **ORDERED_COALESCING)
    await _publish(store, setup, [_media(setup, "A")])  # the head, not claimed yet
    await _publish(store, setup, [_media(setup, "A", at=1)])

    assert await _statuses(store, setup) == {1: S, 2: DeliveryStatus.PENDING}
    assert _sent(await _claim(store, at=2)) == [("A", 2)]


async def test_an_expired_head_releases_the_next_in_its_chain(store: SqlStore) -> None:
    setup = await _setup(store, ordering=Ordering.RESOURCE)
    await _publish(store, setup, [_media(setup, "A"), _media(setup, "A")])
    (head,) = await _claim(store)
    expired = replace(make.succeeded(head, make.later(2)), status=DeliveryStatus.EXPIRED)

    await store.record_results([expired], [])

    assert await _statuses(store, setup) == {1: DeliveryStatus.EXPIRED, 2: DeliveryStatus.PENDING}
    assert _sent(await _claim(store, at=3)) == [("A", 2)]


def _replay(setup: _Setup, **filters: Any) -> ReplayQuery:
    return ReplayQuery(setup.account.id, setup.hook.id, **({"since": make.later(0)} | filters))


async def _finish_all(store: SqlStore, at: float) -> None:
    for claimed in await _claim(store, at=at):
        await store.record_results([make.succeeded(claimed, make.later(at + 0.5))], [])


async def test_a_replay_counts_then_resends_finished_deliveries_in_range(store: SqlStore) -> None:
    setup = await _setup(store, ordering=Ordering.NONE)
    await _publish(store, setup, [_media(setup, "A"), _media(setup, "B", "media_created")])
    await _publish(store, setup, [_media(setup, "A", at=10)])
    await _finish_all(store, at=20)
    await _publish(store, setup, [_media(setup, "A", at=30)])  # pending: not replayed
    now = make.later(40)

    filtered: dict[str, dict[str, Any]] = {
        "all": {},
        "until 10": {"until": make.later(10)},
        "media A": {"resource_id": "A"},
        "created": {"event_types": ("media_created",)},
    }
    counts = {
        name: await store.replay_deliveries(
            _replay(setup, **filters), now=now, limit=100, dry_run=True
        )
        for name, filters in filtered.items()
    }
    assert counts == {"all": 3, "until 10": 2, "media A": 2, "created": 1}
    # A dry run changed nothing: only the pending one is due.
    (pending,) = await _claim(store, at=41)
    assert pending.sequence == 3
    await store.record_results([make.succeeded(pending, make.later(42))], [])

    assert await store.replay_deliveries(_replay(setup), now=now, limit=3, dry_run=False) == 4
    assert await _claim(store, at=50) == []  # over the limit: nothing was queued
    assert await store.replay_deliveries(_replay(setup), now=now, limit=4, dry_run=False) == 4
    assert _types(await _claim(store, at=50)) == [
        ("A", "media_updated", 1),
        ("A", "media_updated", 2),
        ("A", "media_updated", 3),
        ("B", "media_created", 1),
    ]


async def test_a_replay_to_an_ordered_webhook_goes_in_sequence_order(store: SqlStore) -> None:
    setup = await _setup(store, ordering=Ordering.RESOURCE)
    await _publish(store, setup, [_media(setup, "A") for _ in range(3)])
    for at in (1, 2, 3):
        await _finish_all(store, at=at)
    assert set((await _statuses(store, setup)).values()) == {U}

    replayed = await store.replay_deliveries(
        _replay(setup), now=make.later(10), limit=10, dry_run=False
    )

    assert replayed == 3
    sent = []
    for at in (11, 12, 13):
        (one,) = await _claim(store, at=at)
        sent.append(one.sequence)
        await store.record_results([make.succeeded(one, make.later(at + 0.5))], [])
    assert sent == [1, 2, 3]
