"""A claim hands out each delivery's webhook as it is now: PostgreSQL keeps claimed
webhooks between claims (store/claimed_webhooks.py), so an edit, a pause, a deletion and
what recording outcomes wrote must each show at the very next claim."""

from __future__ import annotations

from dataclasses import replace

from hookcast.domain.health import WebhookHealth
from hookcast.domain.models import Webhook
from hookcast.ports import ClaimedDelivery
from hookcast.store import SqlStore
from support import factories as make


async def _webhook(store: SqlStore) -> Webhook:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    return hook


async def _publish(store: SqlStore, hook: Webhook, count: int = 1) -> None:
    events = [make.event(hook.account_id) for _ in range(count)]
    await store.append_events(events=events, fanout=make.fanout_to(hook.id))


async def _claim(store: SqlStore, *, limit: int = 10) -> list[ClaimedDelivery]:
    claimed = await store.claim_due_deliveries(now=make.NOW, limit=limit, lease_seconds=30)
    return list(claimed)


async def _claimed_and_sent(store: SqlStore, hook: Webhook) -> ClaimedDelivery:
    """Publishes one event to `hook`, claims its delivery and records it sent."""
    await _publish(store, hook)
    (claimed,) = await _claim(store)
    succeeded = WebhookHealth(hook.id, make.NOW, None)
    await store.record_results([make.succeeded(claimed)], [succeeded])
    return claimed


async def test_a_webhook_edited_since_the_last_claim_is_claimed_as_edited(
    store: SqlStore,
) -> None:
    hook = await _webhook(store)
    first = await _claimed_and_sent(store, hook)
    edited = replace(hook, webhook_url="https://elsewhere.example/hook", events=("*",))
    await store.update_webhook(edited, make.NOW)

    second = await _claimed_and_sent(store, hook)

    assert first.webhook.webhook_url == "https://receiver.example/hook"
    assert second.webhook.webhook_url == "https://elsewhere.example/hook"
    assert second.webhook.events == ("*",)


async def test_a_webhook_paused_resumed_or_deleted_since_the_last_claim(
    store: SqlStore,
) -> None:
    hook = await _webhook(store)
    await _publish(store, hook, count=2)
    await _claim(store, limit=1)  # the webhook as it was, perhaps kept
    await store.update_webhook(replace(hook, enabled=False), make.NOW)

    assert await _claim(store) == []

    await store.update_webhook(replace(hook, name="renamed"), make.NOW)
    (resumed,) = await _claim(store)
    assert resumed.webhook.enabled
    assert resumed.webhook.name == "renamed"

    await store.delete_webhook(hook.account_id, hook.id)
    await _publish(store, hook)
    assert await _claim(store) == []


async def test_what_recording_wrote_is_in_the_next_claims_webhook(store: SqlStore) -> None:
    hook = await _webhook(store)
    await _publish(store, hook, count=3)
    failed, *_ = await _claim(store, limit=1)
    failure = WebhookHealth(hook.id, None, make.NOW, retry_at=make.later(60))
    await store.record_results([make.retry_later(failed, make.later(60))], [failure])

    failing, *_ = await _claim(store, limit=1)
    assert failing.webhook.failing_since == make.NOW
    assert failing.webhook.next_retry_at == make.later(60)
    recovered = WebhookHealth(hook.id, make.later(1), None)
    await store.record_results([make.succeeded(failing, make.later(1))], [recovered])

    healthy, *_ = await _claim(store, limit=1)
    assert healthy.webhook.failing_since is None
    assert healthy.webhook.last_success == make.later(1)
