"""Deliveries: claims under lease, results, health, manual retries, recovery, listings."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from hookcast.domain.leases import MAX_LEASE_LOSSES
from hookcast.domain.models import Account, DeliveryStatus, Event, LastError, Webhook
from hookcast.ports import ClaimedDelivery, DeliveryQuery, PageRequest, WebhookHealth
from hookcast.store import SqlStore, claimed_webhooks, open_store
from hookcast.store import deliveries as delivery_sql
from hookcast.store import webhooks as webhook_sql
from support import factories as make

LEASE = 30.0


async def _setup(store: SqlStore, events: int = 1) -> tuple[Account, Webhook, list[Event]]:
    """An account with one webhook and `events` published events (one second apart)."""
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    published = [make.event(acme.id, created=make.later(i)) for i in range(events)]
    await store.append_events(events=published, fanout=make.fanout_to(hook.id))
    return acme, hook, published


async def _status(store: SqlStore, account_id: str, delivery_id: str) -> DeliveryStatus:
    record = await store.get_delivery(account_id, delivery_id)
    assert record is not None
    return record.delivery.status


async def test_claim_leases_due_deliveries_oldest_first(store: SqlStore) -> None:
    _acme, hook, events = await _setup(store, events=3)

    claimed = await store.claim_due_deliveries(now=make.later(1), limit=10, lease_seconds=LEASE)

    assert [make.carried(c) for c in claimed] == [make.as_claimed(e) for e in events[:2]]
    assert all(c.webhook == hook for c in claimed)
    assert claimed[0].webhook is claimed[1].webhook  # one object per webhook in a batch
    for c in claimed:  # the third is due at +2 s
        record = await store.get_delivery(c.account_id, c.delivery_id)
        assert record is not None
        assert record.delivery.status is DeliveryStatus.PENDING
        assert record.delivery.next_attempt_at == make.later(1 + LEASE)
    # Leased rows are not due again until the lease expires.
    again = await store.claim_due_deliveries(now=make.later(2), limit=10, lease_seconds=LEASE)
    assert [make.carried(c) for c in again] == [make.as_claimed(e) for e in events[2:]]


async def test_a_claim_whose_webhooks_cannot_be_read_leaves_its_deliveries_due(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL the claim commits before its webhooks are read (no transaction around
    # it): its leases are handed back rather than left to expire.
    _acme, _hook, events = await _setup(store)

    async def unreadable(*_args: object, **_kwargs: object) -> dict[str, Webhook]:
        raise RuntimeError("the webhooks could not be read")

    with monkeypatch.context() as patched:
        # Where a claim's webhooks are loaded, after the claim (PostgreSQL's claim reads
        # only their standing: store/claimed_webhooks.py).
        patched.setattr(claimed_webhooks, "load_webhooks", unreadable)
        with pytest.raises(RuntimeError):
            await store.claim_due_deliveries(now=make.later(1), limit=10, lease_seconds=LEASE)

    claimed = await store.claim_due_deliveries(now=make.later(1), limit=10, lease_seconds=LEASE)
    assert [make.carried(c) for c in claimed] == [make.as_claimed(e) for e in events]


async def _claim_deleting(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, gone: Webhook, *, now: datetime
) -> Sequence[ClaimedDelivery]:
    """A claim during which `gone` is deleted, as its webhooks are first loaded: committed
    before they are read on PostgreSQL (no transaction holds the claimed rows), waiting for
    the claim's write on SQLite. Its deliveries; the deletion must have gone through."""
    read = webhook_sql.load_webhooks  # what claimed_webhooks loads with
    deleting: list[asyncio.Future[bool]] = []

    async def deleted_first(tx: Any, **named: Any) -> dict[str, Webhook]:
        if not deleting:
            deleting.append(asyncio.ensure_future(store.delete_webhook(gone.account_id, gone.id)))
            if store.dialect == "postgresql":  # SQLite's waits for the claim's write to end
                await deleting[0]
        return await read(tx, **named)

    with monkeypatch.context() as patched:
        patched.setattr(claimed_webhooks, "load_webhooks", deleted_first)
        claimed = await store.claim_due_deliveries(now=now, limit=10, lease_seconds=LEASE)
    assert await deleting[0]
    return claimed


