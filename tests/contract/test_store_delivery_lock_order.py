"""PostgreSQL: writers of a webhook's deliveries and chains racing each other: a manual
retry, a release of held deliveries, a replay, ordering turned off, retention dropping a
day, against a worker's recording, the webhook's deletion or another retention pass.

Every writer takes the webhook's row before its deliveries and chains, and a chain's row
before the delivery it hands on to (docs/delivery.md, "Lock order (PostgreSQL)"). These
took them the other way: the retry updated the delivery, then the failing webhook's next
retry (store/webhooks.py `retried_now`); the release updated the held deliveries and their
chains, then cleared the webhook's mark of a told run (store/held.py); the replay started
a chain, whose insert share-locks the webhook, after the deliveries; turning ordering off
made the waiting deliveries due before deleting their chains. Each waited on a row the
other held, and PostgreSQL rolled one back after `deadlock_timeout`. Retention closed no
cycle but dropped a day a replay had made a delivery of unfinished after its check. The
races are forced at a gate (support/lock_race.py), not slept on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hookcast.domain.fanout import FanoutPlan, Subscribers
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import DeliveryStatus, Ordering, Webhook
from hookcast.ports import (
    ClaimedDelivery,
    DeliveryQuery,
    PageRequest,
    Pruned,
    ReplayQuery,
    WebhookHealth,
)
from hookcast.store import SqlStore
from support import factories as make
from support.lock_race import race

pytestmark = pytest.mark.postgres


async def test_a_manual_retry_of_a_delivery_in_flight_and_its_recording_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # A failing webhook's delivery is in flight; a person retries it now while its worker
    # records the attempt. The retry locked the delivery (clearing the lease), then wanted
    # the webhook's row to move its next retry; the recording held that row (its standing)
    # and wanted the delivery's.
    acme = make.account()
    await pg_store.create_account(acme)
    hook = make.webhook(acme.id)
    await pg_store.create_webhook(hook)
    await pg_store.record_results([], [make.failing(hook.id, at=5)])
    await pg_store.append_events(events=[make.event(acme.id)], fanout=make.fanout_to(hook.id))
    (claimed,) = await pg_store.claim_due_deliveries(now=make.later(1), limit=1, lease_seconds=30)
    attempt = make.retry_later(claimed, make.later(600), at=make.later(20))
    # The retry waits at the gate once it has locked what it locks before the webhook's
    # row; the recording, once its pass holds that row, waits at the gate or on the retry.
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="webhooks",
        first=lambda store: store.reschedule_delivery(
            account_id=acme.id, delivery_id=claimed.delivery_id, now=make.later(30)
        ),
        second=lambda store: store.record_results([attempt], [make.failing(hook.id, at=20)]),
    )

    assert not cycle, "the manual retry and the recording waited on each other"
    assert outcomes == [True, None]
    record = await pg_store.get_delivery(acme.id, claimed.delivery_id)
    assert record is not None
    assert record.delivery.status is DeliveryStatus.PENDING
    assert record.delivery.attempts == 1  # the attempt in flight was recorded
    assert record.delivery.next_attempt_at == make.later(30)  # and the retry came after it


_ORDERED = {"ordering": Ordering.RESOURCE, "events": ("*",)}


async def _held_behind_a_head_in_flight(store: SqlStore) -> tuple[Webhook, ClaimedDelivery]:
    """An ordered webhook whose chain's head is in flight, paused and resumed meanwhile, with
    a delivery of the same media held (its run told: the webhook's mark set) while it was
    paused. Returns the webhook and the head's claim."""
    acme = make.account()
    await store.create_account(acme)
    site = make.site(acme.id)
    await store.create_site(site)
    hook = make.webhook(acme.id, site_ids=(site.id,), **_ORDERED)
    await store.create_webhook(hook)
    for at in (0, 2):
        event = make.event(
            acme.id,
            site.id,
            type="media_updated",
            resource_ids={"media_id": "A"},
            created=make.later(at),
        )
        subscribers = Subscribers(await store.publish_webhooks(acme.id))
        plan = FanoutPlan(subscribers, [event], now=event.created, new_id=new_delivery_id)
        await store.append_events(events=[event], fanout=plan)
        if at == 0:
            (claimed,) = await store.claim_due_deliveries(
                now=make.later(1), limit=1, lease_seconds=30
            )
            paused = replace(hook, enabled=False, disabled_reason="paused")
            await store.update_webhook(paused, make.later(1))
    await store.update_webhook(replace(hook, last_modified=make.later(3)), make.later(3))
    stored = await store.get_webhook(acme.id, hook.id)
    assert stored is not None
    assert stored.enabled
    assert await _statuses(store, hook) == {1: DeliveryStatus.PENDING, 2: DeliveryStatus.HELD}
    return hook, claimed


async def _statuses(store: SqlStore, hook: Webhook) -> dict[int | None, DeliveryStatus]:
    page = await store.list_deliveries(
        DeliveryQuery(hook.account_id, hook.id, page=PageRequest(page_length=10))
    )
    return {record.event.sequence: record.delivery.status for record in page.items}


async def test_a_release_of_held_deliveries_and_a_recording_of_their_chains_head_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # The release makes the held delivery wait in its media's chain (the chain's row
    # locked), then clears the webhook's mark of the told run (its row); the recording of
    # the chain's head holds the webhook's row (its standing) and wants the chain's, to
    # hand it to the next delivery.
    hook, claimed = await _held_behind_a_head_in_flight(pg_store)
    success = make.succeeded(claimed, at=make.later(20))
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="webhooks",
        first=lambda store: store.deliver_held(account_id=hook.account_id, webhook_id=hook.id),
        second=lambda store: store.record_results(
            [success], [WebhookHealth(hook.id, make.later(20), None)]
        ),
    )

    assert not cycle, "the release and the recording waited on each other"
    assert outcomes == [1, None]
    # The head succeeded and handed the chain to the released delivery: nothing is stuck.
    assert await _statuses(pg_store, hook) == {
        1: DeliveryStatus.SUCCEEDED,
        2: DeliveryStatus.PENDING,
    }


