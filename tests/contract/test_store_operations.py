"""Operations: the backlog figures metrics read, and retention's pruning batches."""

from __future__ import annotations

from dataclasses import replace

from hookcast.domain.models import Account, DeliveryStatus, Event, LastError, Webhook
from hookcast.ports import DeliveryQuery, EventQuery, PageRequest, Pruned, WebhookHealth
from hookcast.store import SqlStore
from support import factories as make
from support.publishing import account_with_webhook

DAY = 86_400.0
LEASE = 30.0


async def _publish(
    store: SqlStore, account: Account, hook: Webhook, *ages_days: float
) -> list[Event]:
    """Events created `ages_days` before make.NOW, each with a delivery to `hook`."""
    published = [make.event(account.id, created=make.later(-age * DAY)) for age in ages_days]
    await store.append_events(events=published, fanout=make.fanout_to(hook.id))
    return published


async def _finish(store: SqlStore, *, at: float, succeed: bool = True) -> None:
    """Attempts every delivery due at make.NOW + `at` s; success or giving up."""
    now = make.later(at)
    claimed = await store.claim_due_deliveries(now=now, limit=100, lease_seconds=LEASE)
    outcome = make.succeeded if succeed else make.gave_up
    await store.record_results([outcome(c, now) for c in claimed], [])


async def _delivery_statuses(store: SqlStore, account: Account, hook: Webhook) -> list[str]:
    found = await store.list_deliveries(
        DeliveryQuery(account.id, hook.id, page=PageRequest(page_length=100))
    )
    return sorted(str(record.delivery.status) for record in found.items)


async def _event_ids(store: SqlStore, account: Account) -> set[str]:
    found = await store.list_events(EventQuery(account.id, page=PageRequest(page_length=100)))
    return {summary.event.id for summary in found.items}


async def test_stats_of_an_empty_database(store: SqlStore) -> None:
    stats = await store.delivery_stats(make.NOW)
    assert (stats.pending, stats.oldest_due_age_seconds, stats.disabled_webhooks) == (0, 0.0, 0)


async def test_stats_count_pending_the_oldest_due_and_disabled_webhooks(store: SqlStore) -> None:
    acme, hook = await account_with_webhook(store)
    await account_with_webhook(store, enabled=False, disabled_reason="410 Gone")
    # Due 90 s and 30 s ago, and one due in the future.
    await store.append_events(
        events=[
            make.event(acme.id, created=make.later(-90)),
            make.event(acme.id, created=make.later(-30)),
            make.event(acme.id, created=make.later(60)),
        ],
        fanout=make.fanout_to(hook.id),
    )

    stats = await store.delivery_stats(make.NOW)
    assert (stats.pending, stats.oldest_due_age_seconds, stats.disabled_webhooks) == (3, 90.0, 1)

    # Leased deliveries are still pending but no longer due; completed ones are neither.
    (oldest,) = await store.claim_due_deliveries(now=make.later(-90), limit=1, lease_seconds=3600)
    stats = await store.delivery_stats(make.NOW)
    assert (stats.pending, stats.oldest_due_age_seconds) == (3, 30.0)
    await store.record_results([make.succeeded(oldest)], [])
    assert (await store.delivery_stats(make.NOW)).pending == 2


async def test_stats_count_held_deliveries_and_live_workers(store: SqlStore) -> None:
    acme, hook = await account_with_webhook(store, enabled=False, disabled_reason="410 Gone")
    held = [make.event(acme.id) for _ in range(2)]
    await store.append_events(
        events=held,
        fanout=lambda events: [
            make.delivery(event, hook.id, status=DeliveryStatus.HELD) for event in events
        ],
    )
    await store.beat_worker("worker-silent", make.later(-31))
    await store.beat_worker("worker-beating", make.later(-29))
    await store.beat_worker("worker-now", make.NOW)

    stats = await store.delivery_stats(make.NOW)

    # Held deliveries are not pending: a person decides; only beats in the last 30 s count.
    assert (stats.held, stats.pending, stats.workers_alive) == (2, 0, 2)