async def test_a_webhook_deleted_while_its_delivery_is_claimed_costs_the_claim_nothing(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On PostgreSQL the claim commits before its webhooks are read (no transaction around
    # it), so a deletion no longer waits for the claimed rows: it may commit in between,
    # taking the webhook and its delivery (ON DELETE CASCADE). The claim still returns the
    # other webhooks' deliveries (another account's here), not an error that left them
    # leased a lease long, each counting one lease loss.
    _acme, gone, _events = await _setup(store)
    _other, kept, others = await _setup(store)
    claimed = await _claim_deleting(store, monkeypatch, gone, now=make.later(1))

    assert [make.carried(c) for c in claimed if c.webhook.id == kept.id] == [
        make.as_claimed(e) for e in others
    ]
    assert {c.webhook.id for c in claimed} <= {gone.id, kept.id}


async def test_a_webhook_deleted_while_claimed_beside_a_lost_delivery_costs_the_claim_nothing(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As above, with a delivery lost too often in the same claim, of a third webhook: its
    # webhook's standing came back with the claim (PostgreSQL) though only `fail_lost` needs
    # the delivery. Counting the webhooks found against the claimed deliveries' then saw
    # none missing (one found, one wanted, not the same) and the claim ended in a KeyError,
    # leaving its deliveries leased a lease long.
    _lost_account, _lost_hook, _ = await _setup(store)
    now = await _lose(store, MAX_LEASE_LOSSES)
    _acme, gone, _events = await _setup(store)
    claimed = await _claim_deleting(store, monkeypatch, gone, now=now + timedelta(hours=1))

    assert {c.webhook.id for c in claimed} <= {gone.id}


async def test_claim_respects_the_limit(store: SqlStore) -> None:
    await _setup(store, events=5)
    first = await store.claim_due_deliveries(now=make.later(9), limit=2, lease_seconds=LEASE)
    rest = await store.claim_due_deliveries(now=make.later(9), limit=10, lease_seconds=LEASE)
    assert (len(first), len(rest)) == (2, 3)
    assert {c.delivery_id for c in first}.isdisjoint(c.delivery_id for c in rest)


async def test_an_expired_lease_makes_the_delivery_due_again(store: SqlStore) -> None:
    await _setup(store)
    (first,) = await store.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)
    assert await store.next_due_at() == make.later(LEASE)

    (second,) = await store.claim_due_deliveries(
        now=make.later(LEASE), limit=1, lease_seconds=LEASE
    )
    assert second.delivery_id == first.delivery_id
    assert second.lease_token != first.lease_token


async def test_a_stale_lease_records_nothing(store: SqlStore) -> None:
    acme, _, _ = await _setup(store)
    (stale,) = await store.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)
    (current,) = await store.claim_due_deliveries(
        now=make.later(LEASE), limit=1, lease_seconds=LEASE
    )

    await store.record_results([make.succeeded(stale)], [])
    record = await store.get_delivery(acme.id, stale.delivery_id)
    assert record is not None
    assert record.attempts == []
    assert record.delivery.status is DeliveryStatus.PENDING

    await store.record_results([make.succeeded(current, at=make.later(LEASE))], [])
    record = await store.get_delivery(acme.id, current.delivery_id)
    assert record is not None
    assert record.delivery.status is DeliveryStatus.SUCCEEDED
    assert len(record.attempts) == 1


async def test_results_complete_or_reschedule_and_keep_attempts(store: SqlStore) -> None:
    acme, _, _ = await _setup(store, events=2)
    done, retried = await store.claim_due_deliveries(now=make.later(1), limit=2, lease_seconds=5)
    retry_at = make.later(300)
    await store.record_results(
        [make.succeeded(done, at=make.later(2)), make.retry_later(retried, retry_at)], []
    )

    finished = await store.get_delivery(acme.id, done.delivery_id)
    assert finished is not None
    assert finished.delivery.status is DeliveryStatus.SUCCEEDED
    assert finished.delivery.completed_at == make.later(2)
    assert (finished.delivery.attempts, finished.delivery.last_status_code) == (1, 200)
    assert finished.attempts == [make.succeeded(done, at=make.later(2)).attempt]

    waiting = await store.get_delivery(acme.id, retried.delivery_id)
    assert waiting is not None
    assert waiting.delivery.status is DeliveryStatus.PENDING
    assert (waiting.delivery.attempts, waiting.delivery.last_status_code) == (1, 503)
    assert waiting.delivery.next_attempt_at == retry_at
    assert await store.next_due_at() == retry_at

    # The retry happens, and the policy gives up: attempts accumulate oldest first.
    (again,) = await store.claim_due_deliveries(now=retry_at, limit=5, lease_seconds=5)
    assert again.attempts == 1
    await store.record_results([make.gave_up(again, at=make.later(301))], [])
    failed = await store.get_delivery(acme.id, retried.delivery_id)
    assert failed is not None
    assert failed.delivery.status is DeliveryStatus.FAILED
    assert [a.number for a in failed.attempts] == [1, 2]
    assert await store.next_due_at() is None


# 300 results in HookCast's batches: the suite's, not test-lowest's (the drivers' calls are
# those of test_store_record_mixed_batch.py's 131, run on the floors).
@pytest.mark.suite_only
async def test_a_large_batch_records_its_held_results_only(store: SqlStore) -> None:
    # More results than one statement of SQLite's recording takes (128), mixed: finished,
    # retried, and under leases taken back meanwhile (those record nothing).
    acme, _, _ = await _setup(store, events=300)
    claimed = await store.claim_due_deliveries(now=make.later(300), limit=300, lease_seconds=5)
    stale = {c.delivery_id for c in claimed[::7]}
    await store.release_deliveries(
        [(id_, c.lease_token) for c in claimed if (id_ := c.delivery_id) in stale], make.later(300)
    )
    retry_at = make.later(900)
    results = [
        make.retry_later(c, retry_at) if n % 3 else make.succeeded(c, at=make.later(301))
        for n, c in enumerate(claimed)
    ]

    await store.record_results(results, [])

    for n, c in enumerate(claimed):
        record = await store.get_delivery(acme.id, c.delivery_id)
        assert record is not None
        if c.delivery_id in stale:
            assert (record.delivery.status, record.attempts) == (DeliveryStatus.PENDING, [])
            assert record.delivery.next_attempt_at == make.later(300)
        elif n % 3:
            assert record.delivery.status is DeliveryStatus.PENDING
            assert record.delivery.next_attempt_at == retry_at
            assert record.attempts == [results[n].attempt]
        else:
            assert record.delivery.status is DeliveryStatus.SUCCEEDED
            assert record.delivery.completed_at == make.later(301)
            assert record.attempts == [results[n].attempt]


async def test_release_gives_leases_back_unattempted(store: SqlStore) -> None:
    acme, _, _ = await _setup(store, events=2)
    one, two = await store.claim_due_deliveries(now=make.later(1), limit=2, lease_seconds=LEASE)

    await store.release_deliveries(
        [(one.delivery_id, one.lease_token), (two.delivery_id, "not-the-token")], make.later(5)
    )

    assert await store.next_due_at() == make.later(5)
    (back,) = await store.claim_due_deliveries(now=make.later(5), limit=5, lease_seconds=LEASE)
    assert back.delivery_id == one.delivery_id
    assert back.attempts == 0
    record = await store.get_delivery(acme.id, one.delivery_id)
    assert record is not None
    assert record.attempts == []


async def test_health_success_clears_failing_since(store: SqlStore) -> None:
    acme, hook, _ = await _setup(store)
    failing = WebhookHealth(hook.id, succeeded_at=None, failed_at=make.later(10))
    await store.record_results([], [failing])
    later_failure = WebhookHealth(hook.id, succeeded_at=None, failed_at=make.later(20))
    await store.record_results([], [later_failure])
    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert found.failing_since == make.later(10)

    await store.record_results([], [WebhookHealth(hook.id, make.later(30), None)])
    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert (found.last_success, found.failing_since) == (make.later(30), None)


async def test_health_last_success_is_kept_to_the_second(store: SqlStore) -> None:
    acme, hook, _ = await _setup(store)
    for at in (30, 30.4, 30.9):  # within a second of the last one written: not written
        await store.record_results([], [WebhookHealth(hook.id, make.later(at), None)])
    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert found.last_success == make.later(30)

    await store.record_results([], [WebhookHealth(hook.id, make.later(31.5), None)])
    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert found.last_success == make.later(31.5)


async def test_a_success_within_a_second_of_the_last_still_ends_a_failure_after_it(
    store: SqlStore,
) -> None:
    # The recording leaves out a success its standing says changes nothing (a fresh last
    # success, nothing failing, no retry announced): a failure in between changes that.
    acme, hook, _ = await _setup(store)
    await store.record_results([], [WebhookHealth(hook.id, make.later(30), None)])
    await store.record_results([], [_failure(hook.id, 30.2, retry=100)])
    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert (found.failing_since, found.next_retry_at) == (make.later(30.2), make.later(100))

    await store.record_results([], [WebhookHealth(hook.id, make.later(30.5), None)])
    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert (found.last_success, found.failing_since, found.next_retry_at) == (
        make.later(30.5),
        None,
        None,
    )


def _failure(webhook_id: str, at: float, *, retry: float | None) -> WebhookHealth:
    error = LastError(make.later(at), 401, "HTTP 401", f"refused at {at}")
    retry_at = None if retry is None else make.later(retry)
    return WebhookHealth(webhook_id, None, make.later(at), last_error=error, retry_at=retry_at)


async def test_failures_keep_the_last_error_and_the_soonest_retry(store: SqlStore) -> None:
    acme, hook, _ = await _setup(store)

    async def state() -> tuple[LastError | None, datetime | None]:
        found = await store.get_webhook(acme.id, hook.id)
        assert found is not None
        return found.last_error, found.next_retry_at

    await store.record_results([], [_failure(hook.id, 10, retry=100)])
    assert await state() == (
        LastError(make.later(10), 401, "HTTP 401", "refused at 10"),
        make.later(100),
    )
    # A later failure scheduling a later retry: the sooner retry, still ahead, is kept.
    await store.record_results([], [_failure(hook.id, 20, retry=300)])
    assert await state() == (
        LastError(make.later(20), 401, "HTTP 401", "refused at 20"),
        make.later(100),
    )
    # Once that retry is past, the newest failure's retry is the next one.
    await store.record_results([], [_failure(hook.id, 110, retry=400)])
    assert (await state())[1] == make.later(400)
    # Saving the webhook never undoes a recorded outcome.
    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    await store.update_webhook(replace(found, name="renamed"), make.later(111))
    assert (await state())[1] == make.later(400)
    # A success ends the streak: no retry is announced, the last error stays as history.
    await store.record_results([], [WebhookHealth(hook.id, make.later(120), None)])
    error, retry = await state()
    assert (error and error.at, retry) == (make.later(110), None)


async def test_health_disable_pauses_the_backlog(store: SqlStore) -> None:
    acme, hook, _events = await _setup(store, events=3)
    sent, in_flight = await store.claim_due_deliveries(
        now=make.later(1), limit=2, lease_seconds=LEASE
    )
    gone = WebhookHealth(hook.id, None, make.later(2), disable_reason="410 Gone")
    await store.record_results([make.gave_up(sent, at=make.later(2))], [gone])
    await store.settle_pauses()  # the backlog's pause, after the recording returned

    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert (found.enabled, found.disabled_reason) == (False, "410 Gone")
    assert [h.enabled for h in await store.publish_webhooks(acme.id)] == [False]
    assert await _status(store, acme.id, sent.delivery_id) is DeliveryStatus.FAILED
    # The attempt in flight when the webhook was disabled is recorded, and stays paused.
    await store.record_results([make.retry_later(in_flight, make.later(60))], [])
    record = await store.get_delivery(acme.id, in_flight.delivery_id)
    assert record is not None
    assert len(record.attempts) == 1
    assert record.delivery.status is DeliveryStatus.PAUSED
    statuses = [await _status(store, acme.id, d) for d in await _delivery_ids(store, acme, hook)]
    assert statuses.count(DeliveryStatus.PAUSED) == 2
    assert await store.next_due_at() is None


async def _delivery_ids(store: SqlStore, acme: Account, hook: Webhook) -> list[str]:
    page = await store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    return [record.delivery.id for record in page.items]


async def test_reschedule_makes_a_delivery_due_now(store: SqlStore) -> None:
    acme, hook, _ = await _setup(store)
    (claimed,) = await store.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=LEASE)
    await store.record_results([make.gave_up(claimed)], [])

    assert await store.reschedule_delivery(
        account_id=acme.id, delivery_id=claimed.delivery_id, now=make.later(50)
    )
    record = await store.get_delivery(acme.id, claimed.delivery_id)
    assert record is not None
    assert record.delivery.status is DeliveryStatus.PENDING
    assert record.delivery.completed_at is None
    assert record.delivery.next_attempt_at == make.later(50)

    other = make.account()
    await store.create_account(other)
    assert not await store.reschedule_delivery(
        account_id=other.id, delivery_id=claimed.delivery_id, now=make.NOW
    )
    assert not await store.reschedule_delivery(
        account_id=acme.id, delivery_id="dlv_missing", now=make.NOW
    )

    # A manual retry on a disabled webhook waits, paused, for it to be enabled.
    await store.update_webhook(replace(hook, enabled=False), make.later(51))
    assert await store.reschedule_delivery(
        account_id=acme.id, delivery_id=claimed.delivery_id, now=make.later(52)
    )
    assert await _status(store, acme.id, claimed.delivery_id) is DeliveryStatus.PAUSED