async def test_a_release_of_held_deliveries_and_a_delete_of_their_webhook_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # The release holds the held delivery's row and waits at the gate before its chain's;
    # the delete locks the webhook's row and cascades to its deliveries, waiting for that
    # one; the release then wants the webhook's row to clear its mark.
    hook, _ = await _held_behind_a_head_in_flight(pg_store)
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="delivery_chains",
        first=lambda store: store.deliver_held(account_id=hook.account_id, webhook_id=hook.id),
        second=lambda store: store.delete_webhook(hook.account_id, hook.id),
    )

    assert not cycle, "the release and the delete waited on each other"
    assert outcomes == [1, True]
    assert await pg_store.get_webhook(hook.account_id, hook.id) is None


async def _a_media_event_delivered(
    store: SqlStore, *, at: datetime
) -> tuple[Webhook, ClaimedDelivery]:
    """An ordered webhook's delivery of one media's event made at `at`, claimed and
    succeeded: a finished delivery a replay makes wait again."""
    acme = make.account()
    await store.create_account(acme)
    site = make.site(acme.id)
    await store.create_site(site)
    hook = make.webhook(acme.id, site_ids=(site.id,), **_ORDERED)
    await store.create_webhook(hook)
    event = make.event(
        acme.id, site.id, type="media_updated", resource_ids={"media_id": "A"}, created=at
    )
    plan = FanoutPlan(
        Subscribers(await store.publish_webhooks(acme.id)), [event], now=at, new_id=new_delivery_id
    )
    await store.append_events(events=[event], fanout=plan)
    (claimed,) = await store.claim_due_deliveries(
        now=at + timedelta(seconds=1), limit=1, lease_seconds=30
    )
    await store.record_results([make.succeeded(claimed, at + timedelta(seconds=2))], [])
    return hook, claimed


# A day the migration made ahead of today: the delivery below is created in it.
_TOMORROW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(1)


async def test_a_replay_and_retention_dropping_its_day_lose_no_delivery(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # Retention drops a day's partition once it holds no unfinished delivery; a replay of
    # that day makes its finished deliveries unfinished again. Retention checked the day,
    # then waited for the replay (DROP TABLE's lock) and dropped it once the replay
    # committed: the replayed delivery gone, and its media's chain left headed by it, so
    # every later delivery about the media waited behind it for ever.
    hook, claimed = await _a_media_event_delivered(pg_store, at=_TOMORROW)
    acme_id = hook.account_id
    replayed = ReplayQuery(acme_id, hook.id, since=_TOMORROW - timedelta(hours=1))
    # The coming days' partitions made and the days before the delivery's dropped now (a
    # pass that deletes nothing): the raced pass attaches none and drops no other day, each
    # of which would wait on the replay before the check of the delivery's day.
    await pg_store.prune_before(_TOMORROW, limit=10)
    # The replay waits at the gate once it has made the delivery waiting again, before it
    # starts the media's chain; retention checks the day, then waits on the replay.
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="delivery_chains",
        first=lambda store: store.replay_deliveries(
            replayed, now=_TOMORROW + timedelta(hours=30), limit=10, dry_run=False
        ),
        second=lambda store: store.prune_before(_TOMORROW + timedelta(days=1), limit=10),
    )

    assert not cycle, "the replay and retention waited on each other"
    assert outcomes[0] == 1
    assert outcomes[1] == Pruned(deliveries=0, events=0)  # the day kept, nothing deleted
    record = await pg_store.get_delivery(acme_id, claimed.delivery_id)
    assert record is not None, "the replayed delivery was dropped with its day"
    assert record.delivery.status is DeliveryStatus.PENDING


