"""Events: idempotent appends, fan-out in the same transaction, listing with counts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from hookcast.domain.models import Account, Delivery, DeliveryStatus, Event
from hookcast.ports import DeliveryQuery, EventQuery, PageRequest
from hookcast.store import SqlStore
from support import factories as make


async def _account(store: SqlStore) -> Account:
    created = make.account()
    await store.create_account(created)
    return created


class RecordingFanout:
    def __init__(self, *webhook_ids: str) -> None:
        self.calls: list[list[str]] = []
        self._fanout = make.fanout_to(*webhook_ids)

    def __call__(self, events: Sequence[Event]) -> Sequence[Delivery]:
        self.calls.append([event.id for event in events])
        return self._fanout(events)


async def test_append_is_idempotent_and_fans_out_only_new_events(store: SqlStore) -> None:
    acme = await _account(store)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    first, second = make.event(acme.id), make.event(acme.id)
    fanouts = [RecordingFanout(hook.id) for _ in range(3)]

    assert await store.append_events(events=[first], fanout=fanouts[0]) == [first.id]
    # Re-publishing `first` (a retrying publisher) stores and fans out `second` only.
    assert await store.append_events(events=[first, second, second], fanout=fanouts[1]) == [
        second.id
    ]
    assert await store.append_events(events=[first], fanout=fanouts[2]) == []

    # A store may fan a publish out before it knows which events are new (PostgreSQL's
    # one-statement publish, store/append_at_once.py, is refused then): the last fan-out of
    # a publish that stored events had those events only, and only its deliveries are kept.
    assert [fanout.calls[-1] for fanout in fanouts[:2]] == [[first.id], [second.id]]
    page = await store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    assert sorted(record.delivery.event_id for record in page.items) == sorted(
        [first.id, second.id]
    )


async def test_event_ids_are_per_account(store: SqlStore) -> None:
    mine, theirs = await _account(store), await _account(store)
    ours = make.event(mine.id, id="evt_shared")
    same_id = make.event(theirs.id, id="evt_shared", type="media_deleted")
    assert await store.append_events(events=[ours], fanout=make.no_fanout) == ["evt_shared"]
    assert await store.append_events(events=[same_id], fanout=make.no_fanout) == ["evt_shared"]

    listed = await store.list_events(EventQuery(account_id=theirs.id))
    assert [summary.event for summary in listed.items] == [same_id]


async def test_events_round_trip(store: SqlStore) -> None:
    acme = await _account(store)
    stored = make.event(
        acme.id,
        type="thumbnail_created",
        resource_ids={"thumbnail_id": "Thumb123", "media_id": "Media123"},
        event_time=make.later(-30),
        data={"tags": ["sports", "live"], "size": {"w": 640, "h": 360}, "ok": True},
    )
    await store.append_events(events=[stored], fanout=make.no_fanout)
    (summary,) = (await store.list_events(EventQuery(account_id=acme.id))).items
    assert summary.event == stored
    assert list(summary.event.resource_ids) == ["thumbnail_id", "media_id"]  # order kept


async def test_a_failing_fanout_stores_nothing(store: SqlStore) -> None:
    acme = await _account(store)

    def broken(events: Sequence[Event]) -> Sequence[Delivery]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.append_events(events=[make.event(acme.id)], fanout=broken)
    assert (await store.list_events(EventQuery(account_id=acme.id))).total == 0


async def test_deliveries_for_deleted_webhooks_are_skipped(store: SqlStore) -> None:
    acme = await _account(store)
    kept, deleted = make.webhook(acme.id), make.webhook(acme.id)
    for hook in (kept, deleted):
        await store.create_webhook(hook)
    await store.delete_webhook(acme.id, deleted.id)  # after fan-out read it, say

    event = make.event(acme.id)
    assert await store.append_events(
        events=[event], fanout=make.fanout_to(kept.id, deleted.id)
    ) == [event.id]
    (summary,) = (await store.list_events(EventQuery(account_id=acme.id))).items
    assert summary.deliveries[DeliveryStatus.PENDING] == 1


async def test_list_events_newest_first_with_filters(store: SqlStore) -> None:
    acme = await _account(store)
    media = make.event(acme.id, site_id="SiteAAAA", created=make.later(1))
    channel = make.event(
        acme.id,
        site_id="SiteBBBB",
        type="channel_active",
        resource_ids={"channel_id": "Chan1234"},
        created=make.later(2),
    )
    thumb = make.event(
        acme.id,
        site_id="SiteAAAA",
        type="thumbnail_created",
        resource_ids={"thumbnail_id": "media_id", "media_id": "MNYaMSQl"},
        created=make.later(3),
    )
    await store.append_events(events=[media, channel, thumb], fanout=make.no_fanout)

    async def ids(
        *, type: str | None = None, site_id: str | None = None, resource_id: str | None = None
    ) -> list[str]:
        query = EventQuery(acme.id, type=type, site_id=site_id, resource_id=resource_id)
        listed = await store.list_events(query)
        assert listed.total == len(listed.items)
        return [summary.event.id for summary in listed.items]

    assert await ids() == [thumb.id, channel.id, media.id]
    assert await ids(type="channel_active") == [channel.id]
    assert await ids(site_id="SiteAAAA") == [thumb.id, media.id]
    assert await ids(resource_id="MNYaMSQl") == [thumb.id, media.id]
    assert await ids(resource_id="media_id") == [thumb.id]  # values only, never keys
    assert await ids(resource_id="mnyamsql") == []  # exact, case-sensitive
    assert await ids(resource_id="MNYa") == []

    second = await store.list_events(EventQuery(acme.id, page=PageRequest(2, 2)))
    assert [s.event.id for s in second.items] == [media.id]
    assert second.total == 3


async def test_list_events_counts_deliveries_per_status(store: SqlStore) -> None:
    acme = await _account(store)
    hooks = [make.webhook(acme.id) for _ in range(3)]
    for hook in hooks:
        await store.create_webhook(hook)
    busy, quiet = make.event(acme.id, created=make.later(1)), make.event(acme.id)
    await store.append_events(events=[busy], fanout=make.fanout_to(*(hook.id for hook in hooks)))
    await store.append_events(events=[quiet], fanout=make.no_fanout)
    claimed = await store.claim_due_deliveries(now=make.later(1), limit=2, lease_seconds=30)
    await store.record_results([make.succeeded(claimed[0]), make.gave_up(claimed[1])], [])

    summaries = (await store.list_events(EventQuery(account_id=acme.id))).items
    assert [dict(s.deliveries) for s in summaries] == [
        dict.fromkeys(DeliveryStatus, 0)
        | {DeliveryStatus.PENDING: 1, DeliveryStatus.SUCCEEDED: 1, DeliveryStatus.FAILED: 1},
        dict.fromkeys(DeliveryStatus, 0),
    ]


class BrokenFanout:
    """A fan-out that fails for events of one id, as a bug or a refused value would."""

    def __init__(self, bad_event_id: str, *webhook_ids: str) -> None:
        self._bad = bad_event_id
        self._fanout = make.fanout_to(*webhook_ids)

    def __call__(self, events: Sequence[Event]) -> Sequence[Delivery]:
        if any(event.id == self._bad for event in events):
            raise ValueError("this fan-out cannot take that event")
        return self._fanout(events)


async def test_concurrent_appends_are_stored_once_each_even_when_one_fails(
    store: SqlStore,
) -> None:
    """Appends that arrive together share a transaction (group commit): one that fails
    must not take the others down with it, and a repeated id is still stored once."""
    acme = await _account(store)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    good, bad, again = make.event(acme.id), make.event(acme.id), make.event(acme.id)
    fanout = BrokenFanout(bad.id, hook.id)

    results = await asyncio.gather(
        store.append_events(events=[good], fanout=fanout),
        store.append_events(events=[bad], fanout=fanout),
        store.append_events(events=[again], fanout=fanout),
        store.append_events(events=[again], fanout=fanout),
        return_exceptions=True,
    )

    assert results[0] == [good.id]
    assert isinstance(results[1], ValueError)
    stored = [result for result in results[2:] if not isinstance(result, BaseException)]
    assert sorted(stored, key=len) == [[], [again.id]]  # stored by one of the two
    listed = await store.list_events(EventQuery(account_id=acme.id))
    assert {summary.event.id for summary in listed.items} == {good.id, again.id}
    assert (await store.list_deliveries(DeliveryQuery(acme.id, hook.id))).total == 2


async def test_a_claimed_event_keeps_the_traceparent_it_was_published_with(
    store: SqlStore,
) -> None:
    # Attempts, in any worker and however much later, continue the publisher's trace.
    acme = await _account(store)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    traced = make.event(
        acme.id, traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    )
    untraced = make.event(acme.id)
    await store.append_events(events=[traced, untraced], fanout=make.fanout_to(hook.id))

    claimed = await store.claim_due_deliveries(now=make.later(1), limit=10, lease_seconds=30)

    assert {c.event_id: c.traceparent for c in claimed} == {
        traced.id: traced.traceparent,
        untraced.id: None,
    }