async def test_a_delivery_retried_without_end_is_read_with_its_newest_attempts(
    store: SqlStore,
) -> None:
    # A person may retry a delivery without end (the API's rate limit aside); its every
    # attempt was read with it, 20,000 of them 91 MB per GET. Its count stays whole.
    acme, hook, _ = await _setup(store, events=2)
    kept, retried = await store.claim_due_deliveries(
        now=make.later(1), limit=2, lease_seconds=LEASE
    )
    await store.record_results([make.gave_up(kept), make.gave_up(retried)], [])
    tries = delivery_sql.ATTEMPTS_READ + 3
    for n in range(2, tries + 1):
        assert await store.reschedule_delivery(
            account_id=acme.id, delivery_id=retried.delivery_id, now=make.later(n)
        )
        (again,) = await store.claim_due_deliveries(now=make.later(n), limit=1, lease_seconds=LEASE)
        await store.record_results([make.gave_up(again, at=make.later(n))], [])

    page = await store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    read = {record.delivery.id: record for record in page.items}
    assert read[retried.delivery_id].delivery.attempts == tries
    newest = range(tries - delivery_sql.ATTEMPTS_READ + 1, tries + 1)
    assert [a.number for a in read[retried.delivery_id].attempts] == list(newest)
    assert [a.number for a in read[kept.delivery_id].attempts] == [1]  # another's, whole
    record = await store.get_delivery(acme.id, retried.delivery_id)
    assert record is not None
    assert [a.number for a in record.attempts] == list(newest)


