"""Held deliveries: published while the webhook was disabled, kept until a person delivers
or discards them, never claimed meanwhile, pruned after retention."""

from __future__ import annotations

from hookcast.domain.fanout import FanoutPlan, Subscribers
from hookcast.domain.ids import new_delivery_id
from hookcast.domain.models import Account, DeliveryStatus, Event, Webhook
from hookcast.ports import DeliveryQuery, WebhookQuery
from hookcast.store import SqlStore
from support import factories as make

LEASE = 30.0


async def _held(store: SqlStore, events: int = 3) -> tuple[Account, Webhook, list[Event]]:
    """A disabled webhook and `events` events published to it (one second apart), fanned
    out as a publish does."""
    acme = make.account()
    await store.create_account(acme)
    site = make.site(acme.id)
    await store.create_site(site)
    hook = make.webhook(acme.id, site_ids=(site.id,), enabled=False, disabled_reason="410 Gone")
    await store.create_webhook(hook)
    published = [make.event(acme.id, site.id, created=make.later(i)) for i in range(events)]
    subscribers = Subscribers(await store.publish_webhooks(acme.id))
    for event in published:  # one publish each, a second apart
        plan = FanoutPlan(subscribers, [event], now=event.created, new_id=new_delivery_id)
        await store.append_events(events=[event], fanout=plan)
    return acme, hook, published


async def _statuses(store: SqlStore, account_id: str, webhook_id: str) -> list[DeliveryStatus]:
    page = await store.list_deliveries(DeliveryQuery(account_id, webhook_id))
    return [record.delivery.status for record in page.items]


async def _enable(store: SqlStore, hook: Webhook) -> None:
    found = await store.get_webhook(hook.account_id, hook.id)
    assert found is not None
    enabled = make.webhook(hook.account_id, id=hook.id, secret=found.secret, site_ids=hook.site_ids)
    await store.update_webhook(enabled, make.later(10))


async def test_a_disabled_webhooks_deliveries_are_held_and_counted(store: SqlStore) -> None:
    acme, hook, _events = await _held(store)

    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.HELD] * 3
    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert found.held_deliveries == 3
    (listed,) = (await store.list_webhooks(WebhookQuery(account_id=acme.id))).items
    assert listed.held_deliveries == 3
    # Never claimed, not even once the webhook is enabled again: a person decides.
    await _enable(store, hook)
    claimed = await store.claim_due_deliveries(now=make.later(60), limit=10, lease_seconds=LEASE)
    assert claimed == []


async def test_deliver_held_needs_the_webhook_enabled(store: SqlStore) -> None:
    acme, hook, _events = await _held(store)
    assert await store.deliver_held(account_id=acme.id, webhook_id=hook.id) == 0
    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.HELD] * 3


async def test_deliver_held_releases_them_in_publish_order(store: SqlStore) -> None:
    acme, hook, events = await _held(store)
    await _enable(store, hook)

    assert await store.deliver_held(account_id=acme.id, webhook_id=hook.id) == 3

    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert found.held_deliveries == 0
    first = await store.claim_due_deliveries(now=make.later(10), limit=2, lease_seconds=LEASE)
    rest = await store.claim_due_deliveries(now=make.later(10), limit=2, lease_seconds=LEASE)
    assert [c.event_id for c in [*first, *rest]] == [event.id for event in events]


async def test_discard_held_makes_them_final_and_unsent(store: SqlStore) -> None:
    acme, hook, _events = await _held(store)
    other = make.account()
    await store.create_account(other)

    assert await store.discard_held(account_id=other.id, webhook_id=hook.id, now=make.later(5)) == 0
    assert await store.discard_held(account_id=acme.id, webhook_id=hook.id, now=make.later(5)) == 3

    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.DISCARDED] * 3
    page = await store.list_deliveries(DeliveryQuery(acme.id, hook.id))
    assert {record.delivery.completed_at for record in page.items} == {make.later(5)}
    await _enable(store, hook)
    assert await store.deliver_held(account_id=acme.id, webhook_id=hook.id) == 0
    claimed = await store.claim_due_deliveries(now=make.later(60), limit=10, lease_seconds=LEASE)
    assert claimed == []


async def test_held_and_discarded_deliveries_are_pruned_after_retention(store: SqlStore) -> None:
    acme, hook, _events = await _held(store, events=2)
    await store.discard_held(account_id=acme.id, webhook_id=hook.id, now=make.later(5))
    _acme, kept, _ = await _held(store, events=1)

    # A day on: PostgreSQL prunes the delivery log a whole day at a time (store/partitions.py).
    pruned = await store.prune_before(make.later(86_400 + 60), limit=100)

    assert pruned.deliveries == 3
    assert await _statuses(store, kept.account_id, kept.id) == []