async def test_a_replay_of_an_ordered_webhook_and_its_delete_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # The replay makes a finished delivery wait again and then starts its media's chain,
    # whose insert share-locks the webhook's row (its foreign key); the delete holds that
    # row FOR UPDATE and cascades to the webhook's deliveries, the replayed one among them.
    hook, _ = await _a_media_event_delivered(pg_store, at=make.NOW)
    acme_id = hook.account_id
    replayed = ReplayQuery(acme_id, hook.id, since=make.later(-60))
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="delivery_chains",
        first=lambda store: store.replay_deliveries(
            replayed, now=make.later(30), limit=10, dry_run=False
        ),
        second=lambda store: store.delete_webhook(acme_id, hook.id),
    )

    assert not cycle, "the replay and the delete waited on each other"
    assert outcomes == [1, True]
    assert await pg_store.get_webhook(acme_id, hook.id) is None


async def test_ordering_turned_off_and_a_recording_of_a_chains_head_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # Ordering turned off makes the webhook's waiting deliveries due, then deletes its
    # chains; a recording concluding a chain's head unsent (expired: no health of the
    # webhook's, so its pass holds no webhook row) locks the chain, then hands it to the
    # next waiting delivery, which the edit held.
    acme = make.account()
    await pg_store.create_account(acme)
    site = make.site(acme.id)
    await pg_store.create_site(site)
    hook = make.webhook(acme.id, site_ids=(site.id,), **_ORDERED)
    await pg_store.create_webhook(hook)
    events = [
        make.event(
            acme.id,
            site.id,
            type="media_updated",
            resource_ids={"media_id": "A"},
            created=make.later(at),
        )
        for at in (0, 1)
    ]
    subscribers = Subscribers(await pg_store.publish_webhooks(acme.id))
    plan = FanoutPlan(subscribers, events, now=events[0].created, new_id=new_delivery_id)
    await pg_store.append_events(events=events, fanout=plan)
    (claimed,) = await pg_store.claim_due_deliveries(now=make.later(2), limit=5, lease_seconds=30)
    expired = replace(make.gave_up(claimed, make.later(10)), status=DeliveryStatus.EXPIRED)
    unordered = replace(hook, ordering=Ordering.NONE, last_modified=make.later(5))
    cycle, outcomes = await race(
        postgres_database,
        secret_key,
        gate_table="delivery_chains",
        first=lambda store: store.update_webhook(unordered, make.later(5)),
        second=lambda store: store.record_results([expired], []),
    )

    assert not cycle, "the edit and the recording waited on each other"
    assert outcomes == [None, None]
    assert await _statuses(pg_store, hook) == {
        1: DeliveryStatus.EXPIRED,
        2: DeliveryStatus.PENDING,
    }


async def test_two_retention_passes_dropping_one_day_both_commit(
    pg_store: SqlStore, postgres_database: str, secret_key: bytes
) -> None:
    # Two workers' retention passes at once, both finding the same finished day. Each
    # checked the day (its partition, ACCESS SHARE) and then wanted `deliveries`' lock
    # (ACCESS EXCLUSIVE, which reaches every partition): each waited on the other's check.
    acme = make.account()
    await pg_store.create_account(acme)
    hook = make.webhook(acme.id)
    await pg_store.create_webhook(hook)
    await pg_store.append_events(
        events=[make.event(acme.id, created=_TOMORROW)], fanout=make.fanout_to(hook.id)
    )
    (claimed,) = await pg_store.claim_due_deliveries(now=_TOMORROW, limit=1, lease_seconds=30)
    await pg_store.record_results([make.succeeded(claimed, _TOMORROW)], [])
    # The coming days made and the days before the delivery's dropped now: the raced passes
    # have only the delivery's day to drop.
    await pg_store.prune_before(_TOMORROW, limit=10)

    async def a_pass(store: SqlStore) -> Pruned:
        return await store.prune_before(_TOMORROW + timedelta(days=1), limit=10)

    # The first waits at the gate for `deliveries`' lock, its check of the day done; the
    # second checks the day too, or (one pass dropping days at a time) prunes rows, and
    # waits on the gate or on the first.
    cycle, outcomes = await race(
        postgres_database, secret_key, gate_table="deliveries", first=a_pass, second=a_pass
    )

    assert not cycle, "the two retention passes waited on each other"
    assert all(isinstance(outcome, Pruned) for outcome in outcomes), outcomes
    assert sum(outcome.deliveries for outcome in outcomes if isinstance(outcome, Pruned)) == 1
    assert await pg_store.get_delivery(acme.id, claimed.delivery_id) is None