async def test_recover_resends_failures_since_a_time(store: SqlStore) -> None:
    acme, hook, _events = await _setup(store, events=4)
    claimed = await store.claim_due_deliveries(now=make.later(9), limit=10, lease_seconds=LEASE)
    old, new, newer, ok = claimed
    await store.record_results(
        [make.gave_up(old), make.gave_up(new), make.gave_up(newer), make.succeeded(ok)], []
    )
    other = make.account()
    await store.create_account(other)

    assert (
        await store.recover_deliveries(
            account_id=other.id, webhook_id=hook.id, since=make.NOW, now=make.later(60)
        )
        == 0
    )
    recovered = await store.recover_deliveries(
        account_id=acme.id, webhook_id=hook.id, since=make.later(1), now=make.later(60)
    )

    assert recovered == 2
    assert await _status(store, acme.id, old.delivery_id) is DeliveryStatus.FAILED
    assert await _status(store, acme.id, newer.delivery_id) is DeliveryStatus.PENDING
    assert await _status(store, acme.id, ok.delivery_id) is DeliveryStatus.SUCCEEDED
    assert await store.next_due_at() == make.later(60)


async def test_list_deliveries_newest_first_with_filters(store: SqlStore) -> None:
    acme, hook, events = await _setup(store, events=3)
    channel = make.event(acme.id, type="channel_active", created=make.later(10))
    await store.append_events(events=[channel], fanout=make.fanout_to(hook.id))
    claimed = await store.claim_due_deliveries(now=make.later(1), limit=1, lease_seconds=LEASE)
    await store.record_results([make.succeeded(claimed[0])], [])

    async def event_ids(**filters: Any) -> list[str]:
        page = await store.list_deliveries(DeliveryQuery(acme.id, hook.id, **filters))
        assert page.total == len(page.items)
        return [record.event.id for record in page.items]

    assert await event_ids() == [channel.id, events[2].id, events[1].id, events[0].id]
    assert await event_ids(status=DeliveryStatus.SUCCEEDED) == [events[0].id]
    assert await event_ids(event_type="channel_active") == [channel.id]
    assert await event_ids(event_type="media_available", status=DeliveryStatus.PENDING) == [
        events[2].id,
        events[1].id,
    ]
    page = await store.list_deliveries(DeliveryQuery(acme.id, hook.id, page=PageRequest(2, 3)))
    assert [record.event.id for record in page.items] == [events[0].id]
    assert page.total == 4
    assert page.items[0].attempts == [make.succeeded(claimed[0]).attempt]

    other = make.account()
    await store.create_account(other)
    assert (await store.list_deliveries(DeliveryQuery(other.id, hook.id))).total == 0
    assert await store.get_delivery(other.id, claimed[0].delivery_id) is None