async def test_prune_deletes_old_completed_deliveries_and_their_events(store: SqlStore) -> None:
    acme, hook = await account_with_webhook(store)
    old_ok, old_failed, recent = await _publish(store, acme, hook, 40, 35, 1)
    await _finish(store, at=-(35 + 0.5) * DAY)  # old_ok succeeds
    await _finish(store, at=0, succeed=False)  # old_failed and recent give up
    assert await _delivery_statuses(store, acme, hook) == ["failed", "failed", "succeeded"]

    pruned = await store.prune_before(make.later(-30 * DAY), limit=1000)

    assert pruned == Pruned(deliveries=2, events=2)
    assert await _delivery_statuses(store, acme, hook) == ["failed"]
    assert await _event_ids(store, acme) == {recent.id}
    assert {old_ok.id, old_failed.id}.isdisjoint(await _event_ids(store, acme))
    assert await store.prune_before(make.later(-30 * DAY), limit=1000) == Pruned(0, 0)


async def test_prune_never_deletes_pending_or_paused_deliveries(store: SqlStore) -> None:
    acme, hook = await account_with_webhook(store)
    _, paused_hook = await account_with_webhook(store)
    old_pending = await _publish(store, acme, hook, 60)
    await store.append_events(
        events=[make.event(acme.id, created=make.later(-60 * DAY))],
        fanout=make.fanout_to(paused_hook.id),
    )
    await store.update_webhook(replace(paused_hook, enabled=False), make.NOW)

    assert await store.prune_before(make.NOW, limit=1000) == Pruned(0, 0)
    assert await _delivery_statuses(store, acme, hook) == ["pending"]
    assert old_pending[0].id in await _event_ids(store, acme)
    paused = await _delivery_statuses(store, acme, paused_hook)
    assert paused == [str(DeliveryStatus.PAUSED)]


async def test_prune_deletes_old_events_that_no_webhook_matched(store: SqlStore) -> None:
    acme, _hook = await account_with_webhook(store)
    unmatched = [make.event(acme.id, created=make.later(-40 * DAY)) for _ in range(3)]
    await store.append_events(events=unmatched, fanout=make.no_fanout)
    assert await store.prune_before(make.later(-30 * DAY), limit=1000) == Pruned(0, 3)
    assert await _event_ids(store, acme) == set()


async def _disable_mailing(store: SqlStore, account: Account, *, age_days: float) -> None:
    """A webhook of `account` disabled `age_days` ago: a mail is queued to its contact."""
    hook = make.webhook(account.id)
    await store.create_webhook(hook)
    at = make.later(-age_days * DAY)
    error = LastError(at, 410, "HTTP 410", "")
    gone = WebhookHealth(hook.id, None, at, last_error=error, disable_reason="410 Gone")
    await store.record_results([], [gone])


async def test_prune_deletes_old_sent_and_given_up_mails(store: SqlStore) -> None:
    acme = make.account()
    await store.create_account(acme)
    await store.set_contact_email(acme.id, "oncall@acme.example")
    for age in (40, 40, 40, 1):
        await _disable_mailing(store, acme, age_days=age)
    now = make.later(-0.5 * DAY)
    sent, given_up, unsent, recent = await store.claim_due_mails(
        now=now, limit=10, lease_seconds=60
    )
    await store.mail_sent(mail_id=sent.id, lease_token=sent.lease_token, now=now)
    await store.mail_sent(mail_id=recent.id, lease_token=recent.lease_token, now=now)
    await store.mail_failed(
        mail_id=given_up.id, lease_token=given_up.lease_token, error="refused", retry_at=None
    )
    await store.mail_failed(
        mail_id=unsent.id, lease_token=unsent.lease_token, error="refused", retry_at=now
    )

    pruned = await store.prune_before(make.later(-30 * DAY), limit=1000)

    assert pruned.mails == 2  # the old sent and given-up ones; the recent one is kept
    assert await store.prune_before(make.later(-30 * DAY), limit=1000) == Pruned(0, 0)
    # One still to be sent is never pruned, however old.
    (again,) = await store.claim_due_mails(now=make.NOW, limit=10, lease_seconds=60)
    assert again.id == unsent.id


async def test_prune_works_in_batches_of_the_limit(store: SqlStore) -> None:
    acme, hook = await account_with_webhook(store)
    await _publish(store, acme, hook, *([40] * 5))
    await _finish(store, at=0)

    batches = []
    while (pruned := await store.prune_before(make.later(-30 * DAY), limit=2)).total:
        batches.append(pruned)

    assert sum(batch.deliveries for batch in batches) == 5
    assert sum(batch.events for batch in batches) == 5
    assert all(batch.deliveries <= 2 and batch.events <= 2 for batch in batches)
    assert await _delivery_statuses(store, acme, hook) == []