async def test_list_deliveries_finds_by_event_id_resource_id_and_time(store: SqlStore) -> None:
    acme, hook, events = await _setup(store, events=3)
    clip = make.event(acme.id, resource_ids={"media_id": "Clip0042"}, created=make.later(10))
    live = make.event(
        acme.id,
        type="channel_active",
        resource_ids={"channel_id": "Clip0042"},
        created=make.later(20),
    )
    await store.append_events(events=[clip, live], fanout=make.fanout_to(hook.id))

    async def event_ids(**filters: Any) -> list[str]:
        page = await store.list_deliveries(DeliveryQuery(acme.id, hook.id, **filters))
        assert page.total == len(page.items)
        return [record.event.id for record in page.items]

    assert await event_ids(event_id=events[1].id) == [events[1].id]
    assert await event_ids(resource_id="Clip0042") == [live.id, clip.id]  # any id field
    assert await event_ids(resource_id="Clip0042", event_type="media_available") == [clip.id]
    assert await event_ids(resource_id="Clip004") == []  # whole ids only
    assert await event_ids(since=make.later(1), until=make.later(20)) == [
        clip.id,
        events[2].id,
        events[1].id,
    ]


async def test_concurrent_claimers_never_share_a_delivery(
    store: SqlStore, database_url: str, secret_key: bytes
) -> None:
    # Two stores (separate pools) and two claims on each, all at once. On PostgreSQL this
    # is the SKIP LOCKED race; SQLite serializes the writers.
    await _setup(store, events=200)
    other = await open_store(database_url, secret_key=secret_key)
    try:
        batches = await asyncio.gather(
            *(
                claimer.claim_due_deliveries(now=make.later(999), limit=40, lease_seconds=LEASE)
                for claimer in (store, other, store, other)
            )
        )
    finally:
        await other.close()
    claimed_ids = [c.delivery_id for batch in batches for c in batch]
    assert len(claimed_ids) == 160
    assert len(set(claimed_ids)) == len(claimed_ids)


async def _lose(store: SqlStore, times: int) -> datetime:
    """Claims the due delivery `times` times by workers that die at once: returns when."""
    now = make.NOW
    for loss in range(times):
        claimed = await store.claim_due_deliveries(
            now=now, limit=1, lease_seconds=LEASE, worker_id=f"dies-{loss}"
        )
        assert len(claimed) == 1
        now += timedelta(seconds=1)
        assert await store.take_back_leases(now=now, stale_before=now) == 1
    return now


async def test_a_delivery_lost_by_five_workers_is_failed_with_the_reason_logged(
    store: SqlStore,
) -> None:
    acme, _hook, _events = await _setup(store)
    now = await _lose(store, MAX_LEASE_LOSSES)

    assert await store.claim_due_deliveries(now=now, limit=1, lease_seconds=LEASE) == []

    (record,) = (await store.list_deliveries(_query(acme.id, _hook.id))).items
    assert record.delivery.status is DeliveryStatus.FAILED
    assert record.delivery.completed_at == now
    (attempt,) = record.attempts
    assert attempt.error is not None
    assert attempt.error.startswith(f"lost by {MAX_LEASE_LOSSES} workers;")
    assert (attempt.number, attempt.status_code) == (1, None)


async def test_a_manual_retry_forgives_the_lost_leases(store: SqlStore) -> None:
    acme, hook, _events = await _setup(store)
    now = await _lose(store, MAX_LEASE_LOSSES - 1)
    (record,) = (await store.list_deliveries(_query(acme.id, hook.id))).items

    assert await store.reschedule_delivery(
        account_id=acme.id, delivery_id=record.delivery.id, now=now
    )
    now = await _lose_from(store, now)

    assert len(await store.claim_due_deliveries(now=now, limit=1, lease_seconds=LEASE)) == 1


async def _lose_from(store: SqlStore, now: datetime) -> datetime:
    await store.claim_due_deliveries(now=now, limit=1, lease_seconds=LEASE, worker_id="dies")
    now += timedelta(seconds=1)
    assert await store.take_back_leases(now=now, stale_before=now) == 1
    return now


def _query(account_id: str, webhook_id: str) -> DeliveryQuery:
    return DeliveryQuery(account_id=account_id, webhook_id=webhook_id, page=PageRequest())


async def test_failing_lost_deliveries_passes_over_one_whose_webhook_was_deleted(
    store: SqlStore,
) -> None:
    # A claim on PostgreSQL commits before the deliveries it found lost too often are failed
    # (store/sql_store.py), so a webhook's deletion may take one of them first (cascade): its
    # attempt would refer to no delivery, and the batch's others stayed leased a lease long.
    _acme, gone, _ = await _setup(store)
    other, kept, _ = await _setup(store)
    (doomed,) = [r.delivery for r in (await store.list_deliveries(_query(_acme.id, gone.id))).items]
    (lost,) = [r.delivery for r in (await store.list_deliveries(_query(other.id, kept.id))).items]
    assert await store.delete_webhook(gone.account_id, gone.id)

    async with store._writing() as tx:
        await delivery_sql.fail_lost(
            tx, [(doomed, MAX_LEASE_LOSSES), (lost, MAX_LEASE_LOSSES)], make.NOW
        )

    (record,) = (await store.list_deliveries(_query(other.id, kept.id))).items
    assert record.delivery.status is DeliveryStatus.FAILED
    assert len(record.attempts) == 1
